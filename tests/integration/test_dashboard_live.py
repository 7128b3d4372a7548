"""The dashboard's live views (issue 11): GET run/{id}/watch and GET runs/watch are
long-polls that answer when the run's states / the run listing change.  Checked:
authentication on both, the version of the read answers, answers at once / on a
change / at the end of wait_ms, the per-session and per-address caps, sign-out
and session expiry ending a parked watch, a parked watch costing no thread, and
(PostgreSQL) a change made through another replica waking a watch."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Api, ExoTestCase, main, node_def  # noqa: E402
from host_graphs import put_one_node_graph, trigger  # noqa: E402
from test_dashboard import NS, Session  # noqa: E402

ON_PG = os.environ.get("EXO_TEST_DB") == "postgres"


class Background:
    """A request run in a thread: .result() waits for its answer."""

    def __init__(self, fn, *args):
        self.answer = None
        self.took = None
        self.thread = threading.Thread(target=self._run, args=(fn,) + args, daemon=True)
        self.started = time.monotonic()
        self.thread.start()

    def _run(self, fn, *args):
        self.answer = fn(*args)
        self.took = time.monotonic() - self.started

    def result(self, timeout=30):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("the watch did not answer")
        return self.answer


def server_threads(sm):
    with open(f"/proc/{sm.proc.pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads line")


class LiveViews(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        self.api.register([node_def("A", ["x"], ["y"]), node_def("B", ["x"], ["y"])])
        put_one_node_graph(self, self.api, "ga", "A", {"x": "1"})
        put_one_node_graph(self, self.api, "gb", "B", {"x": "1"})

    def watch(self, path, version=None, wait_ms=None, api=None, **query):
        q = dict(query)
        if version is not None:
            q["version"] = version
        if wait_ms is not None:
            q["wait_ms"] = str(wait_ms)
        qs = "&".join(f"{k}={v}" for k, v in q.items())
        return (api or self.api).request("GET", self.api.ns_path(path) + (f"?{qs}" if qs else ""), timeout=90)

    def states_version(self, run):
        r = self.api.request("GET", self.api.ns_path(f"/run/{run}/states"))
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.json["version"], r"^[0-9a-f]{16}$")
        return r.json["version"]

    def test_authentication_on_both_watches(self):
        run = trigger(self, self.api, "ga")
        for path in (f"/run/{run}/watch?wait_ms=0", "/runs/watch?wait_ms=0"):
            full = self.api.ns_path(path)
            anon = Api(self.sm.url, api_key=None)
            self.assertEqual(anon.request("GET", full).status, 401, ("no key", path))
            self.assertEqual(Api(self.sm.url, api_key="wrong").request("GET", full).status, 401, ("wrong key", path))
            r = anon.request("GET", full, headers={"Cookie": "exo_session=" + "0" * 64})
            self.assertEqual(r.status, 401, ("unknown session", path))
            self.assertEqual(self.api.request("GET", full).status, 200, ("key", path))
            self.assertEqual(Session(self.sm).request("GET", full, csrf=False).status, 200, ("session", path))

    def test_versions_and_answers_at_once_or_at_the_end_of_the_wait(self):
        run = trigger(self, self.api, "ga")
        v = self.states_version(run)
        self.assertEqual(v, self.states_version(run), "the same answer has the same version")
        r = self.watch(f"/run/{run}/watch")
        self.assertEqual((r.status, r.json), (200, {"changed": True, "version": v}), "no version: at once")
        r = self.watch(f"/run/{run}/watch", version="0" * 16, wait_ms=20000)
        self.assertEqual(r.json, {"changed": True, "version": v}, "another version: at once")
        started = time.monotonic()
        r = self.watch(f"/run/{run}/watch", version=v, wait_ms=400)
        took = time.monotonic() - started
        self.assertEqual(r.json, {"changed": False, "version": v})
        self.assertGreaterEqual(took, 0.35)
        self.assertLess(took, 5)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        self.assertEqual(self.watch("/run/nope/watch", wait_ms=0).status, 404)
        r = self.watch(f"/run/{run}/watch", wait_ms="soon")
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["loc"], ["query", "wait_ms"])

    def test_run_watch_answers_when_its_states_change(self):
        run = trigger(self, self.api, "ga")
        other = trigger(self, self.api, "gb")
        v = self.states_version(run)
        w = Background(self.watch, f"/run/{run}/watch", v, 30000)
        time.sleep(0.5)
        # a change of another run leaves this watch parked
        st_b = self.api.enqueue(["B"], batch_size=1).json["states"][0]
        self.assertEqual(self.api.executed(st_b["state_id"], [{"y": "1"}]).status, 200)
        time.sleep(0.6)
        self.assertTrue(w.thread.is_alive(), "a change of another run does not answer the watch")
        st = self.api.enqueue(["A"], batch_size=1).json["states"][0]
        r = w.result()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["changed"])
        self.assertLess(w.took, 10)
        now = self.states_version(run)
        self.assertEqual(r.json["version"], now, "the version the watch saw is the states' answer")
        self.assertNotEqual(now, v)
        # and once more: the run finishes
        w = Background(self.watch, f"/run/{run}/watch", now, 30000)
        time.sleep(0.3)
        self.assertEqual(self.api.executed(st["state_id"], [{"y": "2"}]).status, 200)
        r = w.result()
        self.assertTrue(r.json["changed"])
        body = self.api.request("GET", self.api.ns_path(f"/run/{run}/states")).json
        self.assertEqual(body["status"], "SUCCESS")
        self.assertEqual(r.json["version"], body["version"])
        self.assertNotEqual(other, run)

    def test_runs_watch_follows_its_filters(self):
        run = trigger(self, self.api, "ga")
        failed = self.api.request("GET", self.api.ns_path("/runs?status=FAILED"))
        self.assertEqual(failed.status, 200)
        self.assertEqual(failed.json["runs"], [])
        v = failed.json["version"]
        w = Background(lambda: self.watch("/runs/watch", v, 30000, status="FAILED"))
        time.sleep(0.4)
        trigger(self, self.api, "gb")  # a new PENDING run: the FAILED listing is unchanged
        time.sleep(0.8)
        self.assertTrue(w.thread.is_alive(), "a change outside the filter does not answer")
        st = self.api.enqueue(["A"], batch_size=1).json["states"][0]
        self.assertEqual(self.api.errored(st["state_id"], "boom").status, 200)
        r = w.result()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["changed"])
        now = self.api.request("GET", self.api.ns_path("/runs?status=FAILED")).json
        self.assertEqual([x["run_id"] for x in now["runs"]], [run])
        self.assertEqual(r.json["version"], now["version"])
        r = self.watch("/runs/watch", wait_ms=0, status="NOPE")
        self.assertEqual(r.status, 422, "the listing's own checks apply")

    def test_per_session_cap_and_sign_out_ends_parked_watches(self):
        run = trigger(self, self.api, "ga")
        v = self.states_version(run)
        s = Session(self.sm)
        path = self.api.ns_path(f"/run/{run}/watch?version={v}&wait_ms=20000")
        parked = [Background(s.request, "GET", path, None, False) for _ in range(4)]
        time.sleep(0.8)
        r = s.request("GET", path, csrf=False)
        self.assertEqual(r.status, 429, r)
        self.assertIn("Too many live views", r.json["detail"])
        other = Session(self.sm)
        extra = Background(other.request, "GET", path, None, False)
        time.sleep(0.3)
        self.assertTrue(extra.thread.is_alive(), "another session has its own slots")
        started = time.monotonic()
        self.assertEqual(s.request("DELETE", "/ui/api/session").status, 200)
        for p in parked:
            r = p.result(10)
            self.assertEqual(r.status, 401, r)
            self.assertIn("sign in again", r.json["detail"])
        self.assertLess(time.monotonic() - started, 5, "sign-out answers the parked watches at once")
        self.assertTrue(extra.thread.is_alive(), "the other session's watch stays")
        self.api.enqueue(["A"], batch_size=1)
        self.assertTrue(extra.result().json["changed"])

    def test_watches_whose_clients_left_give_their_slots_back(self):
        run = trigger(self, self.api, "ga")
        v = self.states_version(run)
        s = Session(self.sm)
        path = self.api.ns_path(f"/run/{run}/watch?version={v}&wait_ms=20000")
        gone = []
        for _ in range(4):  # e.g. a page that navigated away: the connection closes, the watch stays parked
            sock = socket.create_connection(("127.0.0.1", self.sm.port))
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: exo_session={s.cookie}\r\n\r\n"
                         .encode())
            gone.append(sock)
        time.sleep(0.5)
        for sock in gone:
            sock.close()
        time.sleep(0.2)
        w = Background(s.request, "GET", path, None, False)
        time.sleep(0.5)
        self.assertTrue(w.thread.is_alive(), "the new watch parked in a slot a gone one gave back")
        self.api.enqueue(["A"], batch_size=1)
        r = w.result()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["changed"])

    def test_session_expiry_ends_a_parked_watch(self):
        self.sm.stop()
        self._procs.remove(self.sm)
        sm = self.start_state_manager(db=self.sm.db, env={"EXO_SESSION_TTL_S": "2"})
        api = sm.api(NS)
        run = trigger(self, api, "ga")
        v = api.request("GET", api.ns_path(f"/run/{run}/states")).json["version"]
        s = Session(sm)
        started = time.monotonic()
        r = s.request("GET", api.ns_path(f"/run/{run}/watch?version={v}&wait_ms=20000"), csrf=False)
        took = time.monotonic() - started
        self.assertEqual(r.status, 401, r)
        self.assertIn("Session expired", r.json["detail"])
        self.assertLess(took, 6)

    def test_parked_watches_cost_no_thread_and_are_capped_per_address(self):
        run = trigger(self, self.api, "ga")
        v = self.states_version(run)
        before = server_threads(self.sm)
        parked = [Background(self.watch, f"/run/{run}/watch", v, 30000) for _ in range(64)]
        time.sleep(1.5)
        self.assertTrue(all(p.thread.is_alive() for p in parked))
        self.assertEqual(server_threads(self.sm), before, "64 parked watches, not one more thread")
        r = self.watch(f"/run/{run}/watch", v, 30000)
        self.assertEqual(r.status, 429, r)
        self.assertIn("client address", r.json["detail"])
        self.api.enqueue(["A"], batch_size=1)
        for p in parked:
            self.assertTrue(p.result().json["changed"])
        r = self.watch(f"/run/{run}/watch", wait_ms=0)
        self.assertEqual(r.status, 200, "the slots were given back")


@__import__("unittest").skipUnless(ON_PG, "several replicas need PostgreSQL")
class LiveViewsAcrossReplicas(ExoTestCase):
    check_sanitizers = True

    def test_a_change_through_another_replica_wakes_the_watch(self):
        first = self.start_state_manager(logname="state-manager-0.log")
        second = self.start_state_manager(db=first.db, logname="state-manager-1.log")
        a, b = first.api(NS), second.api(NS)
        a.register([node_def("A", ["x"], ["y"])])
        put_one_node_graph(self, a, "ga", "A", {"x": "1"})
        run = trigger(self, a, "ga")
        v = a.request("GET", a.ns_path(f"/run/{run}/states")).json["version"]
        q = f"/run/{run}/watch?version={v}&wait_ms=30000"
        w = Background(lambda: a.request("GET", a.ns_path(q), timeout=60))
        time.sleep(0.5)
        st = b.enqueue(["A"], batch_size=1).json["states"][0]
        self.assertEqual(b.executed(st["state_id"], [{"y": "1"}]).status, 200)
        r = w.result()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["changed"])
        self.assertLess(w.took, 10, "woken by the other replica's notification, not the end of the wait")


if __name__ == "__main__":
    main()
