"""A scriptable mock of the state manager, for exo-host conformance tests.

Records every request (method, path, headers, JSON body) and answers the endpoints a
runtime uses.  States to hand out are queued with add_state(); answers can be scripted
per endpoint with set_statuses().  Python standard library only.

    mock = MockStateManager().start()
    mock.add_state("66b1f0c2a9e4d3b2c1a09f87", "EchoNode", {"text": "hi"})
    ... start exo-host with uri=mock.url ...
    report = mock.wait_report("66b1f0c2a9e4d3b2c1a09f87")
    mock.stop()
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import API_KEY, ExoTestCase, Host

STATE_PATH = re.compile(r"^/v0/namespace/([^/]+)/state/([^/]+)/(executed|errored|prune|re-enqueue-after|secrets)$")
REPORT_KINDS = ("executed", "errored", "prune", "re-enqueue-after")


class Request:
    def __init__(self, method, path, headers, raw):
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None
        self.time = time.monotonic()

    def __repr__(self):
        return f"<{self.method} {self.path} {self.raw[:200]!r}>"


class MockStateManager:
    def __init__(self, api_key="test-secret-key", long_poll=True, lease=False, extensions=None):
        self.api_key = api_key
        # X-Exo-Extensions of the registration answer (None: the reference sends none).
        # The mock has no states/report: it answers 404 there, as a replica without it.
        self.extensions = extensions
        self.long_poll = long_poll
        self.lease = lease
        self.requests = []
        self.pending = []          # states not yet handed out
        self.secrets = {}          # state_id -> secrets map
        self.lost = set()          # state ids the lease endpoint reports as lost
        self.statuses = {}         # endpoint kind -> list of statuses to answer first
        self.cond = threading.Condition()
        self.server = None
        self.thread = None

    # ---- control -------------------------------------------------------------
    def start(self, port=0):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                req = Request(self.command, self.path, dict(self.headers), raw)
                with mock.cond:
                    mock.requests.append(req)
                    mock.cond.notify_all()
                status, body = mock._answer(req)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    if mock.extensions and req.method == "PUT" and req.path.endswith("/nodes/"):
                        self.send_header("X-Exo-Extensions", mock.extensions)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (a cancelled long-poll)

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def add_state(self, state_id, node_name, inputs=None, identifier="step"):
        with self.cond:
            self.pending.append({"state_id": state_id, "node_name": node_name, "identifier": identifier,
                                 "inputs": inputs if inputs is not None else {},
                                 "created_at": "2025-01-31T02:00:01.204518"})
            self.cond.notify_all()

    def add_raw_state(self, obj):
        """Hands out obj as-is with the next claim (malformed or unknown states)."""
        with self.cond:
            self.pending.append({"__raw__": obj})
            self.cond.notify_all()

    def set_statuses(self, kind, statuses):
        """The next len(statuses) requests of kind (register, enqueue, lease, secrets,
        executed, errored, prune, re-enqueue-after) get these statuses."""
        with self.cond:
            self.statuses[kind] = list(statuses)

    # ---- queries -------------------------------------------------------------
    def find(self, method=None, path_re=None):
        with self.cond:
            return [r for r in self.requests
                    if (method is None or r.method == method) and (path_re is None or re.search(path_re, r.path))]

    def reports(self, state_id=None):
        """[(state_id, kind, body)] of every report received, in order."""
        out = []
        with self.cond:
            for r in self.requests:
                m = STATE_PATH.match(r.path)
                if m and m.group(3) in REPORT_KINDS and (state_id is None or m.group(2) == state_id):
                    out.append((m.group(2), m.group(3), r.json))
        return out

    def wait_for(self, predicate, timeout=20.0, what="condition"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; requests: {self.requests[-10:]}")
                self.cond.wait(min(left, 0.2))

    def wait_report(self, state_id, timeout=20.0):
        """The first report of state_id: (kind, body)."""
        def got():
            reps = self.reports(state_id)
            return reps[0] if reps else None
        _, kind, body = self.wait_for(got, timeout, f"a report of {state_id}")
        return kind, body

    # ---- answers -------------------------------------------------------------
    def _scripted(self, kind):
        with self.cond:
            queue = self.statuses.get(kind)
            if queue:
                return queue.pop(0)
        return None

    def _answer(self, req):
        if req.headers.get("x-api-key") != self.api_key:
            return 401, {"detail": "Invalid API key"}
        path = req.path
        if re.match(r"^/v0/namespace/[^/]+/nodes/$", path) and req.method == "PUT":
            status = self._scripted("register") or 200
            if status != 200:
                return status, {"detail": "scripted failure"}
            body = req.json or {}
            return 200, {"runtime_name": body.get("runtime_name"), "registered_nodes": body.get("nodes", [])}
        if re.match(r"^/v0/namespace/[^/]+/states/enqueue$", path) and req.method == "POST":
            status = self._scripted("enqueue")
            if status and status != 200:
                return status, {"detail": "scripted failure"}
            return 200, self._claim(req)
        if re.match(r"^/v0/namespace/[^/]+/states/lease$", path) and req.method == "POST":
            status = self._scripted("lease")
            if status:
                return status, {"detail": "scripted"}
            if not self.lease:
                return 404, {"detail": "Not Found"}
            ids = (req.json or {}).get("state_ids") or []
            return 200, {"renewed": [i for i in ids if i not in self.lost],
                         "lost": [i for i in ids if i in self.lost]}
        m = STATE_PATH.match(path)
        if m:
            kind = m.group(3)
            status = self._scripted(kind)
            if status and status != 200:
                return status, {"detail": "scripted failure"}
            if kind == "secrets":
                return 200, {"secrets": self.secrets.get(m.group(2), {})}
            return 200, {"status": kind.upper()}
        return 404, {"detail": "Not Found"}

    def _claim(self, req):
        body = req.json or {}
        nodes = body.get("nodes") or []
        batch = body.get("batch_size") or 0
        wait_ms = body.get("wait_ms") or 0
        deadline = time.monotonic() + (wait_ms / 1000.0 if self.long_poll else 0)
        with self.cond:
            while True:
                taken = [s for s in self.pending
                         if "__raw__" in s or s["node_name"] in nodes][:max(batch, 0)]
                if taken or time.monotonic() >= deadline or self.server is None:
                    break
                self.cond.wait(min(0.05, max(deadline - time.monotonic(), 0.001)))
            for s in taken:
                self.pending.remove(s)
        states = [s["__raw__"] if "__raw__" in s else s for s in taken]
        return {"count": len(states), "namespace": "ns", "status": "QUEUED", "states": states}


class MockHostTestCase(ExoTestCase):
    """A test case with a fresh mock state manager; self.host() starts exo-host
    against it, with its state directory in the test's temporary directory."""

    namespace = "test"

    def setUp(self):
        super().setUp()
        self.mock = MockStateManager(api_key=API_KEY).start()

    def tearDown(self):
        super().tearDown()
        self.mock.stop()

    def host(self, plugins, extra="", **conf):
        h = Host(self.tmp, self.mock.url, self.namespace, plugins,
                 extra=f'state_dir = "{self.tmp}/state";\n' + extra, **conf)
        self._procs.append(h)
        return h.start()
