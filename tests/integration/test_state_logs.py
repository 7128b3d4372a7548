"""State logs: what a node prints (stdout, stderr, exo_log) reaches the state
manager with the state's report, bounded to its last 64 KiB, and is read back by
GET state/{id}/logs and `exoctl state logs ID`."""

import json
import os
import subprocess

from harness import ExoTestCase, binary, exoctl, main, wait_until, write_host_conf
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "logs"
KEPT = 64 * 1024


class StateLogs(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)

    def start(self, plugin="print_logs.so"):
        host = self.start_host(self.sm, NS, [plugin], extra=f'state_dir = "{self.tmp}/state";\n')
        wait_registered(self.api, ["PrintLogsNode"])
        return host

    def run_mode(self, mode):
        graph = "g-" + mode
        put_one_node_graph(self, self.api, graph, "PrintLogsNode", {"mode": mode})
        state = finished_state(self.api, trigger(self, self.api, graph), timeout=60)
        return state

    def logs(self, state_id):
        r = self.api.request("GET", self.api.ns_path(f"/state/{state_id}/logs"))
        self.assertEqual(r.status, 200, r.text)
        return r.json

    def test_a_node_that_prints(self):
        self.start()
        state = self.run_mode("ok")
        self.assertEqual(state["status"], "SUCCESS", state)
        answer = self.logs(state["id"])
        self.assertEqual((answer["state_id"], answer["node_name"], answer["status"]),
                         (state["id"], "PrintLogsNode", "SUCCESS"))
        logs = answer["logs"]
        # stdout with an invalid byte (U+FFFD), stderr with an escape, exo_log's line
        self.assertIn("to stdout: caf\u00e9 \ufffd\n", logs)
        self.assertIn("to stderr: \x1b[31mred\n", logs)
        self.assertIn("[PrintLogsNode] through exo_log: mode ok\n", logs)
        self.assertNotIn("exo-host:", logs)  # nothing was cut

    def test_a_failed_states_logs_through_exoctl(self):
        self.start()
        state = self.run_mode("fail")
        self.assertEqual((state["status"], state["error"]), ("ERRORED", "failed on purpose after printing"))
        out = exoctl(["state", "logs", state["id"]], self.sm.url, NS)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("to stderr: \\x1b[31mred\n", out.stdout)   # escaped for the terminal
        self.assertIn("[PrintLogsNode] through exo_log: mode fail\n", out.stdout)
        self.assertNotIn("\x1b", out.stdout)
        as_json = exoctl(["--json", "state", "logs", state["id"]], self.sm.url, NS)
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        self.assertIn('"status": "ERRORED"', as_json.stdout)
        missing = exoctl(["state", "logs", "0123456789abcdef01234567"], self.sm.url, NS)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("State not found", missing.stderr)

    def test_ten_mib_of_output_keeps_the_last_64_kib(self):
        host = self.start('{ path = "print_logs.so"; sandbox = { output_kb = 16384; }; }')
        state = self.run_mode("flood")
        self.assertEqual(state["status"], "SUCCESS", state)
        logs = self.logs(state["id"])["logs"]
        first, _, rest = logs.partition("\n")
        self.assertRegex(first, r"^\[exo-host: \d+ earlier bytes of output not kept\]$")
        cut = int(first.split()[1])
        self.assertGreater(cut, 10 * 1024 * 1024 - KEPT)
        self.assertLessEqual(len(rest.encode()), KEPT)
        self.assertGreater(len(rest.encode()), KEPT - 200)
        self.assertTrue(rest.endswith("flood done\n"), rest[-200:])
        # the host stayed small and its own log bounded (4 KiB forwarded per state)
        self.assertTrue(host.alive())
        self.assertLess(os.path.getsize(host.log_path), 256 * 1024)
        self.assertIn("(further output not logged)", host.log())

    def test_output_over_the_limit_still_reports_what_was_printed(self):
        self.start()
        state = self.run_mode("flood")
        self.assertEqual((state["status"], state["error"]), ("ERRORED", "output larger than 1 MiB"))
        logs = self.logs(state["id"])["logs"]
        self.assertTrue(logs.startswith("[exo-host: "), logs[:200])
        self.assertIn("flood line", logs)


