"""The worked example of concepts.md §14 (nightly-batches), played step by step as the worker,
plus its variations (§14.6) under exo's §0 unite rules."""
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import ConformanceCase, node_def  # noqa: E402
from harness import main  # noqa: E402

DSN = "postgres://reporter:s3cret@warehouse:5432/batches"


def example_body(ns, strategy="ALL_SUCCESS"):
    def n(name, ident, inputs, next_nodes, unites=None):
        return {"node_name": name, "namespace": ns, "identifier": ident, "inputs": inputs,
                "next_nodes": next_nodes, "unites": unites}
    return {
        "secrets": {"warehouse_dsn": DSN},
        "nodes": [
            n("PlanJob", "plan", {"region": "eu-west", "day": "${{ store.day }}"}, ["split"]),
            n("SplitJob", "split", {"job_id": "${{ plan.outputs.job_id }}"}, ["work"]),
            n("ProcessBatch", "work", {"job_id": "${{ plan.outputs.job_id }}", "batch": "${{ split.outputs.batch }}",
                                       "mode": "${{ store.mode }}"}, ["collect"]),
            n("CollectResults", "collect", {"job_id": "${{ plan.outputs.job_id }}"}, ["notify"],
              {"identifier": "plan", "strategy": strategy}),
            n("SendNotice", "notify", {"job_id": "${{ plan.outputs.job_id }}", "channel": "${{ store.channel }}"}, []),
        ],
        "retry_policy": {"max_retries": 2, "strategy": "EXPONENTIAL", "backoff_factor": 1000, "exponent": 2,
                         "max_delay": 10000},
        "store_config": {"required_keys": ["day"], "default_values": {"mode": "full", "channel": "#batch-reports"}},
    }


