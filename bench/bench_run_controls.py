"""Run controls under load: the filtered run listing with many runs stored, and a
purge of many finished runs while other clients keep using the API.

Usage:  python3 bench/bench_run_controls.py --build DIR [--runs N]
Prints what it measured; asserts nothing (numbers go to docs/dev/PERF.md by hand).
"""

import argparse
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

NS = "benchrc"


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))] if values else None


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return r, (time.perf_counter() - t) * 1000


def make_runs(api, n, threads=4):
    """n finished runs of graph g (trigger, claim, executed), from a few threads."""
    def work(count):
        for _ in range(count):
            assert api.trigger("g").status == 200
            st = api.enqueue(["A"], batch_size=1).json["states"]
            if st:
                api.executed(st[0]["state_id"], [{}])
    ts = [threading.Thread(target=work, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runs", type=int, default=20000)
    opts = ap.parse_args()
    harness.BUILD_DIR = os.path.abspath(opts.build)
    harness.BIN_DIR = os.path.join(harness.BUILD_DIR, "bin")
    with tempfile.TemporaryDirectory(prefix="exo-bench-rc-") as tmp:
        sm = harness.StateManager(tmp).start()
        try:
            api = sm.api(NS)
            api.register([harness.node_def("A", ["x"])])
            api.put_graph("g", {"secrets": {}, "nodes": [{"node_name": "A", "namespace": NS, "identifier": "a",
                                                           "inputs": {"x": "1"}, "next_nodes": []}]})
            api.wait_validated("g")
            t0 = time.monotonic()
            make_runs(api, opts.runs)
            print(f"{opts.runs} finished runs created in {time.monotonic() - t0:.1f} s")
            for what, q in (("first page, no filter", "?limit=50"),
                            ("status=FAILED (none match)", "?status=FAILED&limit=50"),
                            ("status=PENDING (none match)", "?status=PENDING&limit=50"),
                            ("graph=g&status=SUCCESS", "?graph=g&status=SUCCESS&limit=50")):
                lat = [timed(lambda: api.request("GET", api.ns_path("/runs" + q)))[1] for _ in range(20)]
                print(f"GET runs {what}: p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms")
            page = api.request("GET", api.ns_path("/runs?limit=1000")).json
            for _ in range(5):
                if not page["next"]:
                    break
                page = api.request("GET", api.ns_path(f"/runs?limit=1000&after={page['next']}")).json
            lat = [timed(lambda: api.request("GET", api.ns_path(f"/runs?limit=50&after={page['next']}")))[1]
                   for _ in range(20)] if page["next"] else []
            if lat:
                print(f"GET runs deep keyset page (after 6000 runs): p50 {pct(lat, 0.5):.2f} ms")

            base = [timed(lambda: api.request("GET", api.ns_path("/runs?limit=1")))[1] for _ in range(200)]
            stop = threading.Event()
            during = []

            def prober():
                while not stop.is_set():
                    during.append(timed(lambda: api.request("GET", api.ns_path("/runs?limit=1")))[1])
            p = threading.Thread(target=prober)
            p.start()
            r, ms = timed(lambda: api.request("POST", api.ns_path("/runs/purge"),
                                              {"before": int(time.time() * 1000) + 1000}, timeout=600))
            stop.set()
            p.join()
            print(f"purge of {r.json['deleted']} runs: {ms / 1000:.1f} s "
                  f"({r.json['deleted'] / (ms / 1000):.0f} runs/s, batches of 100)")
            print(f"another client's GET runs?limit=1 before: p50 {pct(base, 0.5):.2f} ms, "
                  f"p99 {pct(base, 0.99):.2f} ms; during the purge ({len(during)} requests): "
                  f"p50 {pct(during, 0.5):.2f} ms, p99 {pct(during, 0.99):.2f} ms, max {max(during):.1f} ms")
        finally:
            sm.stop()


if __name__ == "__main__":
    main()
