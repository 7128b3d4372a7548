"""The reference Python SDK's runtime (exospherehost) as the worker, unchanged:
fan-out, secrets, the store, a unite, retries, prune and re-enqueue, with the
graphs upserted and triggered through the SDK's own StateManager client.  On
PostgreSQL (run as reference_runtime_pg) two replicas share one database: the
runtime talks to one, the client to the other, so every state it runs was
created through the other replica.

The SDK is not part of this repository: EXO_REFERENCE_SDK names a checkout of its
python-sdk directory and EXO_REFERENCE_PYTHON an interpreter that can import it
with its dependencies (aiohttp, pydantic 2); without them the test is skipped.
CONTRIBUTING.md ("How to run what") says how to run it."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import API_KEY, TEST_DB, ExoTestCase, Process, main, wait_until  # noqa: E402

SDK = os.environ.get("EXO_REFERENCE_SDK", "")
PYTHON = os.environ.get("EXO_REFERENCE_PYTHON", "")
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference", "reference_worker.py")
NS = "refsdk"
RUNS = 8


def node(name, ident, inputs, next_nodes=(), unites=None):
    n = {"node_name": name, "namespace": NS, "identifier": ident, "inputs": inputs, "next_nodes": list(next_nodes)}
    if unites:
        n["unites"] = {"identifier": unites, "strategy": "ALL_SUCCESS"}
    return n


GRAPHS = {
    "words": {
        "secrets": {"suffix": "!"},
        "nodes": [node("RefSplit", "split", {"text": "${{ store.text }}"}, ["shout"]),
                  node("RefShout", "shout", {"word": "${{ split.outputs.word }}"}, ["join"]),
                  node("RefJoin", "join", {"text": "${{ store.text }}"}, unites="split")],
        "store_config": {"required_keys": ["text"]},
    },
    "flaky": {
        "nodes": [node("RefFlaky", "flaky", {"key": "${{ store.key }}"})],
        "retry_policy": {"max_retries": 2, "strategy": "EXPONENTIAL", "backoff_factor": 50, "exponent": 2},
        "store_config": {"required_keys": ["key"]},
    },
    "gate": {
        "nodes": [node("RefGate", "gate", {"key": "${{ store.key }}"})],
        "store_config": {"required_keys": ["key"]},
    },
}

# The SDK's own client upserts and triggers: its calls, its bodies.
CLIENT = """
import asyncio, json, sys
from exospherehost import StateManager, GraphNodeModel, RetryPolicyModel, StoreConfigModel
uri, ns, graphs, triggers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
async def go():
    sm = StateManager(namespace=ns, state_manager_uri=uri)
    for name, g in graphs.items():
        kw = {}
        if "retry_policy" in g:
            kw["retry_policy"] = RetryPolicyModel(**g["retry_policy"])
        if "store_config" in g:
            kw["store_config"] = StoreConfigModel(**g["store_config"])
        got = await sm.upsert_graph(name, [GraphNodeModel(**n) for n in g["nodes"]], g.get("secrets", {}), **kw)
        assert got["validation_status"] == "VALID", got
    runs = []
    for name, store in triggers:
        r = await sm.trigger(name, inputs={}, store=store)
        runs.append([name, store, r["run_id"]])
    print(json.dumps(runs))
