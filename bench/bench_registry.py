"""The worker registry at its bounds: heartbeats per second, and what GET runtimes and
a run view with lost workers cost when a namespace holds as many runtimes, naming as
many nodes, as a client may store (1,000 runtimes; 1,000 node names of up to 64 KiB
together per heartbeat).

Usage:  python3 bench/bench_registry.py --build DIR [--runtimes 1000] [--nodes 1000]
Prints what it measured; asserts nothing (numbers go to docs/dev/PERF.md by hand).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

NS = "benchreg"


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))] if values else None


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return r, (time.perf_counter() - t) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runtimes", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=1000, help="node names per heartbeat")
    opts = ap.parse_args()
    harness.BUILD_DIR = os.path.abspath(opts.build)
    harness.BIN_DIR = os.path.join(harness.BUILD_DIR, "bin")
    with tempfile.TemporaryDirectory(prefix="exo-bench-reg-") as tmp:
        sm = harness.StateManager(tmp).start()
        try:
            api = sm.api(NS)
            path = api.ns_path("/runtimes/heartbeat")
            small = [timed(lambda: api.request("POST", path, {"runtime_name": "one", "nodes": ["A", "B"]}))[1]
                     for _ in range(500)]
            print(f"heartbeat, 2 nodes: p50 {pct(small, 0.5):.2f} ms, p99 {pct(small, 0.99):.2f} ms "
                  f"({1000 / pct(small, 0.5):.0f}/s from one client)")
            # every runtime names the same nodes, so the run view's node has opts.runtimes lost runtimes
            nodes = [f"node-{i:05d}-" + "x" * 40 for i in range(opts.nodes - 1)] + ["Slow"]
            t0 = time.monotonic()
            big = []
            for i in range(opts.runtimes - 1):
                r, ms = timed(lambda: api.request("POST", path, {"runtime_name": f"rt-{i:04d}", "nodes": nodes,
                                                                 "interval_ms": 100}))
                assert r.status == 200, r
                big.append(ms)
            print(f"{opts.runtimes - 1} heartbeats of {opts.nodes} nodes ({len(''.join(nodes)) // 1024} KiB of "
                  f"names) in {time.monotonic() - t0:.1f} s: p50 {pct(big, 0.5):.1f} ms, p99 {pct(big, 0.99):.1f} ms")
            time.sleep(0.5)  # every big runtime is lost now (interval 100 ms)
            listing = [timed(lambda: api.request("GET", api.ns_path("/runtimes"), timeout=120))
                       for _ in range(5)]
            size = len(listing[0][0].text)
            print(f"GET runtimes ({opts.runtimes} runtimes, {size / 1e6:.1f} MB answer): "
                  f"p50 {pct([x[1] for x in listing], 0.5):.0f} ms; lost nodes: "
                  f"{len(listing[0][0].json['lost_nodes'])}")
            api.register([harness.node_def("Slow", ["x"])], runtime_name="rt-0000")
            api.put_graph("g", {"secrets": {}, "nodes": [{"node_name": "Slow", "namespace": NS, "identifier": "a",
                                                           "inputs": {"x": "1"}, "next_nodes": []}]})
            api.wait_validated("g")
            run_id = api.trigger("g").json["run_id"]
            view = [timed(lambda: api.request("GET", api.ns_path(f"/run/{run_id}"), timeout=120)) for _ in range(5)]
            print(f"GET run/{{id}} with its node's {opts.runtimes - 1} runtimes lost: "
                  f"p50 {pct([x[1] for x in view], 0.5):.0f} ms "
                  f"(reason {view[0][0].json['waiting']['states'][0]['reason']})")
            small = [timed(lambda: api.request("POST", path, {"runtime_name": "one", "nodes": ["A", "B"]}))[1]
                     for _ in range(200)]
            print(f"heartbeat, 2 nodes, with the namespace full: p50 {pct(small, 0.5):.2f} ms")
        finally:
            sm.stop()


if __name__ == "__main__":
    main()
