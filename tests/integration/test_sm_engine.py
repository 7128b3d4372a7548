"""Execution-engine tests of the state manager, driven as a worker over HTTP:
fan-out, unite (incl. concurrent completion), retries, NEXT_CREATED_ERROR, store
writes, graph-version pinning, concurrent claims, long-poll, leases, restart, cron."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ExoTestCase, main, node_def, wait_until  # noqa: E402

NS = "engns"


def node(name, ident, inputs=None, next_nodes=None, unites=None, strategy="ALL_SUCCESS"):
    n = {"node_name": name, "namespace": NS, "identifier": ident, "inputs": inputs or {},
         "next_nodes": next_nodes or []}
    if unites:
        n["unites"] = {"identifier": unites, "strategy": strategy}
    return n


class EngineTest(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)

    def setup_graph(self, nodes, name="g", **extra):
        body = {"secrets": {}, "nodes": nodes}
        body.update(extra)
        r = self.api.put_graph(name, body)
        self.assertEqual(r.status, 201, r)
        g = self.api.wait_validated(name)
        self.assertEqual(g["validation_status"], "VALID", g)

    def claim(self, node_name, n=100, **extra):
        r = self.api.enqueue([node_name], n, **extra)
        self.assertEqual(r.status, 200, r)
        return r.json["states"]

    def claim_exactly(self, node_name, count):
        got = []
        wait_until(lambda: got.extend(self.claim(node_name)) or len(got) >= count, what=f"{count} x {node_name}")
        self.assertEqual(len(got), count)
        return got

    def states(self, run, ident=None):
        all_states = self.api.run_states("g", run)
        return [s for s in all_states if ident is None or s["identifier"] == ident]

    # ---- fan-out + unite -----------------------------------------------------------------
    def fanout_unite_graph(self, strategy="ALL_SUCCESS", max_retries=0):
        self.api.register([node_def("R", [], ["v"]), node_def("B", ["v"], ["w"]),
                           node_def("U", ["first"], [])])
        self.setup_graph([
            node("R", "r", next_nodes=["b"]),
            node("B", "b", {"v": "${{ r.outputs.v }}"}, next_nodes=["u"]),
            node("U", "u", {"first": "${{ r.outputs.v }}"}, unites="r", strategy=strategy)],
            retry_policy={"max_retries": max_retries})

    def test_fanout_then_unite_on_fanning_node_once(self):
        self.fanout_unite_graph()
        run = self.api.trigger("g").json["run_id"]
        root = self.claim_exactly("R", 1)[0]
        r = self.api.executed(root["state_id"], [{"v": str(i)} for i in range(6)])
        self.assertEqual(r.status, 200)
        bs = self.claim_exactly("B", 6)
        self.assertEqual(sorted(b["inputs"]["v"] for b in bs), [str(i) for i in range(6)])
        # finish the branches concurrently: exactly one united state must appear
        barrier = threading.Barrier(len(bs))
        results = []

        def finish(b):
            api = self.sm.api(NS)
            barrier.wait()
            results.append(api.executed(b["state_id"], [{"w": "x"}]).status)
        threads = [threading.Thread(target=finish, args=(b,)) for b in bs]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual(results, [200] * 6)
        us = self.claim_exactly("U", 1)
        self.assertEqual(us[0]["inputs"], {"first": "0"})  # T's first output
        self.api.executed(us[0]["state_id"], [])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["total_count"]), ("SUCCESS", 13))
        self.assertEqual(len(self.states(run, "u")), 1)

    def test_all_success_unite_counts_pruned_but_blocks_on_errored(self):
        self.fanout_unite_graph("ALL_SUCCESS")
        run = self.api.trigger("g").json["run_id"]
        root = self.claim_exactly("R", 1)[0]
        self.api.executed(root["state_id"], [{"v": "a"}, {"v": "b"}, {"v": "c"}])
        b1, b2, b3 = self.claim_exactly("B", 3)
        self.api.executed(b1["state_id"], [{"w": "1"}])
        r = self.api.request("POST", self.api.ns_path(f"/state/{b2['state_id']}/prune"), {"data": {}})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.claim("U"), [])
        self.api.executed(b3["state_id"], [{"w": "3"}])
        self.assertEqual(len(self.claim_exactly("U", 1)), 1)  # the pruned branch does not block (exo §0)

        run2 = self.api.trigger("g").json["run_id"]
        root = self.claim_exactly("R", 1)[0]
        self.api.executed(root["state_id"], [{"v": "a"}, {"v": "b"}])
        b1, b2 = self.claim_exactly("B", 2)
        self.api.errored(b1["state_id"], "fail")
        self.api.executed(b2["state_id"], [{"w": "2"}])
        info = self.api.wait_run_finished(run2)
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(self.states(run2, "u"), [])
        self.assertIsNotNone(run)

    def test_all_done_unite_fires_after_error_of_last_branch(self):
        self.fanout_unite_graph("ALL_DONE")
        run = self.api.trigger("g").json["run_id"]
        root = self.claim_exactly("R", 1)[0]
        self.api.executed(root["state_id"], [{"v": "a"}, {"v": "b"}])
        b1, b2 = self.claim_exactly("B", 2)
        self.api.executed(b1["state_id"], [{"w": "1"}])
        self.assertEqual(self.claim("U"), [])
        r = self.api.errored(b2["state_id"], "last one failed")
        self.assertEqual(r.json, {"status": "ERRORED", "retry_created": False})
        u = self.claim_exactly("U", 1)[0]
        self.assertEqual(u["inputs"], {"first": "a"})
        self.api.executed(u["state_id"], [])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"]), ("FAILED", 1))

    def test_unite_waits_for_deeper_descendants(self):
        # R -> B -> C ; B -> U (unites R): U waits for C too
        self.api.register([node_def("R", [], ["v"]), node_def("B", [], ["w"]), node_def("C", [], []),
                           node_def("U", [], [])])
        self.setup_graph([node("R", "r", next_nodes=["b"]), node("B", "b", next_nodes=["c", "u"]),
                          node("C", "c"), node("U", "u", unites="r")])
        run = self.api.trigger("g").json["run_id"]
        self.api.executed(self.claim_exactly("R", 1)[0]["state_id"], [{"v": "1"}])
        self.api.executed(self.claim_exactly("B", 1)[0]["state_id"], [{"w": "1"}])
        self.assertEqual(self.claim("U"), [])
        self.api.executed(self.claim_exactly("C", 1)[0]["state_id"], [])
        self.api.executed(self.claim_exactly("U", 1)[0]["state_id"], [])
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")

    # ---- NEXT_CREATED_ERROR ------------------------------------------------------------------
    def test_next_created_error_keeps_no_children(self):
        self.api.register([node_def("A", [], ["y"]), node_def("B", ["y"], []), node_def("C", [], [])])
        self.setup_graph([node("A", "a", next_nodes=["c", "b"]), node("C", "c"),
                          node("B", "b", {"y": "${{ a.outputs.y }}"})])
        run = self.api.trigger("g").json["run_id"]
        a = self.claim_exactly("A", 1)[0]
        self.assertEqual(self.api.executed(a["state_id"], [{"other": "1"}]).status, 200)
        det = self.api.node_details("g", run, a["state_id"]).json
        self.assertEqual(det["status"], "NEXT_CREATED_ERROR")
        self.assertIn("Output field 'y' not found on current state 'a' for template 'b'", det["error"])
        self.assertEqual(self.claim("C"), [])  # the whole step is atomic: no orphan C
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["total_count"]), ("FAILED", 1))

    # ---- store writes + version pinning ----------------------------------------------------------
    def test_store_writes_and_version_pinning(self):
        self.api.register([node_def("A", [], []), node_def("B", ["k"], [])])
        nodes = [node("A", "a", next_nodes=["b"]), node("B", "b", {"k": "${{ store.k }}"})]
        self.setup_graph(nodes, store_config={"required_keys": [], "default_values": {"k": "default"}})
        run = self.api.trigger("g").json["run_id"]
        a = self.claim_exactly("A", 1)[0]
        # a new version of the graph must not affect the running run
        nodes2 = [node("A", "a", next_nodes=["b"]), node("B", "b", {"k": "v2-${{ store.k }}"})]
        self.setup_graph(nodes2, store_config={"required_keys": [], "default_values": {"k": "default"}})
        r = self.api.executed(a["state_id"], [{}], store={"k": "written"})
        self.assertEqual(r.status, 200, r)
        b = self.claim_exactly("B", 1)[0]
        self.assertEqual(b["inputs"], {"k": "written"})
        r = self.api.executed(b["state_id"], [], store={"k": 5})
        self.assertEqual(r.status, 422)
        self.api.executed(b["state_id"], [])
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")
        run2 = self.api.trigger("g").json["run_id"]
        self.api.executed(self.claim_exactly("A", 1)[0]["state_id"], [])
        self.assertEqual(self.claim_exactly("B", 1)[0]["inputs"], {"k": "v2-default"})
        self.assertIsNotNone(run2)

    # ---- concurrency --------------------------------------------------------------------------------
    def test_concurrent_enqueue_never_hands_out_a_state_twice(self):
        self.api.register([node_def("R", [], ["v"]), node_def("B", ["v"], [])])
        self.setup_graph([node("R", "r", next_nodes=["b"]), node("B", "b", {"v": "${{ r.outputs.v }}"})])
        self.api.trigger("g")
        root = self.claim_exactly("R", 1)[0]
        total = 300
        self.assertEqual(self.api.executed(root["state_id"], [{"v": str(i)} for i in range(total)]).status, 200)
        claimed = []
        lock = threading.Lock()

        def worker():
            api = self.sm.api(NS)
            while True:
                r = api.enqueue(["B"], 7)
                assert r.status == 200, r
                if not r.json["states"]:
                    return
                with lock:
                    claimed.extend(s["state_id"] for s in r.json["states"])
        threads = [threading.Thread(target=worker) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual(len(claimed), total)
        self.assertEqual(len(set(claimed)), total)

    def test_long_poll_returns_when_a_state_appears(self):
        self.api.register([node_def("A", [], [])])
        self.setup_graph([node("A", "a")])
        result = {}

        def poll():
            t0 = time.monotonic()
            result["r"] = self.sm.api(NS).enqueue(["A"], 1, wait_ms=30000)
            result["elapsed"] = time.monotonic() - t0
        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        self.api.trigger("g")
        t.join()
        self.assertEqual(result["r"].json["count"], 1)
        self.assertLess(result["elapsed"], 25)  # woke up by the trigger, not by the 30 s timeout
        # delayed state: becomes claimable when enqueue_after passes
        self.api.trigger("g", start_delay=800)
        r = self.api.enqueue(["A"], 1, wait_ms=20000)
        self.assertEqual(r.json["count"], 1)
        r = self.api.enqueue(["A"], 1, wait_ms=200)
        self.assertEqual(r.json["count"], 0)

    def test_long_poll_of_a_vanished_client_claims_nothing(self):
        import subprocess
        self.api.register([node_def("A", [], [])])
        self.setup_graph([node("A", "a")])
        code = ("import json, sys, urllib.request\n"
                "req = urllib.request.Request(sys.argv[1], data=json.dumps({'nodes': ['A'], 'batch_size': 1,"
                " 'wait_ms': 30000}).encode(), method='POST', headers={'x-api-key': sys.argv[2],"
                " 'Content-Type': 'application/json'})\n"
                "print('polling', flush=True)\n"
                "urllib.request.urlopen(req, timeout=60).read()\n")
        child = subprocess.Popen([sys.executable, "-c", code, self.sm.url + self.api.ns_path("/states/enqueue"),
                                  self.api.api_key], stdout=subprocess.PIPE)
        self.assertEqual(child.stdout.readline().strip(), b"polling")
        time.sleep(0.5)  # let the request reach the server and start waiting
        child.kill()
        child.wait()
        child.stdout.close()
        run = self.api.trigger("g").json["run_id"]
        got = self.claim_exactly("A", 1)  # the dead long-poll did not take it
        self.assertEqual(self.api.node_details("g", run, got[0]["state_id"]).json["status"], "QUEUED")

    # ---- leases --------------------------------------------------------------------------------------
    def test_lease_expiry_goes_through_errored_path(self):
        self.api.register([node_def("A", [], [])])
        self.setup_graph([node("A", "a")], retry_policy={"max_retries": 1, "strategy": "FIXED",
                                                          "backoff_factor": 1})
        run = self.api.trigger("g").json["run_id"]
        first = self.claim("A", 1, lease_ms=1000)[0]
        det = wait_until(lambda: (lambda d: d if d["status"] != "QUEUED" else None)(
            self.api.node_details("g", run, first["state_id"]).json), what="lease expiry")
        self.assertEqual(det["status"], "RETRY_CREATED")
        self.assertIn("lease expired", det["error"])
        retry = self.claim_exactly("A", 1)
        self.assertEqual(self.api.executed(first["state_id"], []).status, 400)  # too late
        # keep-alive: a renewed lease does not expire
        sid = retry[0]["state_id"]
        r = self.api.request("POST", self.api.ns_path("/states/lease"), {"state_ids": [sid], "lease_ms": 3000})
        self.assertEqual(r.json["renewed"], [sid])
        for _ in range(8):  # well past the 1000 ms of the claim
            time.sleep(0.5)
            r = self.api.request("POST", self.api.ns_path("/states/lease"), {"state_ids": [sid], "lease_ms": 3000})
            self.assertEqual(r.json["renewed"], [sid])
        self.assertEqual(self.api.executed(sid, []).status, 200)
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")

    # ---- restart ------------------------------------------------------------------------------------
    def test_restart_mid_run_finishes_the_run(self):
        self.api.register([node_def("A", [], ["y"]), node_def("B", ["y"], [])])
        self.setup_graph([node("A", "a", next_nodes=["b"]), node("B", "b", {"y": "${{ a.outputs.y }}"})])
        run = self.api.trigger("g").json["run_id"]
        self.api.executed(self.claim_exactly("A", 1)[0]["state_id"], [{"y": "1"}, {"y": "2"}])
        port, db = self.sm.port, self.sm.db
        self.assertEqual(self.sm.stop(), 0)
        self.sm = self.start_state_manager(port=port, db=db)
        self.api = self.sm.api(NS)
        for b in self.claim_exactly("B", 2):
            self.assertEqual(self.api.executed(b["state_id"], []).status, 200)
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["total_count"]), ("SUCCESS", 4))

    def test_kill_9_loses_no_committed_report(self):
        import signal
        self.api.register([node_def("A", [], ["y"]), node_def("B", ["y"], [])])
        self.setup_graph([node("A", "a", next_nodes=["b"]), node("B", "b", {"y": "${{ a.outputs.y }}"})])
        run = self.api.trigger("g").json["run_id"]
        self.assertEqual(self.api.executed(self.claim_exactly("A", 1)[0]["state_id"], [{"y": "1"}]).status, 200)
        port, db = self.sm.port, self.sm.db
        self.sm.stop(signal.SIGKILL)
        self.sm = self.start_state_manager(port=port, db=db)
        self.api = self.sm.api(NS)
        b = self.claim_exactly("B", 1)[0]
        self.assertEqual(b["inputs"], {"y": "1"})
        self.api.executed(b["state_id"], [])
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")

    # ---- cron -----------------------------------------------------------------------------------------
    def test_cron_trigger_starts_runs(self):
        self.api.register([node_def("A", [], [])])
        self.setup_graph([node("A", "a")], triggers=[{"type": "CRON", "value": {"expression": "* * * * * *"}}])
        wait_until(lambda: self.api.runs().json["total"] >= 2, timeout=30, what="cron runs")
        # a new version without triggers stops the schedule
        self.setup_graph([node("A", "a")])
        time.sleep(1.5)
        before = self.api.runs().json["total"]
        time.sleep(2.5)
        self.assertEqual(self.api.runs().json["total"], before)

    # Cron catch-up after downtime and recovery of records left TRIGGERING by a crash
    # need a clock in the past: tests/unit/test_sm_engine.c covers them on the engine.

    def test_cross_namespace_node_template(self):
        other = self.sm.api("otherns")
        self.api.register([node_def("A", [], ["y"])])
        other.register([node_def("B", ["y", "k"], [])])
        nodes = [node("A", "a", next_nodes=["b"]),
                 {"node_name": "B", "namespace": "otherns", "identifier": "b",
                  "inputs": {"y": "${{ a.outputs.y }}", "k": "${{ store.k }}"}}]
        self.setup_graph(nodes, store_config={"required_keys": ["k"], "default_values": {}})
        run = self.api.trigger("g", store={"k": "K"}).json["run_id"]
        self.api.executed(self.claim_exactly("A", 1)[0]["state_id"], [{"y": "Y"}])
        b = wait_until(lambda: other.enqueue(["B"], 1).json["states"], what="B in otherns")[0]
        self.assertEqual(b["inputs"], {"y": "Y", "k": "K"})
        r = other.errored(b["state_id"], "transient")
        self.assertEqual(r.json, {"status": "ERRORED", "retry_created": True})
        b2 = wait_until(lambda: other.enqueue(["B"], 1).json["states"], timeout=30, what="retry of B")[0]
        self.assertEqual(other.executed(b2["state_id"], []).status, 200)
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")

    def test_manual_retry_conflicts_and_unite_build_failure(self):
        self.fanout_unite_graph("ALL_DONE")
        run = self.api.trigger("g").json["run_id"]
        root = self.claim_exactly("R", 1)[0]
        self.api.executed(root["state_id"], [{"v": "a"}, {"v": "b"}, {"v": "c"}])
        b1, b2, b3 = self.claim_exactly("B", 3)
        self.api.errored(b1["state_id"], "x")
        self.api.errored(b2["state_id"], "y")
        mr = lambda sid, f: self.api.request("POST", self.api.ns_path(f"/state/{sid}/manual-retry"), {"fanout_id": f})
        self.assertEqual(mr(b1["state_id"], "lane-1").status, 200)
        r = mr(b2["state_id"], "lane-1")  # same node, same run, same fanout_id: a duplicate lane
        self.assertEqual((r.status, r.json), (409, {"detail": "Duplicate retry state detected"}))
        self.assertEqual(self.api.node_details("g", run, b2["state_id"]).json["status"], "ERRORED")
        retry = self.claim_exactly("B", 1)[0]
        self.assertEqual(retry["inputs"], {"v": "a"})
        self.api.executed(retry["state_id"], [{"w": "1"}])
        self.assertEqual(self.claim("U"), [])  # b3 still runs
        # U's registered schema changes under the running run: U cannot be built
        self.api.register([node_def("U", ["first", "missing"], [])])
        self.api.executed(b3["state_id"], [{"w": "3"}])
        det = self.api.node_details("g", run, b3["state_id"]).json
        self.assertEqual(det["status"], "NEXT_CREATED_ERROR")
        self.assertIn("Field 'missing' not found in inputs for template 'u'", det["error"])
        us = self.states(run, "u")
        self.assertEqual(len(us), 1)  # created ERRORED so that the failure shows on the node (exo §0)
        self.assertEqual(us[0]["status"], "ERRORED")
        self.assertIn("Field 'missing' not found", us[0]["error"])
        self.assertEqual(self.claim("U"), [])
        self.assertEqual(self.api.wait_run_finished(run)["status"], "FAILED")

if __name__ == "__main__":
    main()
