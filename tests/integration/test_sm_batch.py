"""The batched worker call POST states/report (extension): several reports in one
request, each answered on its own exactly as its single endpoint would answer it,
and an optional claim run after them (so it gets the states they created)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ExoTestCase, main, node_def, wait_until  # noqa: E402

NS = "batchns"


def node(name, ident, inputs=None, next_nodes=None):
    return {"node_name": name, "namespace": NS, "identifier": ident, "inputs": inputs or {},
            "next_nodes": next_nodes or []}


class BatchReports(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        r = self.api.register([node_def("A", [], ["v"]), node_def("B", ["v"], [])])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("X-Exo-Extensions"), "states-report")
        body = {"secrets": {}, "nodes": [node("A", "a", next_nodes=["b"]),
                                         node("B", "b", {"v": "${{ a.outputs.v }}"})],
                "retry_policy": {"max_retries": 0}}
        self.assertEqual(self.api.put_graph("g", body).status, 201)
        self.assertEqual(self.api.wait_validated("g")["validation_status"], "VALID")

    def report(self, body, api=None):
        return (api or self.api).request("POST", self.api.ns_path("/states/report"), body)

    def claim_a(self, count):
        got = []
        wait_until(lambda: got.extend(self.api.enqueue(["A"], 100).json["states"]) or len(got) >= count,
                   what=f"{count} A states")
        return [s["state_id"] for s in got]

    def test_reports_succeed_or_fail_each_on_its_own_and_the_claim_gets_the_new_states(self):
        runs = [self.api.trigger("g").json["run_id"] for _ in range(3)]
        ids = self.claim_a(3)
        missing = "0" * 24
        r = self.report({"reports": [
            {"state_id": ids[0], "kind": "executed", "body": {"outputs": [{"v": "one"}]}},
            {"state_id": missing, "kind": "executed", "body": {"outputs": [{"v": "x"}]}},
            {"state_id": ids[1], "kind": "executed", "body": {"outputs": "not a list"}},
            {"state_id": ids[2], "kind": "errored", "body": {"error": "boom"}},
            {"state_id": ids[0], "kind": "executed", "body": {"outputs": [{"v": "again"}]}},
            {"state_id": ids[1], "kind": "teleported", "body": {}},
            "not an object",
        ], "claim": {"nodes": ["B"], "batch_size": 10, "wait_ms": 30000}})
        self.assertEqual(r.status, 200, r)
        res = r.json["results"]
        self.assertEqual(len(res), 7)
        self.assertEqual([x["state_id"] for x in res[:6]], [ids[0], missing, ids[1], ids[2], ids[0], ids[1]])
        self.assertIsNone(res[6]["state_id"])
        # The same answers as the single endpoints give.
        self.assertEqual(res[0], {"state_id": ids[0], "status": 200, "body": {"status": "EXECUTED"}})
        single = self.api.executed(missing, [{"v": "x"}])
        self.assertEqual((res[1]["status"], res[1]["body"]), (single.status, single.json))
        self.assertEqual(res[2]["status"], 422)
        self.assertEqual(res[2]["body"]["detail"][0]["loc"], ["body", "outputs"])
        self.assertEqual(res[3]["status"], 200)
        self.assertEqual(res[3]["body"]["status"], "ERRORED")
        again = self.api.executed(ids[0], [{"v": "again"}])
        self.assertEqual((res[4]["status"], res[4]["body"]), (again.status, again.json))
        self.assertNotEqual(res[4]["status"], 200)
        self.assertEqual(res[5]["status"], 422)
        self.assertIn("unknown kind", res[5]["body"]["detail"])
        self.assertEqual(res[6]["status"], 422)
        self.assertIn("reports[6] is not an object", res[6]["body"]["detail"])
        # The claim ran after the reports, without waiting: the B created by ids[0].
        claim = r.json["claim"]
        self.assertEqual(claim["status"], 200)
        self.assertEqual(claim["body"]["count"], 1)
        self.assertEqual(claim["body"]["states"][0]["inputs"], {"v": "one"})
        # ids[1] was not reported (its item failed): it can still be reported.
        self.assertEqual(self.api.executed(ids[1], [{"v": "two"}]).status, 200)
        b_ids = [claim["body"]["states"][0]["state_id"]]
        b_ids += [s["state_id"] for s in self.api.enqueue(["B"], 10).json["states"]]
        r = self.report({"reports": [{"state_id": b, "kind": "executed", "body": {"outputs": []}}
                                     for b in b_ids]})
        self.assertEqual([x["status"] for x in r.json["results"]], [200, 200])
        self.assertNotIn("claim", r.json)
        statuses = [self.api.wait_run_finished(run)["status"] for run in runs]
        self.assertEqual(sorted(statuses), ["FAILED", "SUCCESS", "SUCCESS"], statuses)

    def test_prune_and_requeue_and_an_empty_batch(self):
        self.api.trigger("g")
        self.api.trigger("g")
        ids = self.claim_a(2)
        r = self.report({"reports": [
            {"state_id": ids[0], "kind": "prune", "body": {"data": {"why": "test"}}},
            {"state_id": ids[1], "kind": "re-enqueue-after", "body": {"enqueue_after": 60000}},
        ]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(x["status"], x["body"]["status"]) for x in r.json["results"]],
                         [(200, "PRUNED"), (200, "CREATED")])
        r = self.report({"reports": [], "claim": {"nodes": ["A"], "batch_size": 5}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["results"], [])
        self.assertEqual(r.json["claim"]["body"]["count"], 0)  # the re-enqueued one is not due yet

    def test_bad_bodies_have_clear_errors(self):
        r = self.report(None)
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["loc"], ["body"])
        r = self.report({"claim": {}})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["loc"], ["body", "reports"])
        r = self.report({"reports": {"state_id": "x"}})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["detail"][0]["loc"], ["body", "reports"])
        r = self.report({"reports": [{"state_id": "a", "kind": "errored", "body": {}}] * 1001})
        self.assertEqual(r.status, 413)
        self.assertIn("at most 1000", r.json["detail"])
        r = self.report({"reports": [{"kind": "errored", "body": {"error": "e"}},
                                     {"state_id": "x" * 24, "kind": "errored", "body": "e"}],
                         "claim": {"nodes": "A"}})
        self.assertEqual(r.status, 200, r)
        self.assertIn("state_id must be a non-empty string", r.json["results"][0]["body"]["detail"])
        self.assertIn("body must be an object", r.json["results"][1]["body"]["detail"])
        self.assertEqual(r.json["claim"]["status"], 422)
        r = self.api.request("POST", self.api.ns_path("/states/report"), raw=b"{not json",
                             headers={"Content-Type": "application/json"})
        self.assertIn(r.status, (400, 422))

    def test_needs_the_api_key(self):
        api = self.sm.api(NS)
        api.api_key = "wrong"
        r = self.report({"reports": []}, api=api)
        self.assertEqual(r.status, 401)
        api.api_key = None
        self.assertEqual(self.report({"reports": []}, api=api).status, 401)


if __name__ == "__main__":
    main()
