"""What a node prints and sends is untrusted text: output that is not UTF-8 ends its
state ERRORED at once with the reason (never a report the state manager refuses,
never a lost lease), and control characters it prints are escaped in the host log."""

from harness import ExoTestCase, main
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "output"

CASES = [
    ("output", "output 'text' is not valid UTF-8"),
    ("error", "the node's error message is not valid UTF-8 (invalid bytes shown as U+FFFD): "
              "bad \ufffd byte"),
    ("store", "store value of 'k' is not valid UTF-8"),
    ("prune", "exo_prune: the data is not valid UTF-8"),
]


class HostOutput(ExoTestCase):
    def test_invalid_utf8_fails_the_state_at_once(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        # A lease far longer than the test: a state left to it would time the test out.
        host = self.start_host(sm, NS, ["bad_utf8.so"], extra="lease_ms = 600000;\n")
        wait_registered(api, ["BadUtf8Node"])
        runs = {}
        for where, _ in CASES:
            put_one_node_graph(self, api, "g-" + where, "BadUtf8Node", {"where": where})
            runs[where] = trigger(self, api, "g-" + where)
        for where, expected in CASES:
            with self.subTest(where=where):
                state = finished_state(api, runs[where], timeout=20)
                self.assertEqual((state["status"], state["error"]), ("ERRORED", expected))
        self.assertNotIn("rejected", host.log())
        self.assertTrue(host.alive())

    def test_control_characters_are_escaped_in_the_log(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["print_control.so"])
        wait_registered(api, ["PrintControlNode"])
        put_one_node_graph(self, api, "g-print", "PrintControlNode", {})
        state = finished_state(api, trigger(self, api, "g-print"))
        # The state manager gets the message as it was; only the log escapes it.
        self.assertEqual((state["status"], state["error"]), ("ERRORED", "bad \x1b[31mred"))
        log = host.log()
        self.assertIn("innocent\\x0d2026-01-01T00:00:00.000Z INFO  exo-host: forged "
                      "\\x1b[2Jline", log)
        self.assertIn("errored: bad \\x1b[31mred", log)
        self.assertNotIn("\x1b", log)
        self.assertNotIn("\r", log)


if __name__ == "__main__":
    main()
