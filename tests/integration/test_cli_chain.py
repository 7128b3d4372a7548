"""exoctl against the real exo-state-manager and exo-host running the demo plugins:
the 3-node chain of conf/demo/graph.json reaches SUCCESS with the right resolved
inputs, JSON output is parseable and matches the server, and failures (INVALID graph,
failing node, unknown graph, wrong key) give the documented exit codes and the
server's detail."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, ExoTestCase, exoctl, main, wait_until  # noqa: E402

NS = "demo"
GRAPH_FILE = os.path.join(SOURCE_DIR, "conf", "demo", "graph.json")
PLUGINS = ["sample.so", "text_transform.so", "summarize.so"]


class CliChain(ExoTestCase):
    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.host = self.start_host(self.sm, NS, PLUGINS)
        wait_until(self.nodes_registered, 30, what="the demo nodes to be registered")

    def ctl(self, *args, **kw):
        return exoctl(list(args), self.sm.url, NS, **kw)

    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 0, f"exoctl {args}:\n{r.stdout}\n{r.stderr}")
        return r

    def nodes_registered(self):
        r = self.ctl("--json", "nodes", "list")
        if r.returncode != 0:
            return False
        names = {n["name"] for n in json.loads(r.stdout)["nodes"]}
        return {"SampleNode", "TextTransform", "Summarize"} <= names

    def put_demo_graph(self, name="demo-chain"):
        r = self.ok("graph", "put", name, "-f", GRAPH_FILE, "--wait", "--timeout", "30")
        self.assertIn(f"graph {name}: VALID", r.stdout)

    def states_by_identifier(self, run_id):
        shown = json.loads(self.ok("--json", "run", "show", run_id).stdout)
        return shown, {s["identifier"]: s for s in shown["states"]}

    def test_chain_succeeds_with_resolved_inputs(self):
        self.put_demo_graph()
        r = self.ok("trigger", "demo-chain", "--input", "data=hello from exo", "--store",
                    "user=alice", "--wait", "--timeout", "60", "--quiet")
        run_id = r.stdout.strip()
        self.assertRegex(run_id, r"^[0-9a-f-]{36}$")

        shown, states = self.states_by_identifier(run_id)
        self.assertEqual(shown["status"], "SUCCESS")
        self.assertEqual(shown["graph_name"], "demo-chain")
        self.assertEqual(sorted(states), ["greet", "shout", "summary"])
        self.assertEqual(len(shown["states"]), 3)
        for s in shown["states"]:
            self.assertEqual(s["status"], "SUCCESS", s)
        # trigger input overrides the template's "initial"; store value and default flow in
        self.assertEqual(states["greet"]["inputs"], {"name": "alice", "data": "hello from exo"})
        self.assertEqual(states["greet"]["outputs"],
                         {"message": "success", "processed_data": "completed:hello from exo"})
        self.assertEqual(states["shout"]["inputs"],
                         {"text": "completed:hello from exo", "mode": "upper"})
        self.assertEqual(states["shout"]["outputs"], {"text": "COMPLETED:HELLO FROM EXO"})
        self.assertEqual(states["summary"]["inputs"],
                         {"text": "COMPLETED:HELLO FROM EXO", "status": "success", "user": "alice"})
        self.assertEqual(states["summary"]["outputs"]["words"], "3")
        self.assertEqual(states["summary"]["outputs"]["chars"], "24")

        # exoctl shows what the server stores
        api = self.sm.api(NS)
        server = {s["id"]: s for s in api.run_states("demo-chain", run_id)}
        for s in shown["states"]:
            self.assertEqual(s["inputs"], server[s["id"]]["inputs"])
            self.assertEqual(s["outputs"], server[s["id"]]["outputs"])

        text = self.ok("run", "show", run_id).stdout
        self.assertIn("status SUCCESS", text)
        self.assertIn("text = COMPLETED:HELLO FROM EXO", text)
        self.assertIn("data = hello from exo", text)

        runs = json.loads(self.ok("--json", "run", "list").stdout)["runs"]
        self.assertIn((run_id, "SUCCESS"), [(x["run_id"], x["status"]) for x in runs])
        self.assertIn(run_id, self.ok("run", "list", "--page", "1", "--size", "5").stdout)

        # --json answers are parseable: the trigger's answer, and the outcome with --wait
        created = json.loads(self.ok("trigger", "demo-chain", "--json", "--store", "user=x").stdout)
        self.assertEqual(created["status"], "CREATED")
        finished = json.loads(self.ok("trigger", "demo-chain", "--json", "--store", "user=y",
                                      "--wait", "--timeout", "60").stdout)
        self.assertEqual((finished["status"], finished["total_count"]), ("SUCCESS", 3))

        graph = json.loads(self.ok("--json", "graph", "get", "demo-chain").stdout)
        self.assertEqual(graph["validation_status"], "VALID")
        self.assertIn("demo-chain", self.ok("graph", "list").stdout)
        self.assertIn("Summarize", self.ok("nodes", "list").stdout)
        self.assertIn(NS, self.ok("namespaces").stdout.split())

    def test_trigger_wait_reports_failure_and_state_retry(self):
        self.put_demo_graph()
        r = self.ctl("trigger", "demo-chain", "--store", "user=bob", "--store", "mode=bogus",
                     "--wait", "--timeout", "60")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("FAILED", r.stdout)
        run_id = r.stdout.split()[1]

        shown = json.loads(self.ok("--json", "run", "show", run_id).stdout)
        self.assertEqual(shown["status"], "FAILED")
        errored = [s for s in shown["states"] if s["status"] == "ERRORED"]
        self.assertEqual(len(errored), 1, shown)
        self.assertEqual(errored[0]["identifier"], "shout")
        self.assertIn("unknown mode 'bogus'", errored[0]["error"])
        self.assertIn("unknown mode 'bogus'", self.ok("run", "show", run_id).stdout)

        r = self.ok("state", "retry", errored[0]["id"])
        self.assertIn("new state", r.stdout)
        api = self.sm.api(NS)

        def original_replaced():
            states = {s["id"]: s for s in api.run_states("demo-chain", run_id)}
            return states[errored[0]["id"]]["status"] == "RETRY_CREATED" and len(states) > len(
                shown["states"])
        wait_until(original_replaced, 30, what="the manual retry to be recorded")

    def test_server_errors_are_reported(self):
        r = self.ctl("trigger", "no-such-graph")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 404", r.stderr)
        self.assertIn("no-such-graph", r.stderr)

        self.put_demo_graph()
        r = self.ctl("trigger", "demo-chain")  # required store key "user" missing
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 400", r.stderr)
        self.assertIn("user", r.stderr)

        # a root state held back for a minute cannot finish within half a second: exit 3
        r = self.ctl("trigger", "demo-chain", "--store", "user=z", "--start-delay", "60000",
                     "--wait", "--timeout", "0.5")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("still pending", r.stderr)

        r = self.ctl("namespaces", env={"EXOSPHERE_API_KEY": "wrong"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", r.stderr)

        r = self.ctl("run", "show", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr)

    def test_invalid_graph_exits_non_zero(self):
        with open(GRAPH_FILE) as f:
            body = json.load(f)
        body["nodes"][2]["node_name"] = "NotRegistered"
        path = os.path.join(self.tmp, "invalid.json")
        with open(path, "w") as f:
            json.dump(body, f)
        r = self.ctl("graph", "put", "broken", "-f", path, "--wait", "--timeout", "30")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("graph broken: INVALID", r.stdout)
        self.assertIn("NotRegistered", r.stdout)
        graph = json.loads(self.ok("--json", "graph", "get", "broken").stdout)
        self.assertEqual(graph["validation_status"], "INVALID")
        self.assertTrue(graph["validation_errors"])

        no_nodes = os.path.join(self.tmp, "no-nodes.json")
        with open(no_nodes, "w") as f:
            f.write('{"secrets": {}}')
        r = self.ctl("graph", "put", "broken", "-f", no_nodes)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 422", r.stderr)
        self.assertIn("nodes", r.stderr)


if __name__ == "__main__":
    main()
