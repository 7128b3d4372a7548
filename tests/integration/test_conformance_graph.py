"""Conformance of graph templates with state-manager-api.md §0, §2.3, §3.2–§3.4, §3.14,
§4 (template parsing as seen through upsert/trigger), §5.1, §5.2 and §12."""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import HEX24, TIMESTAMP, UUID4, ConformanceCase, node_def, wait_until  # noqa: E402
from harness import main  # noqa: E402

PREFIX = "Error validating graph template: "
DEFAULT_RETRY = {"max_retries": 3, "strategy": "EXPONENTIAL", "backoff_factor": 2000, "exponent": 2,
                 "max_delay": None}
GRAPH_KEYS = ["nodes", "secrets", "retry_policy", "store_config", "triggers", "created_at", "updated_at",
              "validation_status", "validation_errors"]


class GraphConformance(ConformanceCase):
    def put(self, nodes, name="g", **extra):
        body = {"secrets": {}, "nodes": nodes}
        body.update(extra)
        return self.api.put_graph(name, body)

    def assert400(self, r, *messages):
        self.assertDetailContains(r, 400, *messages)
        self.assertTrue(r.json["detail"].startswith(PREFIX), r)

    def verified(self, nodes, name="g", **extra):
        r = self.put(nodes, name, **extra)
        self.assertEqual(r.status, 201, r)
        return self.api.wait_validated(name)

    # ---- §3.2 / §3.3 -------------------------------------------------------------------
    def test_put_response_shape(self):
        a = self.node("A", " a ", {"x": "${{ store.k }}"}, ["b"])
        b = self.node("B", "b", {"y": "${{ a.outputs.y }}"})
        b["next_nodes"] = None
        r = self.put([a, b], secrets={"tok": "plain", "other": ""},
                     retry_policy={"max_retries": 2, "strategy": "LINEAR", "backoff_factor": 1000},
                     store_config={"required_keys": [" k "], "default_values": {"d": "1"}},
                     triggers=[{"type": "CRON", "value": {"expression": "0 * * * *", "extra": 1}}])
        self.assertEqual(r.status, 201, r)
        body = r.json
        self.assertEqual(list(body.keys()), GRAPH_KEYS)
        self.assertEqual(body["nodes"][0], {"node_name": "A", "namespace": self.ns, "identifier": "a",
                                            "inputs": {"x": "${{ store.k }}"}, "next_nodes": ["b"],
                                            "unites": None})
        self.assertEqual(body["nodes"][1]["next_nodes"], [])
        self.assertEqual(body["secrets"], {"tok": True, "other": True})
        self.assertEqual(body["retry_policy"], {"max_retries": 2, "strategy": "LINEAR", "backoff_factor": 1000,
                                                "exponent": 2, "max_delay": None})
        self.assertEqual(body["store_config"], {"required_keys": ["k"], "default_values": {"d": "1"}})
        self.assertEqual(body["triggers"], [{"type": "CRON", "value": {"expression": "0 * * * *", "extra": 1}}])
        self.assertEqual((body["validation_status"], body["validation_errors"]), ("PENDING", []))
        self.assertRegex(body["created_at"], TIMESTAMP)
        self.assertRegex(body["updated_at"], TIMESTAMP)

    def test_get_returns_stored_policy_config_triggers(self):
        self.ok(self.api.register([node_def("A", ["x"])]))
        rp = {"max_retries": 1, "strategy": "FIXED_EQUAL_JITTER", "backoff_factor": 10, "exponent": 3,
              "max_delay": 500}
        sc = {"required_keys": [], "default_values": {"x": "v"}}
        trig = [{"type": "CRON", "value": {"expression": "*/5 * * * *"}}]
        g = self.verified([self.node("A", "a", {"x": "${{ store.x }}"})], retry_policy=rp, store_config=sc,
                          triggers=trig, secrets={"s": "v"})
        self.assertEqual(g["validation_status"], "VALID", g)
        self.assertEqual(list(g.keys()), GRAPH_KEYS)
        self.assertEqual((g["retry_policy"], g["store_config"], g["triggers"]), (rp, sc, trig))
        self.assertEqual(g["secrets"], {"s": True})
        self.assertEqual(g["validation_errors"], [])

    def test_sdk_shaped_upsert_body(self):
        # what the reference Python SDK sends: model_dump() of its models (explicit nulls, all fields)
        self.ok(self.api.register([node_def("A", ["x"], ["o"]), node_def("B", ["y"])]))
        body = {"secrets": {"k": "v"},
                "nodes": [{"node_name": "A", "namespace": self.ns, "identifier": "a", "inputs": {"x": "${{ store.s }}"},
                           "next_nodes": ["b"], "unites": None},
                          {"node_name": "B", "namespace": self.ns, "identifier": "b",
                           "inputs": {"y": "${{ a.outputs.o }}"}, "next_nodes": None, "unites": None}],
                "retry_policy": {"max_retries": 3, "strategy": "EXPONENTIAL", "backoff_factor": 2000, "exponent": 2,
                                 "max_delay": None},
                "store_config": {"required_keys": ["s"], "default_values": {"s": "d"}},
                "triggers": [{"type": "CRON", "value": {"expression": "0 0 * * *"}}]}
        r = self.api.put_graph("g", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["validation_status"], "PENDING")
        g = self.api.wait_validated("g")
        self.assertEqual(g["validation_status"], "VALID", g)
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"),
                             {"start_delay": 0, "inputs": {}, "store": {"s": "1"}})
        self.assertEqual(r.status, 200, r)

    def test_get_unknown_graph_404(self):
        r = self.api.get_graph("nope")
        self.assertDetail(r, 404, f"Graph template nope not found in namespace {self.ns}")

    def test_update_returns_201_keeps_created_at_replaces_all(self):
        self.ok(self.api.register([node_def("A")]))
        first = self.ok(self.put([self.node("A", "a")], secrets={"s1": "x"},
                                 retry_policy={"max_retries": 7}), 201)
        self.api.wait_validated("g")
        second = self.ok(self.put([self.node("A", "a2")], secrets={"s2": "y"}), 201)
        self.assertEqual((second["validation_status"], second["validation_errors"]), ("PENDING", []))
        g = self.api.wait_validated("g")
        self.assertEqual(g["created_at"], first["created_at"])
        self.assertEqual(g["secrets"], {"s2": True})
        self.assertEqual(g["retry_policy"], DEFAULT_RETRY)
        self.assertEqual([n["identifier"] for n in g["nodes"]], ["a2"])

    def test_names_trimmed_on_store_and_lookup(self):
        self.ok(self.api.register([node_def("A")]))
        self.ok(self.api.put_graph("%20gp%20", {"secrets": {}, "nodes": [self.node("A", "a")]}), 201)
        self.assertEqual(self.api.get_graph("gp").status, 200)
        self.assertEqual(self.api.get_graph("%20gp%20").status, 200)
        self.ok(self.api.put_graph("%20gp%20", {"secrets": {}, "nodes": [self.node("A", "a")]}), 201)
        self.assertEqual(self.api.wait_validated("gp")["validation_status"], "VALID")
        listed = self.ok(self.api.request("GET", self.api.ns_path("/graphs/")))
        self.assertEqual([t["name"] for t in listed["templates"]], ["gp"])

    # ---- §3.14 -------------------------------------------------------------------------
    def test_graph_list_without_secret_values(self):
        self.ok(self.api.register([node_def("A")]))
        self.verified([self.node("A", "a")], secrets={"tok": "very-secret-plain-text"},
                      store_config={"required_keys": ["k"], "default_values": {}})
        self.verified([self.node("A", "a")], name="g2")
        r = self.api.request("GET", self.api.ns_path("/graphs/"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["namespace", "count", "templates"])
        self.assertEqual((r.json["namespace"], r.json["count"]), (self.ns, 2))
        t = r.json["templates"][0]
        self.assertEqual([x["name"] for x in r.json["templates"]], ["g", "g2"])
        for key in ("created_at", "updated_at", "name", "namespace", "nodes", "validation_status",
                    "validation_errors", "secrets", "triggers", "retry_policy", "store_config"):
            self.assertIn(key, t)
        self.assertEqual((t["namespace"], t["validation_status"]), (self.ns, "VALID"))
        self.assertEqual(t["store_config"], {"required_keys": ["k"], "default_values": {}})
        self.assertEqual(list(t["secrets"].keys()), ["tok"])
        self.assertNotIn("very-secret-plain-text", r.text)
        for v in t["secrets"].values():
            self.assertNotIsInstance(v, str, "graph list must not return ciphertext (exo §0)")

    # ---- §2.3 field rules (422) --------------------------------------------------------
    def test_node_template_field_rules(self):
        cases = [
            (dict(self.node("A", "a"), node_name="  "), ["nodes", 0, "node_name"], "Node name cannot be empty"),
            (dict(self.node("A", "a"), identifier=" "), ["nodes", 0, "identifier"], "Node identifier cannot be empty"),
            (self.node("A", "store"), ["nodes", 0, "identifier"], "Node identifier cannot be reserved word 'store'"),
            (self.node("A", "a", next_nodes=["b", " "]), ["nodes", 0, "next_nodes"],
             "Next node identifier cannot be empty"),
            (self.node("A", "a", next_nodes=["b", " b"]), ["nodes", 0, "next_nodes"],
             "Next node identifier b is not unique"),
            (dict(self.node("A", "a"), unites={"identifier": " "}), ["nodes", 0, "unites"],
             "Unites identifier cannot be empty"),
        ]
        for n, loc, msg in cases:
            r = self.put([n])
            self.assert422(r, ("value_error", ["body"] + loc, msg))
        n = self.node("A", "a")
        del n["inputs"]
        del n["namespace"]
        self.assert422(self.put([n]), ("missing", ["body", "nodes", 0, "inputs"]),
                       ("missing", ["body", "nodes", 0, "namespace"]))

    def test_store_config_rules(self):
        for sc, msg in (({"required_keys": [" "]}, "Key cannot be empty or contain only whitespace"),
                        ({"required_keys": ["a.b"]}, "Key 'a.b' cannot contain '.' character"),
                        ({"required_keys": ["a", " a"]}, "Key 'a' is duplicated")):
            r = self.put([self.node("A", "a")], store_config=sc)
            self.assert422(r, ("value_error", ["body", "store_config", "required_keys"], msg))
        r = self.put([self.node("A", "a")], store_config={"default_values": {"x.y": "1"}})
        self.assert422(r, ("value_error", ["body", "store_config", "default_values"], "Key 'x.y' cannot contain '.'"))
        r = self.put([self.node("A", "a")], store_config={"default_values": {"x": 1}})
        self.assert422(r, ("string_type", ["body", "store_config", "default_values", "x"]))

    def test_retry_policy_rules(self):
        for field, value, typ in (("max_retries", -1, "greater_than_equal"), ("backoff_factor", 0, "greater_than"),
                                  ("exponent", 0, "greater_than"), ("max_delay", 0, "greater_than"),
                                  ("max_retries", "x", "int_parsing")):
            r = self.put([self.node("A", "a")], retry_policy={field: value})
            self.assert422(r, (typ, ["body", "retry_policy", field]))
        for ok in ({"max_retries": 0, "max_delay": None}, {"max_retries": "2", "backoff_factor": 5.0}):
            self.assertEqual(self.put([self.node("A", "a")], retry_policy=ok).status, 201, ok)

    def test_trigger_rules(self):
        for expr in ("* * *", "61 * * * *", "bogus", "* * * * * * * *"):
            r = self.put([self.node("A", "a")], triggers=[{"type": "CRON", "value": {"expression": expr}}])
            self.assertEqual(r.status, 422, (expr, r))
            self.assertTrue(any("Invalid cron expression" in d["msg"] for d in r.json["detail"]), r)
        for expr in ("*/5 * * * *", "0 12 * JAN-MAR mon-fri", "@hourly", "@daily", "0 0 1,15 * 0-7",
                     "0 0 * * * 30"):
            r = self.put([self.node("A", "a")], triggers=[{"type": "CRON", "value": {"expression": expr}}])
            self.assertEqual(r.status, 201, (expr, r))

    # ---- §5.1 synchronous rules (400) --------------------------------------------------
    def test_a3_a4_identifiers(self):
        r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b"), self.node("C", "b")])
        self.assert400(r, "Node identifier b is not unique")
        r = self.put([self.node("A", "a", next_nodes=["zz"])])
        self.assert400(r, "Node identifier zz does not exist in the graph")

    def test_a1_a2_a5_names_and_secrets(self):
        r = self.api.put_graph("%20", {"secrets": {}, "nodes": [self.node("A", "a")]})
        self.assert400(r, "Name cannot be empty")
        r = self.api.put_graph("g", {"secrets": {}, "nodes": [self.node("A", "a")]}, ns="%20")
        self.assert400(r, "Namespace cannot be empty")
        r = self.put([self.node("A", "a")], secrets={"": "v"})
        self.assert400(r, "Secrets cannot be empty")

    def test_a5_secrets_rule_order_on_update(self):
        # §5.1 A5: on create the empty-secret-name rule runs only after everything else passed; on
        # update it is part of group A, so it is reported with A3 and stops group B.
        dup = [self.node("A", "a"), self.node("B", "a")]
        bad_unites = [self.node("A", "a", next_nodes=["b"]), self.node("B", "b", unites="zz")]
        r = self.put(dup, secrets={"": "x"})
        self.assert400(r, "Node identifier a is not unique")
        self.assertNotIn("Secrets cannot be empty", r.json["detail"])
        self.assertEqual(self.put([self.node("A", "a")]).status, 201)  # now g exists
        r = self.put(dup, secrets={"": "x"})
        self.assert400(r, "Node identifier a is not unique", "Secrets cannot be empty")
        r = self.put(bad_unites, secrets={"": "x"})
        self.assert400(r, "Secrets cannot be empty")
        self.assertNotIn("unites target", r.json["detail"])

    def test_b1_unites_targets(self):
        r = self.put([self.node("A", "a", next_nodes=["u"]), self.node("U", "u", unites="zz")])
        self.assert400(r, "Node u has an unites target zz that does not exist")
        r = self.put([self.node("A", "a", next_nodes=["u"]), self.node("U", "u", unites="u")])
        self.assert400(r, "Node u has an unites target u that is the same as the node itself")

    def test_b2_root_rule(self):
        r = self.put([self.node("A", "a"), self.node("B", "b")])
        self.assert400(r, "There should be exactly one root node in the graph but found 2 nodes with zero in-degree")
        r = self.put([])
        self.assert400(r, "There should be exactly one root node in the graph but found 0 nodes with zero in-degree")
        r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", next_nodes=["a"])])
        self.assert400(r, "found 0 nodes with zero in-degree")
        r = self.put([self.node("A", "a", unites="b", next_nodes=["b"]), self.node("B", "b")])
        self.assertEqual(r.status, 400, r)

    def test_b2_not_connected(self):
        r = self.put([self.node("A", "a"), self.node("B", "b", next_nodes=["c"]),
                      self.node("C", "c", next_nodes=["b"])])
        self.assert400(r, "Node b is not connected to the root node", "Node c is not connected to the root node")

    def test_b3_cycles_and_self_loop(self):
        r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", next_nodes=["c"]),
                      self.node("C", "c", next_nodes=["b"])])
        self.assert400(r, "is not acyclic")
        r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", next_nodes=["b"])])
        self.assert400(r, "Node b is not acyclic")

    def test_b4_input_values_must_be_strings(self):
        for value, shown in ((123, "123"), (True, "True"), (None, "None"), (["a"], "['a']"),
                             ({"k": 1}, "{'k': 1}"), (1.5, "1.5")):
            r = self.put([self.node("A", "a", {"x": value})])
            self.assert400(r, f"Input {shown} is not a string")

    def test_b4_template_syntax_errors(self):
        v = "pre ${{ a.outputs.x"
        r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"x": v})])
        self.assert400(r, f"Error creating dependent string for input {v} check syntax string: "
                          f"Invalid syntax string placeholder  a.outputs.x for: {v} '${{' not closed")
        for v, content in (("${{ a.x }}", " a.x "), ("${{ a.inputs.x }}", " a.inputs.x "),
                           ("${{ store }}", " store "), ("${{ a.outputs.x.y }}", " a.outputs.x.y "),
                           ("${{ other.k }}", " other.k ")):
            r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"x": v})])
            self.assert400(r, f"Invalid syntax string placeholder {content} for: {v}")

    def test_b4_accepted_syntax_variants(self):
        self.ok(self.api.register([node_def("A", [], ["x"]), node_def("B", ["x"])]))
        for v in ("${{a.outputs.x}}", "{{ a.outputs.x }} plain ${{  a . outputs . x  }} }} tail",
                  "$ {{x}}", "${{ store.outputs.k }}", "${{ a.outputs.x }}${{ a.outputs.x }}"):
            r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"x": v})],
                         store_config={"required_keys": ["k"]})
            self.assertEqual(r.status, 201, (v, r))

    def test_identifiers_unrestricted(self):
        # quirk 12 [choice], not changed by §0: dots and spaces in identifiers are accepted
        self.ok(self.api.register([node_def("A"), node_def("B")]))
        g = self.verified([self.node("A", "my node", next_nodes=["b.1"]), self.node("B", "b.1")])
        self.assertEqual(g["validation_status"], "VALID", g)

    def test_b4_ancestry_and_store_keys(self):
        v = "${{ b.outputs.y }}"
        r = self.put([self.node("A", "a", next_nodes=["b", "c"]), self.node("B", "b"), self.node("C", "c", {"x": v})])
        self.assert400(r, f"Input {v} depends on b but b is not a parent of c")
        r = self.put([self.node("A", "a", {"x": "${{ a.outputs.y }}"})])
        self.assert400(r, "depends on a but a is not a parent of a")
        v = "${{ store.k }}"
        r = self.put([self.node("A", "a", {"x": v})], store_config={"required_keys": ["j"]})
        self.assert400(r, f"Input {v} depends on k but k is not a required key or a default value")
        self.assertEqual(self.put([self.node("A", "a", {"x": v})],
                                  store_config={"default_values": {"k": "1"}}).status, 201)

    def test_exo_ancestors_must_lie_on_every_path(self):
        # a -> b -> d and a -> c -> d: b is not on every path to d (exo §0).
        v = "${{ b.outputs.y }}"
        r = self.put([self.node("A", "a", next_nodes=["b", "c"]), self.node("B", "b", next_nodes=["d"]),
                      self.node("C", "c", next_nodes=["d"]), self.node("D", "d", {"x": v})])
        self.assert400(r, f"Input {v} depends on b but b is not a parent of d")
        # but a is, whatever the next_nodes order
        for order in (["b", "c"], ["c", "b"]):
            r = self.put([self.node("A", "a", next_nodes=order), self.node("B", "b", next_nodes=["d"]),
                          self.node("C", "c", next_nodes=["d"]), self.node("D", "d", {"x": "${{ a.outputs.y }}"},
                                                                        next_nodes=["e"]),
                          self.node("E", "e", {"x": "${{ d.outputs.y }}-${{ a.outputs.y }}"})])
            self.assertEqual(r.status, 201, (order, r))

    def test_many_diamonds_validate(self):
        # 2^100 root paths: the every-path ancestor rule must not enumerate paths
        self.ok(self.api.register([node_def("A", ["x"], ["o"])]))
        levels = 100
        nodes = [self.node("A", "d0", {"x": "1"}, ["b1", "c1"])]
        for i in range(1, levels + 1):
            prev = f"${{{{ d{i - 1}.outputs.o }}}}"
            nodes += [self.node("A", f"b{i}", {"x": prev}, [f"d{i}"]),
                      self.node("A", f"c{i}", {"x": "${{ d0.outputs.o }}"}, [f"d{i}"]),
                      self.node("A", f"d{i}", {"x": prev}, [f"b{i + 1}", f"c{i + 1}"] if i < levels else [])]
        g = self.verified(nodes)
        self.assertEqual(g["validation_status"], "VALID", g["validation_errors"][:3])
        nodes[-1]["inputs"] = {"x": "${{ b7.outputs.o }}"}  # b7 is on only half of the paths
        self.assert400(self.put(nodes), f"depends on b7 but b7 is not a parent of d{levels}")

    def test_exo_unite_reference_rules(self):
        # U unites T: U may use T, T's ancestors; U's successors may use U.
        nodes = [self.node("R", "r", next_nodes=["t"]), self.node("T", "t", next_nodes=["x"]),
                 self.node("X", "x", {"v": "${{ t.outputs.v }}"}, next_nodes=["u"]),
                 self.node("U", "u", {"a": "${{ t.outputs.v }}", "b": "${{ r.outputs.v }}"}, unites="t",
                           next_nodes=["z"]),
                 self.node("Z", "z", {"a": "${{ u.outputs.v }}", "b": "${{ t.outputs.v }}"})]
        self.assertEqual(self.put(nodes).status, 201, self.put(nodes))
        nodes[3]["inputs"] = {"a": "${{ x.outputs.v }}"}
        self.assert400(self.put(nodes), "depends on x but x is not a parent of u")
        # order of next_nodes does not matter
        for order in (["x", "y"], ["y", "x"]):
            nodes = [self.node("T", "t", next_nodes=order), self.node("X", "x", next_nodes=["u"]),
                     self.node("Y", "y", next_nodes=["u"]),
                     self.node("U", "u", {"a": "${{ t.outputs.v }}"}, unites="t", next_nodes=["z"]),
                     self.node("Z", "z", {"a": "${{ u.outputs.v }}"})]
            self.assertEqual(self.put(nodes).status, 201, order)
        nodes = [self.node("T", "t", next_nodes=["x"]), self.node("X", "x", next_nodes=["u"]),
                 self.node("U", "u", unites="t", next_nodes=["z"]), self.node("Z", "z")]
        self.assertEqual(self.put(list(reversed(nodes))).status, 201)

    def test_exo_unites_target_must_be_strict_ancestor(self):
        r = self.put([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", unites="a")])
        self.assert400(r)
        r = self.put([self.node("A", "a", next_nodes=["b", "c"]), self.node("B", "b", next_nodes=["u"]),
                      self.node("C", "c", next_nodes=["u"]), self.node("U", "u", unites="b")])
        self.assert400(r)

    def test_rejected_upsert_keeps_previous_version(self):
        self.ok(self.api.register([node_def("A")]))
        self.verified([self.node("A", "a")])
        self.assertEqual(self.put([self.node("A", "a", next_nodes=["nope"])]).status, 400)
        g = self.ok(self.api.get_graph("g"))
        self.assertEqual((g["nodes"][0]["next_nodes"], g["validation_status"]), ([], "VALID"))
        self.assertEqual(self.put([self.node("A", "a")], name="fresh", retry_policy={"max_retries": -1}).status, 422)
        self.assertEqual(self.api.get_graph("fresh").status, 404)

    # ---- §5.2 background verification --------------------------------------------------
    def test_background_missing_node_reported_twice(self):
        g = self.verified([self.node("Ghost", "a")])
        self.assertEqual(g["validation_status"], "INVALID")
        self.assertEqual(g["validation_errors"], [f"Node Ghost in namespace {self.ns} does not exist.",
                                                  f"Node Ghost in namespace {self.ns} does not exist"])

    def test_background_secrets_inputs_outputs(self):
        schema_in = {"type": "object", "properties": {
            "s": {"type": "string"}, "n": {"type": "integer"}, "d": {"type": "string", "format": "date-time"},
            "e": {"type": "string", "format": "email"}, "l": {"type": ["string"]},
            "nl": {"type": ["string", "null"]}, "en": {"type": "string", "enum": ["a"]},
            "missing": {"type": "string", "default": "x"}}}
        a = {"name": "A", "inputs_schema": schema_in, "outputs_schema": {"type": "object", "properties": {
            "o": {"type": "string"}, "num": {"type": "number"}}}, "secrets": ["s1", "s2"]}
        self.ok(self.api.register([a, node_def("B", ["p", "q"], [])]))
        inputs = {k: "v" for k in ("s", "n", "d", "e", "l", "nl", "en", "extra")}
        g = self.verified([self.node("A", "a", inputs, ["b"]),
                           self.node("B", "b", {"p": "${{ a.outputs.o }}${{ a.outputs.zz }}",
                                                "q": "${{ a.outputs.num }}"})], secrets={"s1": "x"})
        self.assertEqual(g["validation_status"], "INVALID", g)
        ns = self.ns
        expected = [f"Secret s2 is required but not present in the graph template",
                    f"Input n in node A in namespace {ns} is not a string",
                    f"Input d in node A in namespace {ns} is not a string",
                    f"Input nl in node A in namespace {ns} is not a string",
                    f"Input en in node A in namespace {ns} is not a string",
                    # "missing" has a default: it may be left out (exo §0)
                    f"Field zz in node A in namespace {ns} does not exist",
                    f"Field num in node A in namespace {ns} is not a string"]
        self.assertEqual(g["validation_errors"], expected)  # §5.2 order: nodes, secrets, inputs per node

    def test_background_error_order_nodes_then_secrets(self):
        self.ok(self.api.register([node_def("A", ["p"], secrets=["s"])]))
        g = self.verified([self.node("A", "a", next_nodes=["b", "c"]), self.node("Ghost", "b"),
                           self.node("Ghost2", "c")])
        ns = self.ns
        self.assertEqual(g["validation_errors"], [
            f"Node Ghost in namespace {ns} does not exist.", f"Node Ghost2 in namespace {ns} does not exist.",
            "Secret s is required but not present in the graph template",
            f"Input p in node A in namespace {ns} is not present in the graph template",
            f"Node Ghost in namespace {ns} does not exist", f"Node Ghost2 in namespace {ns} does not exist"])

    def test_background_string_type_rules(self):
        props = {"unknown_type": {"type": "foo"}, "email": {"type": "string", "format": "email"},
                 "pw": {"type": "string", "format": "password"}, "uuid": {"type": "string", "format": "uuid"},
                 "uri": {"type": "string", "format": "uri"}, "date": {"type": "string", "format": "date"},
                 "time": {"type": "string", "format": "time"}, "const": {"type": "string", "const": "x"},
                 "arr": {"type": "array"}, "bool": {"type": "boolean"}, "obj": {"type": "object"},
                 "null_first": {"type": ["null", "string"]}}
        self.ok(self.api.register([{"name": "A", "inputs_schema": {"type": "object", "properties": props},
                                    "outputs_schema": {"type": "object"}, "secrets": []}]))
        g = self.verified([self.node("A", "a", {k: "v" for k in props})])
        bad = ["uuid", "uri", "date", "time", "const", "arr", "bool", "obj", "null_first"]
        self.assertEqual(g["validation_errors"],
                         [f"Input {p} in node A in namespace {self.ns} is not a string" for p in bad])

    def test_background_schema_without_properties(self):
        self.ok(self.api.register([{"name": "A", "inputs_schema": {}, "outputs_schema": {}, "secrets": []}]))
        g = self.verified([self.node("A", "a", {"anything": "v"})])
        self.assertEqual((g["validation_status"], g["validation_errors"]), ("VALID", []))

    def test_background_unexpected_error(self):
        bad = {"name": "A", "inputs_schema": {"type": "object", "properties": {"x": {"title": "X"}}},
               "outputs_schema": {}, "secrets": []}
        self.ok(self.api.register([bad]))
        g = self.verified([self.node("A", "a", {"x": "1"})])
        self.assertEqual(g["validation_status"], "INVALID")
        self.assertEqual(len(g["validation_errors"]), 1, g)
        self.assertTrue(g["validation_errors"][0].startswith("Validation failed due to unexpected error: "), g)

    def test_exo_node_registration_revalidates(self):
        g = self.verified([self.node("A", "a", {"x": "1"})])
        self.assertEqual(g["validation_status"], "INVALID")
        self.ok(self.api.register([node_def("A", ["x"])]))
        wait_until(lambda: self.api.get_graph("g").json["validation_status"] == "VALID", 10, what="revalidation")
        self.assertEqual(self.api.get_graph("g").json["validation_errors"], [])
        self.ok(self.api.register([node_def("A", ["x", "y"])]))
        wait_until(lambda: self.api.get_graph("g").json["validation_status"] == "INVALID", 10, what="revalidation")

    def test_exo_revalidation_checks_new_version(self):
        self.ok(self.api.register([node_def("A", [], ["o"]), node_def("B", ["i"], ["p"]), node_def("C", ["j"])]))
        self.assertEqual(self.verified([self.node("A", "a")])["validation_status"], "VALID")
        g = self.verified([self.node("A", "a", next_nodes=["b"]),
                           self.node("B", "b", {"i": "${{ a.outputs.o }}"}, ["c"]),
                           self.node("C", "c", {"j": "${{ b.outputs.p }}"})])
        self.assertEqual(g["validation_status"], "VALID", g)

    def test_exo_cron_with_required_key_without_default_is_invalid(self):
        self.ok(self.api.register([node_def("A", ["x"])]))
        trig = [{"type": "CRON", "value": {"expression": "0 0 1 1 *"}}]
        g = self.verified([self.node("A", "a", {"x": "${{ store.k }}"})], triggers=trig,
                          store_config={"required_keys": ["k"]})
        self.assertEqual(g["validation_status"], "INVALID", g)
        self.assertTrue(g["validation_errors"])
        g = self.verified([self.node("A", "a", {"x": "${{ store.k }}"})], triggers=trig,
                          store_config={"required_keys": ["k"], "default_values": {"k": "d"}})
        self.assertEqual(g["validation_status"], "VALID", g)

    # ---- §3.4 trigger ------------------------------------------------------------------
    def test_trigger_errors(self):
        r = self.api.trigger("nope")
        self.assertDetail(r, 404, f"Graph template not found for namespace {self.ns} and graph nope")
        self.verified([self.node("Ghost", "a")])
        self.assertDetail(self.api.trigger("g"), 400, "Graph template is not valid")
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"start_delay": -1})
        self.assert422(r, ("greater_than_equal", ["body", "start_delay"]))
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"store": {"k": 1}, "inputs": []})
        self.assert422(r, ("string_type", ["body", "store", "k"]), ("dict_type", ["body", "inputs"]))

    def test_trigger_response_and_root_inputs(self):
        self.ok(self.api.register([node_def("A", ["x", "y"])]))
        self.verified([self.node("A", "a", {"x": "${{ store.k }}-${{ store.d }}", "y": "tmpl", "z": "kept"})],
                      store_config={"required_keys": ["k"], "default_values": {"d": "D"}})
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"),
                             {"store": {"k": "K", "unused": "u"}, "inputs": {"y": "over", "nokey": "n"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["status", "run_id"])
        self.assertEqual(r.json["status"], "CREATED")
        self.assertRegex(r.json["run_id"], UUID4)
        st = self.claim("A")[0]
        self.assertEqual(list(st.keys()), ["state_id", "node_name", "identifier", "inputs", "created_at"])
        self.assertEqual(st["inputs"], {"x": "K-D", "y": "over", "z": "kept"})
        self.assertRegex(st["state_id"], HEX24)
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"),
                             {"store": {"k": "K"}, "inputs": {"x": "${{ store.d }}!"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.claim("A")[0]["inputs"]["x"], "D!")

    def test_trigger_root_placeholder_errors(self):
        self.ok(self.api.register([node_def("A", ["x"])]))
        self.verified([self.node("A", "a", {"x": "${{ store.k }}"})], store_config={"default_values": {"k": "d"}})
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"inputs": {"x": "${{ a.outputs.q }}"}})
        self.assertDetail(r, 400, "Invalid input: 400: Root node can have only store identifier as dependent but got a")
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"inputs": {"x": "${{ store.zz }}"}})
        self.assertDetail(r, 400, "Invalid input: 400: Dependent zz not found in store for root node a")
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {"inputs": {"x": "${{ store.zz"}})
        self.assertDetailContains(r, 400, "Invalid input: Invalid syntax string placeholder")

    def test_trigger_missing_store_keys_and_exo_default(self):
        self.ok(self.api.register([node_def("A", ["x"])]))
        # root inputs resolve first (§3.4 step 6), so the input only needs the defaulted key
        self.verified([self.node("A", "a", {"x": "${{ store.k3 }}"})],
                      store_config={"required_keys": ["k1", "k2", "k3"], "default_values": {"k3": "3"}})
        r = self.api.trigger("g")
        self.assertEqual(r.status, 400, r)
        self.assertIn(r.json["detail"], ("Missing store keys: {'k1', 'k2'}", "Missing store keys: {'k2', 'k1'}"))
        r = self.api.trigger("g", store={"k1": "1", "k2": "2"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.claim("A")[0]["inputs"], {"x": "3"})
        r = self.api.trigger("g", store={"k1": "1"})
        self.assertDetail(r, 400, "Missing store keys: {'k2'}")

    def test_trigger_empty_body_object(self):
        self.ok(self.api.register([node_def("A")]))
        self.verified([self.node("A", "a")])
        r = self.api.request("POST", self.api.ns_path("/graph/g/trigger"), {})
        self.assertEqual(r.status, 200, r)

    # ---- §3.13 / §12 secrets -----------------------------------------------------------
    def test_secrets_round_trip(self):
        self.ok(self.api.register([node_def("A", secrets=["tok"])]))
        self.verified([self.node("A", "a")], secrets={"tok": "pläin text ✓", "other": ""})
        self.trigger()
        st = self.claim("A")[0]
        r = self.api.request("GET", self.api.ns_path(f"/state/{st['state_id']}/secrets"))
        self.assertEqual((r.status, r.json), (200, {"secrets": {"tok": "pläin text ✓", "other": ""}}))
        self.assertNotIn("pläin", self.api.get_graph("g").text)
        for sid, ns in ((st["state_id"], "someotherns"), ("0123456789abcdef01234567", None), ("xyz", None)):
            r = self.api.request("GET", self.api.ns_path(f"/state/{sid}/secrets", ns))
            self.assertEqual(r.status, 404, (sid, ns, r))

    def test_secrets_empty_graph(self):
        self.ok(self.api.register([node_def("A")]))
        self.verified([self.node("A", "a")])
        self.trigger()
        st = self.claim("A")[0]
        r = self.api.request("GET", self.api.ns_path(f"/state/{st['state_id']}/secrets"))
        self.assertEqual((r.status, r.json), (200, {"secrets": {}}))


class BadEncryptionKeyConformance(ConformanceCase):
    """§3.2 / §12: a malformed SECRETS_ENCRYPTION_KEY is detected lazily, at the first secret."""

    server_env = {"SECRETS_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"k" * 16).decode()}  # 16 bytes, not 32

    def test_secret_upsert_fails_plain_graph_works(self):
        body = {"secrets": {"s": "v"}, "nodes": [self.node("A", "a")]}
        r = self.api.put_graph("g", body)
        self.assertDetail(r, 400, "Error validating graph template: Key must be 32 raw bytes (256 bits)")
        self.assertEqual(self.api.get_graph("g").status, 404)
        self.assertEqual(self.api.put_graph("g", dict(body, secrets={})).status, 201)


if __name__ == "__main__":
    main()
