"""The dashboard's requests with many runs stored (issue 11): the runs page (newest
first, filtered by status / graph / run id prefix, a later keyset page), the
overview and one run's states.

Usage:  python3 bench/bench_dashboard.py --build DIR [--runs 100000] [--repeat 20] [--failed-every 7]
Prints the latency of each request over loopback (an upper bound of the server-side
time); asserts nothing (numbers go to docs/dev/PERF.md by hand).
"""

import argparse
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

NS = "benchdash"


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def make_runs(api, n, threads=4, failed_every=7):
    """n runs over graphs g1 and g2, as a busy namespace has them: 99% finished (every
    failed_every-th FAILED, the rest SUCCESS, spread over time), the newest 1% PENDING.
    Each trigger is followed by one claim and its report, so the backlog stays empty."""
    finished = n - n // 100

    def work(start, count):
        for i in range(start, start + count):
            assert api.trigger("g1" if i % 2 else "g2").status == 200
            st = api.enqueue(["A"], batch_size=1).json["states"]
            if st and i % failed_every == 0:
                api.errored(st[0]["state_id"], "boom")
            elif st:
                api.executed(st[0]["state_id"], [{}])
    per = finished // threads
    ts = [threading.Thread(target=work, args=(k * per, per)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(n - per * threads):
        assert api.trigger("g1" if i % 2 else "g2").status == 200


def measure(api, path, repeat):
    times = []
    r = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = api.request("GET", path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status == 200, (path, r)
    return r.json, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--failed-every", type=int, default=7,
                    help="every Nth finished run FAILED (e.g. 10000: FAILED is rare, the filter's hard case)")
    opts = ap.parse_args()
    harness.BUILD_DIR = os.path.abspath(opts.build)
    harness.BIN_DIR = os.path.join(harness.BUILD_DIR, "bin")
    with tempfile.TemporaryDirectory(prefix="exo-bench-dash-") as tmp:
        sm = harness.StateManager(tmp).start()
        try:
            api = sm.api(NS)
            api.register([harness.node_def("A", ["x"])])
            for g in ("g1", "g2"):
                # no automatic retry: an errored run stays FAILED
                api.put_graph(g, {"secrets": {}, "retry_policy": {"max_retries": 0},
                                  "nodes": [{"node_name": "A", "namespace": NS, "identifier": "a",
                                             "inputs": {"x": "1"}, "next_nodes": []}]})
                api.wait_validated(g)
            t = time.time()
            make_runs(api, opts.runs, failed_every=opts.failed_every)
            print(f"stored {opts.runs} runs in {time.time() - t:.0f} s", flush=True)
            first, _ = measure(api, api.ns_path("/runs?limit=50"), 1)
            some = first["runs"][10]["run_id"]
            paths = [
                ("runs page (newest 50)", "/runs?limit=50"),
                ("runs page 2 (after cursor)", f"/runs?limit=50&after={first['next']}"),
                ("runs, status=FAILED", "/runs?limit=50&status=FAILED"),
                ("runs, status=CANCELLED (none)", "/runs?limit=50&status=CANCELLED"),
                ("runs, graph=g1", "/runs?limit=50&graph=g1"),
                ("runs, status=SUCCESS&graph=g2", "/runs?limit=50&status=SUCCESS&graph=g2"),
                ("runs, run id prefix", f"/runs?limit=50&run_id_prefix={some[:6]}"),
                ("graphs (the runs page's graph list)", "/graphs/"),
                ("overview", "/overview"),
                ("one run's states", f"/run/{some}/states"),
                ("one run (why it waits)", f"/run/{some}"),
            ]
            for label, path in paths:
                _, times = measure(api, api.ns_path(path), opts.repeat)
                print(f"{label:38s} p50 {pct(times, 0.5):7.1f} ms  p95 {pct(times, 0.95):7.1f} ms  "
                      f"max {max(times):7.1f} ms", flush=True)
        finally:
            sm.stop()


if __name__ == "__main__":
    main()
