#!/usr/bin/env python3
"""The state manager alone, two builds side by side in one run: bench/run.sh's
"state manager alone" workload (exo-bench sm-load: trigger N one-node runs, then 4
workers claim and complete them over HTTP) against a fresh server of build A, then
of build B, alternately, so that both see the same machine.

    python3 bench/sm_compare.py --a build-bench --b /tmp/b-base [--rounds 5] [--states 50000]

The load generator is build A's exo-bench for both (only the server differs).
Prints each round and the medians: transitions/s, enqueue and executed p99, the
server's CPU time per state, and the ratios A/B taken round by round.  Measured,
never asserted.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(server_build, bench_build, states, env=None):
    harness.BIN_DIR = os.path.join(os.path.abspath(server_build), "bin")
    with tempfile.TemporaryDirectory(prefix="exo-smcmp-") as tmp:
        sm = harness.StateManager(tmp, env=env).start()
        try:
            cpu0 = cpu_seconds(sm.proc.pid)
            out = subprocess.run([os.path.join(os.path.abspath(bench_build), "bin", "exo-bench"), "sm-load",
                                  "--uri", sm.url, "--key", harness.API_KEY, "--states", str(states),
                                  "--workers", "4", "--batch", "16"],
                                 check=True, capture_output=True, text=True, timeout=600).stdout
            cpu = cpu_seconds(sm.proc.pid) - cpu0
        finally:
            sm.stop()
    result = json.loads(out.strip().splitlines()[-1])
    # the server's own CPU per state (trigger, claim, executed): far less noisy than
    # rates on a shared machine, since other processes' load does not enter it
    result["server_cpu_us_per_state"] = cpu * 1e6 / states
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", help="build directory of the server under test")
    ap.add_argument("--b", help="build directory of the server to compare with")
    ap.add_argument("--once", metavar="BUILD",
                    help="one run against BUILD's server (its own exo-bench); prints the JSON line. For "
                         "whole-process tools that pair two commands, e.g. /usr/bin/time -v")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--states", type=int, default=50000)
    ap.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment for server A (e.g. EXO_HTTP_THREADS=8)")
    opts = ap.parse_args()
    a_env = dict(kv.split("=", 1) for kv in opts.a_env)
    if opts.once:
        print(json.dumps(one_run(opts.once, opts.once, opts.states, a_env)))
        return
    if not opts.a or not opts.b:
        ap.error("--a and --b are required (or --once)")
    keys = ("transitions_per_s", "enqueue_p99_ms", "executed_p99_ms", "server_cpu_us_per_state")
    ratios = {k: [] for k in keys}
    runs = {"a": [], "b": []}
    for i in range(opts.rounds):
        a = one_run(opts.a, opts.a, opts.states, a_env)
        b = one_run(opts.b, opts.a, opts.states)
        runs["a"].append(a)
        runs["b"].append(b)
        for k in keys:
            ratios[k].append(a[k] / b[k] if b[k] else float("nan"))
        print(f"round {i + 1}: " + "  ".join(f"{k} A {a[k]:.2f} B {b[k]:.2f}" for k in keys), flush=True)
    print("medians:")
    for k in keys:
        ma = statistics.median(r[k] for r in runs["a"])
        mb = statistics.median(r[k] for r in runs["b"])
        print(f"  {k:<18} A {ma:10.2f}  B {mb:10.2f}  A/B (median of per-round ratios) "
              f"{statistics.median(ratios[k]):.3f}")


if __name__ == "__main__":
    main()
