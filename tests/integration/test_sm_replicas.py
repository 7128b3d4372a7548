"""Several exo-state-managers on one PostgreSQL database (run as sm_replicas_pg):
claims are never handed out twice, a unite finishing on two replicas at once makes
exactly one united state (also when the last branch errors or is pruned), a state
created through one replica wakes a long-poll on another at once, cron fires once
per tick and an expired lease is handled once, whichever replica's background
threads see them."""
import collections
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TEST_DB, ExoTestCase, Host, exoctl, main, node_def, wait_until  # noqa: E402
from host_graphs import put_one_node_graph, trigger, wait_registered  # noqa: E402

NS = "replns"
REPLICAS = 3


def node(name, ident, inputs=None, next_nodes=None, unites=None, strategy="ALL_SUCCESS"):
    n = {"node_name": name, "namespace": NS, "identifier": ident, "inputs": inputs or {},
         "next_nodes": next_nodes or []}
    if unites:
        n["unites"] = {"identifier": unites, "strategy": strategy}
    return n


@unittest.skipUnless(TEST_DB == "postgres", "replicas share a PostgreSQL database (run as sm_replicas_pg)")
class ReplicasTest(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        first = self.start_state_manager(logname="state-manager-0.log")
        self.sms = [first] + [self.start_state_manager(db=first.db, logname=f"state-manager-{i}.log")
                              for i in range(1, REPLICAS)]
        self.apis = [sm.api(NS) for sm in self.sms]

    def graph(self, nodes, name="g", api=None, **extra):
        api = api or self.apis[0]
        body = {"secrets": {}, "nodes": nodes, "retry_policy": {"max_retries": 0}}
        body.update(extra)
        r = api.put_graph(name, body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(api.wait_validated(name)["validation_status"], "VALID")

    def claim(self, api, node_name, n=100, **extra):
        r = api.enqueue([node_name], n, **extra)
        self.assertEqual(r.status, 200, r)
        return r.json["states"]

    def claim_exactly(self, api, node_name, count):
        got = []
        wait_until(lambda: got.extend(self.claim(api, node_name)) or len(got) >= count, what=f"{count} x {node_name}")
        self.assertEqual(len(got), count)
        return got

    def test_claims_are_never_doubled(self):
        total, runs, claimers = 20000, 4, 16
        self.apis[0].register([node_def("R", [], ["v"]), node_def("B", ["v"], [])])
        self.graph([node("R", "r", next_nodes=["b"]), node("B", "b", {"v": "${{ r.outputs.v }}"})])
        for k in range(runs):  # each run's root fans out into total / runs B states
            api = self.apis[k % REPLICAS]
            self.assertEqual(api.trigger("g").status, 200)
        roots = self.claim_exactly(self.apis[1], "R", runs)
        for k, root in enumerate(roots):
            outputs = [{"v": f"{k}-{i}"} for i in range(total // runs)]
            api = self.apis[k % REPLICAS]
            r = api.request("POST", api.ns_path(f"/state/{root['state_id']}/executed"), {"outputs": outputs},
                            timeout=300)
            self.assertEqual(r.status, 200, r)
        claimed = collections.Counter()
        lock = threading.Lock()
        errors = []

        def claimer(i):
            api = self.sms[i % REPLICAS].api(NS)
            idle = 0
            while idle < 3:
                r = api.enqueue(["B"], 50)
                if r.status != 200:
                    errors.append(r)
                    return
                got = r.json["states"]
                idle = idle + 1 if not got else 0
                with lock:
                    claimed.update(s["state_id"] for s in got)
        threads = [threading.Thread(target=claimer, args=(i,)) for i in range(claimers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        doubles = [sid for sid, n in claimed.items() if n > 1]
        self.assertEqual(doubles, [], f"{len(doubles)} states claimed more than once")
        self.assertEqual(len(claimed), total)

    def test_concurrent_last_branches_unite_once(self):
        self.apis[0].register([node_def("R", [], ["v"]), node_def("B", ["v"], ["w"]), node_def("U", ["first"], [])])
        self.graph([node("R", "r", next_nodes=["b"]),
                    node("B", "b", {"v": "${{ r.outputs.v }}"}, next_nodes=["u"]),
                    node("U", "u", {"first": "${{ r.outputs.v }}"}, unites="r", strategy="ALL_DONE")])
        rounds = 200
        endings = ("executed", "errored", "pruned")
        a, b = self.apis[0], self.apis[1]
        runs = []
        for i in range(rounds):
            run = self.apis[i % REPLICAS].trigger("g").json["run_id"]
            root = self.claim_exactly(a, "R", 1)[0]
            self.assertEqual(a.executed(root["state_id"], [{"v": "1"}, {"v": "2"}]).status, 200)
            branches = self.claim_exactly(b, "B", 2)
            ending = endings[i % len(endings)]
            barrier = threading.Barrier(2)
            statuses = []

            def finish(api, state, how):
                barrier.wait()
                if how == "executed":
                    statuses.append(api.executed(state["state_id"], [{"w": "x"}]).status)
                elif how == "errored":
                    statuses.append(api.errored(state["state_id"], "boom").status)
                else:
                    statuses.append(api.request("POST", api.ns_path(f"/state/{state['state_id']}/prune"),
                                                {"data": {}}).status)
            # the two last branches finish at once on two different replicas
            threads = [threading.Thread(target=finish, args=(self.apis[1], branches[0], "executed")),
                       threading.Thread(target=finish, args=(self.apis[2], branches[1], ending))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(statuses, [200, 200], (i, ending))
            runs.append((run, ending))
        for run, ending in runs:
            united = [s for s in self.apis[0].run_states("g", run) if s["identifier"] == "u"]
            self.assertEqual(len(united), 1, (run, ending, united))
        self.assertEqual(len(self.claim(a, "U", 1000)), rounds)

    def test_state_created_on_one_replica_wakes_a_long_poll_on_another(self):
        self.apis[0].register([node_def("A", [], [])])
        self.graph([node("A", "a")])
        for attempt in range(5):
            got = {}

            def poll():
                r = self.apis[1].enqueue(["A"], 1, wait_ms=20000)
                got["states"], got["at"] = r.json["states"], time.monotonic()
            t = threading.Thread(target=poll)
            t.start()
            time.sleep(0.3)  # the long-poll is waiting on replica 1
            fired = time.monotonic()
            self.assertEqual(self.apis[2].trigger("g").status, 200)
            t.join(25)
            self.assertEqual(len(got["states"]), 1, got)
            # answered long before wait_ms (20 s) ran out: the notification crossed replicas
            self.assertLess(got["at"] - fired, 1.0, attempt)

    def test_expired_lease_is_handled_once(self):
        self.apis[0].register([node_def("A", [], [])])
        self.graph([node("A", "a")], retry_policy={"max_retries": 1})
        run = self.apis[0].trigger("g").json["run_id"]
        st = self.claim_exactly(self.apis[0], "A", 1)[0]
        # shorten the lease: it expires in one second, with no report
        r = self.apis[0].request("POST", self.apis[0].ns_path("/states/lease"),
                                 {"state_ids": [st["state_id"]], "lease_ms": 1000})
        self.assertEqual(r.status, 200, r)
        retry = self.claim_exactly(self.apis[1], "A", 1)[0]  # the retry created by the one reaper
        self.assertNotEqual(retry["state_id"], st["state_id"])
        time.sleep(1.5)  # every replica's reaper had its chance
        states = self.apis[0].run_states("g", run)
        self.assertEqual(len(states), 2, states)
        logs = "".join(sm.log() for sm in self.sms)
        self.assertEqual(logs.count(f"state {st['state_id']} "), 1, "the lease expiry was handled more than once")

    def test_host_fails_over_when_a_replica_is_killed(self):
        host = Host(self.tmp, [self.sms[0].url, self.sms[1].url], NS, ["sleep_long.so"], workers=3,
                    extra=f'state_dir = "{self.tmp}/host-state";')
        self._procs.append(host)
        host.start()
        api = self.apis[2]
        wait_registered(api, ["SleepNode"])
        put_one_node_graph(self, api, "sleepy", "SleepNode", {"seconds": "1"})
        runs = [trigger(self, api, "sleepy") for _ in range(9)]
        wait_until(lambda: sum(api.run_graph(r).json["execution_summary"].get("QUEUED", 0) for r in runs) >= 2,
                   20, what="states running")
        self.sms[0].stop(signal.SIGKILL)
        for run_id in runs:
            api.wait_run_finished(run_id, timeout=120)
            self.assertEqual([n["status"] for n in api.run_graph(run_id).json["nodes"]], ["SUCCESS"], run_id)
        self.assertIn("failing over to " + self.sms[1].url, host.log())
        # exoctl too: the dead replica first in the list, the answer from the next one
        p = exoctl(["graph", "list"], f"{self.sms[0].url},{self.sms[1].url}", namespace=NS)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sleepy", p.stdout)

    def test_cron_fires_once_per_tick(self):
        self.apis[0].register([node_def("A", [], [])])
        if time.gmtime().tm_sec >= 50:  # keep the set-up away from a minute boundary
            time.sleep(62 - time.gmtime().tm_sec)
        self.graph([node("A", "a")], name="cron", triggers=[{"type": "CRON", "value": {"expression": "* * * * *"}}])
        start_minute = int(time.time() // 60)

        def cron_runs():
            return [x for x in self.apis[1].runs(1, 100).json["runs"] if x["graph_name"] == "cron"]
        wait_until(lambda: len(cron_runs()) >= 2, 150, interval=1, what="two cron runs")
        time.sleep(3)  # a late double would show now
        ticks = int(time.time() // 60) - start_minute
        self.assertEqual(len(cron_runs()), ticks)


if __name__ == "__main__":
    main()
