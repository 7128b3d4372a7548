"""Conformance of the state manager with state-manager-api.md §1 (protocol conventions),
§3.1, §3.5, §3.6 and §3.18: black-box over HTTP, one server for the class."""
import datetime
import http.client
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import HEX24, TIMESTAMP, ConformanceCase, node_def  # noqa: E402
from harness import API_KEY, main  # noqa: E402


class ProtocolConformance(ConformanceCase):
    def raw(self, method, path, body=None, headers=None):
        """A request with exactly the given headers (no automatic key or content type)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.sm.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            try:
                parsed = json.loads(data) if data else None
            except ValueError:  # CORS pre-flight answers are plain text
                parsed = data.decode("utf-8", "replace")
            return r.status, parsed, r
        finally:
            conn.close()

    # ---- §3.1 health, §1.3 auth, §1.4 order ------------------------------------------
    def test_health(self):
        status, body, resp = self.raw("GET", "/health")
        self.assertEqual((status, body), (200, {"message": "OK"}))
        self.assertTrue(resp.getheader("x-exosphere-request-id"))

    def test_401_body_and_header_name_case_insensitive(self):
        path = self.api.ns_path("/nodes/")
        for hdrs in ({}, {"x-api-key": "nope"}, {"x-api-key": API_KEY + "x"}, {"x-api-key": ""}):
            status, body, _ = self.raw("GET", path, headers=hdrs)
            self.assertEqual((status, body), (401, {"detail": "Invalid API key"}), hdrs)
        status, body, _ = self.raw("GET", path, headers={"X-API-KEY": API_KEY})
        self.assertEqual(status, 200, body)
        # exo §0: optional whitespace around the value is not part of the key
        status, body, _ = self.raw("GET", path, headers={"x-api-key": API_KEY + " \t"})
        self.assertEqual(status, 200, body)

    def test_every_authenticated_endpoint_requires_the_key(self):
        ns = self.api.ns_path("")
        sid = "0123456789abcdef01234567"
        for method, path in (("PUT", ns + "/graph/g"), ("GET", ns + "/graph/g"),
                             ("POST", ns + "/graph/g/trigger"), ("PUT", ns + "/nodes/"),
                             ("GET", ns + "/nodes/"), ("POST", ns + "/states/enqueue"),
                             ("POST", ns + f"/state/{sid}/executed"), ("POST", ns + f"/state/{sid}/errored"),
                             ("POST", ns + f"/state/{sid}/prune"), ("POST", ns + f"/state/{sid}/re-enqueue-after"),
                             ("POST", ns + f"/state/{sid}/manual-retry"), ("GET", ns + f"/state/{sid}/secrets"),
                             ("GET", ns + "/graphs/"), ("GET", ns + "/runs/1/10"),
                             ("GET", ns + "/states/run/r/graph"), ("GET", ns + f"/graph/g/run/r/node/{sid}"),
                             ("GET", "/v0/namespaces")):
            status, body, _ = self.raw(method, path, body=b"{}" if method != "GET" else None,
                                       headers={"Content-Type": "application/json"})
            self.assertEqual((status, body), (401, {"detail": "Invalid API key"}), (method, path))

    def test_auth_before_json_invalid(self):
        # exo §0: the key is checked from the headers before any body byte is read
        status, body, _ = self.raw("PUT", self.api.ns_path("/nodes/"), body=b'{"a": ',
                                   headers={"Content-Type": "application/json"})
        self.assertEqual((status, body), (401, {"detail": "Invalid API key"}))
        status, body, resp = self.raw("PUT", self.api.ns_path("/nodes/"), body=b'{"a": ',
                                      headers={"Content-Type": "application/json", "x-api-key": API_KEY})
        self.assertEqual(status, 422, body)
        item = body["detail"][0]
        self.assertEqual(item["type"], "json_invalid")
        self.assertEqual(item["loc"][0], "body")
        self.assertIsInstance(item["loc"][1], int)
        self.assertEqual(item["msg"], "JSON decode error")
        self.assertEqual(item["input"], {})
        self.assertIn("error", item["ctx"])
        self.assertTrue(resp.getheader("x-exosphere-request-id"))

    def test_json_invalid_offset_is_char_position(self):
        status, body, _ = self.raw("POST", self.api.ns_path("/states/enqueue"), body=b'{"nodes": [1,}',
                                   headers={"Content-Type": "application/json", "x-api-key": API_KEY})
        self.assertEqual(status, 422, body)
        self.assertEqual(body["detail"][0]["type"], "json_invalid")
        self.assertEqual(body["detail"][0]["loc"], ["body", 13])

    def test_invalid_utf8_json_body_is_400(self):
        status, body, _ = self.raw("PUT", self.api.ns_path("/nodes/"), body=b'{"a": "\xff\xfe"}',
                                   headers={"Content-Type": "application/json", "x-api-key": API_KEY})
        self.assertEqual((status, body), (400, {"detail": "There was an error parsing the body"}))

    def test_validation_comes_after_auth(self):
        status, body, _ = self.raw("PUT", self.api.ns_path("/nodes/"), body=b'{}',
                                   headers={"Content-Type": "application/json"})
        self.assertEqual((status, body), (401, {"detail": "Invalid API key"}))

    # ---- §1.5 validation errors ------------------------------------------------------
    def test_missing_fields_reported_together_with_input(self):
        r = self.api.request("PUT", self.api.ns_path("/graph/g"), {"secrets": {}})
        self.assert422(r, ("missing", ["body", "nodes"], "Field required"))
        item = [d for d in r.json["detail"] if d["loc"] == ["body", "nodes"]][0]
        self.assertEqual(item["input"], {"secrets": {}})
        r = self.api.request("PUT", self.api.ns_path("/graph/g"), {})
        self.assert422(r, ("missing", ["body", "secrets"]), ("missing", ["body", "nodes"]))

    def test_absent_body(self):
        for method, path in (("PUT", "/nodes/"), ("PUT", "/graph/g"), ("POST", "/graph/g/trigger"),
                             ("POST", "/states/enqueue")):
            r = self.api.request(method, self.api.ns_path(path))
            self.assert422(r, ("missing", ["body"], "Field required"))
            self.assertIsNone([d for d in r.json["detail"] if d["loc"] == ["body"]][0]["input"])

    def test_valid_json_scalars_are_not_json_invalid(self):
        # §1.4/§1.5: a JSON null body is a missing body; other non-objects fail model validation.
        r = self.api.request("POST", self.api.ns_path("/states/enqueue"), raw="null")
        self.assert422(r, ("missing", ["body"], "Field required"))
        for raw, value in (("5", 5), ("true", True), ('"x"', "x"), ("[]", []), (" 5 ", 5)):
            r = self.api.request("POST", self.api.ns_path("/states/enqueue"), raw=raw)
            self.assert422(r, ("model_attributes_type", ["body"]))
            self.assertEqual(r.json["detail"][0]["input"], value, raw)

    def test_utf8_bom_body_is_accepted(self):
        # the reference decodes JSON bytes with Python's json.loads, which detects and skips a UTF-8 BOM
        r = self.api.request("POST", self.api.ns_path("/states/enqueue"),
                             raw=b'\xef\xbb\xbf{"nodes": ["A"], "batch_size": 1}')
        self.assertEqual(r.status, 200, r)

    def test_json_invalid_offsets(self):
        for raw, offset in ((" ", 1), ("{} x", 3), ('{"a":1,}', 7), ('{"a" 1}', 5)):
            r = self.api.request("POST", self.api.ns_path("/states/enqueue"), raw=raw)
            self.assert422(r, ("json_invalid", ["body", offset]))

    def test_constraint_ctx(self):
        r = self.api.put_graph("g", {"secrets": {}, "nodes": [self.node("A", "a")],
                                     "retry_policy": {"max_retries": -1, "backoff_factor": 0}})
        self.assert422(r, ("greater_than_equal", ["body", "retry_policy", "max_retries"]),
                       ("greater_than", ["body", "retry_policy", "backoff_factor"]))
        by_type = {d["type"]: d for d in r.json["detail"]}
        ge = by_type["greater_than_equal"]
        self.assertEqual((ge["ctx"], ge["input"]), ({"ge": 0}, -1))
        self.assertEqual((by_type["greater_than"]["ctx"], by_type["greater_than"]["input"]), ({"gt": 0}, 0))
        r = self.api.put_graph("g", {"secrets": {}, "nodes": [dict(self.node("A", "a"), identifier="store")]})
        item = r.json["detail"][0]
        self.assertEqual((item["type"], item["ctx"]), ("value_error", {"error": {}}), r)
        self.assertTrue(item["msg"].startswith("Value error, "), item)

    def test_non_json_content_type_fails_validation(self):
        status, body, _ = self.raw("POST", self.api.ns_path("/states/enqueue"),
                                   body=b'{"nodes": [], "batch_size": 1}',
                                   headers={"Content-Type": "text/plain", "x-api-key": API_KEY})
        self.assertEqual(status, 422, body)

    def test_vendor_json_content_type_is_parsed(self):
        status, body, _ = self.raw("POST", self.api.ns_path("/states/enqueue"),
                                   body=b'{"nodes": ["X"], "batch_size": 1}',
                                   headers={"Content-Type": "application/vnd.api+json", "x-api-key": API_KEY})
        self.assertEqual(status, 200, body)
        status, body, _ = self.raw("POST", self.api.ns_path("/states/enqueue"),
                                   body=b'{"nodes": ["X"], "batch_size": 1}', headers={"x-api-key": API_KEY})
        self.assertEqual(status, 200, body)

    def test_string_fields_reject_non_strings(self):
        for bad in (5, True, None, ["x"], {"a": "b"}):
            r = self.api.register([node_def("A")], runtime_name=bad)
            self.assert422(r, ("string_type", ["body", "runtime_name"]))
        r = self.api.enqueue([1, "x"], 1)
        self.assert422(r, ("string_type", ["body", "nodes", 0]))

    def test_lax_integers(self):
        for good in (5, 5.0, "5"):
            r = self.api.enqueue(["X"], good)
            self.assertEqual(r.status, 200, (good, r))
        for bad, typ in (("five", "int_parsing"), (5.5, "int_from_float"), ("5.5", "int_parsing"),
                         (None, "int_type"), ([5], "int_type")):
            r = self.api.enqueue(["X"], bad)
            self.assertEqual(r.status, 422, (bad, r))
            self.assertEqual(r.json["detail"][0]["loc"], ["body", "batch_size"], r)
        r = self.api.enqueue(["X"], True)  # bools are lax ints in the reference too
        self.assertIn(r.status, (200, 422))

    def test_lax_integer_strings_with_zero_fraction(self):
        # §1.1: "5" and 5.0 are ints, so is the numeric string "5.0" (pydantic strips a zero fraction)
        for good in ("5.0", "5.00", "5."):
            r = self.api.enqueue(["X"], good)
            self.assertEqual(r.status, 200, (good, r))
        r = self.api.runs("1.0", "5")
        self.assertEqual(r.status, 200, r)

    def test_list_and_dict_types(self):
        r = self.api.enqueue("X", 1)
        self.assert422(r, ("list_type", ["body", "nodes"]))
        r = self.api.request("PUT", self.api.ns_path("/graph/g"), {"secrets": [], "nodes": []})
        self.assert422(r, ("dict_type", ["body", "secrets"]))

    def test_enum_fields_exact_upper_case(self):
        base = {"secrets": {}, "nodes": [self.node("A", "a")]}
        for bad in ("linear", "Linear", "NOPE", 1):
            r = self.api.put_graph("g", dict(base, retry_policy={"strategy": bad}))
            self.assert422(r, ("enum", ["body", "retry_policy", "strategy"]))
        r = self.api.put_graph("g", dict(base, triggers=[{"type": "cron", "value": {"expression": "* * * * *"}}]))
        self.assert422(r, ("enum", ["body", "triggers", 0, "type"]))
        n = self.node("A", "a")
        n["unites"] = {"identifier": "x", "strategy": "all_done"}
        r = self.api.put_graph("g", {"secrets": {}, "nodes": [n]})
        self.assert422(r, ("enum", ["body", "nodes", 0, "unites", "strategy"]))

    def test_extra_fields_ignored(self):
        r = self.api.enqueue(["X"], 1, whatever={"deep": [1, 2]})
        self.assertEqual(r.status, 200, r)

    # ---- §1.7 framework --------------------------------------------------------------
    def test_unknown_path_404(self):
        for path in ("/v0/nothing", "/", "/v0/namespace/x/unknown", "/v1/namespaces"):
            r = self.api.request("GET", path)
            self.assertEqual((r.status, r.json), (404, {"detail": "Not Found"}), path)

    def test_wrong_method_405_with_allow(self):
        for method, path in (("DELETE", self.api.ns_path("/graph/g")), ("POST", "/v0/namespaces"),
                             ("GET", self.api.ns_path("/states/enqueue")), ("POST", "/health")):
            r = self.api.request(method, path)
            self.assertEqual((r.status, r.json), (405, {"detail": "Method Not Allowed"}), (method, path))
            self.assertTrue(r.headers.get("Allow"), (method, path))

    def test_trailing_slash_redirects(self):
        for path, target in ((self.api.ns_path("/nodes"), self.api.ns_path("/nodes/")),
                             (self.api.ns_path("/graphs"), self.api.ns_path("/graphs/")),
                             ("/v0/namespaces/", "/v0/namespaces"),
                             (self.api.ns_path("/graph/g/"), self.api.ns_path("/graph/g"))):
            r = self.api.request("GET", path)
            self.assertEqual(r.status, 307, path)
            self.assertTrue(r.headers["Location"].endswith(target), (path, r.headers["Location"]))
        r = self.api.request("POST", self.api.ns_path("/states/enqueue/?x=1&y=2"), {"nodes": [], "batch_size": 1})
        self.assertEqual(r.status, 307)
        self.assertTrue(r.headers["Location"].endswith(self.api.ns_path("/states/enqueue?x=1&y=2")),
                        r.headers["Location"])

    # ---- §1.8 request id -------------------------------------------------------------
    def test_request_id_echo(self):
        given = str(uuid.uuid4())
        for value in (given, given.upper(), "{" + given + "}", "urn:uuid:" + given, given.replace("-", "")):
            r = self.api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": value})
            self.assertEqual(r.headers["x-exosphere-request-id"], value)
        for bad in ("not-a-uuid", "1234", given + "0"):
            r = self.api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": bad})
            got = r.headers["x-exosphere-request-id"]
            self.assertNotEqual(got, bad)
            self.assertEqual(str(uuid.UUID(got)), got)
        for status_path in (("GET", "/nope"), ("DELETE", "/v0/namespaces")):
            r = self.api.request(*status_path, headers={"x-exosphere-request-id": given})
            self.assertEqual(r.headers["x-exosphere-request-id"], given)
        api = self.sm.api(self.ns)
        api.api_key = None
        r = api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": given})
        self.assertEqual((r.status, r.headers["x-exosphere-request-id"]), (401, given))
        r = self.api.request("POST", self.api.ns_path("/states/enqueue"), {"nodes": 1},
                             headers={"x-exosphere-request-id": given})
        self.assertEqual((r.status, r.headers["x-exosphere-request-id"]), (422, given))

    def test_request_id_follows_python_uuid_parsing(self):
        # The reference keeps the header iff Python's uuid.UUID(value) accepts it: "urn:" and "uuid:"
        # are removed anywhere (case-sensitive), then braces are stripped from both ends, then hyphens.
        h = uuid.uuid4().hex
        for kept in ("uuid:" + h, "{" + h, h + "}", "{{" + h + "}}", "urn:" + h):
            r = self.api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": kept})
            self.assertEqual(r.headers["x-exosphere-request-id"], kept)
        for replaced in ("URN:UUID:" + h, "Uuid:" + h):
            r = self.api.request("GET", "/v0/namespaces", headers={"x-exosphere-request-id": replaced})
            self.assertNotEqual(r.headers["x-exosphere-request-id"], replaced)

    # ---- §1.9 CORS --------------------------------------------------------------------
    def test_cors_preflight(self):
        pre = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT",
               "Access-Control-Request-Headers": "x-api-key, content-type"}
        status, _, resp = self.raw("OPTIONS", self.api.ns_path("/graph/g"), headers=pre)
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("access-control-allow-origin"), "http://localhost:3000")
        self.assertEqual(resp.getheader("access-control-allow-credentials"), "true")
        methods = resp.getheader("access-control-allow-methods") or ""
        for m in ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            self.assertIn(m, methods)
        allowed = (resp.getheader("access-control-allow-headers") or "").lower()
        self.assertIn("x-api-key", allowed)
        status, _, resp = self.raw("OPTIONS", self.api.ns_path("/graph/g"),
                                   headers=dict(pre, Origin="http://evil.example"))
        self.assertEqual(status, 400)
        self.assertIsNone(resp.getheader("access-control-allow-origin"))

    def test_cors_simple_request_headers(self):
        status, _, resp = self.raw("GET", "/v0/namespaces",
                                   headers={"Origin": "http://127.0.0.1:3001", "x-api-key": API_KEY})
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("access-control-allow-origin"), "http://127.0.0.1:3001")
        self.assertEqual(resp.getheader("access-control-allow-credentials"), "true")
        self.assertIn("x-exosphere-request-id", (resp.getheader("access-control-expose-headers") or "").lower())
        status, _, resp = self.raw("GET", "/v0/namespaces",
                                   headers={"Origin": "http://other:3000", "x-api-key": API_KEY})
        self.assertEqual(status, 200)
        self.assertIsNone(resp.getheader("access-control-allow-origin"))

    # ---- §3.5 / §3.6 nodes -------------------------------------------------------------
    def test_register_nodes_response_and_listing(self):
        a = node_def("A", ["x"], ["y"], secrets=["s"])
        b = node_def("B", [], [])
        extra = dict(b, namespace="ignored")
        r = self.api.request("PUT", self.api.ns_path("/nodes/"),
                             {"runtime_name": "rt", "runtime_namespace": "other", "nodes": [a, extra]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"runtime_name": "rt", "registered_nodes": [a, b]})
        r = self.api.request("GET", self.api.ns_path("/nodes/"))
        self.assertEqual(r.status, 200, r)
        body = r.json
        self.assertEqual(list(body.keys()), ["namespace", "count", "nodes"])
        self.assertEqual((body["namespace"], body["count"]), (self.ns, 2))
        first = body["nodes"][0]
        self.assertEqual(list(first.keys()), ["_id", "created_at", "updated_at", "name", "namespace",
                                              "runtime_name", "runtime_namespace", "inputs_schema",
                                              "outputs_schema", "secrets"])
        self.assertRegex(first["_id"], HEX24)
        self.assertRegex(first["created_at"], TIMESTAMP)
        self.assertEqual([n["name"] for n in body["nodes"]], ["A", "B"])
        self.assertEqual((first["namespace"], first["runtime_name"], first["runtime_namespace"]),
                         (self.ns, "rt", self.ns))
        self.assertEqual((first["inputs_schema"], first["outputs_schema"], first["secrets"]),
                         (a["inputs_schema"], a["outputs_schema"], ["s"]))

    def test_reregistration_overwrites_keeps_id_and_order(self):
        self.ok(self.api.register([node_def("A", ["x"]), node_def("B")], runtime_name="r1"))
        before = self.ok(self.api.request("GET", self.api.ns_path("/nodes/")))["nodes"]
        self.ok(self.api.register([node_def("A", ["z"], secrets=["k"])], runtime_name="r2"))
        after = self.ok(self.api.request("GET", self.api.ns_path("/nodes/")))["nodes"]
        self.assertEqual([n["name"] for n in after], ["A", "B"])
        self.assertEqual(after[0]["_id"], before[0]["_id"])
        self.assertEqual(after[0]["created_at"], before[0]["created_at"])
        self.assertEqual(after[0]["runtime_name"], "r2")
        self.assertEqual(after[0]["secrets"], ["k"])
        self.assertIn("z", after[0]["inputs_schema"]["properties"])

    def test_list_nodes_unknown_namespace_is_empty(self):
        r = self.api.request("GET", "/v0/namespace/never-used-ns/nodes/")
        self.assertEqual((r.status, r.json), (200, {"namespace": "never-used-ns", "count": 0, "nodes": []}))

    def test_register_duplicate_names_in_one_request(self):
        r = self.api.register([node_def("A", ["x"]), node_def("A", ["y"])])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["registered_nodes"]), 2)
        nodes = self.ok(self.api.request("GET", self.api.ns_path("/nodes/")))["nodes"]
        self.assertEqual(len(nodes), 1)
        self.assertIn("y", nodes[0]["inputs_schema"]["properties"])

    def test_nested_model_type_errors(self):
        r = self.api.request("PUT", self.api.ns_path("/graph/g"), {"secrets": {}, "nodes": ["x"]})
        # nested models: pydantic's model_type ("valid dictionary or instance of <Model>")
        self.assert422(r, ("model_type", ["body", "nodes", 0], "Input should be a valid dictionary or instance of"))
        r = self.api.register(["x"])
        self.assert422(r, ("model_type", ["body", "nodes", 0]))

    def test_big_integers_are_never_silently_changed(self):
        # schemas are stored verbatim (§3.5/§3.6); the reference round-trips any JSON integer.
        # exo may refuse integers it cannot represent (422), but must not store a different value.
        for value in (10 ** 20, -2 ** 63 - 1, 2 ** 64):
            node = node_def("Big")
            node["inputs_schema"]["properties"] = {"x": {"type": "string", "maxLength": value}}
            r = self.api.register([node])
            if r.status == 422:
                continue
            self.assertEqual(r.status, 200, r)
            listed = self.ok(self.api.request("GET", self.api.ns_path("/nodes/")))["nodes"][0]
            self.assertEqual(listed["inputs_schema"]["properties"]["x"]["maxLength"], value)

    def test_strings_with_nul_are_never_truncated(self):
        # "A\u0000B" and "A\u0000C" are different names; exo may refuse NUL (422) but must not
        # store a truncated name (two nodes would collapse into one "A").
        r = self.api.register([node_def("A\u0000B"), node_def("A\u0000C")], runtime_name="r\u0000t")
        if r.status == 422:
            return
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["runtime_name"], "r\u0000t")
        listed = self.ok(self.api.request("GET", self.api.ns_path("/nodes/")))["nodes"]
        self.assertEqual(sorted(n["name"] for n in listed), ["A\u0000B", "A\u0000C"])

    def test_register_validation(self):
        r = self.api.request("PUT", self.api.ns_path("/nodes/"), {"nodes": [{"name": "A"}]})
        self.assert422(r, ("missing", ["body", "runtime_name"]),
                       ("missing", ["body", "nodes", 0, "inputs_schema"]),
                       ("missing", ["body", "nodes", 0, "outputs_schema"]),
                       ("missing", ["body", "nodes", 0, "secrets"]))
        bad = node_def("A")
        bad["inputs_schema"] = "x"
        bad["secrets"] = [1]
        r = self.api.register([bad])
        self.assert422(r, ("dict_type", ["body", "nodes", 0, "inputs_schema"]),
                       ("string_type", ["body", "nodes", 0, "secrets", 0]))

    # ---- §3.18 namespaces --------------------------------------------------------------
    def test_namespaces_sorted_binary_distinct(self):
        for ns in ("zz-conf", "Ab-conf", "ab-conf", "_x-conf"):
            self.ok(self.api.register([node_def("N")], ns=ns))
        self.ok(self.api.register([node_def("M")], ns="ab-conf"))
        self.ok(self.api.put_graph("gonly", {"secrets": {}, "nodes": [self.node("Q", "q")]}, ns="graph-only-ns"), 201)
        r = self.api.request("GET", "/v0/namespaces")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["namespaces", "count"])
        names = r.json["namespaces"]
        self.assertEqual(names, sorted(set(names), key=lambda s: s.encode()))
        self.assertEqual(r.json["count"], len(names))
        for ns in ("zz-conf", "Ab-conf", "ab-conf", "_x-conf"):
            self.assertIn(ns, names)
        self.assertNotIn("graph-only-ns", names)

    # ---- §1.1 encoding ---------------------------------------------------------------
    def test_compact_json_and_literal_unicode(self):
        self.ok(self.api.register([node_def("Ünï")], runtime_name="rüntime"))
        r = self.api.request("GET", self.api.ns_path("/nodes/"))
        self.assertEqual(r.status, 200)
        self.assertIn("application/json", r.headers["content-type"])
        self.assertIn('"runtime_name":"rüntime"', r.text)
        self.assertIn('"name":"Ünï"', r.text)
        self.assertNotIn('", "', r.text)


class CorsOriginsConformance(ConformanceCase):
    """§1.9 with CORS_ORIGINS set: entries trimmed, empty entries dropped, defaults replaced."""

    server_env = {"CORS_ORIGINS": " http://a.example , ,http://b.example:8080"}

    def preflight(self, origin):
        conn = http.client.HTTPConnection("127.0.0.1", self.sm.port, timeout=30)
        try:
            conn.request("OPTIONS", "/v0/namespaces", headers={"Origin": origin,
                                                                "Access-Control-Request-Method": "GET"})
            r = conn.getresponse()
            r.read()
            return r.status, r.getheader("access-control-allow-origin")
        finally:
            conn.close()

    def test_configured_origins(self):
        self.assertEqual(self.preflight("http://a.example"), (200, "http://a.example"))
        self.assertEqual(self.preflight("http://b.example:8080"), (200, "http://b.example:8080"))
        self.assertEqual(self.preflight("http://localhost:3000")[0], 400)
        self.assertEqual(self.preflight("")[0], 400)


class UtcTimestampsConformance(ConformanceCase):
    """exo §0 / §1.2: timestamps are UTC whatever the server's local time zone is."""

    server_env = {"TZ": "Asia/Kolkata"}

    def test_timestamps_are_utc(self):
        self.ok(self.api.register([node_def("A")]))
        r = self.ok(self.api.put_graph("g", {"secrets": {}, "nodes": [self.node("A", "a")]}), 201)
        self.api.wait_validated("g")
        self.ok(self.api.trigger("g"))
        stamps = [r["created_at"], self.api.request("GET", self.api.ns_path("/nodes/")).json["nodes"][0]["created_at"],
                  self.api.runs().json["runs"][0]["created_at"], self.claim("A")[0]["created_at"]]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        for stamp in stamps:
            self.assertRegex(stamp, TIMESTAMP)
            value = datetime.datetime.fromisoformat(stamp)
            self.assertLess(abs((now - value).total_seconds()), 600, (stamp, now))


if __name__ == "__main__":
    main()
