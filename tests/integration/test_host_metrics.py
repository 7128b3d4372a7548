"""exo-host's own metrics (metrics_listen in host.conf, docs/operations.md): served
from the host's loop, values after a known workload, accepted by `promtool check
metrics`, and a bounded, well-behaved endpoint."""
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ExoTestCase, free_port, main, wait_until  # noqa: E402
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered  # noqa: E402
from test_sm_metrics import parse, value  # noqa: E402

NS = "hostmetrics"


class HostMetrics(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        self.port = free_port()
        self.host = self.start_host(
            self.sm, NS, ["print_logs.so", '{ path = "infinite_loop.so"; sandbox = { timeout_ms = 500; }; }'],
            workers=3, extra=f'state_dir = "{self.tmp}/state";\nmetrics_listen = "127.0.0.1:{self.port}";\n')
        wait_registered(self.api, ["PrintLogsNode", "InfiniteLoopNode"])

    def url(self, path="/metrics"):
        return f"http://127.0.0.1:{self.port}{path}"

    def scrape(self):
        with urllib.request.urlopen(self.url(), timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers)
            return r.read().decode()

    def workload(self):
        """3 successes, 2 node errors, 1 timeout."""
        put_one_node_graph(self, self.api, "ok", "PrintLogsNode", {"mode": "ok"})
        put_one_node_graph(self, self.api, "bad", "PrintLogsNode", {"mode": "fail"})
        put_one_node_graph(self, self.api, "spin", "InfiniteLoopNode", {})
        runs = [trigger(self, self.api, g) for g in ("ok", "ok", "ok", "bad", "bad", "spin")]
        for run_id in runs:
            finished_state(self.api, run_id, timeout=60)
        # the reports are answered before the runs show finished; the counters follow at once
        wait_until(lambda: value(parse(self.scrape()), "exo_host_reports_total") == 6, 10, what="6 reports")

    def test_values_after_a_known_workload(self):
        self.workload()
        s = parse(self.scrape())
        outcome = {reason: value(s, "exo_host_state_outcomes_total", outcome=reason)
                   for reason in ("success", "node_error", "timeout", "signal", "memory", "blocked_syscall",
                                  "lease_lost", "host_error")}
        self.assertEqual(outcome, {"success": 3, "node_error": 2, "timeout": 1, "signal": 0, "memory": 0,
                                   "blocked_syscall": 0, "lease_lost": 0, "host_error": 0})
        self.assertEqual(value(s, "exo_host_reports_total", kind="executed"), 3)
        self.assertEqual(value(s, "exo_host_reports_total", kind="errored"), 3)
        self.assertEqual(value(s, "exo_host_reports_refused_total"), 0)
        self.assertEqual(value(s, "exo_host_report_retries_total"), 0)
        self.assertEqual(value(s, "exo_host_states_claimed_total"), 6)
        self.assertEqual(value(s, "exo_host_sandbox_spawn_seconds_count"), 6)
        self.assertEqual(value(s, "exo_host_sandbox_spawn_seconds_bucket", le="+Inf"), 6)
        self.assertEqual(value(s, "exo_host_state_run_seconds_count"), 6)
        # the timed-out state ran at least its 500 ms
        self.assertGreaterEqual(value(s, "exo_host_state_run_seconds_sum"), 0.5)
        self.assertEqual(value(s, "exo_host_slots"), 3)
        self.assertEqual(value(s, "exo_host_slots_free"), 3)
        self.assertEqual(value(s, "exo_host_states_running"), 0)
        self.assertEqual(value(s, "exo_host_spool_depth"), 0)
        self.assertEqual(value(s, "exo_host_reports_pending"), 0)
        claims = value(s, "exo_host_claims_total")
        self.assertGreaterEqual(claims, 1)
        self.assertEqual(value(s, "exo_host_claim_round_trip_seconds_count"), claims)
        self.assertEqual(value(s, "exo_host_claims_failed_total"), 0)
        self.assertEqual(value(s, "exo_host_build_info", runtime="test-host", namespace=NS), 1)

    def test_running_states_and_free_slots(self):
        put_one_node_graph(self, self.api, "spin", "InfiniteLoopNode", {})
        run_id = trigger(self, self.api, "spin")
        wait_until(lambda: value(parse(self.scrape()), "exo_host_states_running") == 1, 10, what="1 running")
        s = parse(self.scrape())
        self.assertEqual(value(s, "exo_host_slots_free"), 2)
        finished_state(self.api, run_id, timeout=30)

    def test_promtool_accepts_the_exposition(self):
        self.workload()
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: scripts/deps.sh installs Debian's prometheus")
        p = subprocess.run([promtool, "check", "metrics"], input=self.scrape(), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_other_paths_methods_and_idle_clients(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.url("/"), timeout=10)
        self.assertEqual(e.exception.code, 404)
        req = urllib.request.Request(self.url(), data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 405)
        # more idle connections than the endpoint serves at once: it stays answerable
        # once they time out, and states keep running meanwhile
        idle = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(20)]
        put_one_node_graph(self, self.api, "ok", "PrintLogsNode", {"mode": "ok"})
        self.assertEqual(finished_state(self.api, trigger(self, self.api, "ok"))["status"], "SUCCESS")
        wait_until(lambda: self.try_scrape(), 15, what="the endpoint after idle clients")
        for c in idle:
            c.close()
        self.assertTrue(self.host.alive())

    def try_scrape(self):
        try:
            return "exo_host_slots" in self.scrape()
        except (OSError, urllib.error.URLError):
            return False

    def test_listen_address_is_checked(self):
        from harness import binary, write_host_conf
        conf = write_host_conf(os.path.join(self.tmp, "bad.conf"), self.sm.url, NS, ["print_logs.so"],
                               extra='metrics_listen = "localhost:http";\n')
        p = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn('metrics_listen must be "IP:PORT"', p.stderr)
        # a port in use ends the start with the reason
        conf = write_host_conf(os.path.join(self.tmp, "busy.conf"), self.sm.url, NS, ["print_logs.so"],
                               extra=f'state_dir = "{self.tmp}/state2";\nmetrics_listen = "127.0.0.1:{self.port}";\n')
        p = subprocess.run([binary("exo-host"), "-c", conf], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen: Address already in use", p.stderr)


if __name__ == "__main__":
    main()
