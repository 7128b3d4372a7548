"""Run controls (issue 13): the filtered run listing with keyset pagination, cancel
(also of states running in a real exo-host), bulk retry, watch, purge, graph
deletion and retention — through the API and through exoctl."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ExoTestCase, StateManager, exoctl, main, node_def, wait_until  # noqa: E402
from host_graphs import put_one_node_graph, trigger, wait_registered  # noqa: E402

NS = "controls"


class RunControlsApi(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        self.api.register([node_def("A", ["x"], ["y"]), node_def("B", ["x"], ["y"])])
        put_one_node_graph(self, self.api, "ga", "A", {"x": "1"})
        put_one_node_graph(self, self.api, "gb", "B", {"x": "1"})

    def runs(self, query=""):
        r = self.api.request("GET", self.api.ns_path("/runs" + query))
        self.assertEqual(r.status, 200, r)
        return r.json

    def finish(self, node, ok):
        st = self.api.enqueue([node], batch_size=1).json["states"][0]
        r = self.api.executed(st["state_id"], [{"y": "1"}]) if ok else self.api.errored(st["state_id"], "boom")
        self.assertEqual(r.status, 200, r)
        return st

    def test_filtered_listing_and_keyset_pages(self):
        ok = trigger(self, self.api, "ga")
        self.finish("A", True)
        failed = trigger(self, self.api, "ga")
        self.finish("A", False)
        pending_b = [trigger(self, self.api, "gb") for _ in range(3)]
        time.sleep(0.01)  # a millisecond of its own for the boundary
        mid = int(time.time() * 1000)
        time.sleep(0.01)
        late = trigger(self, self.api, "ga")

        everything = self.runs()
        self.assertEqual([r["run_id"] for r in everything["runs"]], [late] + pending_b[::-1] + [failed, ok])
        self.assertIsNone(everything["next"])
        statuses = {r["run_id"]: r["status"] for r in everything["runs"]}
        self.assertEqual((statuses[ok], statuses[failed], statuses[late]), ("SUCCESS", "FAILED", "PENDING"))

        self.assertEqual([r["run_id"] for r in self.runs("?status=FAILED")["runs"]], [failed])
        self.assertEqual({r["run_id"] for r in self.runs("?status=SUCCESS,FAILED")["runs"]}, {ok, failed})
        self.assertEqual({r["run_id"] for r in self.runs("?graph=gb")["runs"]}, set(pending_b))
        self.assertEqual([r["run_id"] for r in self.runs(f"?since={mid}")["runs"]], [late])
        self.assertNotIn(late, [r["run_id"] for r in self.runs(f"?until={mid}")["runs"]])
        self.assertEqual([r["run_id"] for r in self.runs(f"?run_id_prefix={late[:8]}")["runs"]], [late])
        self.assertEqual([r["run_id"] for r in self.runs("?status=PENDING&graph=ga")["runs"]], [late])

        # keyset pages: every run once, in the same order, whatever is added meanwhile
        seen, after = [], None
        while True:
            page = self.runs("?limit=2" + (f"&after={after}" if after else ""))
            seen += [r["run_id"] for r in page["runs"]]
            if not page["next"]:
                break
            after = page["next"]
            trigger(self, self.api, "gb")  # newer runs never shift the pages that follow
        self.assertEqual(seen, [r["run_id"] for r in everything["runs"]])

        r = self.api.request("GET", self.api.ns_path("/runs?status=DONE&limit=0&since=yesterday&after=x"))
        self.assertEqual(r.status, 422, r)
        self.assertEqual(sorted(tuple(d["loc"]) for d in r.json["detail"]),
                         [("query", "after"), ("query", "limit"), ("query", "since"), ("query", "status")])
        # the v0 listing is unchanged
        v0 = self.api.runs(1, 50).json
        self.assertEqual(set(v0), {"namespace", "total", "page", "size", "runs"})
        self.assertEqual(set(v0["runs"][0]), {"run_id", "graph_name", "success_count", "pending_count", "errored_count",
                                              "retried_count", "total_count", "status", "created_at"})

    def test_cancel_pending_run_and_conflicts(self):
        run_id = trigger(self, self.api, "ga")
        r = self.api.request("POST", self.api.ns_path(f"/run/{run_id}/cancel"), {"by": "alice"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["cancelled_by"], r.json["cancelled_states"]), ("CANCELLED", "alice", 1))
        self.assertRegex(r.json["cancelled_at"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(self.api.enqueue(["A"]).json["states"], [])  # a pending state never starts
        [state] = self.api.run_states("ga", run_id)
        self.assertEqual(state["status"], "ERRORED")
        self.assertRegex(state["error"], r"^Run cancelled by alice at ")
        self.assertEqual(self.runs("?status=CANCELLED")["runs"][0]["run_id"], run_id)

        r = self.api.request("POST", self.api.ns_path(f"/run/{run_id}/cancel"))
        self.assertEqual(r.status, 409, r)
        self.assertIn("already finished (CANCELLED)", r.json["detail"])
        done = trigger(self, self.api, "ga")
        self.finish("A", True)
        r = self.api.request("POST", self.api.ns_path(f"/run/{done}/cancel"))
        self.assertEqual(r.status, 409, r)
        self.assertIn("already finished (SUCCESS)", r.json["detail"])
        r = self.api.request("POST", self.api.ns_path("/run/no-such-run/cancel"))
        self.assertEqual(r.status, 404, r)
        # a cancelled run's states are not retried, neither in bulk nor one by one
        r = self.api.request("POST", self.api.ns_path(f"/run/{run_id}/retry"))
        self.assertEqual(r.status, 409, r)
        r = self.api.request("POST", self.api.ns_path(f"/state/{state['id']}/manual-retry"), {"fanout_id": "f"})
        self.assertEqual(r.status, 409, r)

    def test_bulk_retry_of_a_run_and_of_a_graph(self):
        first = trigger(self, self.api, "ga")
        self.finish("A", False)
        second = trigger(self, self.api, "ga")
        self.finish("A", False)
        r = self.api.request("POST", self.api.ns_path(f"/run/{first}/retry"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["count"], 1)
        pair = r.json["retried"][0]
        statuses = {s["id"]: s["status"] for s in self.api.run_states("ga", first)}
        self.assertEqual(statuses, {pair["state_id"]: "RETRY_CREATED", pair["new_state_id"]: "CREATED"})
        self.assertEqual(self.api.request("POST", self.api.ns_path(f"/run/{first}/retry")).json["count"], 0)

        r = self.api.request("POST", self.api.ns_path("/graph/ga/retry"), {"since": "2000-01-01T00:00:00"})
        self.assertEqual((r.status, r.json["runs"], r.json["states"]), (200, 1, 1), r)  # only `second` was FAILED
        self.assertIn("CREATED", {s["status"] for s in self.api.run_states("ga", second)})
        r = self.api.request("POST", self.api.ns_path("/graph/ga/retry"), {"until": 1})
        self.assertEqual((r.json["runs"], r.json["states"]), (0, 0))

    def test_purge_and_graph_delete(self):
        done = trigger(self, self.api, "ga")
        self.finish("A", True)
        pending = trigger(self, self.api, "ga")
        other = trigger(self, self.api, "gb")
        self.finish("B", False)
        r = self.api.request("POST", self.api.ns_path("/runs/purge"), {"before": int(time.time() * 1000) + 60000,
                                                                        "graph_name": "ga"})
        self.assertEqual((r.status, r.json["deleted"]), (200, 1), r)
        ids = [x["run_id"] for x in self.runs()["runs"]]
        self.assertEqual(sorted(ids), sorted([pending, other]))  # unfinished and other graphs stay
        self.assertEqual(self.api.request("GET", self.api.ns_path(f"/run/{done}")).status, 404)
        self.assertEqual(self.api.run_graph(done).json["nodes"], [])
        self.assertEqual(self.api.request("POST", self.api.ns_path("/runs/purge"), {}).status, 422)

        r = self.api.request("POST", self.api.ns_path("/graph/gb/delete"))
        self.assertEqual((r.status, r.json["runs_deleted"]), (200, 0), r)
        self.assertEqual(self.api.get_graph("gb").status, 404)
        self.assertEqual(self.api.request("GET", self.api.ns_path(f"/run/{other}")).status, 200)  # runs stay
        self.assertEqual(self.api.request("POST", self.api.ns_path("/graph/ga/delete"), {"purge": 1}).status, 422)
        r = self.api.request("POST", self.api.ns_path("/graph/ga/delete"), {"purge": True})
        self.assertEqual((r.status, r.json["runs_deleted"]), (200, 1), r)
        self.assertEqual(self.api.request("GET", self.api.ns_path(f"/run/{pending}")).status, 404)
        self.assertEqual(self.api.request("POST", self.api.ns_path("/graph/ga/delete")).status, 404)
        self.assertEqual(self.api.request("DELETE", self.api.ns_path("/graph/ga")).status, 405)  # as in v0


class RetentionTest(ExoTestCase):
    check_sanitizers = True

    def test_retention_deletes_old_finished_runs_with_namespace_override(self):
        # 0.00003 days = 2.6 s; namespace "keep" keeps its runs forever
        sm = StateManager(self.tmp, env={"EXO_RETENTION_INTERVAL_MS": "200"})
        sm.argv += ["--retention-days", "0.00003", "--retention-days", "keep=0"]
        self._procs.append(sm)
        sm.start()
        for ns in ("gone", "keep"):
            api = sm.api(ns)
            api.register([node_def("A", ["x"])])
            put_one_node_graph(self, api, "g", "A", {"x": "1"})
        api, keep = sm.api("gone"), sm.api("keep")
        finished = trigger(self, api, "g")
        st = api.enqueue(["A"]).json["states"][0]
        self.assertEqual(api.executed(st["state_id"], [{}]).status, 200)
        pending = trigger(self, api, "g")
        kept = trigger(self, keep, "g")
        st = keep.enqueue(["A"]).json["states"][0]
        self.assertEqual(keep.executed(st["state_id"], [{}]).status, 200)
        wait_until(lambda: api.request("GET", api.ns_path(f"/run/{finished}")).status == 404, 20,
                   what="retention to delete the finished run")
        time.sleep(1)
        self.assertEqual(api.request("GET", api.ns_path(f"/run/{pending}")).status, 200)
        self.assertEqual(keep.request("GET", keep.ns_path(f"/run/{kept}")).status, 200)
        self.assertIn("retention: 1 finished run(s) deleted", sm.log())


class RunControlsWithHost(ExoTestCase):
    """Against states that really run in exo-host, and through exoctl."""
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)

    def ctl(self, *args):
        return exoctl(list(args), self.sm.url, NS)

    def test_cancel_stops_running_states_within_5s(self):
        host = self.start_host(self.sm, NS, ["sleep_long.so"], workers=1, extra="lease_ms = 60000;")
        wait_registered(self.api, ["SleepNode"])
        put_one_node_graph(self, self.api, "sleep", "SleepNode", {"seconds": "3600"})
        running = trigger(self, self.api, "sleep")
        waiting = trigger(self, self.api, "sleep")  # one worker: this one stays CREATED

        def claimed():
            return [s for s in self.api.run_states("sleep", running) if s["status"] == "QUEUED"]
        wait_until(claimed, 20, what="the host to claim the first run")
        time.sleep(0.5)  # the child is running

        r = self.ctl("run", "cancel", waiting, "--by", "ops")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"run {waiting}: CANCELLED by ops", r.stdout)
        started = time.monotonic()
        r = self.ctl("--json", "run", "cancel", running)
        self.assertEqual(r.returncode, 0, r.stderr)
        answer = json.loads(r.stdout)
        self.assertEqual((answer["status"], answer["cancelled_states"]), ("CANCELLED", 1))
        self.assertIn("(exoctl)", answer["cancelled_by"])
        wait_until(lambda: "stopped, the state manager ended its lease" in host.log(), 5, interval=0.1,
                   what="the host to kill the cancelled state")
        self.assertLess(time.monotonic() - started, 5.0)
        # the waiting run's state never reached the host
        self.assertNotIn(self.api.run_states("sleep", waiting)[0]["id"], host.log())

        text = self.ctl("run", "show", running).stdout
        self.assertIn("status CANCELLED", text)
        self.assertIn("cancelled by", text)
        listed = self.ctl("run", "list", "--status", "CANCELLED").stdout
        self.assertIn(running, listed)
        self.assertIn(waiting, listed)
        r = self.ctl("run", "cancel", running)
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 409", r.stderr)

    def test_retry_watch_purge_and_graph_delete_from_exoctl(self):
        self.start_host(self.sm, NS, ["fail.so", "echo.so"])
        wait_registered(self.api, ["FailNode", "EchoNode"])
        put_one_node_graph(self, self.api, "fails", "FailNode", {})
        put_one_node_graph(self, self.api, "echo", "EchoNode", {"text": "hi"})

        run_id = self.ctl("trigger", "echo", "--quiet").stdout.strip()
        r = self.ctl("run", "watch", run_id, "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"step\s+EchoNode\s+.*SUCCESS")
        self.assertIn(f"run {run_id}: SUCCESS", r.stdout)

        failed = self.ctl("trigger", "fails", "--quiet", "--wait", "--timeout", "30").stdout.strip()
        r = self.ctl("run", "retry", failed)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 errored state(s) retried", r.stdout)
        r = self.ctl("run", "watch", failed, "--timeout", "30")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # it fails again
        self.assertIn("RETRY_CREATED", r.stdout)
        self.assertIn(f"run {failed}: FAILED", r.stdout)
        r = self.ctl("graph", "retry", "fails", "--since", "1h")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 errored state(s) retried in 1 failed run(s)", r.stdout)
        wait_until(lambda: self.api.request("GET", self.api.ns_path(f"/run/{failed}")).json["status"] == "FAILED",
                   30, what="the second retry to fail")

        r = self.ctl("run", "list", "--graph", "fails", "--status", "FAILED")
        self.assertIn(failed, r.stdout)
        self.assertNotIn(run_id, r.stdout)
        r = self.ctl("run", "list", "--limit", "1")
        self.assertIn("more with --after ", r.stdout)
        cursor = re.search(r"--after (\S+)", r.stdout).group(1)
        self.assertEqual(len(json.loads(self.ctl("--json", "run", "list", "--after", cursor).stdout)["runs"]), 1)

        r = self.ctl("run", "purge")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--before DATE is required", r.stderr)
        r = self.ctl("run", "purge", "--before", "2000-01-01")
        self.assertIn("0 finished run(s) deleted", r.stdout)
        r = self.ctl("run", "purge", "--before", "0s", "--graph", "echo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 finished run(s) deleted", r.stdout)
        r = self.ctl("graph", "delete", "fails", "--purge")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("graph fails deleted with its 1 run(s)", r.stdout)
        self.assertEqual(json.loads(self.ctl("--json", "run", "list").stdout)["runs"], [])
        r = self.ctl("graph", "delete", "fails")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 404", r.stderr)


if __name__ == "__main__":
    main()
