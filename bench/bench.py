"""exo benchmark driver: runs every workload side by side in one run and prints a table.

Usage (normally through bench/run.sh):  python3 bench/bench.py --build DIR [--quick]
Writes bench/results/<timestamp>.json as well.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402  (the programs are started exactly as the tests start them)

NS = "benchns"


def progress(msg):
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def peak_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def exo_bench(build, args):
    """Runs the C load generator; its progress goes straight to our stderr."""
    out = subprocess.run([os.path.join(build, "bin", "exo-bench")] + args, stdout=subprocess.PIPE,
                         text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"exo-bench {args[0]} failed (exit {out.returncode}); see its messages above")
    return json.loads(out.stdout)


def put_and_validate(api, name, nodes):
    r = api.put_graph(name, {"secrets": {}, "nodes": nodes,
                             "retry_policy": {"max_retries": 0}})
    if r.status != 201:
        raise RuntimeError(f"graph {name}: {r}")
    g = api.wait_validated(name)
    if g["validation_status"] != "VALID":
        raise RuntimeError(f"graph {name} invalid: {g['validation_errors']}")


def wait_all_runs(api, run_ids, timeout):
    """Waits until none of the runs is pending; returns the finish time (monotonic)."""
    pending = set(run_ids)
    deadline = time.monotonic() + timeout
    last_report = 0
    while pending and time.monotonic() < deadline:
        page = 1
        while True:
            r = api.runs(page, 1000)
            runs = r.json["runs"]
            for run in runs:
                if run["run_id"] in pending and run["pending_count"] == 0 and run["total_count"] > 0:
                    pending.discard(run["run_id"])
            if len(runs) < 1000 or not pending:
                break
            page += 1
        if time.monotonic() - last_report > 2:
            progress(f"  {len(run_ids) - len(pending)}/{len(run_ids)} runs finished")
            last_report = time.monotonic()
        if pending:
            time.sleep(0.25)  # polling costs the state manager CPU that the workload needs
    if pending:
        raise RuntimeError(f"{len(pending)} runs did not finish within {timeout}s")
    return time.monotonic()


CHAIN = [
    {"node_name": "BenchStep", "namespace": NS, "identifier": "a",
     "inputs": {"prev_finished_us": "0"}, "next_nodes": ["b"]},
    {"node_name": "BenchStep", "namespace": NS, "identifier": "b",
     "inputs": {"prev_finished_us": "${{ a.outputs.finished_us }}"}, "next_nodes": ["c"]},
    {"node_name": "BenchStep", "namespace": NS, "identifier": "c",
     "inputs": {"prev_finished_us": "${{ b.outputs.finished_us }}"}, "next_nodes": []},
]


def chain_throughput(api, host, runs):
    """States per second end to end: N runs are queued while the host is paused
    (SIGSTOP), then the clock runs from its release until the last run finished, so
    the number is the engine's (state manager + host + sandboxed children), not the
    speed of this script's trigger loop."""
    progress(f"chain throughput: queueing {runs} runs of a 3-node chain (host paused)")
    host.send_signal(signal.SIGSTOP)
    try:
        run_ids = []
        for _ in range(runs):
            r = api.trigger("chain")
            if r.status != 200:
                raise RuntimeError(f"trigger: {r}")
            run_ids.append(r.json["run_id"])
    finally:
        t0 = time.monotonic()
        host.send_signal(signal.SIGCONT)
    elapsed = wait_all_runs(api, run_ids, timeout=900) - t0
    return {"runs": runs, "states": 3 * runs, "seconds": round(elapsed, 3),
            "states_per_s": round(3 * runs / elapsed, 1)}


