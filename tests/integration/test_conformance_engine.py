"""Conformance of the execution engine with state-manager-api.md §6 (next-state creation,
fan-out, joins, store resolution) and the exo §0 unite semantics (readiness on every final
status, per-instance groups, build failures), acting as the worker over HTTP."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import ConformanceCase, node_def  # noqa: E402
from harness import main  # noqa: E402


class EngineConformance(ConformanceCase):
    def register(self, *defs):
        self.ok(self.api.register(list(defs)))

    def done(self, state, outputs=()):
        self.ok(self.api.executed(state["state_id"], list(outputs)))

    def count(self, run, ident):
        return len(self.states(run, ident=ident))

    # ---- §6.2 / §6.3 ----------------------------------------------------------------------
    def test_multiple_next_nodes_times_fan_out(self):
        self.register(node_def("A", [], ["o"]), node_def("B", ["i"]), node_def("C", ["i"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b", "c"]),
                          self.node("B", "b", {"i": "b-${{ a.outputs.o }}"}),
                          self.node("C", "c", {"i": "c-${{ a.outputs.o }}"})])
        run = self.trigger()
        self.done(self.claim("A")[0], [{"o": "1"}, {"o": "2"}])
        self.assertEqual(sorted(s["inputs"]["i"] for s in self.claim("B", 2)), ["b-1", "b-2"])
        self.assertEqual(sorted(s["inputs"]["i"] for s in self.claim("C", 2)), ["c-1", "c-2"])
        self.assertEqual(self.api.run_status(run)["total_count"], 6)

    def test_template_rendering(self):
        # §4.2 / §4.3: literal head and tails, repeated placeholders, stray }}, plain {{ }} text,
        # store.outputs.k read as store key k, spaces inside the braces.
        self.register(node_def("A", [], ["o"]), node_def("B", ["i", "j"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]),
                          self.node("B", "b", {"i": "pre-${{ a.outputs.o }}-${{a.outputs.o}}}} tail $ {{x}} {{ y }}",
                                               "j": "${{  store . outputs . k  }}${{ store.k }}"})],
                         store_config={"required_keys": ["k"]})
        self.trigger(store={"k": "K"})
        self.done(self.claim("A")[0], [{"o": "V"}])
        self.assertEqual(self.claim("B")[0]["inputs"],
                         {"i": "pre-V-V}} tail $ {{x}} {{ y }}", "j": "KK"})

    def test_spec_13a_fan_out_of_ten(self):
        self.register(node_def("A", [], ["o"]))
        self.valid_graph([self.node("A", "a")])
        run = self.trigger()
        self.done(self.claim("A")[0], [{"o": str(i)} for i in range(10)])
        info = self.api.wait_run_finished(run)
        self.assertEqual({k: info[k] for k in ("total_count", "success_count", "pending_count", "errored_count",
                                               "retried_count", "status")},
                         {"total_count": 10, "success_count": 10, "pending_count": 0, "errored_count": 0,
                          "retried_count": 0, "status": "SUCCESS"})

    def test_run_keeps_its_graph_version(self):
        # exo §0: upserting a graph changes new runs only
        self.register(node_def("A"), node_def("B", ["i"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"i": "v1"})])
        self.trigger()
        a1 = self.claim("A")[0]
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"i": "v2"})])
        self.done(a1)
        self.assertEqual(self.claim("B")[0]["inputs"], {"i": "v1"})
        self.trigger()
        self.done(self.claim("A")[0])
        self.assertEqual(self.claim("B")[0]["inputs"], {"i": "v2"})

    def test_run_keeps_its_retry_policy(self):
        self.register(node_def("A"))
        self.valid_graph([self.node("A", "a")], retry_policy={"max_retries": 0})
        run = self.trigger()
        a = self.claim("A")[0]
        self.valid_graph([self.node("A", "a")],
                         retry_policy={"max_retries": 3, "strategy": "FIXED", "backoff_factor": 1})
        self.assertEqual(self.api.errored(a["state_id"], "e").json, {"status": "ERRORED", "retry_created": False})
        self.assertEqual(self.api.wait_run_finished(run)["status"], "FAILED")

    def test_single_element_list_is_one_output(self):
        self.register(node_def("A", [], ["o"]), node_def("B", ["i"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"i": "${{ a.outputs.o }}"})])
        run = self.trigger()
        self.done(self.claim("A")[0], [{"o": "only"}])
        self.assertEqual(self.claim("B")[0]["inputs"], {"i": "only"})
        self.assertEqual(self.count(run, "a"), 1)

    def test_join_without_unites_runs_per_arrival(self):
        self.register(node_def("A", [], ["o"]), node_def("B"), node_def("C"), node_def("D", ["i"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b", "c"]), self.node("B", "b", next_nodes=["d"]),
                          self.node("C", "c", next_nodes=["d"]), self.node("D", "d", {"i": "${{ a.outputs.o }}"})])
        run = self.trigger()
        self.done(self.claim("A")[0], [{"o": "x"}])
        self.done(self.claim("B")[0])
        self.done(self.claim("C")[0])
        ds = self.claim("D", 2)
        self.assertEqual([d["inputs"] for d in ds], [{"i": "x"}, {"i": "x"}])
        parents = sorted(list(s["parents"].keys()) for s in self.states(run, ident="d"))
        self.assertEqual(parents, [["a", "b"], ["a", "c"]])

    def test_store_values_from_trigger_and_defaults(self):
        self.register(node_def("A"), node_def("B", ["p", "q"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]),
                          self.node("B", "b", {"p": "${{ store.k }}", "q": "${{ store.d }}"})],
                         store_config={"required_keys": ["k"], "default_values": {"d": "dflt", "k": "unused"}})
        self.trigger(store={"k": "from-trigger", "extra": "e"})
        self.done(self.claim("A")[0])
        self.assertEqual(self.claim("B")[0]["inputs"], {"p": "from-trigger", "q": "dflt"})
        self.trigger(store={"d": "override"})
        self.done(self.claim("A")[0])
        self.assertEqual(self.claim("B")[0]["inputs"], {"p": "unused", "q": "override"})

    def test_exo_store_writes_from_executed(self):
        # exo §0 extension: "store" in executed is applied with the report; later placeholders see it
        self.register(node_def("A"), node_def("B", ["p"]), node_def("C", ["p"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"p": "${{ store.k }}"}, ["c"]),
                          self.node("C", "c", {"p": "${{ store.k }}"})],
                         store_config={"default_values": {"k": "default"}})
        self.trigger(store={"k": "trigger"})
        self.ok(self.api.executed(self.claim("A")[0]["state_id"], [], store={"k": "written by a"}))
        b = self.claim("B")[0]
        self.assertEqual(b["inputs"], {"p": "written by a"})
        self.ok(self.api.executed(b["state_id"], [], store={"k": "written by b"}))
        self.assertEqual(self.claim("C")[0]["inputs"], {"p": "written by b"})
        self.trigger()
        self.ok(self.api.executed(self.claim("A")[0]["state_id"], []))
        self.assertEqual(self.claim("B")[0]["inputs"], {"p": "default"})  # per run

    def test_exo_long_poll_sees_states_that_become_eligible(self):
        # exo §0 extension: wait_ms returns as soon as a state can be claimed, including a state
        # whose enqueue_after (retry delay, start_delay, re-enqueue) passes during the wait
        self.register(node_def("A"))
        self.valid_graph([self.node("A", "a")], retry_policy={"max_retries": 1, "strategy": "FIXED",
                                                               "backoff_factor": 300})
        self.trigger()
        self.ok(self.api.errored(self.claim("A")[0]["state_id"], "e"))
        self.assertEqual(self.ok(self.api.enqueue(["A"], 1, wait_ms=20000))["count"], 1)
        self.trigger(start_delay=300)
        st = self.ok(self.api.enqueue(["A"], 1, wait_ms=20000))["states"]
        self.assertEqual(len(st), 1)
        self.ok(self.post(st[0]["state_id"], "re-enqueue-after", {"enqueue_after": 300}))
        self.assertEqual(self.ok(self.api.enqueue(["A"], 1, wait_ms=20000))["count"], 1)

    def test_exo_many_long_polls_do_not_starve_other_requests(self):
        import threading
        self.register(node_def("A"))
        self.valid_graph([self.node("A", "a")])
        got = []

        def poll():
            r = self.api.enqueue(["A"], 1, wait_ms=5000)
            got.append((r.status, [s["state_id"] for s in r.json["states"]]))
        threads = [threading.Thread(target=poll) for _ in range(32)]
        for th in threads:
            th.start()
        time.sleep(0.3)
        self.assertEqual(self.api.request("GET", "/v0/namespaces", timeout=10).status, 200)
        for _ in range(5):
            self.trigger()
        for th in threads:
            th.join()
        ids = [i for status, states in got for i in states]
        self.assertEqual(({status for status, _ in got}, len(got)), ({200}, 32))
        self.assertEqual((len(ids), len(set(ids))), (5, 5))

    def test_exo_expired_lease_goes_through_the_error_path(self):
        # exo §0 extension (lease_ms as documented in state-manager/STATUS.md): an unreported claim
        # errors after its lease, the retry policy applies, and the error says the lease expired
        self.register(node_def("A"))
        self.valid_graph([self.node("A", "a")], retry_policy={"max_retries": 1, "strategy": "FIXED",
                                                               "backoff_factor": 1})
        run = self.trigger()
        first = self.ok(self.api.enqueue(["A"], 1, lease_ms=1000))["states"][0]
        retry = self.claim("A", timeout=30)[0]
        self.assertNotEqual(retry["state_id"], first["state_id"])
        old = [s for s in self.states(run) if s["id"] == first["state_id"]][0]
        self.assertEqual(old["status"], "RETRY_CREATED")
        self.assertIn("lease", old["error"])
        self.assertDetail(self.api.executed(first["state_id"], []), 400, "State is not queued")
        self.done(retry)
        self.assertEqual(self.api.wait_run_finished(run)["status"], "SUCCESS")

    def test_pruned_branch_stops_and_run_succeeds(self):
        self.register(node_def("A"), node_def("B"))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b")])
        run = self.trigger()
        self.ok(self.post(self.claim("A")[0]["state_id"], "prune", {"data": {"r": "x"}}))
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["success_count"], info["total_count"]), ("SUCCESS", 1, 1))
        self.assertEqual(self.api.enqueue(["B"], 5).json["count"], 0)

    def test_retry_keeps_inputs_and_parents(self):
        self.register(node_def("A", [], ["o"]), node_def("B", ["i"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"i": "${{ a.outputs.o }}"})],
                         retry_policy={"max_retries": 2, "strategy": "FIXED", "backoff_factor": 1})
        run = self.trigger()
        a = self.claim("A")[0]
        self.done(a, [{"o": "v"}])
        b = self.claim("B")[0]
        self.ok(self.api.errored(b["state_id"], "first"))
        b2 = self.claim("B")[0]
        self.assertEqual(b2["inputs"], {"i": "v"})
        detail = [s for s in self.states(run) if s["id"] == b2["state_id"]][0]
        self.assertEqual(detail["parents"], {"a": a["state_id"]})
        self.assertEqual((detail["status"], detail["error"], detail["outputs"]), ("QUEUED", None, {}))
        self.done(b2)
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["retried_count"], info["success_count"]), ("SUCCESS", 1, 2))

    def test_retry_budget_is_max_retries(self):
        self.register(node_def("A"))
        self.valid_graph([self.node("A", "a")], retry_policy={"max_retries": 2, "strategy": "FIXED",
                                                               "backoff_factor": 1})
        run = self.trigger()
        answers = []
        for _ in range(3):
            answers.append(self.api.errored(self.claim("A")[0]["state_id"], "e").json["retry_created"])
        self.assertEqual(answers, [True, True, False])
        time.sleep(0.2)
        self.assertEqual(self.api.enqueue(["A"], 5).json["count"], 0)
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["retried_count"], info["errored_count"], info["total_count"]), (2, 1, 3))

    def test_cross_namespace_node_template(self):
        other = self.ns + "-other"
        self.register(node_def("A", [], ["o"]))
        self.ok(self.api.register([node_def("B", ["i"], [], secrets=["s"])], ns=other))
        b = self.node("B", "b", {"i": "${{ a.outputs.o }}"})
        b["namespace"] = other
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), b], secrets={"s": "secret"})
        run = self.trigger()
        self.done(self.claim("A")[0], [{"o": "v"}])
        r = self.api.enqueue(["B"], 1, ns=other)
        self.assertEqual(r.json["count"], 1, r)
        st = r.json["states"][0]
        self.assertEqual(st["inputs"], {"i": "v"})
        sec = self.api.request("GET", self.api.ns_path(f"/state/{st['state_id']}/secrets", other))
        self.assertEqual((sec.status, sec.json), (200, {"secrets": {"s": "secret"}}))
        self.ok(self.api.executed(st["state_id"], [], ns=other))
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["total_count"]), ("SUCCESS", 2))  # §3.15: any namespace
        # §3.16 / §3.17 filter by the URL namespace
        self.assertEqual([n["identifier"] for n in self.api.run_graph(run).json["nodes"]], ["a"])
        other_graph = self.api.run_graph(run, ns=other).json
        self.assertEqual(([n["identifier"] for n in other_graph["nodes"]], other_graph["graph_name"]), (["b"], "g"))
        self.assertEqual(self.api.node_details("g", run, st["state_id"]).status, 404)
        self.assertEqual(self.api.node_details("g", run, st["state_id"], ns=other).json["identifier"], "b")

    def concurrently(self, fn, n=6):
        import threading
        barrier = threading.Barrier(n)
        results = []

        def go():
            barrier.wait()
            results.append(fn())
        threads = [threading.Thread(target=go) for _ in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return results

    def test_concurrent_reports_on_one_state_apply_once(self):
        self.register(node_def("A", [], ["o"]), node_def("B", ["i"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]), self.node("B", "b", {"i": "${{ a.outputs.o }}"})],
                         retry_policy={"max_retries": 5, "strategy": "FIXED", "backoff_factor": 1})
        run = self.trigger()
        a = self.claim("A")[0]
        results = self.concurrently(lambda: self.api.executed(a["state_id"], [{"o": "x"}]))
        self.assertEqual(sorted(r.status for r in results), [200] + [400] * 5)
        self.claim("B")
        time.sleep(0.3)
        self.assertEqual(self.count(run, "b"), 1)
        run2 = self.trigger()
        a2 = self.claim("A")[0]
        results = self.concurrently(lambda: self.api.errored(a2["state_id"], "e"))
        self.assertEqual(sorted(r.status for r in results), [200] + [400] * 5)
        self.claim("A")
        time.sleep(0.3)
        self.assertEqual(self.count(run2, "a"), 2)

    def test_unicode_names_round_trip(self):
        api = self.sm.api(self.ns + "-%C3%A9")
        ns = self.ns + "-é"
        self.ok(api.register([node_def("Ä", ["ü"])]))
        r = api.put_graph("%C3%A9t%C3%A9%20a+b", {"secrets": {"ключ": "значение ✓"}, "nodes": [
            {"node_name": "Ä", "namespace": ns, "identifier": "ä", "inputs": {"ü": "ß"}}]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(api.wait_validated("%C3%A9t%C3%A9%20a+b")["validation_status"], "VALID")
        run = self.ok(api.trigger("%C3%A9t%C3%A9%20a+b"))["run_id"]
        st = self.ok(api.enqueue(["Ä"], 1))["states"][0]
        self.assertEqual(st["inputs"], {"ü": "ß"})
        self.assertEqual(self.ok(api.request("GET", api.ns_path(f"/state/{st['state_id']}/secrets")))["secrets"],
                         {"ключ": "значение ✓"})
        self.assertEqual(self.ok(api.runs())["runs"][0]["graph_name"], "été a+b")
        self.assertEqual(self.ok(api.node_details("%C3%A9t%C3%A9%20a+b", run, st["state_id"]))["identifier"], "ä")
        self.assertIn(ns, self.ok(api.request("GET", "/v0/namespaces"))["namespaces"])

    def test_restart_keeps_everything(self):
        self.register(node_def("A", [], ["o"], secrets=["s"]), node_def("B", ["i", "k"]))
        self.valid_graph([self.node("A", "a", next_nodes=["b"]),
                          self.node("B", "b", {"i": "${{ a.outputs.o }}", "k": "${{ store.k }}"})],
                         secrets={"s": "kept secret"}, store_config={"required_keys": ["k"]},
                         retry_policy={"max_retries": 1, "strategy": "FIXED", "backoff_factor": 1})
        run = self.trigger(store={"k": "stored"})
        a = self.claim("A")[0]
        before = self.api.get_graph("g").json
        self.sm.stop()
        self.sm.start()
        after = self.api.get_graph("g").json
        for g in (before, after):
            g.pop("updated_at")  # a start-up re-validation may legitimately refresh it
        self.assertEqual(after, before)
        sec = self.api.request("GET", self.api.ns_path(f"/state/{a['state_id']}/secrets"))
        self.assertEqual(sec.json, {"secrets": {"s": "kept secret"}})
        self.done(a, [{"o": "out"}])
        self.assertEqual(self.claim("B")[0]["inputs"], {"i": "out", "k": "stored"})
        self.assertEqual(self.api.run_status(run)["total_count"], 2)

    def test_spec_3_2_example_graph_end_to_end(self):
        ns = self.ns
        self.register({"name": "Splitter", "secrets": ["api_key"],
                       "inputs_schema": {"type": "object", "properties": {"cursor": {"type": "string"}},
                                         "required": ["cursor"]},
                       "outputs_schema": {"type": "object", "properties": {"chunk": {"type": "string"}}}},
                      node_def("Processor", ["chunk"], ["result"]), node_def("Merger", ["src"]))
        body = {"secrets": {"api_key": "plain-text"}, "nodes": [
            {"node_name": "Splitter", "namespace": ns, "identifier": "split",
             "inputs": {"cursor": "${{ store.cursor }}"}, "next_nodes": ["proc"]},
            {"node_name": "Processor", "namespace": ns, "identifier": "proc",
             "inputs": {"chunk": "${{ split.outputs.chunk }}"}, "next_nodes": ["merge"]},
            {"node_name": "Merger", "namespace": ns, "identifier": "merge",
             "inputs": {"src": "${{ split.outputs.chunk }}"},
             "unites": {"identifier": "split", "strategy": "ALL_SUCCESS"}}],
            "retry_policy": {"max_retries": 2, "strategy": "LINEAR", "backoff_factor": 1000},
            "store_config": {"required_keys": ["cursor"], "default_values": {"batch": "100"}}}
        r = self.api.put_graph("g", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.api.wait_validated("g")["validation_status"], "VALID")
        # §3.4: root inputs are resolved (step 6) before the required-keys check (step 7)
        self.assertDetail(self.api.trigger("g"), 400,
                          "Invalid input: 400: Dependent cursor not found in store for root node split")
        run = self.trigger(store={"cursor": "0"})
        split = self.claim("Splitter")[0]
        self.assertEqual(split["inputs"], {"cursor": "0"})
        secrets = self.ok(self.api.request("GET", self.api.ns_path(f"/state/{split['state_id']}/secrets")))
        self.assertEqual(secrets, {"secrets": {"api_key": "plain-text"}})
        self.done(split, [{"chunk": c} for c in ("c1", "c2", "c3")])
        procs = self.claim("Processor", 3)
        self.assertEqual(sorted(p["inputs"]["chunk"] for p in procs), ["c1", "c2", "c3"])
        for p in procs:
            self.done(p, [{"result": "r"}])
        merge = self.claim("Merger")[0]
        self.assertEqual(merge["inputs"], {"src": "c1"})
        self.done(merge)
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["total_count"], info["success_count"]), ("SUCCESS", 7, 7))

    # ---- unite (§6.4 + exo §0) -------------------------------------------------------------
    def unite_setup(self, strategy="ALL_SUCCESS", u_inputs=None, x_next=("u",), extra_nodes=(), max_retries=0):
        self.register(node_def("T", [], ["v"]), node_def("X", ["v"], ["w"]), node_def("Y", ["w"]),
                      node_def("U", list((u_inputs or {}).keys())))
        nodes = [self.node("T", "t", next_nodes=["x"]),
                 self.node("X", "x", {"v": "${{ t.outputs.v }}"}, list(x_next)),
                 self.node("U", "u", u_inputs or {}, unites="t", strategy=strategy)] + list(extra_nodes)
        self.valid_graph(nodes, retry_policy={"max_retries": max_retries, "strategy": "FIXED", "backoff_factor": 1})
        run = self.trigger()
        t = self.claim("T")[0]
        return run, t

    def test_unite_waits_for_deeper_descendants(self):
        run, t = self.unite_setup(x_next=("y", "u"), extra_nodes=[self.node("Y", "y", {"w": "${{ x.outputs.w }}"})])
        self.done(t, [{"v": "1"}, {"v": "2"}])
        for x in self.claim("X", 2):
            self.done(x, [{"w": "w"}])
        ys = self.claim("Y", 2)
        time.sleep(0.3)
        self.assertEqual(self.count(run, "u"), 0)
        self.done(ys[0])
        time.sleep(0.3)
        self.assertEqual(self.count(run, "u"), 0)
        self.done(ys[1])
        self.claim("U")
        self.assertEqual(self.count(run, "u"), 1)

    def test_unite_all_success_after_retry_succeeds(self):
        run, t = self.unite_setup(max_retries=1)
        self.done(t, [{"v": "1"}, {"v": "2"}])
        xs = self.claim("X", 2)
        self.done(xs[0])
        self.ok(self.api.errored(xs[1]["state_id"], "transient"))
        time.sleep(0.2)
        self.assertEqual(self.count(run, "u"), 0)
        self.done(self.claim("X")[0])
        self.claim("U")

    def test_unite_all_done_after_next_created_error(self):
        run, t = self.unite_setup("ALL_DONE", x_next=("y", "u"),
                                  extra_nodes=[self.node("Y", "y", {"w": "${{ x.outputs.w }}"})])
        self.done(t, [{"v": "1"}, {"v": "2"}])
        xs = self.claim("X", 2)
        self.done(xs[0], [{"w": "ok"}])
        self.done(self.claim("Y")[0])
        self.done(xs[1], [])  # Y cannot be built: x becomes NEXT_CREATED_ERROR, a final status
        self.wait_status(run, "x", "NEXT_CREATED_ERROR")
        self.claim("U")
        self.assertEqual(self.count(run, "u"), 1)

    def test_unite_all_success_with_next_created_error_blocks(self):
        run, t = self.unite_setup("ALL_SUCCESS", x_next=("y", "u"),
                                  extra_nodes=[self.node("Y", "y", {"w": "${{ x.outputs.w }}"})])
        self.done(t, [{"v": "1"}])
        self.done(self.claim("X")[0], [])
        info = self.api.wait_run_finished(run)
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(self.count(run, "u"), 0)

    def test_unite_groups_per_instance_of_target_before_fan_out(self):
        # r fans out to two t instances; each t -> x (fan-out) -> u unites t: one u per t instance
        self.register(node_def("R", [], ["v"]), node_def("T", ["v"], ["v"]), node_def("X"), node_def("U", ["v"]))
        self.valid_graph([self.node("R", "r", next_nodes=["t"]),
                          self.node("T", "t", {"v": "${{ r.outputs.v }}"}, ["x"]),
                          self.node("X", "x", next_nodes=["u"]),
                          self.node("U", "u", {"v": "${{ t.outputs.v }}"}, unites="t")])
        run = self.trigger()
        self.done(self.claim("R")[0], [{"v": "r1"}, {"v": "r2"}])
        ts = sorted(self.claim("T", 2), key=lambda s: s["inputs"]["v"])
        self.done(ts[0], [{"v": "A"}])
        self.done(ts[1], [{"v": "B"}])
        xs = self.claim("X", 2)
        self.done(xs[0])
        u1 = self.claim("U")[0]
        self.assertEqual(self.api.enqueue(["U"], 5).json["count"], 0)
        self.done(xs[1])
        u2 = self.claim("U")[0]
        self.assertEqual(sorted([u1["inputs"]["v"], u2["inputs"]["v"]]), ["A", "B"])

    def test_united_state_retries_automatic_and_manual(self):
        run, t = self.unite_setup(max_retries=1)
        self.done(t, [{"v": "1"}])
        self.done(self.claim("X")[0])
        u = self.claim("U")[0]
        self.ok(self.api.errored(u["state_id"], "u failed"))          # automatic retry (retry_count 1)
        u2 = self.claim("U")[0]
        self.assertNotEqual(u2["state_id"], u["state_id"])
        r = self.api.errored(u2["state_id"], "u failed again")        # budget exhausted
        self.assertEqual(r.json, {"status": "ERRORED", "retry_created": False})
        self.ok(self.post(u2["state_id"], "manual-retry", {"fanout_id": "op-1"}))
        u3 = self.claim("U")[0]
        self.ok(self.api.errored(u3["state_id"], "third"))            # manual retry has its own budget
        u4 = self.claim("U")[0]                                       # (quirk 17: must not collide)
        self.done(u4)
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["retried_count"], info["errored_count"]), ("SUCCESS", 3, 0))

    def test_unite_listed_by_two_branches(self):
        self.register(node_def("T", [], ["v"]), node_def("X"), node_def("Y"), node_def("U", ["v"]))
        self.valid_graph([self.node("T", "t", next_nodes=["x", "y"]), self.node("X", "x", next_nodes=["u"]),
                          self.node("Y", "y", next_nodes=["u"]),
                          self.node("U", "u", {"v": "${{ t.outputs.v }}"}, unites="t", strategy="ALL_DONE")],
                         retry_policy={"max_retries": 0})
        run = self.trigger()
        self.done(self.claim("T")[0], [{"v": "T"}])
        x, y = self.claim("X")[0], self.claim("Y")[0]
        self.done(x)
        time.sleep(0.3)
        self.assertEqual(self.count(run, "u"), 0)
        self.ok(self.api.errored(y["state_id"], "y failed"))
        self.assertEqual(self.claim("U")[0]["inputs"], {"v": "T"})
        time.sleep(0.3)
        self.assertEqual(self.count(run, "u"), 1)

    def test_nested_unites_with_fan_out_at_both_levels(self):
        # r fans out (2) -> t per r-sibling fans out (2 each) -> x -> ut unites t -> ur unites r.
        # exo §0: siblings of the fanning node count as one instance, so one ut per r-sibling's t group
        # and a single ur for the whole run.
        self.register(node_def("R", [], ["v"]), node_def("T", ["v"], ["w"]), node_def("X"),
                      node_def("UT", ["w"], ["z"]), node_def("UR", ["v"]))
        self.valid_graph([self.node("R", "r", next_nodes=["t"]),
                          self.node("T", "t", {"v": "${{ r.outputs.v }}"}, ["x"]),
                          self.node("X", "x", next_nodes=["ut"]),
                          self.node("UT", "ut", {"w": "${{ t.outputs.w }}"}, ["ur"], unites="t"),
                          self.node("UR", "ur", {"v": "${{ r.outputs.v }}"}, unites="r")],
                         retry_policy={"max_retries": 0})
        run = self.trigger()
        self.done(self.claim("R")[0], [{"v": "r1"}, {"v": "r2"}])
        for t in sorted(self.claim("T", 2), key=lambda s: s["inputs"]["v"]):
            v = t["inputs"]["v"]
            self.done(t, [{"w": v + "-a"}, {"w": v + "-b"}])
        xs = self.claim("X", 4)
        for x in xs[:3]:
            self.done(x)
        first_ut = self.claim("UT")[0]
        self.assertEqual(self.api.enqueue(["UT"], 5).json["count"], 0)
        self.done(xs[3])
        second_ut = self.claim("UT")[0]
        self.assertEqual(sorted([first_ut["inputs"]["w"], second_ut["inputs"]["w"]]), ["r1-a", "r2-a"])
        self.done(first_ut, [{"z": "1"}])
        time.sleep(0.3)
        self.assertEqual(self.count(run, "ur"), 0)
        self.done(second_ut, [{"z": "2"}])
        self.assertEqual(self.claim("UR")[0]["inputs"], {"v": "r1"})
        self.assertEqual(self.api.enqueue(["UR"], 5).json["count"], 0)

    def test_unite_build_failure_after_prune(self):
        self.register(node_def("T", [], ["v", "z"]), node_def("X"), node_def("U", ["z"]))
        self.valid_graph([self.node("T", "t", next_nodes=["x"]), self.node("X", "x", next_nodes=["u"]),
                          self.node("U", "u", {"z": "${{ t.outputs.z }}"}, unites="t", strategy="ALL_DONE")],
                         retry_policy={"max_retries": 0})
        run = self.trigger()
        self.done(self.claim("T")[0], [{"v": "only v"}])  # t has no z: u cannot be built
        x = self.claim("X")[0]
        self.ok(self.post(x["state_id"], "prune", {"data": {}}))
        us = self.wait_status(run, "u", "ERRORED")
        self.assertEqual(len(us), 1)
        self.assertIn("z", us[0]["error"])
        self.assertEqual(self.api.wait_run_finished(run)["status"], "FAILED")

    def test_unite_build_failure_after_errored(self):
        self.register(node_def("T", [], ["v", "z"]), node_def("X"), node_def("U", ["z"]))
        self.valid_graph([self.node("T", "t", next_nodes=["x"]), self.node("X", "x", next_nodes=["u"]),
                          self.node("U", "u", {"z": "${{ t.outputs.z }}"}, unites="t", strategy="ALL_DONE")],
                         retry_policy={"max_retries": 0})
        run = self.trigger()
        self.done(self.claim("T")[0], [{"v": "only v"}])
        self.ok(self.api.errored(self.claim("X")[0]["state_id"], "x failed"))
        us = self.wait_status(run, "u", "ERRORED")
        self.assertEqual(len(us), 1)
        self.assertTrue(us[0]["error"])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"]), ("FAILED", 2))


if __name__ == "__main__":
    main()
