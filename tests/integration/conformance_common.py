"""Shared helpers of the conformance suites (test_conformance_*.py).

One state manager per test class (tests isolate themselves by namespace), so the many
small black-box checks stay fast.  Everything goes through the harness's Api."""
import itertools
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import StateManager, node_def, wait_until  # noqa: E402,F401

HEX24 = re.compile(r"^[0-9a-f]{24}$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# §1.2: YYYY-MM-DDTHH:MM:SS, then .ffffff only when the sub-second part is non-zero; no offset.
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(?!000000)\d{6})?$")
MISSING_ID = "0123456789abcdef01234567"

_counter = itertools.count()  # unique namespace suffixes within one test process


class ConformanceCase(unittest.TestCase):
    """A test case sharing one state manager per class; self.api uses a fresh namespace.
    server_env: extra environment of that state manager (e.g. CORS_ORIGINS, TZ)."""

    server_env = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="exo-conf-")
        cls.sm = StateManager(cls.tmp, env=cls.server_env)
        try:
            cls.sm.start()
        except BaseException:
            cls.sm.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sm.stop()
        if os.environ.get("EXO_TEST_SHOW_LOGS"):
            sys.stderr.write(cls.sm.log()[-4000:])
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.ns = f"conf{next(_counter)}"
        self.api = self.sm.api(self.ns)

    # ---- assertions -------------------------------------------------------------------
    def assertDetail(self, r, status, detail):
        self.assertEqual((r.status, r.json), (status, {"detail": detail}), r)

    def assertDetailContains(self, r, status, *parts):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        detail = r.json.get("detail")
        self.assertIsInstance(detail, str, r)
        for p in parts:
            self.assertIn(p, detail)

    def assert422(self, r, *expected):
        """expected: (type, loc-list[, msg substring]) tuples that must all be present."""
        self.assertEqual(r.status, 422, r)
        details = r.json["detail"]
        self.assertIsInstance(details, list, r)
        for d in details:
            for key in ("type", "loc", "msg"):
                self.assertIn(key, d, r)
        for exp in expected:
            typ, loc = exp[0], list(exp[1])
            msg = exp[2] if len(exp) > 2 else None
            hit = [d for d in details if d["type"] == typ and d["loc"] == loc
                   and (msg is None or msg in d["msg"])]
            self.assertTrue(hit, f"no 422 item {exp} in {details}")

    # ---- helpers -----------------------------------------------------------------------
    def node(self, name, ident, inputs=None, next_nodes=None, unites=None, strategy="ALL_SUCCESS"):
        n = {"node_name": name, "namespace": self.ns, "identifier": ident, "inputs": inputs or {},
             "next_nodes": next_nodes or []}
        if unites:
            n["unites"] = {"identifier": unites, "strategy": strategy}
        return n

    def valid_graph(self, nodes, name="g", **extra):
        body = {"secrets": {}, "nodes": nodes}
        body.update(extra)
        r = self.api.put_graph(name, body)
        self.assertEqual(r.status, 201, r)
        g = self.api.wait_validated(name)
        self.assertEqual(g["validation_status"], "VALID", g)
        return g

    def trigger(self, name="g", **kw):
        r = self.api.trigger(name, **kw)
        self.assertEqual(r.status, 200, r)
        return r.json["run_id"]

    def claim(self, node_name, count=1, timeout=10):
        got = []

        def more():
            r = self.api.enqueue([node_name], count - len(got))
            self.assertEqual(r.status, 200, r)
            got.extend(r.json["states"])
            return len(got) >= count
        wait_until(more, timeout, what=f"{count} x {node_name} claimable")
        self.assertEqual(len(got), count)
        return got

    def ok(self, r, status=200):
        self.assertEqual(r.status, status, r)
        return r.json

    def states(self, run, graph="g", ident=None):
        return [s for s in self.api.run_states(graph, run) if ident is None or s["identifier"] == ident]

    def wait_status(self, run, ident, status, count=1, graph="g", timeout=10):
        def ready():
            ss = [s for s in self.states(run, graph, ident) if s["status"] == status]
            return ss if len(ss) >= count else None
        return wait_until(ready, timeout, what=f"{count} {ident} in {status}")

    def post(self, state_id, action, body):
        return self.api.request("POST", self.api.ns_path(f"/state/{state_id}/{action}"), body)
