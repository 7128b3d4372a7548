"""Helpers of the exo-host integration tests that use the real state manager:
one-node graphs and waiting for their runs."""

from harness import wait_until

NO_RETRY = {"max_retries": 0, "strategy": "EXPONENTIAL", "backoff_factor": 1000, "exponent": 2,
            "max_delay": None}


def wait_registered(api, names, timeout=20):
    def done():
        r = api.request("GET", api.ns_path("/nodes/"))
        have = {n["name"] for n in (r.json or {}).get("nodes", [])} if r.status == 200 else set()
        return set(names) <= have
    wait_until(done, timeout, what=f"registration of {names}")


def put_one_node_graph(testcase, api, graph, node_name, inputs, secrets=None):
    body = {"secrets": secrets or {},
            "nodes": [{"node_name": node_name, "namespace": api.ns, "identifier": "step",
                       "inputs": inputs, "next_nodes": None, "unites": None}],
            "retry_policy": NO_RETRY}
    r = api.put_graph(graph, body)
    testcase.assertIn(r.status, (200, 201), r.text)
    g = api.wait_validated(graph)
    testcase.assertEqual(g["validation_status"], "VALID", g)


def trigger(testcase, api, graph, inputs=None):
    r = api.trigger(graph, inputs=inputs)
    testcase.assertEqual(r.status, 200, r.text)
    return r.json["run_id"]


def finished_state(api, run_id, timeout=60):
    """Waits until the run has no pending state; returns its (single) state summary."""
    api.wait_run_finished(run_id, timeout=timeout)
    nodes = api.run_graph(run_id).json["nodes"]
    return nodes[0]
