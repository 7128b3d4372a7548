"""The worker registry (issue 12): exo-host's heartbeats, GET runtimes with alive /
lost, the runtime that claimed each state (run views, exoctl run show), a killed
host's nodes reported as lost in the run view and by exoctl workers, the bounds a
hostile client meets, and a reference state manager (404) that stops heartbeats."""

import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ExoTestCase, exoctl, main, node_def, wait_until  # noqa: E402
from host_graphs import put_one_node_graph, trigger, wait_registered  # noqa: E402
from harness import API_KEY  # noqa: E402
from mock_state_manager import MockHostTestCase, MockStateManager  # noqa: E402

NS = "registry"
HEARTBEAT = "heartbeat_ms = 500;"


def runtimes(api):
    r = api.request("GET", api.ns_path("/runtimes"))
    assert r.status == 200, r
    return r.json


def runtime(api, name):
    for r in runtimes(api)["runtimes"]:
        if r["runtime_name"] == name:
            return r
    return None


class WorkerRegistry(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)

    def ctl(self, *args):
        return exoctl(list(args), self.sm.url, NS)

    def test_heartbeat_seen_and_claimer_recorded(self):
        host = self.start_host(self.sm, NS, ["echo.so"], name="host-a", workers=3, extra=HEARTBEAT)
        wait_until(lambda: runtime(self.api, "host-a"), 20, what="the first heartbeat")
        r = runtime(self.api, "host-a")
        self.assertEqual((r["status"], r["alive"]), ("alive", True))
        self.assertEqual(r["nodes"], ["EchoNode"])
        self.assertEqual((r["pid"], r["slots"], r["running"]), (host.proc.pid, 3, 0))
        self.assertEqual(r["hostname"], socket.gethostname())
        self.assertEqual(r["interval_ms"], 500)
        self.assertEqual(r["lost_after_ms"], 1500)
        self.assertTrue(r["version"])
        first = r["last_seen"]
        wait_until(lambda: runtime(self.api, "host-a")["last_seen"] != first, 10, what="a later heartbeat")
        self.assertEqual(runtimes(self.api)["lost_nodes"], [])

        put_one_node_graph(self, self.api, "echo", "EchoNode", {"text": "hi"})
        run_id = trigger(self, self.api, "echo")
        self.api.wait_run_finished(run_id)
        states = self.api.request("GET", self.api.ns_path(f"/run/{run_id}/states")).json["states"]
        self.assertEqual([s["claimed_by"] for s in states], ["host-a"])

        listed = self.ctl("workers")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stdout, r"host-a\s+alive")
        self.assertIn("EchoNode", listed.stdout)
        as_json = json.loads(self.ctl("--json", "workers").stdout)
        self.assertEqual(as_json["runtimes"][0]["runtime_name"], "host-a")
        shown = self.ctl("run", "show", run_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("worker:    host-a (alive)", shown.stdout)

    def test_killed_host_becomes_lost_and_the_run_view_says_why(self):
        host = self.start_host(self.sm, NS, ["sleep_long.so"], name="host-k", workers=1,
                               extra=HEARTBEAT + " lease_ms = 60000;")
        wait_registered(self.api, ["SleepNode"])
        wait_until(lambda: runtime(self.api, "host-k"), 20, what="the first heartbeat")
        put_one_node_graph(self, self.api, "sleep", "SleepNode", {"seconds": "3600"})
        running = trigger(self, self.api, "sleep")
        wait_until(lambda: self.api.run_states("sleep", running)[0]["status"] == "QUEUED", 20,
                   what="the host to claim the state")
        wait_until(lambda: runtime(self.api, "host-k")["running"] == 1, 10, what="a heartbeat counting it")

        host.send_signal(signal.SIGKILL)
        host.proc.wait(10)
        started = time.monotonic()
        wait_until(lambda: runtime(self.api, "host-k")["status"] == "lost", 10, interval=0.1,
                   what="the killed host to become lost")
        # lost after three missed heartbeats of 500 ms (plus a heartbeat in flight)
        self.assertLess(time.monotonic() - started, 5.0)
        self.assertFalse(runtime(self.api, "host-k")["alive"])
        self.assertEqual(runtimes(self.api)["lost_nodes"], ["SleepNode"])

        waiting = trigger(self, self.api, "sleep")
        view = self.api.request("GET", self.api.ns_path(f"/run/{waiting}")).json
        entry = view["waiting"]["states"][0]
        self.assertEqual(entry["reason"], "workers_lost", entry)
        self.assertIn("every runtime serving node SleepNode is lost", entry["message"])
        self.assertIn("host-k", entry["message"])
        claimed = self.api.request("GET", self.api.ns_path(f"/run/{running}")).json["waiting"]["states"][0]
        self.assertEqual((claimed["reason"], claimed["claimed_by"], claimed["worker_lost"]),
                         ("claimed", "host-k", True))
        self.assertIn("claimed by runtime host-k, which is lost", claimed["message"])

        listed = self.ctl("workers")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stdout, r"host-k\s+lost")
        self.assertIn("node SleepNode: every runtime serving it is lost", listed.stdout)
        shown = self.ctl("run", "show", running).stdout
        self.assertIn("worker:    host-k (lost)", shown)
        self.assertIn("which is lost", shown)
        self.assertIn("every runtime serving node SleepNode is lost", self.ctl("run", "show", waiting).stdout)

        # a runtime that sends no heartbeats (as with the reference's SDK) registers the
        # node again: it may be serving it, so the run view no longer blames lost workers
        self.api.register([node_def("SleepNode", ["seconds"], ["slept"])], runtime_name="sdk-runtime")
        entry = self.api.request("GET", self.api.ns_path(f"/run/{waiting}")).json["waiting"]["states"][0]
        self.assertEqual(entry["reason"], "unclaimed", entry)
        # a new host for the node: the registry has a live worker for it again
        self.start_host(self.sm, NS, ["sleep_long.so"], name="host-n", workers=1, conf_name="host2.conf",
                        extra=HEARTBEAT + f' state_dir = "{self.tmp}/state2";')
        wait_until(lambda: runtime(self.api, "host-n"), 20, what="the new host's heartbeat")
        self.assertEqual(runtimes(self.api)["lost_nodes"], [])

    def test_heartbeat_interval_decides_when_a_runtime_is_lost(self):
        body = {"runtime_name": "manual", "nodes": ["N1", "N2"], "interval_ms": 200, "slots": 2, "running": 1}
        r = self.api.request("POST", self.api.ns_path("/runtimes/heartbeat"), body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["lost_after_ms"]), ("alive", 600))
        self.assertEqual(runtime(self.api, "manual")["status"], "alive")
        wait_until(lambda: runtime(self.api, "manual")["status"] == "lost", 5, what="lost after 600 ms")
        self.assertEqual(runtimes(self.api)["lost_nodes"], ["N1", "N2"])
        # a heartbeat brings it back, keeping first_seen
        first_seen = runtime(self.api, "manual")["first_seen"]
        self.assertEqual(self.api.request("POST", self.api.ns_path("/runtimes/heartbeat"), body).status, 200)
        self.assertEqual(runtime(self.api, "manual")["status"], "alive")
        self.assertEqual(runtime(self.api, "manual")["first_seen"], first_seen)
        # other namespaces do not see it; the default interval is 10 s
        other = self.sm.api("elsewhere")
        self.assertEqual(runtimes(other)["runtimes"], [])
        r = other.request("POST", other.ns_path("/runtimes/heartbeat"), {"runtime_name": "x", "nodes": []})
        self.assertEqual((r.status, r.json["interval_ms"]), (200, 10000))

    def assert_422(self, body, loc, path="/runtimes/heartbeat"):
        r = self.api.request("POST", self.api.ns_path(path), body)
        self.assertEqual(r.status, 422, r)
        self.assertIn(loc, [e["loc"] for e in r.json["detail"]], r.json)
        return r

    def test_hostile_heartbeats_are_bounded(self):
        ok = {"runtime_name": "h", "nodes": ["A"]}
        self.assert_422({"nodes": ["A"]}, ["body", "runtime_name"])
        self.assert_422({"runtime_name": "h"}, ["body", "nodes"])
        self.assert_422(dict(ok, runtime_name="x" * 201), ["body", "runtime_name"])
        self.assert_422(dict(ok, runtime_name=""), ["body", "runtime_name"])
        self.assert_422(dict(ok, runtime_name="a\nb"), ["body", "runtime_name"])
        self.assert_422(dict(ok, hostname="h" * 256), ["body", "hostname"])
        self.assert_422(dict(ok, version="v" * 201), ["body", "version"])
        r = self.assert_422(dict(ok, nodes=["n%d" % i for i in range(1001)]), ["body", "nodes"])
        self.assertIn("at most 1000", r.text)
        self.assert_422(dict(ok, nodes=["A", "x" * 513]), ["body", "nodes", 1])
        r = self.assert_422(dict(ok, nodes=["n%03d" % i + "x" * 400 for i in range(200)]), ["body", "nodes"])
        self.assertIn("at most 65536 bytes together", r.text)
        self.assert_422(dict(ok, nodes=["A", 5]), ["body", "nodes", 1])
        self.assert_422(dict(ok, slots=-1), ["body", "slots"])
        self.assert_422(dict(ok, running=10 ** 7), ["body", "running"])
        self.assert_422(dict(ok, pid="x"), ["body", "pid"])
        self.assert_422(dict(ok, interval_ms=10), ["body", "interval_ms"])
        self.assert_422(dict(ok, interval_ms=3600001), ["body", "interval_ms"])
        self.assertEqual(runtimes(self.api)["runtimes"], [])
        # the claimer's name in an enqueue body is bounded the same way
        self.assert_422({"nodes": ["A"], "batch_size": 1, "runtime_name": "x" * 201}, ["body", "runtime_name"],
                        path="/states/enqueue")
        self.assert_422({"nodes": ["A"], "batch_size": 1, "runtime_name": 7}, ["body", "runtime_name"],
                        path="/states/enqueue")

    def test_runtimes_per_namespace_are_capped(self):
        for i in range(1000):
            r = self.api.request("POST", self.api.ns_path("/runtimes/heartbeat"),
                                 {"runtime_name": f"r{i:04d}", "nodes": ["A"]})
            self.assertEqual(r.status, 200, r)
        r = self.api.request("POST", self.api.ns_path("/runtimes/heartbeat"), {"runtime_name": "one-more", "nodes": []})
        self.assertEqual(r.status, 409, r)
        self.assertIn("already has 1000 runtimes", r.json["detail"])
        self.assertIn("one-more", r.json["detail"])
        # a known runtime still gets through, and another namespace is not affected
        r = self.api.request("POST", self.api.ns_path("/runtimes/heartbeat"), {"runtime_name": "r0007", "nodes": []})
        self.assertEqual(r.status, 200, r)
        other = self.sm.api("other")
        self.assertEqual(other.request("POST", other.ns_path("/runtimes/heartbeat"),
                                       {"runtime_name": "one-more", "nodes": []}).status, 200)
        self.assertEqual(len(runtimes(self.api)["runtimes"]), 1000)

    def test_the_endpoints_are_in_openapi(self):
        r = self.api.request("GET", "/openapi.json")
        paths = r.json["paths"]
        self.assertIn("post", paths["/v0/namespace/{namespace}/runtimes/heartbeat"])
        self.assertIn("get", paths["/v0/namespace/{namespace}/runtimes"])
        self.assertTrue(paths["/v0/namespace/{namespace}/runtimes"]["get"]["x-exo-extension"])

    def test_a_client_that_names_no_runtime_still_claims(self):
        self.api.register([node_def("A", ["x"], ["y"])])
        put_one_node_graph(self, self.api, "ga", "A", {"x": "1"})
        run_id = trigger(self, self.api, "ga")
        claimed = self.api.enqueue(["A"], batch_size=1).json["states"]
        self.assertEqual(len(claimed), 1)
        states = self.api.request("GET", self.api.ns_path(f"/run/{run_id}/states")).json["states"]
        self.assertIsNone(states[0]["claimed_by"])
        view = self.api.request("GET", self.api.ns_path(f"/run/{run_id}")).json["waiting"]["states"][0]
        self.assertEqual(view["reason"], "claimed")
        self.assertNotIn("claimed_by", view)