class WorkedExample(ConformanceCase):
    GRAPH = "nightly-batches"

    def setUp(self):
        super().setUp()
        self.ok(self.api.register([
            node_def("PlanJob", ["region", "day"], ["job_id"]), node_def("SplitJob", ["job_id"], ["batch"]),
            node_def("ProcessBatch", ["job_id", "batch", "mode"], ["rows"], secrets=["warehouse_dsn"]),
            node_def("CollectResults", ["job_id"], ["report_url"]), node_def("SendNotice", ["job_id", "channel"], [])],
            runtime_name="docs-runtime"))

    def upsert(self, strategy="ALL_SUCCESS"):
        body = example_body(self.ns, strategy)
        r = self.api.put_graph(self.GRAPH, body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["validation_status"], "PENDING")
        expected_nodes = copy.deepcopy(body["nodes"])
        self.assertEqual(r.json["nodes"], expected_nodes)
        self.assertEqual(r.json["secrets"], {"warehouse_dsn": True})
        g = self.api.wait_validated(self.GRAPH)
        self.assertEqual((g["validation_status"], g["validation_errors"]), ("VALID", []))

    def start(self):
        r = self.api.request("POST", self.api.ns_path(f"/graph/{self.GRAPH}/trigger"),
                             {"inputs": {"region": "us-east"}, "store": {"day": "2025-01-31"}, "start_delay": 0})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "CREATED")
        return r.json["run_id"]

    def secrets(self, state):
        r = self.api.request("GET", self.api.ns_path(f"/state/{state['state_id']}/secrets"))
        self.assertEqual((r.status, r.json), (200, {"secrets": {"warehouse_dsn": DSN}}))

    def executed(self, state, outputs):
        r = self.api.executed(state["state_id"], outputs)
        self.assertEqual((r.status, r.json), (200, {"status": "EXECUTED"}))

    def up_to_work(self):
        """Steps 1-6: returns (run, P, {batch: W state})."""
        self.upsert()
        run = self.start()
        p = self.claim("PlanJob")[0]
        self.assertEqual(p["inputs"], {"region": "us-east", "day": "2025-01-31"})
        self.executed(p, [{"job_id": "job-0131"}])
        s1 = self.claim("SplitJob")[0]
        self.assertEqual(s1["inputs"], {"job_id": "job-0131"})
        self.executed(s1, [{"batch": "b-1"}, {"batch": "b-2"}, {"batch": "b-3"}])
        works = {w["inputs"]["batch"]: w for w in self.claim("ProcessBatch", 3)}
        self.assertEqual(sorted(works), ["b-1", "b-2", "b-3"])
        for batch, w in works.items():
            self.assertEqual(w["inputs"], {"job_id": "job-0131", "batch": batch, "mode": "full"})
            self.secrets(w)
        return run, p, works

    def test_expected_sequence_and_final_picture(self):
        run, p, works = self.up_to_work()
        r = self.api.errored(works["b-2"]["state_id"], "warehouse connection reset")
        self.assertEqual((r.status, r.json), (200, {"status": "ERRORED", "retry_created": True}))
        self.executed(works["b-1"], [{"rows": "1200"}])
        self.executed(works["b-3"], [{"rows": "1010"}])
        time.sleep(0.3)
        self.assertEqual(self.api.enqueue(["CollectResults"], 5).json["count"], 0)
        w2r = self.claim("ProcessBatch", timeout=20)[0]
        self.assertEqual(w2r["inputs"], works["b-2"]["inputs"])
        self.secrets(w2r)
        self.executed(w2r, [{"rows": "950"}])
        c = self.claim("CollectResults")[0]
        self.assertEqual(c["inputs"], {"job_id": "job-0131"})
        self.executed(c, [{"report_url": "https://reports.example/job-0131"}])
        n = self.claim("SendNotice")[0]
        self.assertEqual(n["inputs"], {"job_id": "job-0131", "channel": "#batch-reports"})
        self.executed(n, [])
        info = self.api.wait_run_finished(run)
        self.assertEqual({k: info[k] for k in ("total_count", "success_count", "retried_count", "errored_count",
                                               "pending_count", "status")},
                         {"total_count": 10, "success_count": 9, "retried_count": 1, "errored_count": 0,
                          "pending_count": 0, "status": "SUCCESS"})
        states = {s["id"]: s for s in self.api.run_states(self.GRAPH, run)}
        by_ident = {}
        for s in states.values():
            by_ident.setdefault(s["identifier"], []).append(s)
        self.assertEqual({k: len(v) for k, v in by_ident.items()},
                         {"plan": 1, "split": 3, "work": 4, "collect": 1, "notify": 1})
        splits = {s["outputs"]["batch"]: s for s in by_ident["split"]}
        for s in by_ident["split"]:
            self.assertEqual((s["status"], s["parents"], s["inputs"]), ("SUCCESS", {"plan": p["state_id"]},
                                                                         {"job_id": "job-0131"}))
        w2 = states[works["b-2"]["state_id"]]
        self.assertEqual((w2["status"], w2["error"], w2["outputs"]),
                         ("RETRY_CREATED", "warehouse connection reset", {}))
        for w in by_ident["work"]:
            batch = w["inputs"]["batch"]
            self.assertEqual(list(w["parents"].items()), [("plan", p["state_id"]), ("split", splits[batch]["id"])])
        self.assertEqual(states[w2r["state_id"]]["outputs"], {"rows": "950"})
        self.assertEqual(by_ident["collect"][0]["parents"], {"plan": p["state_id"]})
        self.assertEqual(list(by_ident["notify"][0]["parents"].items()),
                         [("plan", p["state_id"]), ("collect", c["state_id"])])
        self.assertEqual(by_ident["notify"][0]["outputs"], {})

    def test_variation_retries_exhausted(self):
        run, p, works = self.up_to_work()
        self.executed(works["b-1"], [{"rows": "1"}])
        self.executed(works["b-3"], [{"rows": "3"}])
        self.assertTrue(self.api.errored(works["b-2"]["state_id"], "e1").json["retry_created"])
        w = self.claim("ProcessBatch", timeout=20)[0]
        self.assertTrue(self.api.errored(w["state_id"], "e2").json["retry_created"])
        w = self.claim("ProcessBatch", timeout=20)[0]
        self.assertFalse(self.api.errored(w["state_id"], "e3").json["retry_created"])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"], info["retried_count"]), ("FAILED", 1, 2))
        self.assertEqual(self.api.enqueue(["CollectResults"], 5).json["count"], 0)

    def test_variation_all_done_with_failing_batch_last(self):
        # exo §0 (quirk 14 fixed): ALL_DONE fires even when the failing batch settles last
        body = example_body(self.ns, "ALL_DONE")
        body["retry_policy"]["max_retries"] = 0
        self.assertEqual(self.api.put_graph(self.GRAPH, body).status, 201)
        self.assertEqual(self.api.wait_validated(self.GRAPH)["validation_status"], "VALID")
        run = self.start()
        self.executed(self.claim("PlanJob")[0], [{"job_id": "j"}])
        self.executed(self.claim("SplitJob")[0], [{"batch": "b-1"}, {"batch": "b-2"}])
        ws = self.claim("ProcessBatch", 2)
        self.executed(ws[0], [{"rows": "1"}])
        self.assertEqual(self.api.errored(ws[1]["state_id"], "boom").json["retry_created"], False)
        c = self.claim("CollectResults")[0]
        self.assertEqual(c["inputs"], {"job_id": "j"})
        self.executed(c, [{"report_url": "u"}])
        self.executed(self.claim("SendNotice")[0], [])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"]), ("FAILED", 1))

    def test_variation_empty_split_and_prune(self):
        self.upsert()
        run = self.start()
        self.executed(self.claim("PlanJob")[0], [{"job_id": "j"}])
        self.executed(self.claim("SplitJob")[0], [])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"]), ("FAILED", 1))
        split = [s for s in self.api.run_states(self.GRAPH, run) if s["identifier"] == "split"][0]
        self.assertEqual(split["status"], "NEXT_CREATED_ERROR")
        self.assertIn("batch", split["error"])
        run = self.start()
        self.executed(self.claim("PlanJob")[0], [{"job_id": "j"}])
        r = self.post(self.claim("SplitJob")[0]["state_id"], "prune", {"data": {"reason": "nothing to do"}})
        self.assertEqual(r.status, 200, r)
        # exo §0 (BUGS.md D1, decided): a pruned branch never blocks a join, and the pruned split is a
        # final status of plan's only descendant, so collect is created when the prune is reported
        # (the reference never evaluates the unite here and ends with 2 states).
        c = self.claim("CollectResults")[0]
        self.assertEqual(c["inputs"], {"job_id": "j"})
        self.executed(c, [{"report_url": "u"}])
        self.executed(self.claim("SendNotice")[0], [])
        info = self.api.wait_run_finished(run)
        self.assertEqual((info["status"], info["errored_count"]), ("SUCCESS", 0))
        states = self.api.run_states(self.GRAPH, run)
        self.assertEqual(sorted((s["identifier"], s["status"]) for s in states),
                         [("collect", "SUCCESS"), ("notify", "SUCCESS"), ("plan", "SUCCESS"), ("split", "PRUNED")])

    def test_variation_re_enqueue_keeps_state(self):
        run, p, works = self.up_to_work()
        w = works["b-1"]
        r = self.post(w["state_id"], "re-enqueue-after", {"enqueue_after": 200})
        self.assertEqual((r.status, r.json["status"]), (200, "CREATED"))
        again = self.claim("ProcessBatch", timeout=20)[0]
        self.assertEqual((again["state_id"], again["inputs"]), (w["state_id"], w["inputs"]))

    def test_variation_cron_with_required_day_is_invalid(self):
        body = example_body(self.ns)
        body["triggers"] = [{"type": "CRON", "value": {"expression": "0 2 * * *"}}]
        self.assertEqual(self.api.put_graph(self.GRAPH, body).status, 201)
        self.assertEqual(self.api.wait_validated(self.GRAPH)["validation_status"], "INVALID")
        body["store_config"] = {"required_keys": [], "default_values": {"day": "today", "mode": "full",
                                                                         "channel": "#c"}}
        self.assertEqual(self.api.put_graph(self.GRAPH, body).status, 201)
        self.assertEqual(self.api.wait_validated(self.GRAPH)["validation_status"], "VALID")


if __name__ == "__main__":
    main()
