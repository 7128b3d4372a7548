"""Conformance of cron triggers with state-manager-api.md §2.3.2, §11 and exo §0: a VALID graph's
schedule fires at minute boundaries with an empty trigger body; INVALID graphs and schedules
removed by a later upsert never fire.  Waits for one minute boundary (up to ~75 s)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conformance_common import ConformanceCase, node_def, wait_until  # noqa: E402
from harness import main  # noqa: E402

EVERY_MINUTE = [{"type": "CRON", "value": {"expression": "* * * * *"}}]


class CronConformance(ConformanceCase):
    def test_every_minute_schedule(self):
        if time.gmtime().tm_sec >= 50:  # keep the set-up away from a minute boundary
            time.sleep(62 - time.gmtime().tm_sec)
        self.ok(self.api.register([node_def("A", ["x"])]))
        fires = self.valid_graph([self.node("A", "a", {"x": "${{ store.k }}"})], name="fires",
                                 triggers=EVERY_MINUTE, store_config={"default_values": {"k": "dflt"}})
        self.assertEqual(fires["triggers"], EVERY_MINUTE)
        r = self.api.put_graph("invalid", {"secrets": {}, "nodes": [self.node("Ghost", "a")],
                                           "triggers": EVERY_MINUTE})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.api.wait_validated("invalid")["validation_status"], "INVALID")
        self.valid_graph([self.node("A", "a", {"x": "1"})], name="removed", triggers=EVERY_MINUTE)
        self.valid_graph([self.node("A", "a", {"x": "1"})], name="removed")  # schedule dropped

        def runs_of(graph):
            return [x for x in self.api.runs(1, 100).json["runs"] if x["graph_name"] == graph]
        wait_until(lambda: runs_of("fires"), 80, interval=1, what="a cron run of 'fires'")
        st = self.claim("A")[0]
        self.assertEqual((st["identifier"], st["inputs"]), ("a", {"x": "dflt"}))
        self.assertEqual(runs_of("invalid"), [])
        self.assertEqual(runs_of("removed"), [])


if __name__ == "__main__":
    main()