asyncio.run(go())
"""


@unittest.skipUnless(SDK and PYTHON, "set EXO_REFERENCE_SDK and EXO_REFERENCE_PYTHON to run the reference SDK")
class ReferenceRuntime(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        client_sm = self.start_state_manager(logname="state-manager-0.log")
        worker_sm = client_sm
        if TEST_DB == "postgres":
            worker_sm = self.start_state_manager(db=client_sm.db, logname="state-manager-1.log")
        self.api = client_sm.api(NS)
        self.client_url = client_sm.url
        env = dict(os.environ, EXOSPHERE_API_KEY=API_KEY, EXOSPHERE_STATE_MANAGER_URI=client_sm.url,
                   PYTHONPATH=os.pathsep.join(p for p in (SDK, os.environ.get("PYTHONPATH", "")) if p))
        self.sdk_env = env
        self.worker = Process([PYTHON, WORKER, worker_sm.url, NS, self.tmp], env, self.tmp, "reference-worker.log")
        self._procs.append(self.worker.start())
        wait_until(lambda: self.registered() >= 5, 60, what="the reference runtime's registration")

    def registered(self):
        if not self.worker.alive():
            raise AssertionError("the reference worker exited:\n" + self.worker.log()[-3000:])
        r = self.api.request("GET", self.api.ns_path("/nodes/"))
        return r.json.get("count", 0) if r.status == 200 else 0

    def client(self, graphs, triggers):
        out = subprocess.run([PYTHON, "-c", CLIENT, self.client_url, NS, json.dumps(graphs), json.dumps(triggers)],
                             env=self.sdk_env, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        return json.loads(out.stdout.strip().splitlines()[-1])

    def finished(self, graph, run_id):
        self.api.wait_run_finished(run_id, timeout=90)
        return self.api.run_states(graph, run_id)

    def by_node(self, states):
        out = {}
        for s in states:
            out.setdefault(s["node_name"], []).append(s)
        return out

    def test_fan_out_secrets_store_and_unite(self):
        runs = self.client({"words": GRAPHS["words"]}, [["words", {"text": f"a{i} b{i} c{i}"}] for i in range(RUNS)])
        for _, store, run_id in runs:
            states = self.by_node(self.finished("words", run_id))
            self.assertEqual({k: [s["status"] for s in v] for k, v in states.items()},
                             {"RefSplit": ["SUCCESS"] * 3, "RefShout": ["SUCCESS"] * 3, "RefJoin": ["SUCCESS"]}, run_id)
            # the fan-out: the split state took the first word, two siblings the others
            self.assertEqual(sorted(s["outputs"]["word"] for s in states["RefSplit"]), sorted(store["text"].split()))
            shouted = sorted(s["outputs"]["shouted"] for s in states["RefShout"])
            self.assertEqual(shouted, sorted(w.upper() + "!" for w in store["text"].split()))
            self.assertEqual(states["RefJoin"][0]["outputs"], {"joined": "done:" + store["text"]})
            run = self.api.run_status(run_id)
            self.assertEqual((run["status"], run["success_count"], run["total_count"]), ("SUCCESS", 7, 7), run)

    def test_retry_after_an_error(self):
        runs = self.client({"flaky": GRAPHS["flaky"]}, [["flaky", {"key": f"k{i}"}] for i in range(RUNS)])
        for _, _, run_id in runs:
            states = self.finished("flaky", run_id)
            self.assertEqual([s["status"] for s in states], ["RETRY_CREATED", "SUCCESS"], run_id)
            self.assertIn("first attempt fails on purpose", states[0]["error"] or "")
            self.assertEqual(states[1]["outputs"], {"attempts": "2"})

    def test_reenqueue_then_prune_or_pass(self):
        keys = [f"pass{i}" for i in range(RUNS // 2)] + [f"prune{i}" for i in range(RUNS // 2)]
        runs = self.client({"gate": GRAPHS["gate"]}, [["gate", {"key": k}] for k in keys])
        for _, store, run_id in runs:
            states = self.finished("gate", run_id)
            self.assertEqual(len(states), 1, states)
            if store["key"].startswith("pass"):
                self.assertEqual((states[0]["status"], states[0]["outputs"]), ("SUCCESS", {"passed": store["key"]}))
            else:
                self.assertEqual(states[0]["status"], "PRUNED")
            self.assertEqual(open(os.path.join(self.tmp, "attempts-gate-" + store["key"])).read(), "2")


if __name__ == "__main__":
    main()
