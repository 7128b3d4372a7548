"""Malformed input never yields a 5xx or a crash: seeded random bodies and path
parameters against every state-manager endpoint."""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ExoTestCase, main, node_def  # noqa: E402

NS = "fuzz"


def random_value(rng, depth=0):
    kinds = ["str", "int", "float", "bool", "null", "list", "dict", "placeholder"]
    if depth > 3:
        kinds = kinds[:5]
    k = rng.choice(kinds)
    if k == "str":
        return rng.choice(["", " ", "a", "ü€", "x" * 300, "${{", "}}", "store", "\u0000z", "CRON", "ALL_DONE"])
    if k == "int":
        return rng.choice([0, -1, 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, 5])
    if k == "float":
        return rng.choice([0.5, -3.0, 1e308, 5.0])
    if k == "bool":
        return rng.choice([True, False])
    if k == "null":
        return None
    if k == "placeholder":
        return rng.choice(["${{ store.k }}", "${{ a.outputs.y }}", "${{ .outputs. }}", "${{ x }}", "${{ a.b.c.d }}"])
    if k == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["nodes", "secrets", "inputs", "store", "outputs", "name", "identifier", "node_name",
                        "namespace", "next_nodes", "unites", "batch_size", "error", "data", "enqueue_after",
                        "fanout_id", "runtime_name", "inputs_schema", "outputs_schema", "state_ids", "lease_ms",
                        "wait_ms", "retry_policy", "store_config", "triggers", "type", "value", "expression",
                        "strategy", "max_retries", "required_keys", "default_values", "start_delay"]):
            random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def graph_like(rng):
    nodes = []
    for i in range(rng.randint(0, 4)):
        n = {"node_name": rng.choice(["A", "B", "", 3]), "namespace": NS, "identifier": rng.choice(["a", "b", "c", "store", " "]),
             "inputs": rng.choice([{}, {"x": "${{ store.k }}"}, {"y": "${{ a.outputs.y }}"}, {"z": 1}, []])}
        if rng.random() < 0.5:
            n["next_nodes"] = rng.sample(["a", "b", "c", "d", ""], rng.randint(0, 3))
        if rng.random() < 0.3:
            n["unites"] = {"identifier": rng.choice(["a", "b", ""]), "strategy": rng.choice(["ALL_DONE", "x"])}
        nodes.append(n)
    body = {"secrets": rng.choice([{}, {"s": "v"}, {"": "v"}, {"s": 1}]), "nodes": nodes}
    if rng.random() < 0.5:
        body["retry_policy"] = random_value(rng)
    if rng.random() < 0.5:
        body["store_config"] = {"required_keys": rng.choice([["k"], ["k.k"], [" "], ["k", "k"]]),
                                "default_values": rng.choice([{}, {"k": "v"}, {"k": 1}])}
    if rng.random() < 0.5:
        body["triggers"] = [{"type": "CRON", "value": {"expression": rng.choice(["* * * * *", "bad", "@daily", 5])}}]
    return body


class FuzzTest(ExoTestCase):
    check_sanitizers = True

    def test_random_bodies_never_give_5xx(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        api.register([node_def("A", ["x"], ["y"]), node_def("B", ["y"], [])])
        api.put_graph("g", {"secrets": {}, "nodes": [
            {"node_name": "A", "namespace": NS, "identifier": "a", "inputs": {"x": "${{ store.k }}"},
             "next_nodes": ["b"]},
            {"node_name": "B", "namespace": NS, "identifier": "b", "inputs": {"y": "${{ a.outputs.y }}"}}],
            "store_config": {"required_keys": [], "default_values": {"k": "d"}}})
        api.wait_validated("g")
        api.trigger("g")
        real = api.enqueue(["A"], 1).json["states"][0]["state_id"]
        rng = random.Random(int(os.environ.get("EXO_FUZZ_SEED", "1234")))
        ids = [real, "0" * 24, "zz", "%20", "A" * 24, "x" * 500]
        paths = [
            ("PUT", "/nodes/"), ("PUT", "/graph/g"), ("PUT", "/graph/h"), ("POST", "/graph/g/trigger"),
            ("POST", "/states/enqueue"), ("POST", "/states/lease"),
            ("POST", "/state/{id}/executed"), ("POST", "/state/{id}/errored"), ("POST", "/state/{id}/prune"),
            ("POST", "/state/{id}/re-enqueue-after"), ("POST", "/state/{id}/manual-retry"),
            ("GET", "/state/{id}/secrets"), ("GET", "/runs/{id}/{id}"), ("GET", "/states/run/{id}/graph"),
            ("GET", "/graph/g/run/{id}/node/{id}"), ("GET", "/graphs/"), ("GET", "/nodes/"),
        ]
        raws = [b"{", b"[]", b"null", b"1", b'{"a":}', b"\xff", b'{"nodes": [' * 10, b'"\\ud800"', b"{} {}"]
        for i in range(600):
            method, path = rng.choice(paths)
            path = api.ns_path(path.replace("{id}", rng.choice(ids)))
            roll = rng.random()
            if roll < 0.15:
                r = api.request(method, path, raw=rng.choice(raws))
            elif roll < 0.45 and "graph/" in path and method == "PUT":
                r = api.request(method, path, graph_like(rng))
            else:
                r = api.request(method, path, random_value(rng))
            self.assertLess(r.status, 500, (method, path, r))
            self.assertIsNotNone(r.json, (method, path, r.text))
        self.assertTrue(sm.alive())
        self.assertEqual(api.request("GET", "/v0/namespaces").status, 200)
        json.dumps(api.runs().json)


if __name__ == "__main__":
    main()
