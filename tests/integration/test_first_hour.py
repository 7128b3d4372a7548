"""A new user's first hour (issue 13): each trip-up a first-time user hit, as a
regression test against the real programs: secrets under a changed key, --json
waits, a shared state_dir, --check without credentials, defaulted inputs, error
messages that say where, unknown trigger keys, --wait progress, the graph
get/put round trip, why a state waits, prune data, the state manager's start-up."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (API_KEY, PLUGIN_DIR, SOURCE_DIR, TEST_DB, ExoTestCase, binary, default_db,  # noqa: E402
                     exoctl, main, node_def, simple_schema, wait_until, write_host_conf)
from host_graphs import NO_RETRY, put_one_node_graph, trigger, wait_registered  # noqa: E402

NS = "firsthour"
OTHER_KEY = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()


def node(node_name, identifier, inputs=None, next_nodes=None, ns=NS):
    return {"node_name": node_name, "namespace": ns, "identifier": identifier, "inputs": inputs or {},
            "next_nodes": next_nodes or []}


class FirstHour(ExoTestCase):
    check_sanitizers = True

    def ctl(self, *args, **kw):
        return exoctl(list(args), self.sm.url, NS, **kw)

    def host(self, plugins, **conf):
        return self.start_host(self.sm, NS, plugins, **conf)

    # ---- 3: secrets under another SECRETS_ENCRYPTION_KEY --------------------------------------------

    def test_03_changed_key_is_reported_and_no_node_runs_without_its_secrets(self):
        db = default_db(self.tmp)  # the same database for both state managers, on either backend
        self.sm = self.start_state_manager(db=db)
        api = self.sm.api(NS)
        host = self.host(["secrets.so"])
        wait_registered(api, ["SecretNode"])
        put_one_node_graph(self, api, "needs-token", "SecretNode", {}, secrets={"token": "sk-123"})
        self.assertNotIn("warnings", api.request("GET", "/health").json)
        host.stop()
        self.sm.stop()

        self.sm = self.start_state_manager(db=db, port=self.sm.port,
                                           env={"SECRETS_ENCRYPTION_KEY": OTHER_KEY})
        health = api.request("GET", "/health").json
        self.assertEqual(health["message"], "OK")
        self.assertEqual(health["secrets_undecryptable"], 1, health)
        self.assertIn("cannot be decrypted with this SECRETS_ENCRYPTION_KEY", health["warnings"][0])
        self.assertIn(f"{NS}/needs-token", health["warnings"][0])
        self.assertIn("cannot be decrypted with this SECRETS_ENCRYPTION_KEY", self.sm.log())

        self.host(["secrets.so"])
        run_id = trigger(self, api, "needs-token")
        api.wait_run_finished(run_id)
        [state] = api.run_states("needs-token", run_id)
        self.assertEqual(state["status"], "ERRORED", state)
        self.assertIn("secrets unavailable", state["error"])
        self.assertIn("500", state["error"])
        self.assertIn("Secret token of graph needs-token cannot be decrypted", state["error"])

    # ---- 4: --json --wait --timeout prints the run id ---------------------------------------------

    def test_04_json_wait_timeout_prints_the_run_id(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        api.register([node_def("Slow", ["x"])])
        put_one_node_graph(self, api, "slow", "Slow", {"x": "1"})
        r = self.ctl("--json", "trigger", "slow", "--start-delay", "60000", "--wait", "--timeout", "0.5")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertRegex(out["run_id"], r"^[0-9a-f-]{36}$")
        self.assertEqual(out["status"], "PENDING")
        self.assertTrue(out["timed_out"])
        self.assertEqual(out["pending_count"], 1)

    # ---- 5: one host per state_dir -----------------------------------------------------------------

    def test_05_second_host_on_the_same_state_dir_is_refused(self):
        self.sm = self.start_state_manager()
        extra = f'state_dir = "{self.tmp}/shared-state";'
        first = self.host(["echo.so"], extra=extra)
        wait_registered(self.sm.api(NS), ["EchoNode"])
        conf = write_host_conf(os.path.join(self.tmp, "second.conf"), self.sm.url, NS, ["echo.so"],
                               name="second", extra=extra)
        r = subprocess.run([binary("exo-host"), "-c", conf], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"in use by another exo-host (pid {first.proc.pid})", r.stdout + r.stderr)
        self.assertTrue(first.alive())
        first.stop()
        # the lock goes with its holder
        again = self.host(["echo.so"], extra=extra, conf_name="again.conf")
        wait_until(lambda: "registered" in again.log() or not again.alive(), 20, what="the next host")
        self.assertTrue(again.alive(), again.log())

    # ---- 7: --check / --describe without credentials; the shipped host.conf --------------------

    def test_07_check_and_describe_need_no_credentials(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("EXOSPHERE_API_KEY", "EXOSPHERE_STATE_MANAGER_URI")}
        conf = os.path.join(self.tmp, "ci.conf")
        with open(conf, "w") as f:
            f.write(f'namespace = "ci"; name = "ci-host"; plugin_dir = "{PLUGIN_DIR}";\n'
                    f'plugins = ( "echo.so" );\n')
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True, text=True,
                           env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK: 1 node: EchoNode", r.stdout)
        # --describe NAME -c conf finds NAME in the configuration's plugin_dir
        r = subprocess.run([binary("exo-host"), "--describe", "echo.so", "-c", conf], capture_output=True,
                           text=True, env=env, timeout=30, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["name"], "EchoNode")
        self.assertEqual(json.loads(r.stdout)["namespace"], "ci")
        # a real run still needs the key
        r = subprocess.run([binary("exo-host"), "-c", conf], capture_output=True, text=True, env=env,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the state manager URI is not set", r.stderr)

    def test_07_shipped_host_conf_passes_its_own_check(self):
        # the shipped file as it is, next to a build directory called build/ (as in the checkout)
        os.makedirs(os.path.join(self.tmp, "conf"))
        os.makedirs(os.path.join(self.tmp, "build"))
        shutil.copy(os.path.join(SOURCE_DIR, "conf", "host.conf"), os.path.join(self.tmp, "conf"))
        os.symlink(PLUGIN_DIR, os.path.join(self.tmp, "build", "plugins"))
        env = {k: v for k, v in os.environ.items() if k != "EXOSPHERE_API_KEY"}
        r = subprocess.run([binary("exo-host"), "--check", "-c", os.path.join(self.tmp, "conf", "host.conf")],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SampleNode", r.stdout)

    # ---- 8: a required input with a default may be left out -------------------------------------

    def test_08_defaulted_input_may_be_left_out(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        self.host(["echo.so"])  # EchoNode: text, suffix with a default ""
        wait_registered(api, ["EchoNode"])
        put_one_node_graph(self, api, "echo", "EchoNode", {"text": "hi"})  # suffix left out: VALID
        run_id = trigger(self, api, "echo")
        api.wait_run_finished(run_id)
        [state] = api.run_states("echo", run_id)
        self.assertEqual((state["status"], state["outputs"]), ("SUCCESS", {"text": "hi"}), state)
        # an input listed in "required" without a default still must be given
        api.register([{"name": "Strict", "inputs_schema": simple_schema(["a", "b"], "Inputs", {"b": "x"}),
                       "outputs_schema": simple_schema([], "Outputs"), "secrets": []}])
        self.assertEqual(api.put_graph("strict", {"secrets": {}, "nodes": [node("Strict", "s", {})]}).status, 201)
        g = api.wait_validated("strict")
        self.assertEqual(g["validation_status"], "INVALID")
        self.assertEqual(g["validation_errors"],
                         [f"Input a in node Strict in namespace {NS} is not present in the graph template"])

    # ---- 9: errors say which node, field, trigger ----------------------------------------------------

    def test_09_errors_name_node_field_and_trigger(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        api.register([node_def("A", ["x"], ["y"])])
        r = api.put_graph("bad", {"secrets": {}, "nodes": [node("A", "a", {"x": 5})]})
        self.assertEqual(r.status, 400, r)
        self.assertIn("Input 5 is not a string (input 'x' of node 'a')", r.json["detail"])

        api.register([node_def("B", ["x"], ["y"])])
        self.assertEqual(api.put_graph("invalid", {"secrets": {}, "nodes": [node("Nope", "n")]}).status, 201)
        self.assertEqual(api.wait_validated("invalid")["validation_status"], "INVALID")
        # the v0 answer is the reference's, byte for byte; ?extended=true says why
        r = api.trigger("invalid")
        self.assertEqual((r.status, r.json), (400, {"detail": "Graph template is not valid"}))
        r = api.request("POST", api.ns_path("/graph/invalid/trigger?extended=true"), {})
        self.assertEqual(r.json["detail"], "Graph template is not valid")
        self.assertEqual(r.json["validation_status"], "INVALID")
        self.assertIn(f"Node Nope in namespace {NS} does not exist.", r.json["validation_errors"])
        text = self.ctl("trigger", "invalid").stderr
        self.assertIn("graph invalid is INVALID", text)
        self.assertIn("Node Nope in namespace", text)

        body = {"secrets": {}, "nodes": [node("A", "a", {"x": "1"}, ["b"]),
                                         node("B", "b", {"x": "${{ store.later }}"})],
                "store_config": {"required_keys": ["later"]}}
        self.assertEqual(api.put_graph("keys", body).status, 201)
        self.assertEqual(api.wait_validated("keys")["validation_status"], "VALID")
        r = api.request("POST", api.ns_path("/graph/keys/trigger?extended=true"), {"store": {"other": "1"}})
        self.assertEqual((r.status, r.json["missing_store_keys"]), (400, ["later"]), r)
        self.assertEqual(api.trigger("keys", store={"other": "1"}).json, {"detail": "Missing store keys: {'later'}"})
        self.assertIn("missing store keys (give them with --store K=V): later",
                      self.ctl("trigger", "keys", "--store", "other=1").stderr)

        cron = {"secrets": {}, "nodes": [node("A", "a", {"x": "1"})],
                "triggers": [{"type": "CRON", "value": {"expression": "0 0 * * *"}},
                             {"type": "CRON", "value": {"expression": "61 * * * *"}}]}
        path = os.path.join(self.tmp, "cron.json")
        with open(path, "w") as f:
            json.dump(cron, f)
        r = self.ctl("graph", "put", "cron", "-f", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("body.triggers.1.value: Value error, Invalid cron expression", r.stderr)
        self.assertIn('"61 * * * *"', r.stderr)

    # ---- 10: unknown trigger keys are reported ------------------------------------------------------

    def test_10_unknown_trigger_keys_are_warned_about(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        api.register([node_def("A", ["x", "y"], [])])
        body = {"secrets": {}, "nodes": [node("A", "a", {"x": "${{ store.k }}", "y": "1"})],
                "store_config": {"required_keys": ["k"]}}
        self.assertEqual(api.put_graph("g", body).status, 201)
        api.wait_validated("g")
        r = api.request("POST", api.ns_path("/graph/g/trigger?extended=true"),
                        {"store": {"k": "1", "kk": "typo"}, "inputs": {"y": "2", "z": "3"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(r.json["warnings"]), [
            "input 'z' is not an input of root node 'a': ignored",
            "store key 'kk' is read by no node of the graph: stored, unused"])
        r = api.trigger("g", store={"k": "1", "kk": "typo"})
        self.assertEqual(list(r.json), ["status", "run_id"])  # the v0 answer unchanged
        r = self.ctl("trigger", "g", "--store", "k=1", "--store", "kk=2", "--input", "z=3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: store key 'kk' is read by no node", r.stderr)
        self.assertIn("warning: input 'z' is not an input of root node 'a'", r.stderr)
        r = self.ctl("trigger", "g", "--store", "k=1", "--input", "y=3")
        self.assertNotIn("warning", r.stderr)

    # ---- 11: --wait shows progress ------------------------------------------------------------------

    def test_11_wait_shows_progress(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        self.host(["echo.so"])
        wait_registered(api, ["EchoNode"])
        put_one_node_graph(self, api, "echo", "EchoNode", {"text": "hi"})
        r = self.ctl("trigger", "echo", "--start-delay", "1200", "--wait", "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        progress = [x for x in lines if re.match(r"^  \d+\.\d s: \d+ states: ", x)]
        self.assertTrue(progress, r.stdout)
        self.assertIn("1 pending", progress[0])  # not a TTY: a plain line when the counts change
        self.assertIn("1 success, 0 pending", progress[-1])
        self.assertEqual(len(progress), len(set(x.split(": ", 1)[1] for x in progress)), r.stdout)

    def test_11_wait_on_a_terminal_rewrites_one_line(self):
        import pty
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        self.host(["echo.so"])
        wait_registered(api, ["EchoNode"])
        put_one_node_graph(self, api, "echo", "EchoNode", {"text": "hi"})
        master, slave = pty.openpty()
        env = dict(os.environ, EXOSPHERE_STATE_MANAGER_URI=self.sm.url, EXOSPHERE_API_KEY=API_KEY,
                   EXOSPHERE_NAMESPACE=NS)
        p = subprocess.Popen([binary("exoctl"), "trigger", "echo", "--start-delay", "1200", "--wait",
                              "--timeout", "30"], stdout=slave, stderr=subprocess.PIPE, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(30), 0, p.stderr.read())
        text = out.decode()
        self.assertIn("\r  ", text)          # the progress line is rewritten in place
        self.assertIn("\033[K", text)        # and cleared to the end
        self.assertRegex(text, r"\r  \d+\.\d s: 1 states: 0 success, 1 pending")
        self.assertIn("1 success, 0 pending", text)

    # ---- 12: graph get | graph put keeps the secrets ---------------------------------------------

    def test_12_graph_get_put_round_trip_keeps_secrets(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        api.register([node_def("S", [], [], secrets=["token"])])
        put_one_node_graph(self, api, "s", "S", {}, secrets={"token": "sk-original"})
        got = self.ctl("--json", "graph", "get", "s")
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(json.loads(got.stdout)["secrets"], {"token": True})
        r = subprocess.run([binary("exoctl"), "-n", NS, "--uri", self.sm.url, "--api-key", API_KEY, "graph", "put",
                            "s", "-f", "-", "--wait"], input=got.stdout, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        run_id = trigger(self, api, "s")
        self.assertTrue(run_id)
        st = api.enqueue(["S"]).json["states"][0]
        secrets = api.request("GET", api.ns_path(f"/state/{st['state_id']}/secrets")).json
        self.assertEqual(secrets, {"secrets": {"token": "sk-original"}})
        # true for a secret that is not stored: refused, naming it
        body = json.loads(got.stdout)
        body["secrets"] = {"token": True, "new": True}
        r = api.put_graph("s", body)
        self.assertEqual(r.status, 400, r)
        self.assertIn("secret new is given as true", r.json["detail"])

    # ---- 13: why a state waits; who registered a node and when ---------------------------------

    def test_13_run_show_says_why_states_wait(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        api.register([node_def("Gone", ["x"])], runtime_name="old-host")
        first = api.request("GET", api.ns_path("/nodes/?extended=true")).json["nodes"][0]
        time.sleep(0.05)
        api.register([node_def("Gone", ["x"])], runtime_name="old-host")
        again = api.request("GET", api.ns_path("/nodes/?extended=true")).json["nodes"][0]
        self.assertNotIn("registered_at", api.request("GET", api.ns_path("/nodes/")).json["nodes"][0])
        self.assertEqual(again["updated_at"], first["updated_at"])  # the reference's rule
        self.assertGreater(again["registered_at"], first["registered_at"])
        put_one_node_graph(self, api, "gone", "Gone", {"x": "1"})
        run_id = trigger(self, api, "gone")
        view = api.request("GET", api.ns_path(f"/run/{run_id}")).json
        [wait] = view["waiting"]["states"]
        self.assertEqual(wait["reason"], "unclaimed")
        self.assertIn("last registered by runtime old-host at", wait["message"])
        text = self.ctl("run", "show", run_id).stdout
        self.assertIn("waiting:   due, not claimed yet", text)
        listing = self.ctl("nodes", "list").stdout
        self.assertRegex(listing, r"Gone .* old-host +\d{4}-\d\d-\d\dT")

        delayed = api.trigger("gone", start_delay=600000).json["run_id"]
        [wait] = api.request("GET", api.ns_path(f"/run/{delayed}")).json["waiting"]["states"]
        self.assertEqual(wait["reason"], "not_due")
        self.assertIn("not yet due", wait["message"])

        self.assertEqual(len(api.enqueue(["Gone"]).json["states"]), 1)
        [wait] = api.request("GET", api.ns_path(f"/run/{run_id}")).json["waiting"]["states"]
        self.assertEqual(wait["reason"], "claimed")

    def test_13_unite_wait_is_explained(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        api.register([node_def("F", [], ["o"]), node_def("W", ["o"], []), node_def("U", [], [])])
        body = {"secrets": {}, "nodes": [node("F", "f", {}, ["w"]), node("W", "w", {"o": "${{ f.outputs.o }}"}, ["u"]),
                                         {**node("U", "u", {}), "unites": {"identifier": "f"}}]}
        self.assertEqual(api.put_graph("join", body).status, 201)
        self.assertEqual(api.wait_validated("join")["validation_status"], "VALID")
        run_id = trigger(self, api, "join")
        f = api.enqueue(["F"]).json["states"][0]
        self.assertEqual(api.executed(f["state_id"], [{"o": "1"}, {"o": "2"}]).status, 200)
        [unite] = api.request("GET", api.ns_path(f"/run/{run_id}")).json["waiting"]["unites"]
        self.assertEqual((unite["identifier"], unite["unites"]), ("u", "f"))
        self.assertIn("waiting on a unite", unite["message"])
        self.assertIn("node u: waiting on a unite", self.ctl("run", "show", run_id).stdout)

    # ---- 14: prune data is visible ------------------------------------------------------------------

    def test_14_prune_data_is_shown(self):
        self.sm = self.start_state_manager()
        api = self.sm.api(NS)
        self.host(["prune.so"])
        wait_registered(api, ["PruneNode"])
        put_one_node_graph(self, api, "prune", "PruneNode", {"reason": "enough"})
        run_id = trigger(self, api, "prune")
        api.wait_run_finished(run_id)
        [state] = api.run_states("prune", run_id)
        self.assertEqual(state["status"], "PRUNED")
        self.assertNotIn("data", state)  # the v0 answer is the reference's
        r = api.request("GET", api.ns_path(f"/graph/prune/run/{run_id}/node/{state['id']}?extended=true"))
        self.assertEqual(r.json["data"], {"reason": "enough", "count": 2})
        text = self.ctl("run", "show", run_id).stdout
        self.assertIn('prune data: {"reason":"enough","count":2}', text)

    # ---- 15: the state manager's start-up ----------------------------------------------------------

    @unittest.skipIf(TEST_DB == "postgres", "SQLite-specific: no database file may appear (a PostgreSQL "
                     "database is created by its operator, not by exo-state-manager)")
    def test_15_busy_port_creates_no_database(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            db = os.path.join(self.tmp, "never.db")
            env = dict(os.environ, STATE_MANAGER_SECRET=API_KEY)
            r = subprocess.run([binary("exo-state-manager"), "--listen", f"127.0.0.1:{port}", "--db", db],
                               capture_output=True, text=True, env=env, timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.stdout + r.stderr)
            self.assertFalse(os.path.exists(db))

    def test_15_default_listen_is_loopback_and_the_demo_conf_stays_out_of_the_checkout(self):
        r = subprocess.run([binary("exo-state-manager"), "--help"], capture_output=True, text=True, timeout=30)
        self.assertIn("default 127.0.0.1:8000", r.stdout)
        self.assertIn("0.0.0.0:8000 serves every interface", r.stdout)
        with open(os.path.join(SOURCE_DIR, "conf", "demo", "host.conf")) as f:
            state_dir = re.search(r'^state_dir = "([^"]+)"', f.read(), re.M).group(1)
        self.assertTrue(os.path.isabs(state_dir))
        self.assertFalse(os.path.abspath(state_dir).startswith(SOURCE_DIR + os.sep))


if __name__ == "__main__":
    main()
