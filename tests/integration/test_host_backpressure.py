"""exo-host's backpressure: claims beyond the free workers (prefetch) never exceed
what the workers can start within half a lease at the pace states have been running,
so a slow host claims less and no claimed state waits out its lease."""

from mock_state_manager import MockHostTestCase
from harness import main

NS = "backpressure"


def sid(n):
    return "%024x" % (0x55c2a1d3b4e5f60718290000 + n)


class HostBackpressure(MockHostTestCase):
    namespace = NS

    def test_a_slow_host_claims_no_more_than_it_can_start_within_its_lease(self):
        for i in range(40):
            self.mock.add_state(sid(i), "SleepNode", {"seconds": "2"})
        # One worker, 2 s per state, lease 3 s: half a lease is shorter than a state, so
        # once states have run, nothing beyond the free worker is claimed (not 1 + 3).
        self.host(["sleep_long.so"], workers=1, batch_size=32,
                  extra="prefetch = 3; lease_ms = 3000; wait_ms = 200;\n")
        first = self.mock.wait_for(lambda: self.mock.find("POST", "/states/enqueue$"), what="a claim")[0]
        self.assertEqual(first.json["batch_size"], 4)  # nothing measured yet: the full prefetch
        held = []
        for i in range(4, 7):
            self.mock.wait_report(sid(i), timeout=30)
            with self.mock.cond:
                handed_out = 40 - len(self.mock.pending)
            held.append(handed_out - len(self.mock.reports()))
        # Held = running + claimed and waiting: the free worker's next state at most,
        # where the full prefetch would hold 1 + 3.
        self.assertTrue(all(n <= 2 for n in held), held)
        # And no state it holds ran into its lease: every report so far is executed.
        self.assertEqual({k for _, k, _ in self.mock.reports()}, {"executed"})


if __name__ == "__main__":
    main()
