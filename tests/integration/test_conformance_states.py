"""Conformance of the per-state endpoints and the execution engine with state-manager-api.md
§0, §3.7–§3.13, §3.15–§3.17, §6 (next states, fan-out, unite) and §7 (retry delays).
The test acts as the worker itself (enqueue / executed / errored / prune ...)."""
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import (HEX24, MISSING_ID, TIMESTAMP, ConformanceCase,  # noqa: E402
                                node_def, wait_until)
from harness import main  # noqa: E402

SUMMARY_KEYS = ["CREATED", "QUEUED", "EXECUTED", "ERRORED", "NEXT_CREATED_ERROR", "SUCCESS", "PRUNED",
                "RETRY_CREATED"]


class StatesConformance(ConformanceCase):
    def chain(self, max_retries=0, **extra):
        """a(x from store) -> b(y = a.o) -> c(z = b.p + a.o); returns (run_id, claimed a state)."""
        self.ok(self.api.register([node_def("A", ["x"], ["o"]), node_def("B", ["y"], ["p"]),
                                   node_def("C", ["z"], [])]))
        self.valid_graph([self.node("A", "a", {"x": "${{ store.s }}"}, ["b"]),
                          self.node("B", "b", {"y": "${{ a.outputs.o }}", "ignored": "x"}, ["c"]),
                          self.node("C", "c", {"z": "${{ b.outputs.p }}/${{ a.outputs.o }}/${{ store.s }}"})],
                         store_config={"default_values": {"s": "S"}}, retry_policy={"max_retries": max_retries},
                         **extra)
        run = self.trigger()
        return run, self.claim("A")[0]

    def single(self, max_retries=0, **rp):
        self.ok(self.api.register([node_def("A", [], ["o"])]))
        rp = dict(rp, max_retries=max_retries)
        self.valid_graph([self.node("A", "a")], retry_policy=rp)
        run = self.trigger()
        return run, self.claim("A")[0]

    def bad_ids(self, sid):
        """Malformed, unknown and other-namespace ids: all 404 (exo §0)."""
        return [("xyz", self.ns), ("0123456789ABCDEF0123456Z", self.ns), (MISSING_ID, self.ns), (sid, "elsewhere")]

    # ---- §3.7 enqueue ------------------------------------------------------------------
    def test_enqueue_response_shape(self):
        self.ok(self.api.register([node_def("A", ["x"])]))
        self.valid_graph([self.node("A", "a", {"x": "v"})])
        self.trigger()
        r = self.api.enqueue(["A", "Other"], 5)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["count", "namespace", "status", "states"])
        self.assertEqual((r.json["count"], r.json["namespace"], r.json["status"]), (1, self.ns, "QUEUED"))
        st = r.json["states"][0]
        self.assertEqual(list(st.keys()), ["state_id", "node_name", "identifier", "inputs", "created_at"])
        self.assertRegex(st["state_id"], HEX24)
        self.assertRegex(st["created_at"], TIMESTAMP)
        self.assertEqual((st["node_name"], st["identifier"], st["inputs"]), ("A", "a", {"x": "v"}))
        r = self.api.enqueue(["A"], 5)
        self.assertEqual((r.json["count"], r.json["states"], r.json["status"]), (0, [], "QUEUED"))

    def test_enqueue_limits_and_isolation(self):
        self.ok(self.api.register([node_def("A")]))
        self.valid_graph([self.node("A", "a")])
        for _ in range(3):
            self.trigger()
        self.assertEqual(self.api.enqueue(["A"], 0).json["count"], 0)
        self.assertEqual(self.api.enqueue(["A"], -3).json["count"], 0)
        self.assertEqual(self.api.enqueue([], 10).json["count"], 0)
        self.assertEqual(self.api.enqueue(["A"], 2, ns="other-ns").json["count"], 0)
        self.assertEqual(self.api.enqueue(["A"], 2).json["count"], 2)
        self.assertEqual(self.api.enqueue(["A"], 2).json["count"], 1)
        r = self.api.request("POST", self.api.ns_path("/states/enqueue"), {"nodes": ["A"]})
        self.assert422(r, ("missing", ["body", "batch_size"]))

    def test_start_delay_holds_root(self):
        self.ok(self.api.register([node_def("A")]))
        self.valid_graph([self.node("A", "a")])
        self.trigger(start_delay=600000)
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        self.assertEqual(self.states(self.trigger(start_delay=1))[0]["status"], "CREATED")
        self.claim("A")

    # ---- §3.8 executed -----------------------------------------------------------------
    def test_executed_errors(self):
        run, st = self.chain()
        for sid, ns in self.bad_ids(st["state_id"]):
            r = self.api.executed(sid, [], ns=ns)
            self.assertEqual(r.status, 404, (sid, ns, r))
            if ns == self.ns and sid == MISSING_ID:
                self.assertEqual(r.json, {"detail": "State not found"})
        for bad, typ, loc in (({"o": 1}, "list_type", ["body", "outputs"]),
                              ([1], "dict_type", ["body", "outputs", 0])):
            r = self.api.executed(st["state_id"], bad)
            self.assert422(r, (typ, loc))
        r = self.api.request("POST", self.api.ns_path(f"/state/{st['state_id']}/executed"), {})
        self.assert422(r, ("missing", ["body", "outputs"]))
        for bad in ([{"o": 1}], [{"o": None}], [{"o": ["x"]}], [{"o": "ok"}, {"o": {"k": "v"}}]):
            r = self.api.executed(st["state_id"], bad)
            self.assertEqual(r.status, 422, (bad, r))
        self.assertEqual(self.states(run, ident="a")[0]["status"], "QUEUED")
        r = self.api.executed(st["state_id"], [{"o": "1"}])
        self.assertEqual((r.status, r.json), (200, {"status": "EXECUTED"}))
        self.wait_status(run, "a", "SUCCESS")
        self.assertDetail(self.api.executed(st["state_id"], [{"o": "1"}]), 400, "State is not queued")
        b = self.states(run, ident="b")[0]
        self.assertDetail(self.api.executed(b["id"], []), 400, "State is not queued")

    def test_next_states_inputs_parents(self):
        run, a = self.chain()
        self.ok(self.api.executed(a["state_id"], [{"o": "A1", "extra": "e"}]))
        b = self.claim("B")[0]
        self.assertEqual(b["inputs"], {"y": "A1"})
        self.ok(self.api.executed(b["state_id"], [{"p": "B1"}]))
        c = self.claim("C")[0]
        self.assertEqual(c["inputs"], {"z": "B1/A1/S"})
        self.ok(self.api.executed(c["state_id"], []))
        self.wait_status(run, "c", "SUCCESS")
        details = {s["identifier"]: s for s in self.states(run)}
        self.assertEqual(list(details["c"]["parents"].items()), [("a", a["state_id"]), ("b", b["state_id"])])
        self.assertEqual(details["b"]["parents"], {"a": a["state_id"]})
        self.assertEqual(details["a"]["parents"], {})
        self.assertEqual(details["a"]["outputs"], {"o": "A1", "extra": "e"})
        self.assertEqual(details["c"]["outputs"], {})
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")

    def test_fan_out_siblings(self):
        run, a = self.chain()
        self.ok(self.api.executed(a["state_id"], [{"o": "1"}, {"o": "2"}, {"o": "3"}]))
        bs = self.claim("B", 3)
        self.assertEqual(sorted(b["inputs"]["y"] for b in bs), ["1", "2", "3"])
        a_states = self.wait_status(run, "a", "SUCCESS", 3)
        self.assertEqual(sorted(s["outputs"]["o"] for s in a_states), ["1", "2", "3"])
        self.assertIn(a["state_id"], [s["id"] for s in a_states])
        first = [s for s in a_states if s["id"] == a["state_id"]][0]
        self.assertEqual(first["outputs"], {"o": "1"})
        for s in a_states:
            self.assertEqual(s["inputs"], first["inputs"])
            self.assertEqual(s["parents"], {})
        b_parents = sorted(s["parents"]["a"] for s in self.states(run, ident="b"))
        self.assertEqual(b_parents, sorted(s["id"] for s in a_states))
        # §3.16 storage order: the state, its siblings in output order, then the children in that order
        ordered = self.states(run)
        self.assertEqual([s["identifier"] for s in ordered], ["a"] * 3 + ["b"] * 3)
        self.assertEqual([s["outputs"]["o"] for s in ordered[:3]], ["1", "2", "3"])
        self.assertEqual([s["inputs"]["y"] for s in ordered[3:]], ["1", "2", "3"])

    def test_next_created_error_texts(self):
        run, a = self.chain()
        self.ok(self.api.executed(a["state_id"], []))
        a_state = self.wait_status(run, "a", "NEXT_CREATED_ERROR")[0]
        self.assertIn("Output field 'o' not found on current state 'a' for template 'b'", a_state["error"])
        self.assertEqual(self.states(run, ident="b"), [])
        self.assertEqual(self.api.wait_run_finished(run)["status"], "FAILED")
        run2 = self.trigger()
        a2 = self.claim("A")[0]
        self.ok(self.api.executed(a2["state_id"], [{"other": "x", "o": "ok"}]))
        b2 = self.claim("B")[0]
        self.ok(self.api.executed(b2["state_id"], [{"q": "no p"}]))
        b_state = self.wait_status(run2, "b", "NEXT_CREATED_ERROR")[0]
        self.assertIn("Output field 'p' not found on current state 'b' for template 'c'", b_state["error"])
        self.assertEqual(b_state["outputs"], {"q": "no p"})

    # ---- §3.9 errored / §7 retries ------------------------------------------------------
    def test_errored_paths(self):
        run, st = self.single(max_retries=1, strategy="FIXED", backoff_factor=1)
        for sid, ns in self.bad_ids(st["state_id"]):
            self.assertEqual(self.api.errored(sid, "x", ns=ns).status, 404, (sid, ns))
        self.assert422(self.api.request("POST", self.api.ns_path(f"/state/{st['state_id']}/errored"), {}),
                       ("missing", ["body", "error"]))
        self.assert422(self.api.errored(st["state_id"], 5), ("string_type", ["body", "error"]))
        r = self.api.errored(st["state_id"], "boom 1")
        self.assertEqual((r.status, r.json), (200, {"status": "ERRORED", "retry_created": True}))
        orig = [s for s in self.states(run) if s["id"] == st["state_id"]][0]
        self.assertEqual((orig["status"], orig["error"]), ("RETRY_CREATED", "boom 1"))
        self.assertDetail(self.api.errored(st["state_id"], "again"), 400, "State is not queued or executed")
        retry = self.claim("A")[0]
        self.assertNotEqual(retry["state_id"], st["state_id"])
        self.assertEqual(retry["inputs"], st["inputs"])
        r = self.api.errored(retry["state_id"], "boom 2")
        self.assertEqual((r.status, r.json), (200, {"status": "ERRORED", "retry_created": False}))
        last = [s for s in self.states(run) if s["id"] == retry["state_id"]][0]
        self.assertEqual((last["status"], last["error"]), ("ERRORED", "boom 2"))
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        graph = self.api.run_graph(run).json
        self.assertEqual(sorted(x["id"] for x in graph["root_states"]), sorted([st["state_id"], retry["state_id"]]))
        self.assertEqual(graph["edges"], [])
        run_info = self.api.wait_run_finished(run)
        self.assertEqual((run_info["status"], run_info["errored_count"], run_info["retried_count"],
                          run_info["total_count"]), ("FAILED", 1, 1, 2))

    def test_errored_on_created_and_success(self):
        self.ok(self.api.register([node_def("A")]))
        self.valid_graph([self.node("A", "a")])
        run = self.trigger()
        sid = self.states(run)[0]["id"]
        self.assertDetail(self.api.errored(sid, "x"), 400, "State is not queued or executed")
        self.claim("A")
        self.ok(self.api.executed(sid, []))
        self.wait_status(run, "a", "SUCCESS")
        self.assertDetail(self.api.errored(sid, "x"), 400, "State is not queued or executed")

    def test_fixed_retry_delay(self):
        run, st = self.single(max_retries=1, strategy="FIXED", backoff_factor=1000)
        self.ok(self.api.errored(st["state_id"], "e"))
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        self.claim("A", timeout=15)

    def test_equal_jitter_lower_bound_and_max_delay(self):
        run, st = self.single(max_retries=2, strategy="FIXED_EQUAL_JITTER", backoff_factor=2000000)
        self.ok(self.api.errored(st["state_id"], "e"))  # delay >= 1,000,000 ms
        time.sleep(0.3)
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        run, st = self.single(max_retries=2, strategy="EXPONENTIAL", backoff_factor=100000000, max_delay=500)
        self.ok(self.api.errored(st["state_id"], "e"))
        self.claim("A", timeout=15)

    def test_exponential_uses_exponent_from_second_attempt(self):
        # d(1) = backoff, d(2) = backoff * exponent
        run, st = self.single(max_retries=3, strategy="EXPONENTIAL", backoff_factor=1, exponent=10000000)
        self.ok(self.api.errored(st["state_id"], "e"))
        st2 = self.claim("A", timeout=15)[0]
        self.ok(self.api.errored(st2["state_id"], "e"))
        time.sleep(0.3)
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)

    def test_huge_delays_saturate(self):
        # int64-sized policies / delays must neither wrap around (state claimable at once) nor crash
        big = 2 ** 63 - 1
        for strategy in ("EXPONENTIAL", "LINEAR_EQUAL_JITTER", "FIXED"):
            run, st = self.single(max_retries=5, strategy=strategy, backoff_factor=big, exponent=big)
            self.assertEqual(self.api.errored(st["state_id"], "e").json, {"status": "ERRORED", "retry_created": True})
            self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0, strategy)
        run, st = self.single()
        r = self.ok(self.post(st["state_id"], "re-enqueue-after", {"enqueue_after": big}))
        self.assertGreater(r["enqueue_after"], int(time.time() * 1000))
        self.trigger(start_delay=big)
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        self.assertEqual(self.api.runs(2 ** 62, 1000).status, 200)

    def test_full_jitter_upper_bound(self):
        run, st = self.single(max_retries=2, strategy="LINEAR_FULL_JITTER", backoff_factor=300)
        self.ok(self.api.errored(st["state_id"], "e"))  # delay < 300 ms
        st2 = self.claim("A", timeout=15)[0]
        self.ok(self.api.errored(st2["state_id"], "e"))  # delay < 600 ms
        self.claim("A", timeout=15)

    # ---- §3.10 prune -------------------------------------------------------------------
    def test_prune(self):
        run, st = self.single()
        for sid, ns in self.bad_ids(st["state_id"]):
            r = self.api.request("POST", self.api.ns_path(f"/state/{sid}/prune", ns), {"data": {}})
            self.assertEqual(r.status, 404, (sid, ns, r))
        self.assert422(self.post(st["state_id"], "prune", {}), ("missing", ["body", "data"]))
        self.assert422(self.post(st["state_id"], "prune", {"data": "x"}), ("dict_type", ["body", "data"]))
        r = self.post(st["state_id"], "prune", {"data": {"why": [1, 2]}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["enqueue_after", "status"])
        self.assertEqual(r.json["status"], "PRUNED")
        self.assertIsInstance(r.json["enqueue_after"], int)
        self.assertLessEqual(r.json["enqueue_after"], int(time.time() * 1000) + 1000)
        self.assertDetail(self.post(st["state_id"], "prune", {"data": {}}), 400, "State is not queued")
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["success_count"]), ("SUCCESS", 1))
        self.assertNotIn("data", self.states(run)[0])

    def test_prune_only_queued(self):
        self.ok(self.api.register([node_def("A")]))
        self.valid_graph([self.node("A", "a")])
        run = self.trigger()
        sid = self.states(run)[0]["id"]
        self.assertDetail(self.post(sid, "prune", {"data": {}}), 400, "State is not queued")

    # ---- §3.11 re-enqueue-after ----------------------------------------------------------
    def test_re_enqueue_after(self):
        run, st = self.single()
        sid = st["state_id"]
        for sid_bad, ns in self.bad_ids(sid):
            r = self.api.request("POST", self.api.ns_path(f"/state/{sid_bad}/re-enqueue-after", ns),
                                 {"enqueue_after": 10})
            self.assertEqual(r.status, 404, (sid_bad, ns, r))
        for bad, typ in ((0, "greater_than"), (-5, "greater_than"), ("x", "int_parsing")):
            self.assert422(self.post(sid, "re-enqueue-after", {"enqueue_after": bad}),
                           (typ, ["body", "enqueue_after"]))
        self.assert422(self.post(sid, "re-enqueue-after", {}), ("missing", ["body", "enqueue_after"]))
        before = int(time.time() * 1000)
        r = self.post(sid, "re-enqueue-after", {"enqueue_after": "600000"})
        after = int(time.time() * 1000)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["enqueue_after", "status"])
        self.assertEqual(r.json["status"], "CREATED")
        self.assertTrue(before + 600000 - 1000 <= r.json["enqueue_after"] <= after + 600000 + 1000, r.json)
        self.assertEqual(self.states(run)[0]["status"], "CREATED")
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        # exo §0: only QUEUED states
        r = self.post(sid, "re-enqueue-after", {"enqueue_after": 1})
        self.assertEqual(r.status, 400, r)

    def test_prune_echoes_enqueue_after_set_by_re_enqueue(self):
        run, st = self.single()
        r = self.ok(self.post(st["state_id"], "re-enqueue-after", {"enqueue_after": 30}))
        again = self.claim("A")[0]
        p = self.ok(self.post(again["state_id"], "prune", {"data": {}}))
        self.assertEqual(p, {"enqueue_after": r["enqueue_after"], "status": "PRUNED"})

    def test_re_enqueue_short_delay_then_claim(self):
        run, st = self.single()
        self.ok(self.post(st["state_id"], "re-enqueue-after", {"enqueue_after": 50}))
        again = self.claim("A")[0]
        self.assertEqual(again["state_id"], st["state_id"])
        self.ok(self.api.executed(again["state_id"], []))
        self.wait_status(run, "a", "SUCCESS")
        self.assertEqual(self.post(st["state_id"], "re-enqueue-after", {"enqueue_after": 1}).status, 400)

    # ---- §3.12 manual retry ----------------------------------------------------------------
    def test_manual_retry(self):
        run, st = self.single()
        sid = st["state_id"]
        for bad, ns in self.bad_ids(sid):
            r = self.api.request("POST", self.api.ns_path(f"/state/{bad}/manual-retry", ns), {"fanout_id": "f"})
            self.assertEqual(r.status, 404, (bad, ns, r))
        self.assert422(self.post(sid, "manual-retry", {}), ("missing", ["body", "fanout_id"]))
        self.assertEqual(self.post(sid, "manual-retry", {"fanout_id": "f"}).status, 400)  # QUEUED
        self.ok(self.api.errored(sid, "bad"))
        fan = str(uuid.uuid4())
        r = self.post(sid, "manual-retry", {"fanout_id": fan})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["id", "status"])
        self.assertEqual(r.json["status"], "CREATED")
        new_id = r.json["id"]
        self.assertRegex(new_id, HEX24)
        self.assertEqual([s["status"] for s in self.states(run) if s["id"] == sid], ["RETRY_CREATED"])
        self.assertEqual(self.post(sid, "manual-retry", {"fanout_id": fan}).status, 400)  # replay
        again = self.claim("A")[0]
        self.assertEqual((again["state_id"], again["inputs"]), (new_id, st["inputs"]))
        self.ok(self.api.errored(new_id, "bad again"))
        # a retry of the retry with the same fanout_id collides with new_id (same node, run, retry_count 0)
        self.assertDetail(self.post(new_id, "manual-retry", {"fanout_id": fan}), 409, "Duplicate retry state detected")
        self.assertEqual([s["status"] for s in self.states(run) if s["id"] == new_id], ["ERRORED"])
        self.ok(self.post(new_id, "manual-retry", {"fanout_id": "another"}))

    def test_manual_retry_copies_inputs_and_parents(self):
        run, a = self.chain()
        self.ok(self.api.executed(a["state_id"], [{"o": "A"}]))
        b = self.claim("B")[0]
        self.ok(self.api.errored(b["state_id"], "e"))
        new_id = self.ok(self.post(b["state_id"], "manual-retry", {"fanout_id": "m"}))["id"]
        detail = self.ok(self.api.node_details("g", run, new_id))
        self.assertEqual((detail["status"], detail["inputs"], detail["parents"], detail["outputs"], detail["error"]),
                         ("CREATED", {"y": "A"}, {"a": a["state_id"]}, {}, None))

    def test_manual_retry_of_next_created_error(self):
        run, a = self.chain()
        self.ok(self.api.executed(a["state_id"], []))
        self.wait_status(run, "a", "NEXT_CREATED_ERROR")
        r = self.post(a["state_id"], "manual-retry", {"fanout_id": "x"})
        self.assertEqual(r.status, 200, r)
        again = self.claim("A")[0]
        self.ok(self.api.executed(again["state_id"], [{"o": "fine"}]))
        self.assertEqual(self.claim("B")[0]["inputs"], {"y": "fine"})
        self.assertEqual(self.post(again["state_id"], "manual-retry", {"fanout_id": "y"}).status, 400)  # SUCCESS

    # ---- unite (§6.4 with exo §0) ----------------------------------------------------------
    def unite_graph(self, strategy, target="t"):
        self.ok(self.api.register([node_def("R", [], ["v"]), node_def("T", ["i"], ["v"]), node_def("X", ["v"], []),
                                   node_def("U", ["first", "root"], [])]))
        self.valid_graph([self.node("R", "r", next_nodes=["t"]),
                          self.node("T", "t", {"i": "${{ r.outputs.v }}"}, ["x"]),
                          self.node("X", "x", {"v": "${{ t.outputs.v }}"}, ["u"]),
                          self.node("U", "u", {"first": "${{ %s.outputs.v }}" % target, "root": "${{ r.outputs.v }}"},
                                    unites=target, strategy=strategy)], retry_policy={"max_retries": 0})
        run = self.trigger()
        r = self.claim("R")[0]
        self.ok(self.api.executed(r["state_id"], [{"v": "R"}]))
        t = self.claim("T")[0]
        self.ok(self.api.executed(t["state_id"], [{"v": "t1"}, {"v": "t2"}, {"v": "t3"}]))
        xs = sorted(self.claim("X", 3), key=lambda s: s["inputs"]["v"])
        return run, r, t, xs

    def test_unite_on_fanning_node_joins_siblings_once(self):
        run, r, t, xs = self.unite_graph("ALL_SUCCESS")
        for x in xs[:2]:
            self.ok(self.api.executed(x["state_id"], []))
        time.sleep(0.3)
        self.assertEqual(self.states(run, ident="u"), [])
        self.ok(self.api.executed(xs[2]["state_id"], []))
        u = self.claim("U")[0]
        self.assertEqual(u["inputs"], {"first": "t1", "root": "R"})
        time.sleep(0.3)
        us = self.states(run, ident="u")
        self.assertEqual(len(us), 1)
        self.assertEqual(list(us[0]["parents"].items()), [("r", r["state_id"]), ("t", t["state_id"])])
        edges = self.api.run_graph(run).json["edges"]
        self.assertIn({"source": t["state_id"], "target": us[0]["id"]}, edges)  # §3.16: last parent entry
        self.assertEqual(len(edges), 3 + 3 + 1)  # r -> each t sibling, each t -> its x, t -> u

    def test_unite_all_success_counts_pruned(self):
        run, r, t, xs = self.unite_graph("ALL_SUCCESS")
        self.ok(self.api.executed(xs[0]["state_id"], []))
        self.ok(self.api.executed(xs[1]["state_id"], []))
        self.ok(self.post(xs[2]["state_id"], "prune", {"data": {}}))
        self.claim("U")
        info = self.api.run_status(run)
        self.assertEqual(info["pending_count"], 1)

    def test_unite_all_success_blocked_by_error(self):
        run, r, t, xs = self.unite_graph("ALL_SUCCESS")
        self.ok(self.api.errored(xs[0]["state_id"], "x"))
        self.ok(self.api.executed(xs[1]["state_id"], []))
        self.ok(self.api.executed(xs[2]["state_id"], []))
        info = self.api.wait_run_finished(run)
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(self.states(run, ident="u"), [])

    def test_unite_all_done_errored_last_branch(self):
        run, r, t, xs = self.unite_graph("ALL_DONE")
        self.ok(self.api.executed(xs[0]["state_id"], []))
        self.ok(self.post(xs[1]["state_id"], "prune", {"data": {}}))
        self.ok(self.api.errored(xs[2]["state_id"], "last one fails"))
        u = self.claim("U")[0]
        self.assertEqual(u["inputs"], {"first": "t1", "root": "R"})
        self.ok(self.api.executed(u["state_id"], []))
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"], info["success_count"]), ("FAILED", 1, 7))

    def test_unite_on_node_before_fan_out(self):
        # unites r (before the fan-out of t): one U once all three branches are done
        run, r, t, xs = self.unite_graph("ALL_SUCCESS", target="r")
        for x in xs:
            self.ok(self.api.executed(x["state_id"], []))
        self.claim("U")
        time.sleep(0.3)
        self.assertEqual(len(self.states(run, ident="u")), 1)

    def test_unite_concurrent_completion_exactly_one(self):
        import threading
        run, r, t, xs = self.unite_graph("ALL_DONE")
        barrier = threading.Barrier(3)
        results = []

        def report(x):
            barrier.wait()
            results.append(self.api.executed(x["state_id"], []).status)
        threads = [threading.Thread(target=report, args=(x,)) for x in xs]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(results, [200, 200, 200])
        self.claim("U")
        time.sleep(0.3)
        self.assertEqual(len(self.states(run, ident="u")), 1)
        self.assertEqual(self.api.enqueue(["U"], 5).json["count"], 0)

    # ---- §3.15 runs ------------------------------------------------------------------------
    def test_runs_listing(self):
        self.ok(self.api.register([node_def("A")]))
        self.valid_graph([self.node("A", "a")])
        runs = []
        for _ in range(3):
            runs.append(self.trigger())
            time.sleep(0.01)  # distinct created_at values: ties have no specified order
        r = self.api.runs(1, 2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["namespace", "total", "page", "size", "runs"])
        self.assertEqual((r.json["namespace"], r.json["total"], r.json["page"], r.json["size"]), (self.ns, 3, 1, 2))
        self.assertEqual([x["run_id"] for x in r.json["runs"]], [runs[2], runs[1]])
        item = r.json["runs"][0]
        self.assertEqual(list(item.keys()), ["run_id", "graph_name", "success_count", "pending_count", "errored_count",
                                             "retried_count", "total_count", "status", "created_at"])
        self.assertEqual((item["graph_name"], item["pending_count"], item["total_count"], item["status"]),
                         ("g", 1, 1, "PENDING"))
        self.assertRegex(item["created_at"], TIMESTAMP)
        self.assertEqual([x["run_id"] for x in self.api.runs(2, 2).json["runs"]], [runs[0]])
        self.assertEqual(self.api.runs(3, 2).json["runs"], [])
        for page, size in ((0, 5), (1, 0), (-1, 5), (1, -2), ("x", 5), (1, "1.5")):
            r = self.api.runs(page, size)
            self.assertEqual(r.status, 422, (page, size, r))
            self.assertEqual(r.json["detail"][0]["loc"][0], "path", r)
        big = self.api.runs(1, 10 ** 9)
        self.assertEqual(big.status, 200)
        self.assertLessEqual(big.json["size"], 10 ** 9)
        self.assertEqual(len(big.json["runs"]), 3)
        empty = self.api.runs(1, 5, ns="no-runs-here")
        self.assertEqual(empty.json, {"namespace": "no-runs-here", "total": 0, "page": 1, "size": 5, "runs": []})

    def test_run_statuses_and_counts(self):
        run, st = self.single()
        self.ok(self.api.executed(st["state_id"], [{"o": "1"}, {"o": "2"}]))
        info = self.api.wait_run_finished(run)
        self.assertEqual({k: info[k] for k in ("success_count", "pending_count", "errored_count", "retried_count",
                                               "total_count", "status")},
                         {"success_count": 2, "pending_count": 0, "errored_count": 0, "retried_count": 0,
                          "total_count": 2, "status": "SUCCESS"})

    # ---- §3.16 run graph ---------------------------------------------------------------------
    def test_run_graph(self):
        empty = self.api.run_graph("no-such-run")
        self.assertEqual(empty.json, {"root_states": [], "graph_name": "", "nodes": [], "edges": [], "node_count": 0,
                                      "edge_count": 0, "execution_summary": dict.fromkeys(SUMMARY_KEYS, 0)})
        self.assertEqual(list(empty.json["execution_summary"].keys()), SUMMARY_KEYS)
        run, a = self.chain()
        self.ok(self.api.executed(a["state_id"], [{"o": "1"}, {"o": "2"}]))
        bs = self.claim("B", 2)
        self.ok(self.api.errored(bs[0]["state_id"], "e"))
        wait_until(lambda: self.api.run_graph(run).json["execution_summary"]["SUCCESS"] == 2, 10, what="a success")
        g = self.api.run_graph(run)
        self.assertEqual(g.status, 200, g)
        body = g.json
        self.assertEqual(list(body.keys()), ["root_states", "graph_name", "nodes", "edges", "node_count", "edge_count",
                                             "execution_summary"])
        self.assertEqual(list(body["execution_summary"].keys()), SUMMARY_KEYS)
        self.assertEqual(body["graph_name"], "g")
        self.assertEqual((body["node_count"], body["edge_count"]), (4, 2))
        self.assertEqual(body["execution_summary"], {"CREATED": 0, "QUEUED": 1, "EXECUTED": 0, "ERRORED": 1,
                                                     "NEXT_CREATED_ERROR": 0, "SUCCESS": 2, "PRUNED": 0,
                                                     "RETRY_CREATED": 0})
        for n in body["nodes"]:
            self.assertEqual(list(n.keys()), ["id", "node_name", "identifier", "status", "error"])
        self.assertEqual(len(body["root_states"]), 2)
        self.assertEqual({x["identifier"] for x in body["root_states"]}, {"a"})
        errored = [n for n in body["nodes"] if n["status"] == "ERRORED"][0]
        self.assertEqual(errored["error"], "e")
        a_ids = {n["id"] for n in body["nodes"] if n["identifier"] == "a"}
        b_ids = {n["id"] for n in body["nodes"] if n["identifier"] == "b"}
        self.assertEqual({e["source"] for e in body["edges"]}, a_ids)
        self.assertEqual({e["target"] for e in body["edges"]}, b_ids)
        other = self.api.run_graph(run, ns="other-ns")
        self.assertEqual(other.json["node_count"], 0)

    # ---- §3.17 node details ------------------------------------------------------------------
    def test_node_details(self):
        run, a = self.chain()
        sid = a["state_id"]
        r = self.api.node_details("g", run, sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.json.keys()), ["id", "node_name", "identifier", "graph_name", "run_id", "status",
                                               "inputs", "outputs", "error", "parents", "created_at", "updated_at"])
        self.assertEqual({k: r.json[k] for k in ("id", "node_name", "identifier", "graph_name", "run_id", "status",
                                                 "inputs", "outputs", "error", "parents")},
                         {"id": sid, "node_name": "A", "identifier": "a", "graph_name": "g", "run_id": run,
                          "status": "QUEUED", "inputs": {"x": "S"}, "outputs": {}, "error": None, "parents": {}})
        self.assertRegex(r.json["created_at"], TIMESTAMP)
        self.assertRegex(r.json["updated_at"], TIMESTAMP)
        for g, rr, node, ns in (("other", run, sid, None), ("g", "other-run", sid, None), ("g", run, MISSING_ID, None),
                                ("g", run, sid, "other-ns")):
            x = self.api.node_details(g, rr, node, ns)
            self.assertDetail(x, 404, f"Node {node} not found in run {rr} for graph {g}")
        self.assertEqual(self.api.node_details("g", run, "not-an-id").status, 404)


if __name__ == "__main__":
    main()
