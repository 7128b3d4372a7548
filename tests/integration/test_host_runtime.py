"""exo-host with the real state manager: fan-out, store writes, secrets, failure and
prune reach the server and drive the run as the protocol says."""

from harness import ExoTestCase, main
from host_graphs import NO_RETRY, finished_state, put_one_node_graph, trigger, wait_registered

NS = "runtime"


def node(name, ident, inputs, next_nodes=None):
    return {"node_name": name, "namespace": NS, "identifier": ident, "inputs": inputs,
            "next_nodes": next_nodes, "unites": None}


class HostRuntime(ExoTestCase):
    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        self.host = self.start_host(self.sm, NS, ["fanout.so", "echo.so", "store_set.so", "secrets.so",
                                                  "fail.so", "prune.so"],
                                    extra=f'state_dir = "{self.tmp}/state";\n')
        wait_registered(self.api, ["FanOutNode", "EchoNode", "StoreSetNode", "SecretNode", "FailNode", "PruneNode"])

    def put_graph(self, name, nodes, **extra):
        body = {"secrets": {}, "nodes": nodes, "retry_policy": NO_RETRY}
        body.update(extra)
        r = self.api.put_graph(name, body)
        self.assertIn(r.status, (200, 201), r.text)
        self.assertEqual(self.api.wait_validated(name)["validation_status"], "VALID")

    def outputs_of(self, graph, run_id, node_name):
        return sorted(s["outputs"].get("text") or s["outputs"].get("item")
                      for s in self.api.run_states(graph, run_id) if s["node_name"] == node_name)

    def test_fan_out_then_echo(self):
        self.put_graph("fan", [node("FanOutNode", "split", {"items": "a,b,c"}, ["echo"]),
                               node("EchoNode", "echo", {"text": "${{ split.outputs.item }}", "suffix": "!"})])
        run_id = trigger(self, self.api, "fan")
        run = self.api.wait_run_finished(run_id)
        self.assertEqual(run["status"], "SUCCESS", run)
        self.assertEqual(self.outputs_of("fan", run_id, "EchoNode"), ["a!", "b!", "c!"])
        self.assertEqual(self.outputs_of("fan", run_id, "FanOutNode"), ["a", "b", "c"])

    def test_store_write_is_seen_downstream(self):
        self.put_graph("store", [node("StoreSetNode", "set", {"key": "greeting", "value": "hello"}, ["echo"]),
                                 node("EchoNode", "echo", {"text": "${{ store.greeting }}", "suffix": ""})],
                       store_config={"required_keys": [], "default_values": {"greeting": "unset"}})
        run_id = trigger(self, self.api, "store")
        self.assertEqual(self.api.wait_run_finished(run_id)["status"], "SUCCESS")
        self.assertEqual(self.outputs_of("store", run_id, "EchoNode"), ["hello"])

    def test_secrets_reach_the_node_in_memory_only(self):
        put_one_node_graph(self, self.api, "secret", "SecretNode", {}, secrets={"token": "sk-abcdef"})
        run_id = trigger(self, self.api, "secret")
        state = finished_state(self.api, run_id)
        self.assertEqual(state["status"], "SUCCESS", state)
        details = self.api.run_states("secret", run_id)[0]
        self.assertEqual(details["outputs"], {"length": "9", "in_environment": "no", "in_cmdline": "no"})
        self.assertNotIn("sk-abcdef", self.host.log())

    def test_fail_and_prune(self):
        put_one_node_graph(self, self.api, "fail", "FailNode", {"message": "upstream API answered 503"})
        state = finished_state(self.api, trigger(self, self.api, "fail"))
        self.assertEqual((state["status"], state["error"]), ("ERRORED", "upstream API answered 503"))
        put_one_node_graph(self, self.api, "prune", "PruneNode", {"reason": "duplicate"})
        state = finished_state(self.api, trigger(self, self.api, "prune"))
        self.assertEqual(state["status"], "PRUNED", state)


if __name__ == "__main__":
    main()
