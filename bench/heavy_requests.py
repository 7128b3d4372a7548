#!/usr/bin/env python3
"""Heavy single requests against one state manager build: how long each holds the
server, and what an enqueue in another namespace waits meanwhile.

    python3 bench/heavy_requests.py --build build-bench [--build-b /tmp/b-base]

Cases: one `executed` with N empty outputs (100,000 and 10,000), one graph of
10,000 nodes with 150 edges each (upsert, then two triggers).  Prints one row per
case and build: status, seconds, the worst enqueue latency seen in another
namespace during the request, and the server's peak RSS (VmHWM).
Python standard library only; measured, never asserted.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

NS, OTHER = "heavy", "bystander"


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Bystander:
    """Enqueues in another namespace in a loop; keeps the worst latency."""

    def __init__(self, api):
        self.api, self.worst, self.stop = api, 0.0, False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop:
            t = time.monotonic()
            self.api.enqueue(["Nobody"], 1, ns=OTHER)
            self.worst = max(self.worst, time.monotonic() - t)
            time.sleep(0.01)

    def __enter__(self):
        self.thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


def timed(sm, api, label, fn, rows):
    with Bystander(sm.api(OTHER)) as b:
        t = time.monotonic()
        r = fn()
        secs = time.monotonic() - t
    rows.append({"case": label, "status": r.status, "seconds": round(secs, 3),
                 "bystander_worst_s": round(b.worst, 3), "vm_hwm_mb": round(vm_hwm_kb(sm.proc.pid) / 1024, 1),
                 "detail": (r.text[:90] if r.status >= 400 else "")})


def claim_one(api):
    r = api.enqueue(["N"], 1)
    return r.json["states"][0]["state_id"]


def run_build(build, tmp):
    harness.BIN_DIR = os.path.join(os.path.abspath(build), "bin")
    rows = []
    sm = harness.StateManager(tmp).start()
    try:
        api = sm.api(NS)
        api.register([harness.node_def("N")])
        api.put_graph("one", {"secrets": {}, "nodes": [{"node_name": "N", "namespace": NS, "identifier": "n",
                                                          "inputs": {}, "next_nodes": []}]})
        api.wait_validated("one")
        for n in (100000, 10000):
            api.trigger("one")
            sid = claim_one(api)
            timed(sm, api, f"executed, {n} empty outputs", lambda: api.executed(sid, [{}] * n), rows)
        nodes = [{"node_name": "N", "namespace": NS, "identifier": f"n{i}", "inputs": {},
                  "next_nodes": [f"n{j}" for j in range(i + 1, min(i + 151, 10000))]} for i in range(10000)]
        body = json.dumps({"secrets": {}, "nodes": nodes}).encode()
        timed(sm, api, f"PUT graph 10000 nodes x 150 edges ({len(body) >> 20} MiB)",
              lambda: api.request("PUT", api.ns_path("/graph/big"), raw=body, timeout=120), rows)
        if rows[-1]["status"] == 201:
            api.wait_validated("big", timeout=300)
            timed(sm, api, "trigger big graph (first)", lambda: api.trigger("big"), rows)
            timed(sm, api, "trigger big graph (second)", lambda: api.trigger("big"), rows)
    finally:
        sm.stop()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--build-b", help="a second build (e.g. the previous commit), run after the first")
    opts = ap.parse_args()
    for build in filter(None, (opts.build, opts.build_b)):
        with tempfile.TemporaryDirectory(prefix="exo-heavy-") as tmp:
            for row in run_build(build, tmp):
                print(f"{build:>20}  {row['case']:<48} {row['status']:>4} {row['seconds']:>8.3f} s  "
                      f"bystander {row['bystander_worst_s']:>6.3f} s  VmHWM {row['vm_hwm_mb']:>7.1f} MiB  "
                      f"{row['detail']}", flush=True)


if __name__ == "__main__":
    main()
