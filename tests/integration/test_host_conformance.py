"""exo-host against a recording mock state manager: exactly what goes on the wire
(runtime-protocol §4-§7, §10): registration, claims, reports, secrets, retries."""

import json
import os
import signal
import subprocess
import time

from harness import API_KEY, PLUGIN_DIR, Host, binary, main, wait_until
from mock_state_manager import MockHostTestCase

NS = "conformance"


def sid(n):
    return "%024x" % (0x66b1f0c2a9e4d3b2c1a00000 + n)


class HostConformance(MockHostTestCase):
    namespace = NS

    # ---- registration --------------------------------------------------------
    def test_registration_is_first_and_exact(self):
        self.host(["sample.so", "echo.so", "secrets.so"], name="exo-host-1")
        self.mock.wait_for(lambda: self.mock.find("POST", "/states/enqueue$"), what="first claim")
        first = self.mock.requests[0]
        self.assertEqual(first.method, "PUT")
        self.assertEqual(first.path, f"/v0/namespace/{NS}/nodes/")
        self.assertEqual(first.headers.get("x-api-key"), API_KEY)
        self.assertEqual(first.headers.get("content-type"), "application/json")
        body = first.json
        self.assertEqual(body["runtime_name"], "exo-host-1")
        self.assertEqual(body["runtime_namespace"], NS)
        self.assertEqual([n["name"] for n in body["nodes"]], ["SampleNode", "EchoNode", "SecretNode"])
        sample = body["nodes"][0]
        self.assertEqual(sample, {
            "name": "SampleNode", "namespace": NS,
            "inputs_schema": {"properties": {"name": {"title": "Name", "type": "string"},
                                             "data": {"title": "Data", "type": "string"}},
                              "required": ["name", "data"], "title": "Inputs", "type": "object"},
            "outputs_schema": {"properties": {"message": {"title": "Message", "type": "string"},
                                              "processed_data": {"title": "Processed Data", "type": "string"}},
                               "required": ["message", "processed_data"], "title": "Outputs", "type": "object"},
            "secrets": []})
        echo = body["nodes"][1]
        self.assertEqual(echo["inputs_schema"]["properties"]["suffix"],
                         {"default": "", "title": "Suffix", "type": "string"})
        self.assertEqual(echo["inputs_schema"]["required"], ["text"])
        self.assertEqual(body["nodes"][2]["secrets"], ["token"])
        self.assertNotIn("required", body["nodes"][2]["inputs_schema"])
        self.assertEqual(len(self.mock.find("PUT")), 1)

    def test_claims_carry_nodes_in_order_and_extensions(self):
        self.host(["echo.so", "sample.so"], workers=2, batch_size=16, extra="wait_ms = 1500; lease_ms = 30000;")
        claims = self.mock.wait_for(lambda: self.mock.find("POST", "/states/enqueue$"), what="claim")
        c = claims[0]
        self.assertEqual(c.headers.get("x-api-key"), API_KEY)
        self.assertEqual(c.headers.get("content-type"), "application/json")
        self.assertEqual(c.json["nodes"], ["EchoNode", "SampleNode"])
        # Claims never outrun the free workers (G7): at most `workers`, never above batch_size.
        self.assertEqual(c.json["batch_size"], 2)
        self.assertEqual(c.json["wait_ms"], 1500)
        self.assertEqual(c.json["lease_ms"], 30000)

    def test_registration_retried_until_accepted(self):
        self.mock.set_statuses("register", [503, 500])
        self.host(["echo.so"])
        self.mock.wait_for(lambda: self.mock.find("POST", "/states/enqueue$"), what="claim after registration")
        puts = self.mock.find("PUT")
        self.assertEqual(len(puts), 3)
        first_claim = self.mock.find("POST", "/states/enqueue$")[0]
        self.assertGreater(first_claim.time, puts[-1].time)

    def test_registration_rejected_stops_the_host(self):
        self.mock.set_statuses("register", [422])
        h = self.host(["echo.so"])
        wait_until(lambda: not h.alive(), 20, what="host exit")
        self.assertEqual(h.proc.returncode, 1)
        self.assertIn("registration rejected", h.log())
        self.assertEqual(self.mock.find("POST"), [])

    # ---- reports -------------------------------------------------------------
    def test_reports(self):
        m = self.mock
        m.add_state(sid(1), "SampleNode", {"name": "n", "data": "d", "ignored": "x"})
        m.add_state(sid(2), "FanOutNode", {"items": "part-1,part-2,part-3"})
        m.add_state(sid(3), "FailNode", {"message": "upstream API answered 503"})
        m.add_state(sid(4), "PruneNode", {"reason": "duplicate order"})
        m.add_state(sid(5), "RequeueNode", {"delay_ms": "150000"})
        m.add_state(sid(6), "StoreSetNode", {"key": "text", "value": "hello"})
        m.add_state(sid(7), "EchoNode", {"suffix": "!"})
        m.add_state(sid(8), "EchoNode", {"text": 5})
        m.add_state(sid(9), "EchoNode", {"text": "a"})
        h = self.host(["sample.so", "fanout.so", "fail.so", "prune.so", "requeue.so", "store_set.so", "echo.so"])
        self.assertEqual(m.wait_report(sid(1)), ("executed", {"outputs": [{"message": "success", "processed_data": "completed:d"}]}))
        self.assertEqual(m.wait_report(sid(2)), ("executed", {"outputs": [{"item": "part-1"}, {"item": "part-2"}, {"item": "part-3"}]}))
        self.assertEqual(m.wait_report(sid(3)), ("errored", {"error": "upstream API answered 503"}))
        self.assertEqual(m.wait_report(sid(4)), ("prune", {"data": {"reason": "duplicate order", "count": 2}}))
        self.assertEqual(m.wait_report(sid(5)), ("re-enqueue-after", {"enqueue_after": 150000}))
        self.assertEqual(m.wait_report(sid(6)), ("executed", {"outputs": [{"done": "yes"}], "store": {"text": "hello"}}))
        kind, body = m.wait_report(sid(7))
        self.assertEqual(kind, "errored")
        self.assertIn("'text'", body["error"])
        self.assertIn("required", body["error"])
        kind, body = m.wait_report(sid(8))
        self.assertEqual(kind, "errored")
        self.assertIn("'text'", body["error"])
        self.assertEqual(m.wait_report(sid(9)), ("executed", {"outputs": [{"text": "a"}]}))
        # One report per state, each with the API key and a JSON content type.
        for n in range(1, 10):
            self.assertEqual(len(m.reports(sid(n))), 1)
        for r in m.find("POST", "/state/"):
            self.assertEqual(r.headers.get("x-api-key"), API_KEY)
            self.assertEqual(r.headers.get("content-type"), "application/json")
        # No node declares secrets here: no secrets request at all.
        self.assertEqual(m.find("GET"), [])
        # What a node prints or logs goes to the host's log, attributed to its state.
        self.assertIn(f"state {sid(2)} (FanOutNode): splitting part-1,part-2,part-3", h.log())
        self.assertIn(f"[FanOutNode] state {sid(2)}", h.log())

    def test_unknown_node_and_malformed_states(self):
        m = self.mock
        m.add_raw_state({"node_name": "EchoNode", "inputs": {"text": "no id"}})
        m.add_raw_state({"state_id": sid(1), "node_name": "Ghost", "inputs": {}})
        m.add_raw_state("not an object")
        m.add_raw_state({"state_id": sid(2), "node_name": "EchoNode", "inputs": "not an object"})
        m.add_state(sid(3), "EchoNode", {"text": "fine"})
        h = self.host(["echo.so"], workers=8)
        self.assertEqual(m.wait_report(sid(1)), ("errored", {"error": "unknown node 'Ghost'"}))
        kind, body = m.wait_report(sid(2))
        self.assertEqual(kind, "errored")
        self.assertIn("inputs", body["error"])
        self.assertEqual(m.wait_report(sid(3)), ("executed", {"outputs": [{"text": "fine"}]}))
        self.assertTrue(h.alive())
        self.assertIn("skipped", h.log())

    def test_secrets_only_for_declaring_nodes_and_never_in_env(self):
        m = self.mock
        m.secrets[sid(1)] = {"token": "sk-live-123", "other": "not-for-this-node"}
        m.add_state(sid(1), "SecretNode", {})
        m.add_state(sid(2), "EchoNode", {"text": "x"})
        m.add_state(sid(3), "SecretNode", {})  # no secrets stored: required secret missing
        h = self.host(["secrets.so", "echo.so"])
        self.assertEqual(m.wait_report(sid(1)),
                         ("executed", {"outputs": [{"length": "11", "in_environment": "no", "in_cmdline": "no"}]}))
        m.wait_report(sid(2))
        kind, body = m.wait_report(sid(3))
        self.assertEqual(kind, "errored")
        self.assertIn("secret 'token'", body["error"])
        gets = [r.path for r in m.find("GET")]
        self.assertEqual(sorted(gets), sorted([f"/v0/namespace/{NS}/state/{sid(1)}/secrets",
                                               f"/v0/namespace/{NS}/state/{sid(3)}/secrets"]))
        self.assertNotIn("sk-live-123", h.log())

    def test_state_process_holds_no_credentials(self):
        """Node code cannot find the API key or another state's secret anywhere in its
        own memory (the runner is a fresh exec).  Runs as the host's user so that the
        plugin may read /proc/self/mem."""
        m = self.mock
        m.secrets[sid(1)] = {"token": "sk-other-state-0123456789"}
        m.add_state(sid(1), "SecretNode", {})
        h = self.host(["secrets.so", "memscan.so"], workers=1, extra='sandbox = { user = ""; };')
        self.assertEqual(m.wait_report(sid(1))[0], "executed")
        m.add_state(sid(2), "MemScanNode", {"reversed": API_KEY[::-1]})
        m.add_state(sid(3), "MemScanNode", {"reversed": "sk-other-state-0123456789"[::-1]})
        m.add_state(sid(4), "MemScanNode", {"reversed": "MemScanNode"[::-1]})  # the scan works
        self.assertEqual(m.wait_report(sid(2))[1]["outputs"][0]["found"], "no")
        self.assertEqual(m.wait_report(sid(3))[1]["outputs"][0]["found"], "no")
        self.assertEqual(m.wait_report(sid(4))[1]["outputs"][0]["found"], "yes")
        self.assertTrue(h.alive())

    def test_report_retried_on_5xx_not_on_4xx(self):
        m = self.mock
        m.set_statuses("executed", [503, 500])
        m.add_state(sid(1), "EchoNode", {"text": "a"})
        self.host(["echo.so", "fail.so"])
        m.wait_for(lambda: len(m.reports(sid(1))) == 3, what="three executed attempts")
        bodies = [b for _, _, b in m.reports(sid(1))]
        self.assertEqual(bodies, [{"outputs": [{"text": "a"}]}] * 3)
        # A 400 is final: exactly one attempt, then the state is reported errored at
        # once with the refusal (rather than left to its lease), and that is all.
        m.set_statuses("executed", [400])
        m.add_state(sid(2), "EchoNode", {"text": "b"})
        m.add_state(sid(3), "EchoNode", {"text": "c"})
        m.wait_report(sid(2))
        m.wait_report(sid(3))
        time.sleep(1.5)  # would be enough for a retry (backoff starts at 250-500 ms)
        # Either state may have been the one refused.
        reports = sorted((m.reports(sid(2)), m.reports(sid(3))), key=len)
        self.assertEqual([[k for _, k, _ in r] for r in reports],
                         [["executed"], ["executed", "errored"]])
        self.assertTrue(reports[1][1][2]["error"].startswith(
            "the state manager refused the node's executed report (HTTP 400: "), reports[1])
        # A refused errored report is not answered with another one.
        m.set_statuses("errored", [400])
        m.add_state(sid(4), "FailNode", {})
        m.wait_report(sid(4))
        time.sleep(1.5)
        self.assertEqual([k for _, k, _ in m.reports(sid(4))], ["errored"])

    def test_plain_polling_when_long_poll_not_honoured(self):
        self.mock.long_poll = False
        self.host(["echo.so"], poll_interval_ms=300, extra="wait_ms = 20000;")
        self.mock.wait_for(lambda: len(self.mock.find("POST", "/states/enqueue$")) >= 3, what="three polls")
        time.sleep(1.0)
        # Not a busy loop: the interval is respected (generous bound; no exact timing).
        self.assertLess(len(self.mock.find("POST", "/states/enqueue$")), 15)
        self.mock.add_state(sid(1), "EchoNode", {"text": "late"})
        self.assertEqual(self.mock.wait_report(sid(1))[0], "executed")

    def test_lease_keep_alive(self):
        m = self.mock
        m.lease = True
        m.add_state(sid(1), "SleepNode", {"seconds": "3"})
        self.host(["sleep_long.so"], extra="lease_ms = 3000;")
        leases = m.wait_for(lambda: m.find("POST", "/states/lease$"), what="a lease keep-alive")
        self.assertEqual(leases[0].json, {"state_ids": [sid(1)], "lease_ms": 3000})
        self.assertEqual(m.wait_report(sid(1))[0], "executed")

    def test_lost_lease_stops_the_state_without_a_report(self):
        m = self.mock
        m.lease = True
        m.lost.add(sid(1))
        m.add_state(sid(1), "SleepNode", {"seconds": "3600"})
        h = self.host(["sleep_long.so", "echo.so"], extra="lease_ms = 3000;")
        m.wait_for(lambda: m.find("POST", "/states/lease$"), what="a lease keep-alive")
        wait_until(lambda: "ended its lease" in h.log(), 20, what="the lost state to stop")
        m.add_state(sid(2), "EchoNode", {"text": "next"})
        self.assertEqual(m.wait_report(sid(2))[0], "executed")
        self.assertEqual(m.reports(sid(1)), [])

    def test_lease_endpoint_missing_is_not_retried(self):
        m = self.mock
        m.lease = False  # answers 404 like the reference state manager
        m.add_state(sid(1), "SleepNode", {"seconds": "4"})
        self.host(["sleep_long.so"], extra="lease_ms = 3000;")
        m.wait_for(lambda: m.find("POST", "/states/lease$"), what="a lease keep-alive")
        self.assertEqual(m.wait_report(sid(1))[0], "executed")
        self.assertEqual(len(m.find("POST", "/states/lease$")), 1)

    def test_plugin_in_a_private_directory(self):
        """A plugin only root can reach (0700 directory) still runs when states run as
        the sandbox user: the runner opens it before switching users."""
        private = os.path.join(self.tmp, "private")
        os.mkdir(private, 0o700)
        with open(os.path.join(PLUGIN_DIR, "echo.so"), "rb") as src, \
                open(os.path.join(private, "echo.so"), "wb") as dst:
            dst.write(src.read())
        self.mock.add_state(sid(1), "EchoNode", {"text": "private"})
        self.host(["echo.so"], plugin_dir=private)
        self.assertEqual(self.mock.wait_report(sid(1)), ("executed", {"outputs": [{"text": "private"}]}))

    def test_network_allowed_per_plugin(self):
        self.mock.add_state(sid(1), "SocketNode", {})
        self.host(['{ path = "open_socket.so"; sandbox = { network = true; }; }'])
        self.assertEqual(self.mock.wait_report(sid(1)), ("executed", {"outputs": [{"socket": "opened"}]}))

    # ---- configuration -------------------------------------------------------
    def test_environment_fallback(self):
        conf = os.path.join(self.tmp, "env.conf")
        with open(conf, "w") as f:
            f.write(f'namespace = "{NS}";\nname = "env-host";\nplugin_dir = "{PLUGIN_DIR}";\n'
                    f'plugins = ( "echo.so" );\nstate_dir = "{self.tmp}/state";\n')
        env = dict(os.environ, EXOSPHERE_STATE_MANAGER_URI=self.mock.url, EXOSPHERE_API_KEY=API_KEY)
        p = subprocess.Popen([binary("exo-host"), "-c", conf], env=env, stderr=subprocess.DEVNULL)
        try:
            put = self.mock.wait_for(lambda: self.mock.find("PUT"), what="registration")[0]
            self.assertEqual(put.headers.get("x-api-key"), API_KEY)
        finally:
            p.terminate()
            self.assertEqual(p.wait(15), 0)
        env.pop("EXOSPHERE_API_KEY")
        # a check needs no credential (CI validates configurations), but says what a run needs
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("EXOSPHERE_API_KEY", r.stderr)
        r = subprocess.run([binary("exo-host"), "-c", conf], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("EXOSPHERE_API_KEY", r.stderr)

    def test_check_and_describe(self):
        conf = os.path.join(self.tmp, "host.conf")
        Host(self.tmp, self.mock.url, NS, ["echo.so", "fanout.so"])
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("EchoNode", r.stdout)
        self.assertIn("FanOutNode", r.stdout)
        Host(self.tmp, self.mock.url, NS, ["echo.so", "echo_duplicate.so", "bad_abi.so"])
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad_abi.so", r.stderr)
        self.assertIn("ABI version", r.stderr)
        with open(conf, "a") as f:
            f.write("prefetch = -1;\n")
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"host\.conf:\d+: prefetch must be at least 0")
        r = subprocess.run([binary("exo-host"), "--describe", os.path.join(PLUGIN_DIR, "echo.so")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {
            "name": "EchoNode",
            "inputs_schema": {"properties": {"text": {"title": "Text", "type": "string"},
                                             "suffix": {"default": "", "title": "Suffix", "type": "string"}},
                              "required": ["text"], "title": "Inputs", "type": "object"},
            "outputs_schema": {"properties": {"text": {"title": "Text", "type": "string"}},
                               "required": ["text"], "title": "Outputs", "type": "object"},
            "secrets": []})
        r = subprocess.run([binary("exo-host"), "--describe", os.path.join(PLUGIN_DIR, "ctor_crash.so")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("crashed while loading", r.stderr)


if __name__ == "__main__":
    main()
