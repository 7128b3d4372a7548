"""Black-box tests of the state manager's HTTP conventions and endpoints (spec §1, §3)."""
import http.client
import json
import os
import random
import re
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import API_KEY, ExoTestCase, main, node_def, wait_until  # noqa: E402

NS = "apins"
# documents of the server's full nesting depth (1000) are built, sent and parsed back here
sys.setrecursionlimit(20000)


def two_node_graph(ns=NS, **extra):
    body = {"secrets": {"token": "s3cr3t"}, "nodes": [
        {"node_name": "A", "namespace": ns, "identifier": "a", "inputs": {"x": "${{ store.x }}"},
         "next_nodes": ["b"]},
        {"node_name": "B", "namespace": ns, "identifier": "b", "inputs": {"y": "${{ a.outputs.y }}"}}],
        "store_config": {"required_keys": ["x"], "default_values": {}}}
    body.update(extra)
    return body


def json_depth(v):
    """Nesting depth as json-c counts it (scalars 0, each array/object one level)."""
    if isinstance(v, dict):
        return 1 + max((json_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((json_depth(x) for x in v), default=0)
    return 0


class ApiTest(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)

    def ready_graph(self, name="g", body=None):
        r = self.api.register([node_def("A", ["x"], ["y"], secrets=["token"]), node_def("B", ["y"], [])])
        self.assertEqual(r.status, 200, r)
        r = self.api.put_graph(name, body or two_node_graph())
        self.assertEqual(r.status, 201, r)
        g = self.api.wait_validated(name)
        self.assertEqual(g["validation_status"], "VALID", g)

    def claim_one(self, node):
        r = self.api.enqueue([node], 1)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["count"], 1, r)
        return r.json["states"][0]

    # ---- §1 conventions -------------------------------------------------------------
    def test_health_needs_no_key(self):
        with urllib.request.urlopen(self.sm.url + "/health") as r:
            self.assertEqual(json.loads(r.read()), {"message": "OK"})
            self.assertTrue(r.headers["x-exosphere-request-id"])

    def test_missing_or_wrong_key_is_401(self):
        for key in (None, "wrong"):
            api = self.sm.api(NS)
            api.api_key = key
            r = api.request("GET", api.ns_path("/nodes/"))
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json, {"detail": "Invalid API key"})
            self.assertTrue(r.headers["x-exosphere-request-id"])

    def test_unknown_path_404_wrong_method_405_slash_307(self):
        r = self.api.request("GET", "/v0/nothing")
        self.assertEqual((r.status, r.json), (404, {"detail": "Not Found"}))
        r = self.api.request("DELETE", self.api.ns_path("/nodes/"))
        self.assertEqual((r.status, r.json), (405, {"detail": "Method Not Allowed"}))
        self.assertIn("GET", r.headers["Allow"])
        r = self.api.request("GET", self.api.ns_path("/nodes"))
        self.assertEqual(r.status, 307)
        self.assertTrue(r.headers["Location"].endswith(f"/v0/namespace/{NS}/nodes/"))
        r = self.api.request("GET", "/v0/namespaces/")
        self.assertEqual(r.status, 307)
        self.assertTrue(r.headers["Location"].endswith("/v0/namespaces"))

    def test_request_id_echoed_when_uuid_else_generated(self):
        given = "{12345678-1234-1234-1234-1234567890AB}"
        r = self.api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": given})
        self.assertEqual(r.headers["x-exosphere-request-id"], given)
        r = self.api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": "not-a-uuid"})
        self.assertNotEqual(r.headers["x-exosphere-request-id"], "not-a-uuid")
        self.assertEqual(len(r.headers["x-exosphere-request-id"]), 36)

    def test_auth_comes_before_json_invalid(self):
        api = self.sm.api(NS)
        api.api_key = None  # the key is checked from the headers, before the body is read
        r = api.request("PUT", api.ns_path("/nodes/"), raw="{not json")
        self.assertEqual((r.status, r.json), (401, {"detail": "Invalid API key"}), r)
        api = self.sm.api(NS)
        r = api.request("PUT", api.ns_path("/nodes/"), raw="{not json")
        self.assertEqual(r.status, 422, r)
        err = r.json["detail"][0]
        self.assertEqual(err["type"], "json_invalid")
        self.assertEqual(err["loc"][0], "body")
        self.assertIsInstance(err["loc"][1], int)
        r = api.request("PUT", api.ns_path("/nodes/"), raw='{"ü€": x}')
        self.assertEqual(r.json["detail"][0]["loc"], ["body", 7])  # a character offset, not bytes
        r = api.request("PUT", api.ns_path("/nodes/"), raw=b"\xff\xfe{}")
        self.assertEqual((r.status, r.json), (400, {"detail": "There was an error parsing the body"}))

    def test_missing_body_and_non_object_body(self):
        r = self.api.request("PUT", self.api.ns_path("/nodes/"))
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["type"], "missing")
        self.assertEqual(r.json["detail"][0]["loc"], ["body"])
        r = self.api.request("PUT", self.api.ns_path("/nodes/"), body=[1, 2])
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["loc"], ["body"])

    def test_deeply_nested_and_huge_bodies_are_rejected_cleanly(self):
        deep = "[" * 100000 + "]" * 100000
        r = self.api.request("PUT", self.api.ns_path("/nodes/"), raw=deep)
        self.assertEqual(r.status, 422, r)
        big = b'{"runtime_name":"' + b"x" * (17 * 1024 * 1024) + b'"}'
        try:
            r = self.api.request("PUT", self.api.ns_path("/nodes/"), raw=big)
            self.assertEqual(r.status, 413, r)
        except (ConnectionError, OSError):
            pass  # the server may close the connection while the client still sends
        self.assertEqual(self.api.request("GET", "/v0/namespaces").status, 200)

    def test_deep_but_allowed_documents_round_trip(self):
        # EXO_JSON_DEPTH = 1000 levels (the reference accepts ~990): a body of exactly 1000 levels
        # is stored and served back (also under ASan: every recursive walk stays on the stack),
        # 1001 levels is a 422 json_invalid.
        def body_of_depth(levels):
            schema = {"type": "string"}
            for _ in range(levels - 4):  # body {nodes:[{inputs_schema: ...}]} adds 3 levels
                schema = {"p": schema}
            node = node_def("Deep")
            node["inputs_schema"] = schema
            return {"runtime_name": "rt", "nodes": [node]}, schema

        body, schema = body_of_depth(1000)
        self.assertEqual(json_depth(body), 1000)
        r = self.api.request("PUT", self.api.ns_path("/nodes/"), body)
        self.assertEqual(r.status, 200, r)
        r = self.api.request("GET", self.api.ns_path("/nodes/"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["nodes"][0]["inputs_schema"], schema)
        body, _ = body_of_depth(1001)
        r = self.api.request("PUT", self.api.ns_path("/nodes/"), body)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["detail"][0]["type"], "json_invalid")
        # deep values elsewhere: prune data (stored, served by node details) and a graph input (repr'd in a 400)
        self.ready_graph()
        run = self.api.trigger("g", store={"x": "1"}).json["run_id"]
        a = self.claim_one("A")
        data = "leaf"
        for _ in range(1000 - 1):  # {"data": <999 levels>}
            data = {"d": data}
        self.assertEqual(json_depth({"data": data}), 1000)
        r = self.api.request("POST", self.api.ns_path(f"/state/{a['state_id']}/prune"), {"data": data})
        self.assertEqual(r.status, 200, r)
        d = self.api.node_details("g", run, a["state_id"])
        self.assertEqual(d.status, 200, d)
        deep_input = 1
        for _ in range(1000 - 4):
            deep_input = [deep_input]
        body = two_node_graph()
        body["nodes"][0]["inputs"]["x"] = deep_input
        self.assertEqual(json_depth(body), 1000)
        r = self.api.put_graph("deep", body)
        self.assertEqual(r.status, 400, r)
        self.assertIn("is not a string", r.json["detail"])
        self.assertEqual(self.api.request("GET", "/v0/namespaces").status, 200)

    def test_parent_sets_match_a_brute_force_definition(self):
        # exo §0: X may be referenced by N iff X lies on every root path to N over parent edges
        # (p->m for plain m in p.next_nodes; T->U for a uniting U), whatever the listing order.
        # Random DAGs are checked against removing X and testing reachability (B4 messages).
        rng = random.Random(20261130)
        checked = 0
        for trial in range(150):
            n = rng.randint(2, 8)
            nxt = {i: sorted(rng.sample(range(i + 1, n), rng.randint(0, min(3, n - i - 1)))) for i in range(n)}
            unites = {u: rng.randint(0, u - 1) for u in range(2, n) if rng.random() < 0.25}
            indeg = [sum(m in nxt[p] for p in range(n)) + (m in unites) for m in range(n)]
            listed = {m for p in range(n) for m in nxt[p] if m in unites}

            def reach(skip=None):
                seen = set() if skip == 0 else {0}
                changed = True
                while changed:
                    changed = False
                    for p in list(seen):
                        for m in nxt[p]:
                            if m != skip and m not in seen and m not in unites:
                                seen.add(m)
                                changed = True
                    for u, t in unites.items():
                        if u != skip and u not in seen and t in seen and u in listed:
                            seen.add(u)
                            changed = True
                return seen

            if [i for i in range(n) if indeg[i] == 0] != [0] or len(reach()) != n:
                continue
            expected = {m: {x for x in range(n) if x != m and m not in reach(skip=x)} for m in range(n)}
            order = list(range(n))
            rng.shuffle(order)
            nodes = [{"node_name": "A", "namespace": NS, "identifier": f"x{i}",
                      "inputs": {f"i{x}": "${{ x%d.outputs.o }}" % x for x in range(n) if x != i},
                      "next_nodes": [f"x{m}" for m in nxt[i]],
                      **({"unites": {"identifier": f"x{unites[i]}"}} if i in unites else {})} for i in order]
            r = self.api.put_graph(f"r{trial}", {"secrets": {}, "nodes": nodes})
            got = {m: set(range(n)) - {m} for m in range(n)}
            if r.status == 400 and "is not a parent of" in r.json["detail"]:
                for x, m in re.findall(r"depends on x(\d+) but x\d+ is not a parent of x(\d+)", r.json["detail"]):
                    got[int(m)].discard(int(x))
            elif r.status != 201:
                continue  # an earlier rule (unites target not an ancestor of a lister) fired
            self.assertEqual(got, expected, (nxt, unites, order))
            checked += 1
        self.assertGreater(checked, 15)

    def test_nul_characters_never_truncate_anything(self):
        # names / identifiers / C-string fields: refused with a value_error at the field
        r = self.api.register([node_def("A\u0000B"), node_def("A\u0000C")], runtime_name="r\u0000t")
        self.assertEqual(r.status, 422, r)
        locs = [e["loc"] for e in r.json["detail"]]
        self.assertEqual(locs, [["body", "runtime_name"], ["body", "nodes", 0, "name"], ["body", "nodes", 1, "name"]])
        self.assertTrue(all(e["type"] == "value_error" and "NUL" in e["msg"] for e in r.json["detail"]), r)
        self.assertEqual(self.api.request("GET", self.api.ns_path("/nodes/")).json["nodes"], [])
        body = two_node_graph()
        body["nodes"][0]["identifier"] = "a\u0000x"
        r = self.api.put_graph("g", body)
        self.assertEqual((r.status, r.json["detail"][0]["loc"]), (422, ["body", "nodes", 0, "identifier"]), r)
        # object keys (json-c would cut them): refused with the key's path
        r = self.api.register([node_def("K")] + [dict(node_def("L"), inputs_schema={"properties": {"a\u0000x": {}}})])
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["detail"][0]["loc"], ["body", "nodes", 1, "inputs_schema", "properties", "a\u0000x"])
        # a path parameter with an encoded NUL names a graph that cannot exist
        self.ready_graph()
        self.assertEqual(self.api.request("GET", self.api.ns_path("/graph/g")).status, 200)
        self.assertEqual(self.api.request("GET", self.api.ns_path("/graph/g%00zz")).status, 404)
        self.assertEqual(self.api.request("PUT", self.api.ns_path("/graph/g%00zz"), two_node_graph()).status, 404)
        self.assertEqual(self.api.request("GET", self.api.ns_path("/graph/g")).json["nodes"][0]["inputs"],
                         {"x": "${{ store.x }}"})
        self.assertEqual(self.api.request("GET", self.api.ns_path("/graphs/")).json["count"], 1)
        # values: store value -> root input, output -> next input, prune data: byte-exact
        run = self.api.trigger("g", store={"x": "s\u0000t"}).json["run_id"]
        a = self.claim_one("A")
        self.assertEqual(a["inputs"], {"x": "s\u0000t"})
        r = self.api.executed(a["state_id"], [{"y": "o\u0000p"}])
        self.assertEqual(r.status, 200, r)
        b = self.claim_one("B")
        self.assertEqual(b["inputs"], {"y": "o\u0000p"})
        r = self.api.request("POST", self.api.ns_path(f"/state/{b['state_id']}/prune"), {"data": {"k": "d\u0000e"}})
        self.assertEqual(r.status, 200, r)
        d = self.api.node_details("g", run, a["state_id"]).json
        self.assertEqual(d["outputs"], {"y": "o\u0000p"})
        # store written by executed, read back by a later placeholder
        body = two_node_graph()
        body["nodes"][1]["inputs"] = {"y": "${{ store.w }}"}
        body["store_config"]["default_values"] = {"w": "default"}
        self.assertEqual(self.api.put_graph("g2", body).status, 201)
        self.assertEqual(self.api.wait_validated("g2")["validation_status"], "VALID")
        self.api.trigger("g2", store={"x": "1"})
        a2 = self.claim_one("A")
        r = self.api.executed(a2["state_id"], [{"y": "1"}], store={"w": "w\u0000v"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.claim_one("B")["inputs"], {"y": "w\u0000v"})
        # literal input values (no placeholder) keep their NUL: graph inputs and trigger overrides
        body = two_node_graph()
        body["nodes"][1]["inputs"] = {"y": "lit\u0000eral"}
        self.assertEqual(self.api.put_graph("g3", body).status, 201)
        self.assertEqual(self.api.get_graph("g3").json["nodes"][1]["inputs"], {"y": "lit\u0000eral"})
        self.assertEqual(self.api.wait_validated("g3")["validation_status"], "VALID")
        r = self.api.trigger("g3", store={"x": "1"}, inputs={"x": "o\u0000v"})
        self.assertEqual(r.status, 200, r)
        a4 = self.claim_one("A")
        self.assertEqual(a4["inputs"], {"x": "o\u0000v"})
        self.assertEqual(self.api.executed(a4["state_id"], [{"y": "1"}]).status, 200)
        self.assertEqual(self.claim_one("B")["inputs"], {"y": "lit\u0000eral"})
        r = self.api.trigger("g3", store={"x": "1"}, inputs={"x": "o\u0000${{ store.x }}"})
        self.assertEqual((r.status, r.json["detail"][0]["loc"]), (422, ["body", "inputs", "x"]), r)
        # plain string fields of state endpoints: refused, nothing changes
        r = self.api.enqueue(["B\u0000x"], 1)
        self.assertEqual((r.status, r.json["detail"][0]["loc"]), (422, ["body", "nodes", 0]), r)
        self.api.trigger("g2", store={"x": "1"})
        a3 = self.claim_one("A")
        r = self.api.errored(a3["state_id"], "boom\u0000tail")
        self.assertEqual((r.status, r.json["detail"][0]["loc"]), (422, ["body", "error"]), r)
        r = self.api.errored(a3["state_id"], "boom")
        self.assertEqual(r.status, 200, r)

    def test_ill_formed_utf8_path_parameters_are_replaced_like_the_reference(self):
        # the reference decodes paths with errors="replace" (U+FFFD per maximal invalid subpart);
        # storing the raw bytes would make every later namespace listing invalid JSON text
        def raw_get(path):
            conn = http.client.HTTPConnection("127.0.0.1", self.sm.port, timeout=30)
            try:
                conn.request("GET", path, headers={"x-api-key": API_KEY})
                resp = conn.getresponse()
                return resp.status, resp.read()
            finally:
                conn.close()

        r = self.api.request("PUT", "/v0/namespace/%FFq%E2%82/nodes/",
                             {"runtime_name": "r", "nodes": [node_def("N")]})
        self.assertEqual(r.status, 200, r)
        status, body = raw_get("/v0/namespaces")
        self.assertEqual(status, 200)
        self.assertIn("\ufffdq\ufffd", json.loads(body.decode("utf-8"))["namespaces"])
        status, body = raw_get("/v0/namespace/x/graph/%C3")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body.decode("utf-8"))["detail"], "Graph template \ufffd not found in namespace x")

    def test_integers_beyond_64_bits_are_refused_not_clamped(self):
        for value in (10 ** 20, -2 ** 63 - 1, 2 ** 64):
            node = node_def("Big")
            node["inputs_schema"]["properties"] = {"x": {"type": "string", "maxLength": value}}
            r = self.api.register([node])
            self.assertEqual(r.status, 422, r)
            self.assertEqual(r.json["detail"][0]["loc"],
                             ["body", "nodes", 0, "inputs_schema", "properties", "x", "maxLength"])
            self.assertEqual(r.json["detail"][0]["input"], str(value))
        self.assertEqual(self.api.request("GET", self.api.ns_path("/nodes/")).json["nodes"], [])
        for value in (2 ** 64 - 1, -2 ** 63, 1e300, 12345678901234567890.5):
            node = node_def("Big")
            node["inputs_schema"]["properties"] = {"x": {"type": "string", "maxLength": value}}
            self.assertEqual(self.api.register([node]).status, 200)
            listed = self.api.request("GET", self.api.ns_path("/nodes/")).json["nodes"][0]
            self.assertEqual(listed["inputs_schema"]["properties"]["x"]["maxLength"], value)
        r = self.api.request("POST", self.api.ns_path("/states/enqueue"),
                             raw='{"nodes":["A"],"batch_size":1, "x": [1, {"y": -100000000000000000000}]}')
        self.assertEqual((r.status, r.json["detail"][0]["loc"]), (422, ["body", "x", 1, "y"]), r)

    def test_cors_preflight_and_simple_request(self):
        r = self.api.request("OPTIONS", self.api.ns_path("/nodes/"), headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], "http://localhost:3000")
        r = self.api.request("OPTIONS", self.api.ns_path("/nodes/"), headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 400)
        r = self.api.request("GET", "/v0/namespaces", headers={"Origin": "http://127.0.0.1:3001"})
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], "http://127.0.0.1:3001")
        self.assertEqual(r.headers["Access-Control-Allow-Credentials"], "true")

    # ---- nodes / namespaces -------------------------------------------------------------
    def test_register_and_list_nodes(self):
        r = self.api.register([node_def("A", ["x"], ["y"], ["token"])], runtime_name="rt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["runtime_name"], "rt")
        self.assertEqual(r.json["registered_nodes"][0]["name"], "A")
        self.api.register([node_def("A", ["z"], [])], runtime_name="rt2")  # overwrite
        r = self.api.request("GET", self.api.ns_path("/nodes/"))
        self.assertEqual(r.json["count"], 1)
        node = r.json["nodes"][0]
        self.assertEqual(len(node["_id"]), 24)
        self.assertEqual(node["runtime_name"], "rt2")
        self.assertEqual(node["runtime_namespace"], NS)
        self.assertEqual(list(node["inputs_schema"]["properties"]), ["z"])
        r = self.api.request("GET", self.api.ns_path("/nodes/", "empty-ns"))
        self.assertEqual(r.json, {"namespace": "empty-ns", "count": 0, "nodes": []})

    def test_register_validation_errors(self):
        r = self.api.request("PUT", self.api.ns_path("/nodes/"), {"nodes": [{"name": 5, "inputs_schema": {}}]})
        self.assertEqual(r.status, 422)
        locs = [tuple(e["loc"]) for e in r.json["detail"]]
        self.assertIn(("body", "runtime_name"), locs)
        self.assertIn(("body", "nodes", 0, "name"), locs)
        self.assertIn(("body", "nodes", 0, "outputs_schema"), locs)
        self.assertIn(("body", "nodes", 0, "secrets"), locs)

    def test_namespaces_sorted_distinct(self):
        self.api.register([node_def("A")], ns="zeta")
        self.api.register([node_def("A"), node_def("B")], ns="alpha")
        r = self.api.request("GET", "/v0/namespaces")
        self.assertEqual(r.json, {"namespaces": ["alpha", "zeta"], "count": 2})

    # ---- graphs ---------------------------------------------------------------------------
    def test_graph_put_get_list(self):
        r = self.api.put_graph("g", two_node_graph(retry_policy={"max_retries": 1, "strategy": "LINEAR"}))
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["validation_status"], "PENDING")
        self.assertEqual(r.json["secrets"], {"token": True})
        self.assertEqual(r.json["nodes"][1]["next_nodes"], [])
        g = self.api.wait_validated("g")
        self.assertEqual(g["validation_status"], "INVALID")  # nodes are not registered yet
        self.assertTrue(any("does not exist" in e for e in g["validation_errors"]), g)
        self.assertEqual(g["retry_policy"]["max_retries"], 1)
        # registering the nodes re-validates the graph (exo §0)
        self.api.register([node_def("A", ["x"], ["y"], ["token"]), node_def("B", ["y"], [])])
        wait_until(lambda: self.api.get_graph("g").json["validation_status"] == "VALID", what="re-validation")
        r = self.api.request("GET", self.api.ns_path("/graphs/"))
        self.assertEqual(r.json["count"], 1)
        t = r.json["templates"][0]
        self.assertEqual(t["name"], "g")
        self.assertNotIn("s3cr3t", json.dumps(t))
        self.assertEqual(t["secrets"], {"token": True})
        r = self.api.get_graph("missing")
        self.assertEqual((r.status, r.json["detail"]), (404, f"Graph template missing not found in namespace {NS}"))

    def test_graph_put_errors(self):
        r = self.api.put_graph("g", {"nodes": []})
        self.assertEqual(r.status, 422)
        self.assertIn(["body", "secrets"], [e["loc"] for e in r.json["detail"]])
        cyclic = {"secrets": {}, "nodes": [
            {"node_name": "A", "namespace": NS, "identifier": "a", "inputs": {}, "next_nodes": ["b"]},
            {"node_name": "B", "namespace": NS, "identifier": "b", "inputs": {}, "next_nodes": ["a"]}]}
        r = self.api.put_graph("g", cyclic)
        self.assertEqual(r.status, 400)
        self.assertTrue(r.json["detail"].startswith("Error validating graph template: "), r)
        self.assertEqual(self.api.get_graph("g").status, 404)  # nothing written
        # croniter's random fields (BUGS.md C7): refused with a message that says why
        for expr in ("R * * * *", "R(0-5) * * * *", "*/5 R/15 * * *"):
            r = self.api.put_graph("g", two_node_graph(triggers=[{"type": "CRON", "value": {"expression": expr}}]))
            self.assertEqual(r.status, 422, r)
            self.assertEqual(r.json["detail"][0]["loc"], ["body", "triggers", 0, "value"])
            self.assertIn("Invalid cron expression: croniter's random 'R' fields are not supported",
                          r.json["detail"][0]["msg"])
        r = self.api.put_graph("g", two_node_graph(triggers=[{"type": "CRON", "value": {"expression": "61 * * * *"}}]))
        self.assertEqual((r.status, r.json["detail"][0]["msg"]), (422, "Value error, Invalid cron expression"), r)
        # secret values and node input templates are C strings inside exo: a NUL is refused, not cut
        body = two_node_graph(secrets={"token": "a\u0000b"})
        body["nodes"][1]["inputs"]["y"] = "x\u0000${{ a.outputs.y }}"
        r = self.api.put_graph("g", body)
        self.assertEqual(r.status, 422, r)
        self.assertEqual([e["loc"] for e in r.json["detail"]],
                         [["body", "secrets", "token"], ["body", "nodes", 1, "inputs", "y"]])
        self.assertEqual(self.api.get_graph("g").status, 404)
        # documented cap: at most 10000 nodes (validation holds node_count^2 bytes)
        nodes = [{"node_name": "A", "namespace": NS, "identifier": f"n{i}", "inputs": {},
                  "next_nodes": [f"n{i + 1}"] if i < 10000 else []} for i in range(10001)]
        r = self.api.put_graph("g", {"secrets": {}, "nodes": nodes})
        self.assertEqual((r.status, r.json["detail"][0]["loc"]), (422, ["body", "nodes"]), r)
        self.assertIn("at most 10000 nodes", r.json["detail"][0]["msg"])
        # enum values and cron expressions with a NUL match nothing (strcmp would stop at the NUL)
        body = two_node_graph(retry_policy={"strategy": "EXPONENTIAL\u0000x"},
                              triggers=[{"type": "CRON\u0000", "value": {"expression": "* * * * *\u0000junk"}}])
        body["nodes"][1]["unites"] = {"identifier": "a", "strategy": "ALL_DONE\u0000"}
        r = self.api.put_graph("g", body)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(sorted((tuple(e["loc"]), e["type"]) for e in r.json["detail"]),
                         sorted([(("body", "nodes", 1, "unites", "strategy"), "enum"),
                                 (("body", "retry_policy", "strategy"), "enum"),
                                 (("body", "triggers", 0, "type"), "enum"),
                                 (("body", "triggers", 0, "value"), "value_error")]), r)
        self.assertEqual(self.api.get_graph("g").status, 404)

    def test_secrets_endpoint(self):
        self.ready_graph()
        run = self.api.trigger("g", store={"x": "1"}).json["run_id"]
        self.assertTrue(run)
        st = self.claim_one("A")
        r = self.api.request("GET", self.api.ns_path(f"/state/{st['state_id']}/secrets"))
        self.assertEqual((r.status, r.json), (200, {"secrets": {"token": "s3cr3t"}}))
        r = self.api.request("GET", self.api.ns_path(f"/state/{st['state_id']}/secrets", "otherns"))
        self.assertEqual(r.status, 404)
        r = self.api.request("GET", self.api.ns_path("/state/xyz/secrets"))
        self.assertEqual(r.status, 404)

    # ---- trigger --------------------------------------------------------------------------
    def test_trigger_errors(self):
        r = self.api.trigger("nope")
        self.assertEqual((r.status, r.json["detail"]),
                         (404, f"Graph template not found for namespace {NS} and graph nope"))
        self.ready_graph()
        r = self.api.trigger("g")  # placeholders are resolved before the required-keys check
        self.assertEqual((r.status, r.json["detail"]),
                         (400, "Invalid input: 400: Dependent x not found in store for root node a"))
        body = two_node_graph(store_config={"required_keys": ["x", "k"], "default_values": {"x": "d"}})
        self.assertEqual(self.api.put_graph("g2", body).status, 201)
        self.assertEqual(self.api.wait_validated("g2")["validation_status"], "VALID")
        r = self.api.trigger("g2")  # x has a default (exo §0), k has not
        self.assertEqual((r.status, r.json["detail"]), (400, "Missing store keys: {'k'}"))
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"start_delay": -1})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["type"], "greater_than_equal")
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"store": {"x": 1}})
        self.assertEqual(r.status, 422)
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"))
        self.assertEqual(r.status, 422)
        self.assertEqual(self.api.runs().json["total"], 0)

    def test_trigger_root_placeholders(self):
        self.api.register([node_def("A", ["x", "y"], [])])
        body = {"secrets": {}, "nodes": [{"node_name": "A", "namespace": NS, "identifier": "a",
                                          "inputs": {"x": "pre-${{ store.k }}", "y": "${{ store.d }}"}}],
                "store_config": {"required_keys": ["k"], "default_values": {"d": "dflt"}}}
        self.assertEqual(self.api.put_graph("g", body).status, 201)
        self.assertEqual(self.api.wait_validated("g")["validation_status"], "VALID")
        r = self.api.trigger("g", store={"k": "v"}, inputs={"y": "override", "ignored": "z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "CREATED")
        st = self.claim_one("A")
        self.assertEqual(st["inputs"], {"x": "pre-v", "y": "override"})
        r = self.api.trigger("g", store={"k": "v"}, inputs={"y": "${{ other.outputs.f }}"})
        self.assertEqual(r.status, 400)
        self.assertIn("Root node can have only store identifier as dependent but got other", r.json["detail"])
        self.assertTrue(r.json["detail"].startswith("Invalid input: "))

    def test_trigger_pending_graph_is_not_valid(self):
        self.api.register([node_def("A", ["x"], ["y"], ["token"]), node_def("B", ["y"], [])])
        # a graph that never validates: node C not registered
        body = two_node_graph()
        body["nodes"][1]["node_name"] = "C"
        self.api.put_graph("g", body)
        self.api.wait_validated("g")
        r = self.api.trigger("g", store={"x": "1"})
        self.assertEqual((r.status, r.json), (400, {"detail": "Graph template is not valid"}))

    # ---- enqueue / executed / errored / prune / re-enqueue / manual retry -------------------
    def test_enqueue_validation_and_empty(self):
        r = self.api.request("POST", self.api.ns_path("/states/enqueue"), {"nodes": "A"})
        self.assertEqual(r.status, 422)
        locs = [e["loc"] for e in r.json["detail"]]
        self.assertIn(["body", "batch_size"], locs)
        r = self.api.enqueue(["A"], 0)
        self.assertEqual(r.json, {"count": 0, "namespace": NS, "status": "QUEUED", "states": []})
        r = self.api.enqueue([], 5)
        self.assertEqual(r.json["count"], 0)

    def test_executed_paths(self):
        self.ready_graph()
        run = self.api.trigger("g", store={"x": "1"}).json["run_id"]
        st = self.claim_one("A")
        sid = st["state_id"]
        self.assertEqual(st["inputs"], {"x": "1"})
        self.assertEqual(self.api.executed("0" * 24, []).status, 404)
        self.assertEqual(self.api.executed("zz", []).status, 404)
        self.assertEqual(self.api.executed(sid, [], ns="other").status, 404)
        # outputs must be objects of strings; the state stays QUEUED
        r = self.api.executed(sid, [{"y": 1}])
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["loc"], ["body", "outputs", 0, "y"])
        r = self.api.executed(sid, [{"y": "v"}, {"a.b": 1, "7": None}])  # keys stay whole in loc
        self.assertEqual([e["loc"] for e in r.json["detail"]],
                         [["body", "outputs", 1, "a.b"], ["body", "outputs", 1, "7"]])
        r = self.api.executed(sid, ["x"])
        self.assertEqual(r.status, 422)
        self.assertEqual(self.api.node_details("g", run, sid).json["status"], "QUEUED")
        r = self.api.executed(sid, [{"y": "v"}])
        self.assertEqual((r.status, r.json), (200, {"status": "EXECUTED"}))
        r = self.api.executed(sid, [{"y": "v"}])
        self.assertEqual((r.status, r.json), (400, {"detail": "State is not queued"}))
        det = self.api.node_details("g", run, sid).json
        self.assertEqual(det["status"], "SUCCESS")
        self.assertEqual(det["outputs"], {"y": "v"})
        b = self.claim_one("B")
        self.assertEqual(b["inputs"], {"y": "v"})
        det = self.api.node_details("g", run, b["state_id"]).json
        self.assertEqual(det["parents"], {"a": sid})
        r = self.api.errored(sid, "boom")
        self.assertEqual((r.status, r.json), (400, {"detail": "State is not queued or executed"}))

    def test_errored_retry_policy(self):
        body = two_node_graph(retry_policy={"max_retries": 1, "strategy": "FIXED", "backoff_factor": 1})
        self.ready_graph(body=body)
        run = self.api.trigger("g", store={"x": "1"}).json["run_id"]
        st = self.claim_one("A")
        r = self.api.errored(st["state_id"], "first")
        self.assertEqual(r.json, {"status": "ERRORED", "retry_created": True})
        self.assertEqual(self.api.node_details("g", run, st["state_id"]).json["status"], "RETRY_CREATED")
        retry = wait_until(lambda: (self.api.enqueue(["A"], 1).json["states"] or [None])[0], what="retry")
        self.assertEqual(retry["inputs"], {"x": "1"})
        r = self.api.errored(retry["state_id"], "second")
        self.assertEqual(r.json, {"status": "ERRORED", "retry_created": False})
        det = self.api.node_details("g", run, retry["state_id"]).json
        self.assertEqual((det["status"], det["error"]), ("ERRORED", "second"))
        run_info = self.api.run_status(run)
        self.assertEqual((run_info["status"], run_info["errored_count"], run_info["retried_count"]),
                         ("FAILED", 1, 1))
        # manual retry: only ERRORED / NEXT_CREATED_ERROR; replay -> 400; other state id -> 404
        mr = lambda sid, f: self.api.request("POST", self.api.ns_path(f"/state/{sid}/manual-retry"), {"fanout_id": f})
        r = mr(retry["state_id"], "f1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "CREATED")
        self.assertEqual(len(r.json["id"]), 24)
        self.assertEqual(mr(retry["state_id"], "f1").status, 400)
        self.assertEqual(mr("0" * 24, "f1").status, 404)
        manual = self.claim_one("A")
        self.assertEqual(manual["state_id"], r.json["id"])
        self.api.executed(manual["state_id"], [{"y": "ok"}])
        b = self.claim_one("B")
        self.api.executed(b["state_id"], [])
        info = self.api.wait_run_finished(run)  # the ERRORED state became RETRY_CREATED
        self.assertEqual((info["status"], info["errored_count"], info["retried_count"]), ("SUCCESS", 0, 2))

    def test_errored_without_graph_is_404(self):
        self.ready_graph()
        self.api.trigger("g", store={"x": "1"})
        st = self.claim_one("A")
        r = self.api.request("POST", self.api.ns_path(f"/state/{st['state_id']}/errored"), {"error": 5})
        self.assertEqual(r.status, 422)

    def test_prune_and_reenqueue(self):
        self.ready_graph()
        run = self.api.trigger("g", store={"x": "1"}).json["run_id"]
        st = self.claim_one("A")
        sid = st["state_id"]
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/re-enqueue-after"), {"enqueue_after": 0})
        self.assertEqual(r.status, 422)
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/re-enqueue-after"), {"enqueue_after": 1})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "CREATED")
        self.assertGreater(r.json["enqueue_after"], 1e12)
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/re-enqueue-after"), {"enqueue_after": 1})
        self.assertEqual((r.status, r.json), (400, {"detail": "State is not queued"}))
        st = wait_until(lambda: (self.api.enqueue(["A"], 1).json["states"] or [None])[0], what="re-enqueued")
        self.assertEqual(st["state_id"], sid)
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/prune"), {"data": {"why": "x"}})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "PRUNED")
        r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/prune"), {"data": {}})
        self.assertEqual((r.status, r.json), (400, {"detail": "State is not queued"}))
        info = self.api.run_status(run)
        self.assertEqual((info["status"], info["success_count"]), ("SUCCESS", 1))

    # ---- runs / run graph / node details ---------------------------------------------------
    def test_runs_paging(self):
        self.ready_graph()
        runs = [self.api.trigger("g", store={"x": str(i)}).json["run_id"] for i in range(5)]
        r = self.api.runs(1, 2)
        self.assertEqual((r.json["total"], r.json["page"], r.json["size"]), (5, 1, 2))
        self.assertEqual(len(r.json["runs"]), 2)
        seen = [x["run_id"] for p in (1, 2, 3) for x in self.api.runs(p, 2).json["runs"]]
        self.assertEqual(sorted(seen), sorted(runs))
        first = self.api.runs(1, 1).json["runs"][0]
        self.assertEqual((first["pending_count"], first["total_count"], first["status"]), (1, 1, "PENDING"))
        for page, size in ((0, 1), (1, 0), ("x", 1)):
            self.assertEqual(self.api.runs(page, size).status, 422, (page, size))
        self.assertEqual(self.api.runs(1, 100000).json["size"], 1000)

    def test_run_graph_and_node_details(self):
        self.ready_graph()
        run = self.api.trigger("g", store={"x": "1"}).json["run_id"]
        a = self.claim_one("A")
        self.api.executed(a["state_id"], [{"y": "1"}, {"y": "2"}])
        g = self.api.run_graph(run).json
        self.assertEqual(g["graph_name"], "g")
        self.assertEqual(g["node_count"], 4)
        self.assertEqual(g["edge_count"], 2)
        self.assertEqual(len(g["root_states"]), 2)
        self.assertEqual(g["execution_summary"]["SUCCESS"], 2)
        self.assertEqual(g["execution_summary"]["CREATED"], 2)
        self.assertEqual(list(g["execution_summary"]), ["CREATED", "QUEUED", "EXECUTED", "ERRORED",
                                                        "NEXT_CREATED_ERROR", "SUCCESS", "PRUNED", "RETRY_CREATED"])
        empty = self.api.run_graph("no-such-run").json
        self.assertEqual((empty["node_count"], empty["graph_name"]), (0, ""))
        r = self.api.node_details("g", run, "bad-id")
        self.assertEqual((r.status, r.json["detail"]), (404, f"Node bad-id not found in run {run} for graph g"))
        r = self.api.node_details("other", run, a["state_id"])
        self.assertEqual(r.status, 404)
        d = self.api.node_details("g", run, a["state_id"]).json
        for key in ("id", "node_name", "identifier", "graph_name", "run_id", "status", "inputs", "outputs",
                    "error", "parents", "created_at", "updated_at"):
            self.assertIn(key, d)

    def test_lease_keepalive_endpoint(self):
        self.ready_graph()
        self.api.trigger("g", store={"x": "1"})
        st = self.claim_one("A")
        r = self.api.request("POST", self.api.ns_path("/states/lease"),
                             {"state_ids": [st["state_id"], "0" * 24, "bad"], "lease_ms": 60000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"renewed": [st["state_id"]], "lost": ["0" * 24, "bad"]})
        r = self.api.request("POST", self.api.ns_path("/states/lease", "otherns"), {"state_ids": [st["state_id"]]})
        self.assertEqual(r.json, {"renewed": [], "lost": [st["state_id"]]})
        r = self.api.request("POST", self.api.ns_path("/states/lease"), {"lease_ms": 5})
        self.assertEqual(r.status, 422)


if __name__ == "__main__":
    main()
