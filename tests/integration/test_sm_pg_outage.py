"""The PostgreSQL server goes away mid-run (run as sm_pg_outage_pg, on a cluster of
its own): clients get 503 with a detail and /health says the database is
unreachable while it is down; the state manager reconnects by itself and every run
that exo-host was working on finishes SUCCESS."""
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TEST_DB, ExoTestCase, main, pg_tool, pg_uri, wait_until  # noqa: E402
from host_graphs import put_one_node_graph, trigger, wait_registered  # noqa: E402

NS = "outage"
CLUSTER = os.environ.get("EXO_PG_CLUSTER", "")


def health(url):
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


@unittest.skipUnless(TEST_DB == "postgres" and CLUSTER, "needs PostgreSQL (run as sm_pg_outage_pg)")
class PostgresOutageTest(ExoTestCase):
    def setUp(self):
        super().setUp()
        # not under self.tmp: the server's user must be able to reach its directory
        self.cluster = f"/tmp/exo-pgo-{uuid.uuid4().hex[:8]}"
        self.cluster_cmd("start")
        subprocess.run([pg_tool("createdb"), "-h", self.cluster, "-U", "postgres", "outage"], check=True,
                       capture_output=True, timeout=60)
        self.db = pg_uri("outage").replace(os.environ.get("EXO_PG_HOST", ""), self.cluster)

    def tearDown(self):
        super().tearDown()
        self.cluster_cmd("stop")

    def cluster_cmd(self, what):
        subprocess.run([CLUSTER, what, self.cluster], check=True, capture_output=True, timeout=120)

    def test_database_restart_mid_run(self):
        sm = self.start_state_manager(db=f"postgresql:///outage?host={self.cluster}&user=postgres")
        api = sm.api(NS)
        self.start_host(sm, NS, ["sleep_long.so"], workers=3, extra=f'state_dir = "{self.tmp}/state";')
        wait_registered(api, ["SleepNode"])
        put_one_node_graph(self, api, "g", "SleepNode", {"seconds": "1"})
        runs = [trigger(self, api, "g") for _ in range(8)]
        wait_until(lambda: api.run_graph(runs[0]).json["execution_summary"].get("QUEUED", 0) == 1, 20,
                   what="the first state running")

        self.cluster_cmd("pause")
        status, body = health(sm.url)
        self.assertEqual(status, 503, body)
        self.assertIn('"database":"unreachable"', body.replace(" ", ""))
        r = api.request("GET", api.ns_path("/graphs/"))
        self.assertEqual(r.status, 503, r)
        self.assertIn("database unreachable", r.json["detail"])
        self.assertIn("retry later", r.json["detail"])

        self.cluster_cmd("resume")
        wait_until(lambda: health(sm.url)[0] == 200, 30, what="/health after the database came back")
        for run_id in runs:
            api.wait_run_finished(run_id, timeout=90)
            nodes = api.run_graph(run_id).json["nodes"]
            self.assertEqual([n["status"] for n in nodes], ["SUCCESS"], (run_id, nodes))
        self.assertNotIn("password", sm.log())


if __name__ == "__main__":
    main()