def chain_latency(api, runs):
    """One run at a time, so no state waits behind another run's states: the hop
    latency (parent finished executing -> child starts executing) is the engine's."""
    progress(f"chain latency: {runs} runs one after another")
    hops = []
    for _ in range(runs):
        run_id = api.trigger("chain").json["run_id"]
        api.wait_run_finished(run_id, timeout=60)
        for st in api.run_states("chain", run_id):
            hop = int(st["outputs"].get("hop_us", "-1"))
            if hop >= 0:
                hops.append(hop / 1000.0)
    return {"hop_p50_ms": pct(hops, 0.5), "hop_p99_ms": pct(hops, 0.99), "hop_samples": len(hops)}


def chain_workload(api, host, runs, latency_runs):
    put_and_validate(api, "chain", CHAIN)
    result = chain_latency(api, latency_runs)
    result.update(chain_throughput(api, host, runs))
    return result


def fanout_workload(api, branches):
    put_and_validate(api, "fan", [
        {"node_name": "BenchFan", "namespace": NS, "identifier": "fan",
         "inputs": {"count": str(branches)}, "next_nodes": ["work"]},
        {"node_name": "BenchStep", "namespace": NS, "identifier": "work",
         "inputs": {"prev_finished_us": "0"}, "next_nodes": ["join"]},
        {"node_name": "BenchStep", "namespace": NS, "identifier": "join",
         "inputs": {"prev_finished_us": "0"}, "next_nodes": [],
         "unites": {"identifier": "fan", "strategy": "ALL_SUCCESS"}},
    ])
    progress(f"fan-out: one node fanning out to {branches} branches, then one united node")
    t0 = time.monotonic()
    r = api.trigger("fan")
    run_id = r.json["run_id"]
    run = api.wait_run_finished(run_id, timeout=600)
    elapsed = time.monotonic() - t0
    g = api.run_graph(run_id).json
    joins = [n for n in g["nodes"] if n["identifier"] == "join"]
    return {"branches": branches, "seconds_to_united_success": round(elapsed, 3),
            "united_states": len(joins), "run_status": run["status"], "total_states": run["total_count"]}


