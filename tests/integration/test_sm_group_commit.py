"""Concurrent requests' transactions share commits on SQLite (group commit): a
request is answered only after the commit that holds its writes, so a kill -9 in
the middle of a concurrent load loses nothing that was answered 200 (triggers and
executed reports), and nothing half-done appears after the restart."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ExoTestCase, main, node_def  # noqa: E402

NS = "gcns"
CLIENTS = 8


class GroupCommitTest(ExoTestCase):
    check_sanitizers = True

    def test_kill_9_under_concurrent_load_loses_no_answered_write(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        self.assertEqual(api.register([node_def("A", [], ["y"])]).status, 200)
        r = api.put_graph("g", {"secrets": {}, "nodes": [
            {"node_name": "A", "namespace": NS, "identifier": "a", "inputs": {}, "next_nodes": []}]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(api.wait_validated("g")["validation_status"], "VALID")

        triggered, executed = set(), set()
        lock = threading.Lock()
        stop = threading.Event()

        def client(i):
            # even clients trigger runs, odd ones claim and complete them
            try:
                while not stop.is_set():
                    if i % 2 == 0:
                        r = api.trigger("g")
                        if r.status == 200:
                            with lock:
                                triggered.add(r.json["run_id"])
                        continue
                    r = api.enqueue(["A"], 4)
                    for st in (r.json or {}).get("states", []) if r.status == 200 else []:
                        if api.executed(st["state_id"], [{"y": "1"}]).status == 200:
                            with lock:
                                executed.add(st["state_id"])
            except OSError:
                return  # the server was killed under this request: its answer never came

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(triggered) >= 300 and len(executed) >= 100:
                    break
            time.sleep(0.05)
        port, db = sm.port, sm.db
        sm.stop(signal.SIGKILL)  # mid-load: requests are in flight
        stop.set()
        for t in threads:
            t.join(30)
        with lock:
            answered_runs, answered_states = set(triggered), set(executed)
        self.assertGreaterEqual(len(answered_runs), 300)
        self.assertGreaterEqual(len(answered_states), 100)

        sm = self.start_state_manager(port=port, db=db)
        api = sm.api(NS)
        stored = {}
        page = 1
        while True:
            runs = api.runs(page, 1000).json["runs"]
            for run in runs:
                stored[run["run_id"]] = run
            if len(runs) < 1000:
                break
            page += 1
        missing = answered_runs - set(stored)
        self.assertEqual(missing, set(), f"{len(missing)} answered trigger(s) lost")
        status = {}
        for run_id, run in stored.items():
            # every stored run is whole: its one state exists (no run without its root state)
            self.assertEqual(run["total_count"], 1, run)
            r = api.request("GET", api.ns_path(f"/run/{run_id}/states"))
            self.assertEqual(r.status, 200, r)
            for st in r.json["states"]:
                status[st["state_id"]] = st["status"]
        lost = [s for s in answered_states if status.get(s) != "SUCCESS"]
        self.assertEqual(lost, [], f"{len(lost)} answered executed report(s) lost")


if __name__ == "__main__":
    main()
