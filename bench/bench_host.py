"""exo-host side by side: the whole system (state manager + exo-host + sandboxed
children) for several host variants, interleaved round by round in one run, so
that the machine's load hits every variant alike.

    python3 bench/bench_host.py --variant NAME=BUILD_DIR[:ENV=V,ENV=V] ... [--rounds 2]
        [--runs 3000] [--latency-runs 200] [--fanout 1000] [--sandbox 400]

A variant is a build directory plus environment for exo-host (EXO_HOST_PREFORK=0,
EXO_HOST_BATCH_REPORTS=0 switch this host's pre-forking and batched reports off).
Workloads as in bench.py: chain of 3 no-op nodes (latency one run at a time, then
throughput of a queued backlog), fan-out + unite, and exo-host-bench-sandbox.
Prints one line per variant and round, then the median of each variant and its
ratio to the first variant."""

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its workloads, run exactly as bench/run.sh runs them)
import harness  # noqa: E402  (bench put tests/integration on the path)


def parse_variant(text):
    name, _, rest = text.partition("=")
    build, _, envs = rest.partition(":")
    env = dict(kv.split("=", 1) for kv in envs.split(",") if kv)
    if not name or not build:
        raise SystemExit(f"--variant {text!r}: expected NAME=BUILD_DIR[:ENV=V,...]")
    return name, os.path.abspath(build), env


def use_build(build):
    harness.BUILD_DIR = build
    harness.BIN_DIR = os.path.join(build, "bin")
    harness.PLUGIN_DIR = os.path.join(build, "plugins")


def one_round(build, env, opts):
    use_build(build)
    out = {}
    with tempfile.TemporaryDirectory(prefix="exo-bench-host-") as tmp:
        sm = harness.StateManager(tmp).start()
        try:
            api = sm.api(bench.NS)
            host = harness.Host(tmp, sm.url, bench.NS, ["bench_step.so", "bench_fan.so"],
                                env=env, workers=opts.workers, batch_size=32, poll_interval_ms=1000,
                                extra=f'state_dir = "{tmp}/host-state";').start()
            try:
                harness.wait_until(lambda: api.request("GET", api.ns_path("/nodes/")).json["count"] >= 2,
                                   30, what="exo-host registration")
                chain = bench.chain_workload(api, host, opts.runs, opts.latency_runs)
                out.update(states_per_s=chain["states_per_s"], hop_p50_ms=chain["hop_p50_ms"],
                           hop_p99_ms=chain["hop_p99_ms"])
                if opts.fanout:
                    out["fanout_s"] = bench.fanout_workload(api, opts.fanout)["seconds_to_united_success"]
            finally:
                host.stop()
        finally:
            sm.stop()
    if opts.sandbox:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            sb = bench.sandbox_cost(build, opts.sandbox)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        out["sandbox_ms"] = sb.get("sandbox_ms")
        out["bare_fork_ms"] = sb.get("bare_fork_ms")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--latency-runs", type=int, default=200)
    ap.add_argument("--fanout", type=int, default=1000)
    ap.add_argument("--sandbox", type=int, default=400)
    ap.add_argument("--workers", type=int, default=8)
    opts = ap.parse_args()
    variants = [parse_variant(v) for v in opts.variant]
    rows = {name: [] for name, _, _ in variants}
    for rnd in range(opts.rounds):
        for name, build, env in variants:
            bench.progress(f"round {rnd + 1}: {name}")
            r = one_round(build, env, opts)
            rows[name].append(r)
            print(f"round {rnd + 1} {name:12s} {json.dumps(r)}", flush=True)
    keys = ["states_per_s", "hop_p50_ms", "hop_p99_ms", "fanout_s", "sandbox_ms", "bare_fork_ms"]
    med = {name: {k: statistics.median([r[k] for r in rs if r.get(k) is not None] or [0]) for k in keys}
           for name, rs in rows.items()}
    base = variants[0][0]
    print(f"\nmedian of {opts.rounds} round(s); ratio = variant / {base}")
    print(f"{'variant':12s} " + " ".join(f"{k:>14s}" for k in keys))
    for name in rows:
        print(f"{name:12s} " + " ".join(f"{med[name][k]:14.3f}" for k in keys))
        if name != base:
            print(f"{'  ratio':12s} " + " ".join(
                f"{(med[name][k] / med[base][k] if med[base][k] else 0):14.2f}" for k in keys))


if __name__ == "__main__":
    main()
