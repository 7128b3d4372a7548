"""GET /metrics of exo-state-manager (docs/operations.md): authentication (x-api-key,
Authorization: Bearer, --metrics-public), values after a known workload, and the
whole exposition accepted by `promtool check metrics` (Debian's prometheus)."""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import API_KEY, Api, ExoTestCase, main, node_def, wait_until  # noqa: E402

NS = "metricsns"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def value(samples, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    return sum(found) if found else None


class MetricsTest(ExoTestCase):
    check_sanitizers = True

    def scrape(self, sm, headers=None, api_key=None):
        return Api(sm.url, api_key=api_key).request("GET", "/metrics", headers=headers)

    def test_needs_the_key_unless_public(self):
        sm = self.start_state_manager()
        self.assertEqual(self.scrape(sm).status, 401)
        self.assertEqual(self.scrape(sm, headers={"Authorization": "Bearer wrong"}).status, 401)
        self.assertEqual(self.scrape(sm, headers={"Authorization": "Basic " + API_KEY}).status, 401)
        r = self.scrape(sm, headers={"Authorization": "Bearer " + API_KEY})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers)
        self.assertEqual(self.scrape(sm, api_key=API_KEY).status, 200)
        # the bearer form opens /metrics only, not the API
        r = Api(sm.url, api_key=None).request("GET", "/v0/namespaces",
                                              headers={"Authorization": "Bearer " + API_KEY})
        self.assertEqual(r.status, 401, r)

    def test_metrics_public(self):
        sm = self.start_state_manager(args=["--metrics-public"])
        self.assertEqual(self.scrape(sm).status, 200)
        self.assertEqual(Api(sm.url, api_key=None).request("GET", "/v0/namespaces").status, 401)

    def test_values_after_a_known_workload(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        self.assertEqual(api.register([node_def("A", ["x"], ["y"])]).status, 200)
        r = api.put_graph("g", {"secrets": {}, "retry_policy": {"max_retries": 1, "backoff_factor": 1}, "nodes": [
            {"node_name": "A", "namespace": NS, "identifier": "a", "inputs": {"x": "1"}, "next_nodes": []}]})
        self.assertEqual(r.status, 201, r)
        api.wait_validated("g")
        for _ in range(3):
            self.assertEqual(api.trigger("g").status, 200)
        self.assertEqual(api.request("GET", "/v0/namespace/" + NS + "/graph/nope").status, 404)
        self.assertEqual(api.request("GET", "/no/such/path").status, 404)

        # one long-poll parked while we scrape
        done = threading.Event()

        def poll():
            api.request("POST", api.ns_path("/states/enqueue"),
                        {"nodes": ["Nothing"], "batch_size": 1, "wait_ms": 3000})
            done.set()
        t = threading.Thread(target=poll)
        t.start()
        wait_until(lambda: value(parse(self.scrape(sm, api_key=API_KEY).text), "exo_longpolls_parked") == 1,
                   what="the long-poll to park")
        t.join()

        # the queue, read at scrape time: three root states wait, none runs
        s = parse(self.scrape(sm, api_key=API_KEY).text)
        self.assertEqual(value(s, "exo_queue_states", namespace=NS, node="A"), 3)
        self.assertEqual(value(s, "exo_queue_states_due", namespace=NS, node="A"), 3)
        self.assertEqual(value(s, "exo_states_running", namespace=NS, node="A"), 0)

        # engine events: one errored report that gets a retry, one lease that runs out
        # (the retry policy allows one retry per state)
        first = api.enqueue(["A"], batch_size=1)
        self.assertEqual(first.json["count"], 1, first)
        s = parse(self.scrape(sm, api_key=API_KEY).text)
        self.assertEqual(value(s, "exo_queue_states", namespace=NS, node="A"), 2)
        self.assertEqual(value(s, "exo_states_running", namespace=NS, node="A"), 1)
        r = api.errored(first.json["states"][0]["state_id"], "boom")
        self.assertTrue(r.json["retry_created"], r)
        wait_until(lambda: api.enqueue(["A"], batch_size=1, lease_ms=1000).json["count"] == 1,
                   what="a second claim (with a 1 s lease)")
        wait_until(lambda: value(parse(self.scrape(sm, api_key=API_KEY).text), "exo_leases_expired_total") == 1,
                   timeout=30, what="the lease to expire")

        s = parse(self.scrape(sm, api_key=API_KEY).text)
        self.assertEqual(value(s, "exo_state_retries_total", cause="errored"), 1)
        self.assertEqual(value(s, "exo_http_request_duration_seconds_bucket", route="/v0/namespace/{namespace}/graph/{graph_name}/trigger",
                               method="POST", le="10"), 3)
        self.assertEqual(value(s, "exo_cron_firings_total"), 0)
        trig = "/v0/namespace/{namespace}/graph/{graph_name}/trigger"
        self.assertEqual(value(s, "exo_http_requests_total", route=trig, method="POST", code="200"), 3)
        self.assertEqual(value(s, "exo_http_request_duration_seconds_count", route=trig, method="POST"), 3)
        self.assertEqual(value(s, "exo_http_request_duration_seconds_bucket", route=trig, method="POST",
                               le="+Inf"), 3)
        self.assertEqual(value(s, "exo_http_requests_total", route="/v0/namespace/{namespace}/graph/{graph_name}", method="GET",
                               code="404"), 1)
        self.assertEqual(value(s, "exo_http_requests_total", route="unmatched", code="404"), 1)
        self.assertEqual(value(s, "exo_longpolls_parked"), 0)
        self.assertEqual(value(s, "exo_build_info"), 1)
        # each trigger is one write transaction; registration and the graph are more
        self.assertGreaterEqual(value(s, "exo_db_transactions_total"), 5)
        self.assertEqual(value(s, "exo_db_transaction_duration_seconds_count"), value(s, "exo_db_transactions_total"))
        self.assertEqual(value(s, "exo_db_transaction_retries_total"), 0)
        # no label holds an id: only route patterns, never a run id or a path
        for (name, labels) in s:
            for k, v in labels:
                self.assertNotIn("/graph/g", v, (name, labels))

    def test_states_by_node_and_status_and_the_histograms(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        self.assertEqual(api.register([node_def("A", [], []), node_def("B", [], [])]).status, 200)
        r = api.put_graph("chain", {"secrets": {}, "retry_policy": {"max_retries": 0}, "nodes": [
            {"node_name": "A", "namespace": NS, "identifier": "a", "inputs": {}, "next_nodes": ["b"]},
            {"node_name": "B", "namespace": NS, "identifier": "b", "inputs": {}, "next_nodes": []}]})
        self.assertEqual(r.status, 201, r)
        api.wait_validated("chain")
        for _ in range(2):
            self.assertEqual(api.trigger("chain").status, 200)
        claimed = api.enqueue(["A"], batch_size=2).json["states"]
        self.assertEqual(len(claimed), 2)
        # a refused report counts nothing
        bad = api.request("POST", api.ns_path(f"/state/{claimed[0]['state_id']}/executed"), {"outputs": "x"})
        self.assertEqual(bad.status, 422)
        self.assertEqual(api.executed(claimed[0]["state_id"], [{}]).status, 200)  # creates B
        self.assertEqual(api.errored(claimed[1]["state_id"], "boom").status, 200)  # ends its run
        b = api.enqueue(["B"], batch_size=1).json["states"]
        self.assertEqual(api.executed(b[0]["state_id"], []).status, 200)  # ends the other run

        text = self.scrape(sm, api_key=API_KEY).text
        s = parse(text)
        self.assertEqual(value(s, "exo_states_created_total", namespace=NS, node="A"), 2)
        self.assertEqual(value(s, "exo_states_created_total", namespace=NS, node="B"), 1)
        self.assertEqual(value(s, "exo_states_finished_total", namespace=NS, node="A", status="SUCCESS"), 1)
        self.assertEqual(value(s, "exo_states_finished_total", namespace=NS, node="A", status="ERRORED"), 1)
        self.assertEqual(value(s, "exo_states_finished_total", namespace=NS, node="A", status="PRUNED"), 0)
        self.assertEqual(value(s, "exo_states_finished_total", namespace=NS, node="B", status="SUCCESS"), 1)
        self.assertEqual(value(s, "exo_metrics_node_label_sets"), 2)
        self.assertEqual(value(s, "exo_state_schedule_to_start_seconds_count"), 3)
        self.assertEqual(value(s, "exo_state_schedule_to_start_seconds_bucket", le="+Inf"), 3)
        self.assertEqual(value(s, "exo_run_duration_seconds_count"), 2)
        self.assertGreater(value(s, "exo_run_duration_seconds_sum"), 0)
        self.assertEqual(value(s, "exo_run_duration_seconds_bucket", le="3600"), 2)
        promtool = shutil.which("promtool")
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # a lease that runs out ends its run too (no retry allowed): the reaper observes it
        self.assertEqual(api.trigger("chain").status, 200)
        self.assertEqual(api.enqueue(["A"], batch_size=1, lease_ms=1000).json["count"], 1)
        wait_until(lambda: value(parse(self.scrape(sm, api_key=API_KEY).text), "exo_leases_expired_total") == 1,
                   timeout=30, what="the lease to expire")
        s = parse(self.scrape(sm, api_key=API_KEY).text)
        self.assertEqual(value(s, "exo_run_duration_seconds_count"), 3)

    def test_promtool_accepts_the_exposition(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: scripts/deps.sh installs Debian's prometheus")
        sm = self.start_state_manager()
        sm.api(NS).register([node_def("A", [], [])])
        text = self.scrape(sm, api_key=API_KEY).text
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    main()
