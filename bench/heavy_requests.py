#!/usr/bin/env python3
"""Heavy single requests against one state manager build: how long each holds the
server, and what an enqueue in another namespace waits meanwhile.

    python3 bench/heavy_requests.py --build build-bench [--build-b /tmp/b-base]

Cases: triggers with and without 200 long-polls parked in another namespace
(server CPU per trigger from /proc/PID/stat); one `executed` with N empty outputs
(100,000 and 10,000); graphs of 10,000 nodes with 150 and 10 edges each (upsert,
then two triggers).  Prints one row per
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


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def park_polls(sm, n, ns):
    """n long-polls (60 s) for a node nobody creates, on raw sockets."""
    import socket
    body = json.dumps({"nodes": ["N"], "batch_size": 1, "wait_ms": 60000}).encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", sm.port))
        s.sendall(b"POST /v0/namespace/" + ns.encode() + b"/states/enqueue HTTP/1.1\r\nHost: x\r\n"
                  b"x-api-key: " + harness.API_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        socks.append(s)
    time.sleep(0.5)
    return socks


def trigger_rate(sm, api, label, rows, n=1000):
    pid = sm.proc.pid
    cpu, t = cpu_seconds(pid), time.monotonic()
    for _ in range(n):
        api.trigger("one")
    wall = time.monotonic() - t
    rows.append({"case": label, "status": 200, "seconds": round(wall / n, 5),
                 "bystander_worst_s": 0.0, "vm_hwm_mb": round(vm_hwm_kb(pid) / 1024, 1),
                 "detail": f"server CPU {(cpu_seconds(pid) - cpu) / n * 1e3:.3f} ms per trigger, "
                           f"{n / wall:.0f} triggers/s"})


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
        trigger_rate(sm, api, "trigger, no parked polls", rows)
        socks = park_polls(sm, 200, OTHER)
        trigger_rate(sm, api, "trigger, 200 polls parked in another namespace", rows)
        for sock in socks:
            sock.close()
        for n in (100000, 10000):
            api.trigger("one")
            sid = claim_one(api)
            timed(sm, api, f"executed, {n} empty outputs", lambda: api.executed(sid, [{}] * n), rows)
        for edges, name in ((150, "big"), (10, "capped")):
            nodes = [{"node_name": "N", "namespace": NS, "identifier": f"n{i}", "inputs": {},
                      "next_nodes": [f"n{j}" for j in range(i + 1, min(i + 1 + edges, 10000))]} for i in range(10000)]
            body = json.dumps({"secrets": {}, "nodes": nodes}).encode()
            timed(sm, api, f"PUT graph 10000 nodes x {edges} edges ({len(body) / 2**20:.1f} MiB)",
                  lambda: api.request("PUT", api.ns_path(f"/graph/{name}"), raw=body, timeout=120), rows)
            if rows[-1]["status"] == 201:
                api.wait_validated(name, timeout=300)
                timed(sm, api, f"trigger {name} graph (first)", lambda: api.trigger(name), rows)
                timed(sm, api, f"trigger {name} graph (second)", lambda: api.trigger(name), rows)
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