class HangingRegistry(MockStateManager):
    """A state manager whose heartbeat endpoint answers only after HANG_S (200)."""
    HANG_S = 4

    def _answer(self, req):
        if req.path.endswith("/runtimes/heartbeat"):
            time.sleep(self.HANG_S)
            return 200, {"status": "alive"}
        return super()._answer(req)


class SlowRegistry(MockHostTestCase):
    """Heartbeats go out from the host's loop next to everything else: one that hangs
    delays neither claims nor reports."""
    namespace = NS

    def setUp(self):
        super().setUp()
        self.mock.stop()
        self.mock = HangingRegistry(api_key=API_KEY).start()

    def test_a_hanging_heartbeat_delays_no_claim_or_report(self):
        # every heartbeat hangs for its whole 2 s timeout: a loop that waited for it
        # would hold claims and reports back by up to 2 s
        host = self.host(["echo.so"], extra="heartbeat_ms = 2000;")
        self.mock.wait_for(lambda: self.mock.find("POST", r"/runtimes/heartbeat$"), 20, what="a heartbeat")
        took = []
        for i in range(4):
            sid = "%024x" % (0xabc000 + i)
            started = time.monotonic()
            self.mock.add_state(sid, "EchoNode", {"text": f"t{i}"})
            self.mock.wait_report(sid, timeout=10)
            took.append(time.monotonic() - started)
            time.sleep(0.3)
        self.assertLess(max(took), 1.5, f"a report waited for a heartbeat: {took}")
        # each heartbeat hangs past its timeout: retried every period, logged once
        wait_until(lambda: len(self.mock.find("POST", r"/runtimes/heartbeat$")) >= 3, 20, what="later heartbeats")
        self.assertEqual(host.log().count("heartbeat failed"), 1, host.log()[-2000:])