class HostLogLines(ExoTestCase):
    """exo-host's own log lines name the state's run and graph; log_format = "json"
    writes one JSON object per line."""

    def run_one(self, extra=""):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["print_logs.so"], extra=f'state_dir = "{self.tmp}/state";\n' + extra,
                               env={"EXO_LOG_LEVEL": "debug"})  # every line, the fork server's too
        wait_registered(api, ["PrintLogsNode"])
        put_one_node_graph(self, api, "lines", "PrintLogsNode", {"mode": "ok"})
        run_id = trigger(self, api, "lines")
        state = finished_state(api, run_id)
        self.assertEqual(state["status"], "SUCCESS", state)
        return host, run_id, state["id"]

    def test_text_lines_name_run_and_graph(self):
        host, run_id, sid = self.run_one()
        wait_until(lambda: "ms: executed" in host.log(), 10, what="the state's log line")
        log = host.log()
        self.assertRegex(log, rf"state {sid} run {run_id} graph lines node PrintLogsNode \d+ ms: executed")
        self.assertIn(f"state {sid} run {run_id} graph lines (PrintLogsNode): to stdout", log)

    def test_json_lines_parse(self):
        host, run_id, sid = self.run_one('log_format = "json";\n')
        wait_until(lambda: "ms: executed" in host.log(), 10, what="the state's log line")
        host.stop()
        lines = [json.loads(line) for line in host.log().splitlines() if line.strip()]
        self.assertGreater(len(lines), 3)
        for line in lines:
            self.assertEqual(set(line) >= {"time", "level", "program", "msg"}, True, line)
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(line["level"], ("debug", "info", "warn", "error"))
        done = [l for l in lines if "ms: executed" in l["msg"]]
        self.assertEqual(len(done), 1, lines)
        self.assertEqual((done[0]["state_id"], done[0]["run_id"], done[0]["graph"], done[0]["node"]),
                         (sid, run_id, "lines", "PrintLogsNode"))
        printed = [l for l in lines if l.get("stream") == "output"]
        self.assertTrue(any("to stderr: \\x1b[31mred" in l["msg"] for l in printed), printed)
        self.assertTrue(all(l["state_id"] == sid for l in printed))

    def test_a_bad_log_format_is_refused(self):
        conf = write_host_conf(os.path.join(self.tmp, "bad.conf"), "http://127.0.0.1:1", NS, ["print_logs.so"],
                               extra='log_format = "xml";\nmetrics_listen = "nowhere";\n')
        out = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn('log_format must be "text" or "json", got "xml"', out.stderr)


class StateLogsApi(ExoTestCase):
    """The extension field and endpoint on their own, without a host."""

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        r = self.api.register([{"name": "N", "inputs_schema": {"type": "object", "properties": {}},
                                "outputs_schema": {"type": "object", "properties": {}}, "secrets": []}])
        self.assertEqual(r.status, 200, r.text)
        put_one_node_graph(self, self.api, "g", "N", {})

    def claim(self):
        run_id = trigger(self, self.api, "g")
        r = self.api.enqueue(["N"], batch_size=1)
        self.assertEqual(r.json["count"], 1, r.text)
        return run_id, r.json["states"][0]["state_id"]

    def logs_of(self, state_id, ns=NS):
        return self.api.request("GET", self.api.ns_path(f"/state/{state_id}/logs", ns))

    def test_no_logs_is_null_and_unknown_states_are_404(self):
        _, sid = self.claim()
        self.assertEqual(self.api.executed(sid, [{}]).status, 200)
        r = self.logs_of(sid)
        self.assertEqual((r.status, r.json["logs"], r.json["status"]), (200, None, "SUCCESS"))
        self.assertEqual(self.logs_of("0123456789abcdef01234567").status, 404)
        self.assertEqual(self.logs_of("not-an-id").status, 404)
        self.assertEqual(self.logs_of(sid, ns="other").status, 404)

    def test_logs_must_be_a_string(self):
        _, sid = self.claim()
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/errored"), {"error": "x", "logs": 5})
        self.assertEqual(r.status, 422, r.text)
        self.assertEqual(r.json["detail"][0]["loc"], ["body", "logs"])
        # nothing was applied: the state is still claimed and takes a good report
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/errored"),
                             {"error": "x", "logs": "a\u0000b\n"})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(self.logs_of(sid).json["logs"], "a\u0000b\n")

    def test_longer_logs_keep_their_end(self):
        _, sid = self.claim()
        text = "".join(f"line {i:06d} \u00e9\n" for i in range(30000))  # ~420 KiB
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/executed"), {"outputs": [], "logs": text})
        self.assertEqual(r.status, 200, r.text)
        logs = self.logs_of(sid).json["logs"]
        first, _, rest = logs.partition("\n")
        self.assertRegex(first, r"^\[exo-state-manager: earlier output cut, the last \d+ bytes follow\]$")
        self.assertLessEqual(len(rest.encode()), 256 * 1024)
        self.assertTrue(text.endswith(rest))


if __name__ == "__main__":
    main()
