"""exo-host reliability: state manager outages, kill -9 with the spool, leases,
graceful shutdown and SIGHUP reload.  Real state manager where the server side
matters, the recording mock where the exact requests matter."""

import os
import re
import signal
import subprocess
import time

from harness import ExoTestCase, Host, StateManager, main, wait_until
from host_graphs import NO_RETRY, finished_state, put_one_node_graph, trigger, wait_registered
from mock_state_manager import MockHostTestCase

NS = "reliability"


def sid(n):
    return "%024x" % (0x77b1f0c2a9e4d3b2c1a00000 + n)


def state_processes(host_pid):
    """Processes below the host's fork server (its children's children)."""
    def children(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []
    return [g for c in children(host_pid) for g in children(c)]


class HostReliabilityRealStateManager(ExoTestCase):
    def host_extra(self, more=""):
        return f'state_dir = "{self.tmp}/state";\n{more}'

    def restart_state_manager(self, sm):
        """The same database and port again (what an operator's restart does)."""
        again = StateManager(self.tmp, db=sm.db, port=sm.port)
        self._procs.append(again)
        return again.start()

    def test_state_manager_outage_loses_no_result(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["sleep_long.so"], workers=3, extra=self.host_extra())
        wait_registered(api, ["SleepNode"])
        put_one_node_graph(self, api, "g-sleep", "SleepNode", {"seconds": "2"})
        runs = [trigger(self, api, "g-sleep") for _ in range(3)]
        wait_until(lambda: host.log().count("node SleepNode") == 0 and
                   api.run_graph(runs[2]).json["execution_summary"]["QUEUED"] == 1, 20, what="states running")
        sm.stop()
        wait_until(lambda: len(re.findall(r"executed.*retrying in|failed: .*retrying in", host.log())) >= 1,
                   30, what="failed deliveries while the state manager is down")
        sm2 = self.restart_state_manager(sm)
        api2 = sm2.api(NS)
        for run_id in runs:
            state = finished_state(api2, run_id)
            self.assertEqual(state["status"], "SUCCESS", state)

    def test_kill_9_then_restart_delivers_from_the_spool(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["sleep_long.so"], extra=self.host_extra())
        wait_registered(api, ["SleepNode"])
        put_one_node_graph(self, api, "g-sleep", "SleepNode", {"seconds": "1"})
        run_id = trigger(self, api, "g-sleep")
        wait_until(lambda: api.run_graph(run_id).json["execution_summary"]["QUEUED"] == 1, 20, what="claim")
        sm.stop()
        # The state finishes while nobody can take its result: it goes to the spool.
        wait_until(lambda: re.search(r"node SleepNode \d+ ms: executed", host.log()), 20, what="state finished")
        spool = os.path.join(self.tmp, "state", "spool")
        # a complete entry: "<name>.json.tmp" is one being written (kill -9 then loses it
        # and the lease brings the state back instead)
        wait_until(lambda: [n for n in os.listdir(spool) if n.endswith(".json")], 10, what="a spool entry")
        host.proc.kill()  # kill -9: nothing gets a chance to flush
        host.proc.wait()
        sm2 = self.restart_state_manager(sm)
        api2 = sm2.api(NS)
        self.assertEqual(api2.run_graph(run_id).json["execution_summary"]["QUEUED"], 1)
        host2 = Host(self.tmp, sm2.url, NS, ["sleep_long.so"], conf_name="host2.conf", extra=self.host_extra())
        self._procs.append(host2)
        host2.start()
        state = finished_state(api2, run_id)
        self.assertEqual(state["status"], "SUCCESS", state)
        wait_until(lambda: not os.listdir(spool), 10, what="the spool to empty")
        self.assertIn("spool: delivering", host2.log())

    def test_interrupted_state_comes_back_through_the_lease(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["sleep_long.so"], extra=self.host_extra("lease_ms = 3000;\n"))
        wait_registered(api, ["SleepNode"])
        body = {"secrets": {}, "nodes": [{"node_name": "SleepNode", "namespace": NS, "identifier": "step",
                                          "inputs": {"seconds": "1"}, "next_nodes": None, "unites": None}],
                "retry_policy": dict(NO_RETRY, max_retries=3, backoff_factor=1)}
        self.assertIn(api.put_graph("g-lease", body).status, (200, 201))
        self.assertEqual(api.wait_validated("g-lease")["validation_status"], "VALID")
        run_id = trigger(self, api, "g-lease")
        wait_until(lambda: api.run_graph(run_id).json["execution_summary"]["QUEUED"] == 1, 20, what="claim")
        host.proc.kill()
        host.proc.wait()
        host2 = Host(self.tmp, sm.url, NS, ["sleep_long.so"], conf_name="host2.conf",
                     extra=self.host_extra("lease_ms = 3000;\n"))
        self._procs.append(host2)
        host2.start()
        api.wait_run_finished(run_id, timeout=60)
        nodes = api.run_graph(run_id).json["nodes"]
        # The killed host's claim expires and the retry runs on the new host.  (A retry
        # may first be taken by the killed host's long-poll, still pending on the
        # server; its lease expires too: hence up to 3 retries.)
        statuses = [n["status"] for n in nodes]
        self.assertEqual(statuses.count("SUCCESS"), 1, nodes)
        for lost in (n for n in nodes if n["status"] != "SUCCESS"):
            self.assertEqual(lost["status"], "RETRY_CREATED", nodes)
            self.assertIn("lease expired", lost["error"])

    def test_graceful_shutdown_finishes_running_states(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["sleep_long.so"], extra=self.host_extra("grace_ms = 20000;\n"))
        wait_registered(api, ["SleepNode"])
        put_one_node_graph(self, api, "g-sleep", "SleepNode", {"seconds": "2"})
        run_id = trigger(self, api, "g-sleep")
        wait_until(lambda: api.run_graph(run_id).json["execution_summary"]["QUEUED"] == 1, 20, what="claim")
        # Claimed is not yet running (a state stopped before it started is released):
        # the stop must come once the state's process runs.
        wait_until(lambda: state_processes(host.proc.pid), 20, what="the state's process")
        self.assertEqual(host.stop(signal.SIGTERM, timeout=30), 0)
        state = finished_state(api, run_id, timeout=5)
        self.assertEqual(state["status"], "SUCCESS", state)

    def test_grace_period_expiry_reports_errored(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["sleep_long.so"], extra=self.host_extra("grace_ms = 300;\n"))
        wait_registered(api, ["SleepNode"])
        put_one_node_graph(self, api, "g-sleep", "SleepNode", {"seconds": "3600"})
        run_id = trigger(self, api, "g-sleep")
        wait_until(lambda: api.run_graph(run_id).json["execution_summary"]["QUEUED"] == 1, 20, what="claim")
        # Claimed is not yet running: a state stopped before it started is released.
        wait_until(lambda: state_processes(host.proc.pid), 20, what="the state's process")
        self.assertEqual(host.stop(signal.SIGINT, timeout=30), 0)
        state = finished_state(api, run_id, timeout=5)
        self.assertEqual(state["status"], "ERRORED", state)
        self.assertIn("grace period", state["error"])


class HostReliabilityMock(MockHostTestCase):
    namespace = NS

    def test_shutdown_releases_claimed_but_unstarted_states(self):
        m = self.mock
        m.add_state(sid(1), "SleepNode", {"seconds": "2"})
        m.add_state(sid(2), "SleepNode", {"seconds": "2"})
        h = self.host(["sleep_long.so"], workers=1, extra="prefetch = 1;\n",
                      env={"EXO_LOG_LEVEL": "debug"})
        # Both come in the first claim (1 free worker + prefetch 1); one starts.
        wait_until(lambda: f"state {sid(1)} node SleepNode: started" in h.log(), 20, what="first state running")
        self.assertEqual(m.pending, [])
        self.assertEqual(h.stop(signal.SIGTERM, timeout=30), 0)
        kinds = {s: k for s, k, _ in m.reports()}
        self.assertEqual(kinds, {sid(1): "executed", sid(2): "re-enqueue-after"})
        self.assertEqual(m.reports(sid(2))[0][2], {"enqueue_after": 1})
        # No claim after the signal.
        last_claim = m.find("POST", "/states/enqueue$")[-1]
        release = [r for r in m.find("POST", "re-enqueue-after$")][0]
        self.assertLess(last_claim.time, release.time)

    def test_stale_scratch_directories_of_killed_hosts_are_removed(self):
        scratch = os.path.join(self.tmp, "scratch")
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = os.path.join(scratch, f"exo-host-{dead.pid}", "state-abc")
        os.makedirs(stale)
        with open(os.path.join(stale, "leftover"), "w") as f:
            f.write("x")
        unrelated = os.path.join(scratch, "someone-else")
        os.makedirs(unrelated)
        h = self.host(["echo.so"], extra=f'scratch_dir = "{scratch}";\n')
        wait_until(lambda: not os.path.exists(os.path.dirname(stale)), 20, what="stale scratch removed")
        self.assertTrue(os.path.isdir(unrelated))
        # the host makes its own directory after moving the stale one aside and forking
        # the remover (slow under load and ASan): wait for it rather than race it
        wait_until(lambda: os.path.isdir(os.path.join(scratch, f"exo-host-{h.proc.pid}")), 20,
                   what="the host's own scratch directory")

    def test_sighup_reloads_plugins_without_dropping_running_states(self):
        m = self.mock
        m.add_state(sid(1), "SleepNode", {"seconds": "2"})
        h = self.host(["sleep_long.so"])
        wait_until(lambda: not m.pending, 20, what="state claimed")
        Host(self.tmp, m.url, NS, ["sleep_long.so", "fanout.so"],
             extra=f'state_dir = "{self.tmp}/state";\n')  # rewrites host.conf
        h.send_signal(signal.SIGHUP)
        puts = m.wait_for(lambda: len(m.find("PUT")) >= 2 and m.find("PUT"), what="re-registration")
        self.assertEqual([n["name"] for n in puts[1].json["nodes"]], ["SleepNode", "FanOutNode"])
        m.add_state(sid(2), "FanOutNode", {"items": "a,b"})
        self.assertEqual(m.wait_report(sid(2)), ("executed", {"outputs": [{"item": "a"}, {"item": "b"}]}))
        self.assertEqual(m.wait_report(sid(1)), ("executed", {"outputs": [{"slept": "2"}]}))
        # A broken host.conf on SIGHUP keeps the running configuration.
        with open(h.conf_path, "a") as f:
            f.write("workers = ;\n")
        h.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in h.log(), 10, what="reload failure logged")
        m.add_state(sid(3), "FanOutNode", {"items": "c"})
        self.assertEqual(m.wait_report(sid(3))[0], "executed")


if __name__ == "__main__":
    main()