def sandbox_cost(build, n):
    """Sandboxed child per state (BenchStep) against a bare fork+waitpid, same run."""
    tool = os.path.join(build, "bin", "exo-host-bench-sandbox")
    out = subprocess.run([tool, os.path.join(build, "plugins", "bench_step.so"), str(n)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    values = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(bare fork\+waitpid|sandboxed state).*?([0-9.]+) us/state", line)
        if m:
            values[m.group(1)] = float(m.group(2)) / 1000.0
    bare, sandboxed = values.get("bare fork+waitpid"), values.get("sandboxed state")
    if not bare or not sandboxed:
        return {"error": "unexpected output: " + out.stdout[-300:]}
    return {"sandbox_ms": round(sandboxed, 3), "bare_fork_ms": round(bare, 3),
            "ratio": round(sandboxed / bare, 2)}


PG_CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pg", "cluster.sh")


class PgCluster:
    """A throwaway PostgreSQL cluster (tests/pg/cluster.sh) for the PostgreSQL rows."""

    def __init__(self):
        self.dir = f"/tmp/exo-pgbench-{os.getpid()}"

    def __enter__(self):
        subprocess.run([PG_CLUSTER, "start", self.dir], check=True, capture_output=True, timeout=120)
        return self

    def __exit__(self, *exc):
        subprocess.run([PG_CLUSTER, "stop", self.dir], capture_output=True, timeout=120)

    def new_db(self):
        name = "bench_%d" % int(time.time() * 1000)
        subprocess.run([harness.pg_tool("createdb"), "-h", self.dir, "-U", "postgres", name], check=True,
                       capture_output=True, timeout=60)
        return f"postgresql:///{name}?host={self.dir}&user=postgres"

    def cpu_seconds(self):
        """CPU time so far of the server's processes (the postmaster's children: one
        backend per connection, which the replicas' pools keep open for the run)."""
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            postmaster = f.readline().strip()
        total = 0.0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                fields = proc_stat(pid)
            except OSError:
                continue  # gone meanwhile
            if fields[1] == postmaster or pid == postmaster:
                total += stat_cpu_seconds(fields)
        return total

    def psql(self, db, sql):
        """Runs sql (one or more statements) on db; returns the last result, unaligned."""
        out = subprocess.run([harness.pg_tool("psql"), db, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                             input=sql, capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout.strip()


def replicas_start(tmp, db, n):
    sms = []
    for i in range(n):
        d = os.path.join(tmp, f"replica-{i}")
        os.makedirs(d, exist_ok=True)
        sms.append(harness.StateManager(d, db=db).start())
    return sms


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid, ...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def stat_cpu_seconds(fields):
    """User + system CPU time in proc_stat fields."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    return stat_cpu_seconds(proc_stat(pid))


def sm_alone(build, sms, states, pg=None):
    """sm-load against the state managers sms (replicas); adds their CPU time per
    state (trigger, claim, executed), which other load on the machine does not enter,
    and with pg (the PgCluster) the database server's."""
    cpu0 = sum(cpu_seconds(sm.proc.pid) for sm in sms)
    db0 = pg.cpu_seconds() if pg else 0
    out = exo_bench(build, ["sm-load", "--uri", ",".join(sm.url for sm in sms), "--key", harness.API_KEY,
                            "--states", str(states), "--workers", "4", "--batch", "16"])
    out["server_cpu_us_per_state"] = (sum(cpu_seconds(sm.proc.pid) for sm in sms) - cpu0) * 1e6 / states
    if pg:
        out["db_cpu_us_per_state"] = (pg.cpu_seconds() - db0) * 1e6 / states
    return out


def chain_on(tmp, sms, runs, latency_runs, workers, pg):
    """The 3-node chain with one exo-host that knows every replica (it uses the first
    while it answers); with the CPU time per state of each replica, the host and the
    database server."""
    api = sms[0].api(NS)
    hdir = os.path.join(tmp, "chain-host")
    os.makedirs(hdir, exist_ok=True)
    uris = [sm.url for sm in sms]
    host = harness.Host(hdir, uris if len(uris) > 1 else uris[0], NS, ["bench_step.so", "bench_fan.so"],
                        workers=workers, batch_size=32, poll_interval_ms=1000,
                        extra=f'state_dir = "{hdir}/host-state";').start()
    try:
        harness.wait_until(lambda: api.request("GET", api.ns_path("/nodes/")).json["count"] >= 2,
                           30, what="exo-host registration")
        before = [cpu_seconds(p.proc.pid) for p in sms + [host]] + [pg.cpu_seconds()]
        out = chain_workload(api, host, runs, latency_runs)
        after = [cpu_seconds(p.proc.pid) for p in sms + [host]] + [pg.cpu_seconds()]
        per_state = [round((b - a) * 1e6 / out["states"]) for a, b in zip(before, after)]
        out["replica_cpu_us_per_state"] = per_state[:len(sms)]
        out["host_cpu_us_per_state"], out["db_cpu_us_per_state"] = per_state[-2], per_state[-1]
        return out
    finally:
        host.stop()


def postgres_workloads(build, tmp, opts, sm_states, chain_runs, latency_runs):
    """sm-load and the chain on PostgreSQL with one and with two replicas, and growth
    on one (those of them in opts.wanted)."""
    out = {}
    with PgCluster() as pg:
        for n in (1, 2):
            for what in [w for w, name in (("sm_alone", "sm"), ("chain", "chain")) if name in opts.wanted]:
                progress(f"PostgreSQL, {n} replica(s): {what}")
                d = os.path.join(tmp, f"pg-{n}-{what}")
                os.makedirs(d)
                sms = replicas_start(d, pg.new_db(), n)
                try:
                    if what == "sm_alone":
                        out[f"pg{n}_sm_alone"] = sm_alone(build, sms, sm_states, pg)
                    else:
                        out[f"pg{n}_chain"] = chain_on(d, sms, chain_runs, latency_runs, opts.workers, pg)
                finally:
                    for sm in sms:
                        sm.stop()
        if "growth" in opts.wanted:
            progress("PostgreSQL, 1 replica: growth")
            d = os.path.join(tmp, "pg-growth")
            os.makedirs(d)
            db = pg.new_db()
            sm = replicas_start(d, db, 1)[0]
            try:
                out["pg1_growth"] = pg_growth(build, pg, db, sm, opts.growth_levels)
            finally:
                sm.stop()
    return out


def pg_growth(build, pg, db, sm, levels):
    """Growth on PostgreSQL: the stored history is seeded directly in the database
    (pg_seed_history), the measured enqueue / executed go through the API as always.
    Each row also gives the replica's peak RSS and the states table's size."""
    # a few hundred real runs, so that the seeded ones copy what the API really stores
    exo_bench(build, ["sm-load", "--uri", sm.url, "--key", harness.API_KEY, "--states", "400", "--workers", "2"])
    rows = []
    for seed_round, level in enumerate(int(x) for x in levels.split(",")):
        stored = int(pg.psql(db, "SELECT count(*) FROM states"))
        if level > stored:
            t0 = time.monotonic()
            pg_seed_history(pg, db, level - stored, seed_round)
            progress(f"PostgreSQL growth: seeded {level - stored} states in {time.monotonic() - t0:.0f} s")
        row = exo_bench(build, ["growth", "--uri", sm.url, "--key", harness.API_KEY, "--levels", str(level),
                                "--stored", str(level), "--workers", "4"])[0]
        row["sm_peak_rss_kb"] = peak_rss_kb(sm.proc.pid)
        row["states_table_mb"] = round(int(pg.psql(db, "SELECT pg_total_relation_size('states')")) / 1e6, 1)
        rows.append(row)
    return rows


# Seeded states copy the newest finished state the API stored (and its run): new ids
# and run ids, times spread over the hour before it, 1 ms apart.  Ids are time-ordered
# like exo_id_new's (seconds, a 5-byte "process" = 'e5eed0' + the seed round, a counter),
# so the seeded history lies before the live states in the id index, as real history does.
SEED_SQL = """
SET session_replication_role = replica;  -- no NOTIFY / counting triggers for history
CREATE TEMP TABLE seed AS SELECT i, gen_random_uuid()::text AS run_id FROM generate_series(1, {n}) i;
CREATE TEMP TABLE tpl AS SELECT s.*, r.graph_version FROM states s JOIN runs r USING (run_id)
 WHERE s.status = 'SUCCESS' ORDER BY s.seq DESC LIMIT 1;
INSERT INTO runs(run_id, namespace_name, graph_name, graph_version, created_at{run_counts_cols})
 SELECT seed.run_id, tpl.namespace_name, tpl.graph_name, tpl.graph_version,
        tpl.created_at - 3600000 - ({n} - seed.i){run_counts_vals} FROM seed, tpl ORDER BY seed.i;
INSERT INTO states(id, created_at, updated_at, node_name, namespace_name, identifier, graph_name, run_id,
  status, inputs, outputs, data, error, parents, does_unites, unite_key, enqueue_after, retry_count,
  fanout_id, manual_retry_fanout_id, exec_group, lease_expires_at, lease_ms, claimed_by)
 SELECT x.id, x.t, x.t + (tpl.updated_at - tpl.created_at), tpl.node_name, tpl.namespace_name,
        tpl.identifier, tpl.graph_name, x.run_id, tpl.status, tpl.inputs, tpl.outputs, tpl.data, tpl.error,
        tpl.parents, tpl.does_unites, NULL, x.t, 0, gen_random_uuid()::text, '', x.id, 0, tpl.lease_ms,
        tpl.claimed_by
 FROM tpl, (SELECT seed.run_id, t, lpad(to_hex(t / 1000), 8, '0') || 'e5eed0' || lpad(to_hex({round}), 4, '0')
            || lpad(to_hex(seed.i % 16777216), 6, '0') AS id
            FROM seed, tpl, LATERAL (SELECT tpl.created_at - 3600000 - ({n} - seed.i) AS t) tt) x
 ORDER BY x.id;
"""


def pg_seed_history(pg, db, n, seed_round):
    """Adds n finished one-state runs to db directly (see SEED_SQL), then VACUUM ANALYZE
    and a checkpoint, so the measurement starts from a settled table as in production."""
    has_counts = pg.psql(db, "SELECT count(*) FROM information_schema.columns"
                             " WHERE table_name = 'runs' AND column_name = 'n_states'") == "1"
    # the per-run counters of PostgreSQL schema 4-5 (later schemas have none)
    counts = (", n_states, n_pending, n_failed", ", 1, 0, 0") if has_counts else ("", "")
    pg.psql(db, SEED_SQL.format(n=n, round=seed_round, run_counts_cols=counts[0], run_counts_vals=counts[1]))
    pg.psql(db, "VACUUM ANALYZE")
    pg.psql(db, "CHECKPOINT")


def use_build(build):
    """Points the harness (state manager, host, plugins) at one build tree."""
    harness.BUILD_DIR = os.path.abspath(build)
    harness.BIN_DIR = os.path.join(harness.BUILD_DIR, "bin")
    harness.PLUGIN_DIR = os.path.join(harness.BUILD_DIR, "plugins")
    return harness.BUILD_DIR


WORKLOADS = ("chain", "fanout", "floors", "sm", "growth", "pg", "sandbox")


def sqlite_workloads(build, loadgen, tmp, opts, wanted, results):
    """Workloads 1-3, 5 and 6 on SQLite.  `loadgen` is the build whose exo-bench drives
    the load (in --compare both builds' servers are driven by the same generator)."""
    if wanted & {"chain", "fanout", "floors", "sm"}:
        sm = harness.StateManager(os.path.join(tmp), port=None).start()
        try:
            api = sm.api(NS)
            if wanted & {"chain", "fanout"}:
                # 1-2: the whole system (state manager + exo-host with fork-per-state sandboxing).
                host = harness.Host(tmp, sm.url, NS, ["bench_step.so", "bench_fan.so"],
                                    workers=opts.workers, batch_size=32, poll_interval_ms=1000,
                                    extra=f'state_dir = "{tmp}/host-state";').start()
                try:
                    harness.wait_until(lambda: api.request("GET", api.ns_path("/nodes/")).json["count"] >= 2,
                                       30, what="exo-host registration")
                    if "chain" in wanted:
                        results["chain"] = chain_workload(api, host, opts.chain_runs, opts.latency_runs)
                    if "fanout" in wanted:
                        results["fanout"] = fanout_workload(api, opts.branches)
                    results["host_peak_rss_kb"] = peak_rss_kb(host.proc.pid)
                finally:
                    host.stop()
            if "floors" in wanted:
                # 5: floors, measured against the same server and disk.
                progress("floors")
                results["floors"] = exo_bench(loadgen, ["floors", "--uri", sm.url, "--key", harness.API_KEY,
                                                        "--dir", tmp])
            if "sm" in wanted:
                # 3: the state manager alone.
                progress("state manager alone")
                results["sm_alone"] = sm_alone(loadgen, [sm], opts.sm_states)
                results["sm_peak_rss_kb_after_load"] = peak_rss_kb(sm.proc.pid)
        finally:
            sm.stop()
    if "growth" in wanted:
        # 6: growth, on a fresh database.
        progress("growth")
        gdir = os.path.join(tmp, "growth")
        os.mkdir(gdir)
        sm = harness.StateManager(gdir).start()
        try:
            results["growth"] = exo_bench(loadgen, ["growth", "--uri", sm.url, "--key", harness.API_KEY,
                                                    "--levels", opts.growth_levels, "--workers", "4"])
            results["growth_sm_peak_rss_kb"] = peak_rss_kb(sm.proc.pid)
        finally:
            sm.stop()


def all_workloads(build, loadgen, opts, wanted):
    """Every wanted workload against one build's programs; returns the results."""
    build = use_build(build)
    results = {"machine": {"cpus": os.cpu_count()}, "quick": opts.quick, "build": build}
    with tempfile.TemporaryDirectory(prefix="exo-bench-") as tmp:
        if not opts.no_sqlite:
            sqlite_workloads(build, loadgen, tmp, opts, wanted, results)
        # 7: the same on PostgreSQL, one and two replicas.
        if "pg" in wanted:
            results.update(postgres_workloads(loadgen, tmp, opts, opts.sm_states, opts.chain_runs,
                                              opts.latency_runs))
        if "sandbox" in wanted:
            # 4: sandbox cost per state against a bare fork, same run.
            progress("sandbox cost")
            results["sandbox"] = sandbox_cost(build, 2000)
    return results


def numbers(tree, prefix=""):
    """The numeric leaves of a results tree as {"a.b[0].c": value} (lists by index)."""
    out = {}
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in items:
        name = f"{prefix}[{k}]" if isinstance(tree, list) else (f"{prefix}.{k}" if prefix else str(k))
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[name] = float(v)
        else:
            out.update(numbers(v, name))
    return out


def compare(opts, wanted):
    """Every wanted workload for build A (ours) and build B (--compare), interleaved
    round by round (A B, then B A, ...) so that both see the same machine; prints each
    metric's medians and the median of its per-round ratios A/B."""
    import statistics
    a_dir, b_dir = os.path.abspath(opts.build), os.path.abspath(opts.compare)
    rounds = {"a": [], "b": []}
    for i in range(opts.rounds):
        order = (("a", a_dir), ("b", b_dir)) if i % 2 == 0 else (("b", b_dir), ("a", a_dir))
        for tag, build in order:
            progress(f"round {i + 1}/{opts.rounds}: build {tag.upper()} ({build})")
            try:
                rounds[tag].append(numbers(all_workloads(build, a_dir, opts, wanted)))
            except (RuntimeError, AssertionError, OSError, subprocess.SubprocessError) as e:
                progress(f"  build {tag.upper()} failed this round: {e}")
                rounds[tag].append({})
    keys = sorted(set().union(*rounds["a"], *rounds["b"]) - {"machine.cpus"})
    print(f"\nA = {a_dir}\nB = {b_dir}\n{opts.rounds} round(s), interleaved; medians; "
          "ratio = median of the per-round A/B (for times lower is better, for rates higher)")
    print(f"  {'metric':<46} {'A':>12} {'B':>12} {'A/B':>7}")
    table = []
    for k in keys:
        va = [r[k] for r in rounds["a"] if k in r]
        vb = [r[k] for r in rounds["b"] if k in r]
        pairs = [(x[k], y[k]) for x, y in zip(rounds["a"], rounds["b"]) if k in x and k in y and y[k]]
        ma = statistics.median(va) if va else None
        mb = statistics.median(vb) if vb else None
        ratio = statistics.median(x / y for x, y in pairs) if pairs else None
        table.append({"metric": k, "a": ma, "b": mb, "ratio": ratio, "a_rounds": va, "b_rounds": vb})
        fmt = lambda v: "-" if v is None else f"{v:12.3f}"  # noqa: E731
        print(f"  {k:<46} {fmt(ma):>12} {fmt(mb):>12} {'-' if ratio is None else f'{ratio:7.3f}':>7}")
    return {"a": a_dir, "b": b_dir, "rounds": opts.rounds, "metrics": table}


def write_json(results):
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, time.strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nJSON: {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sm-only", action="store_true",
                    help="only the state-manager-alone workload, on SQLite and PostgreSQL (1 and 2 replicas)")
    ap.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL rows")
    ap.add_argument("--no-sqlite", action="store_true", help="skip the SQLite rows (with pg: PostgreSQL only)")
    ap.add_argument("--compare", metavar="OTHER_BUILD_DIR",
                    help="run every workload for --build and for this (built) tree, interleaved, and print "
                         "the ratios")
    ap.add_argument("--rounds", type=int, default=3, help="with --compare: rounds per build (default 3)")
    ap.add_argument("--only", metavar="LIST",
                    help="comma list of workloads to run: " + ",".join(WORKLOADS) + " (default: all)")
    ap.add_argument("--sm-states", type=int, help="states of the state-manager-alone workload")
    ap.add_argument("--chain-runs", type=int, help="runs of the chain workload")
    ap.add_argument("--growth-levels", help="stored-state levels of the growth workload (comma list)")
    opts = ap.parse_args()

    opts.chain_runs = opts.chain_runs or (300 if opts.quick else 20000)
    opts.latency_runs = 50 if opts.quick else 300
    opts.branches = 100 if opts.quick else 1000
    opts.sm_states = opts.sm_states or (2000 if opts.quick else 50000)
    opts.growth_levels = opts.growth_levels or ("1000,10000" if opts.quick else "10000,100000,1000000")
    wanted = set(WORKLOADS)
    if opts.only:
        wanted = set(w.strip() for w in opts.only.split(",") if w.strip())
        unknown = wanted - set(WORKLOADS)
        if unknown:
            ap.error(f"--only: unknown workload(s) {', '.join(sorted(unknown))}; known: {', '.join(WORKLOADS)}")
    if opts.no_pg:
        wanted.discard("pg")

    opts.wanted = wanted
    if opts.compare:
        write_json(compare(opts, wanted))
        return

    if opts.sm_only:
        opts.wanted = {"sm", "pg"} & wanted
        build = use_build(opts.build)
        results = {"machine": {"cpus": os.cpu_count()}, "quick": opts.quick}
        with tempfile.TemporaryDirectory(prefix="exo-bench-") as tmp:
            sm = harness.StateManager(tmp).start()
            try:
                results["sm_alone"] = sm_alone(build, [sm], opts.sm_states)
            finally:
                sm.stop()
            if "pg" in wanted:
                results.update(postgres_workloads(build, tmp, opts, opts.sm_states, opts.chain_runs, 0))
        print_pg_table(results)
        return

    build = use_build(opts.build)
    results = all_workloads(build, build, opts, wanted)
    print_table(results)
    write_json(results)


def print_pg_table(r):
    def row(name, value, target=""):
        print(f"  {name:<52} {value!s:>14}  {target}")
    print("7. SQLite vs PostgreSQL (state manager alone; 3-node chain with exo-host)")
    for key, label, target in (("sm_alone", "SQLite", ""), ("pg1_sm_alone", "PostgreSQL, 1 replica", ">= 8000"),
                               ("pg2_sm_alone", "PostgreSQL, 2 replicas", ">= 1 replica")):
        s = r.get(key)
        if s:
            row(f"{label}: transitions/s", round(s["transitions_per_s"]), target)
            row(f"{label}: enqueue / executed p50 (ms)", f"{s['enqueue_p50_ms']:.2f} / {s['executed_p50_ms']:.2f}")
            cpu = f"{s['server_cpu_us_per_state']:.0f}"
            if "db_cpu_us_per_state" in s:
                cpu += f" / {s['db_cpu_us_per_state']:.0f}"
            row(f"{label}: CPU per state, state manager(s) / database (us)", cpu)
    growth = r.get("pg1_growth") or []
    for g in growth:
        row(f"PostgreSQL {g['stored_states']:>8} stored: enqueue / executed p50 (ms)",
            f"{g['enqueue_p50_ms']:.2f} / {g['executed_p50_ms']:.2f}",
            f"RSS {g.get('sm_peak_rss_kb')} kB, states {g.get('states_table_mb')} MB")
    if len(growth) >= 2:
        a, b = growth[0], growth[-1]
        row(f"PostgreSQL growth {a['stored_states']} -> {b['stored_states']}: enqueue / executed",
            f"{b['enqueue_p50_ms'] / a['enqueue_p50_ms']:.2f}x / {b['executed_p50_ms'] / a['executed_p50_ms']:.2f}x",
            "<= 1.5x")
    for key, label in (("chain", "SQLite"), ("pg1_chain", "PostgreSQL, 1 replica"), ("pg2_chain", "PostgreSQL, 2 replicas")):
        c = r.get(key)
        if c:
            row(f"{label}: chain states/s", c["states_per_s"])
            row(f"{label}: chain hop p50 / p99 (ms)", f"{c['hop_p50_ms']:.2f} / {c['hop_p99_ms']:.2f}")


def print_table(r):
    def row(name, value, target=""):
        print(f"  {name:<52} {value!s:>14}  {target}")

    print("\nexo benchmark" + (" (quick)" if r["quick"] else ""))
    c = r.get("chain")
    if c:
        print(f"1. chain (3 no-op nodes x {c['runs']} runs, fork-per-state sandbox)")
        row("states/s end to end", c["states_per_s"], ">= 3000")
        row("per-hop latency p50 (ms, one run at a time)", c["hop_p50_ms"], "<= 1")
        row("per-hop latency p99 (ms, one run at a time)", c["hop_p99_ms"], "<= 5")
    f = r.get("fanout")
    if f:
        print(f"2. fan-out {f['branches']} branches + unite")
        row("trigger -> united SUCCESS (s)", f["seconds_to_united_success"], "<= 0.3")
        row("united states created", f["united_states"], "== 1")
    s = r.get("sm_alone")
    if s:
        print("3. state manager alone (load generator, no forking)")
        row("state transitions/s", round(s["transitions_per_s"]), ">= 30000")
        row("enqueue p50 / p99 (ms)", f"{s['enqueue_p50_ms']:.2f} / {s['enqueue_p99_ms']:.2f}")
        row("executed p50 / p99 (ms)", f"{s['executed_p50_ms']:.2f} / {s['executed_p99_ms']:.2f}")
    sb = r.get("sandbox")
    if sb:
        print("4. sandbox cost per state")
        if "error" in sb:
            row("error", sb["error"][:60])
        else:
            row("sandboxed state, mean (ms)", sb.get("sandbox_ms"))
            row("bare fork+waitpid, mean (ms)", sb.get("bare_fork_ms"))
            row("ratio", sb.get("ratio"), "<= 2")
    fl = r.get("floors")
    if fl:
        print("5. floors (same run)")
        row("HTTP keep-alive /health p50 (ms)", f"{fl['http_health_p50_ms']:.3f}")
        row("SQLite one-row transaction p50 (ms)", f"{fl['sqlite_txn_p50_ms']:.3f}")
        row("fork+_exit+waitpid p50 (ms)", f"{fl['fork_wait_p50_ms']:.3f}")
    growth = r.get("growth") or []
    if growth:
        print("6. growth (latency with N states stored)")
    for g in growth:
        row(f"{g['stored_states']:>8} stored: enqueue / executed p50 (ms)",
            f"{g['enqueue_p50_ms']:.2f} / {g['executed_p50_ms']:.2f}")
    if len(growth) >= 2:
        a, b = growth[0], growth[-1]
        ratio = max(b["enqueue_p50_ms"] / max(a["enqueue_p50_ms"], 1e-6),
                    b["executed_p50_ms"] / max(a["executed_p50_ms"], 1e-6))
        row("worst p50 ratio largest/smallest", round(ratio, 2), "<= 1.5")
    print_pg_table(r)
    print("peak RSS")
    row("exo-host (kB)", r.get("host_peak_rss_kb"))
    row("exo-state-manager after load (kB)", r.get("sm_peak_rss_kb_after_load"))
    row("exo-state-manager after growth (kB)", r.get("growth_sm_peak_rss_kb"))


if __name__ == "__main__":
    main()