class ReferenceStateManager(MockHostTestCase):
    """Against the reference (no registry: 404) the host stops after the first try."""
    namespace = NS

    def test_a_404_stops_heartbeats_after_one_line(self):
        host = self.host(["echo.so"], extra=HEARTBEAT)
        beats = lambda: self.mock.find("POST", r"/runtimes/heartbeat$")  # noqa: E731
        self.mock.wait_for(lambda: beats(), 20, what="the first heartbeat")
        wait_until(lambda: "no worker registry" in host.log(), 10, what="the log line")
        time.sleep(2.0)  # four heartbeat periods
        self.assertEqual(len(beats()), 1, beats())
        self.assertEqual(host.log().count("no worker registry"), 1)
        body = beats()[0].json
        self.assertEqual((body["runtime_name"], body["namespace"], body["nodes"], body["interval_ms"]),
                         ("test-host", NS, ["EchoNode"], 500))
        self.assertEqual(body["slots"], 4)
        self.assertEqual(body["running"], 0)
        self.assertTrue(body["version"] and body["hostname"] and body["pid"] == host.proc.pid, body)
        # claims name the runtime too (the reference ignores the extra field)
        claims = self.mock.find("POST", r"/states/enqueue$")
        self.assertTrue(claims)
        self.assertEqual(claims[0].json["runtime_name"], "test-host")
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
