"""Scratch directories: their total size is bounded (scratch_mb), whatever a state
leaves in one (many files, a tree deeper than PATH_MAX, a symbolic link to /) is
gone after it without following links or stalling the host, and a stale one left by
a killed host never blocks the next start."""

import os
import signal
import time

from harness import ExoTestCase, main, wait_until
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "scratch"


def make_deep_tree(top, depth):
    """A chain of directories deeper than PATH_MAX, built relative to each level."""
    os.mkdir(top)
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("deeper-and-deeper", dir_fd=fd)
        nxt = os.open("deeper-and-deeper", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.symlink("/", "escape", dir_fd=fd)
    os.close(fd)


def leftovers(root):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        found += [os.path.join(dirpath, f) for f in filenames]
    return found


class HostScratch(ExoTestCase):
    def start(self, plugins, extra=""):
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        self.scratch = os.path.join(self.tmp, "scratch")
        os.makedirs(self.scratch, exist_ok=True)
        self.host = self.start_host(self.sm, NS, plugins,
                                    extra=f'scratch_dir = "{self.scratch}";\n' + extra)
        return self.host

    def test_a_mess_is_cleaned_up_and_costs_the_host_nothing(self):
        # The safety net for the symbolic link: a file it would reach.
        canary = os.path.join(self.tmp, "canary")
        with open(canary, "w") as f:
            f.write("still here")
        self.start(["scratch_mess.so", "echo.so"])
        wait_registered(self.api, ["ScratchMessNode", "EchoNode"])
        put_one_node_graph(self, self.api, "g-mess", "ScratchMessNode",
                           {"files": "20000", "depth": "2500"})
        put_one_node_graph(self, self.api, "g-echo", "EchoNode", {"text": "x", "suffix": ""})
        for _ in range(2):
            state = finished_state(self.api, trigger(self, self.api, "g-mess"), timeout=120)
            self.assertEqual(state["status"], "SUCCESS", state)
            t0 = time.time()
            state = finished_state(self.api, trigger(self, self.api, "g-echo"))
            self.assertEqual(state["status"], "SUCCESS", state)
            self.assertLess(time.time() - t0, 3.0, "the host stalled after the mess")
        wait_until(lambda: not leftovers(self.scratch), 10, what="an empty scratch root")
        self.assertTrue(os.path.exists(canary))
        self.assertTrue(self.host.alive())

    def test_stale_scratch_never_blocks_a_start(self):
        scratch = os.path.join(self.tmp, "scratch")
        os.makedirs(scratch)
        stale = os.path.join(scratch, "exo-host-999999999")  # no such process
        make_deep_tree(stale, 2500)
        host = self.start(["echo.so"])
        wait_registered(self.api, ["EchoNode"])
        put_one_node_graph(self, self.api, "g-echo", "EchoNode", {"text": "x", "suffix": ""})
        self.assertEqual(finished_state(self.api, trigger(self, self.api, "g-echo"))["status"],
                         "SUCCESS")
        wait_until(lambda: [n for n in os.listdir(scratch) if "999999999" in n or "stale" in n] == [],
                   30, what="the stale tree removed in the background")
        # A host killed with its scratch root in place: the next one starts as well.
        host.send_signal(signal.SIGKILL)
        host.proc.wait()
        host.proc = None
        self.host = self.start_host(self.sm, NS, ["echo.so"], conf_name="host2.conf",
                                    extra=f'scratch_dir = "{scratch}";\n')
        wait_until(lambda: "registered" in self.host.log(), 20, what="the second host")
        self.assertEqual(finished_state(self.api, trigger(self, self.api, "g-echo"))["status"],
                         "SUCCESS")

    def test_scratch_size_is_bounded(self):
        host = self.start(['{ path = "scratch_fill.so"; sandbox = { scratch_mb = 100; }; }'])
        wait_registered(self.api, ["ScratchFillNode"])
        if "no private file system view" in host.log():
            self.skipTest("no mount namespace here: scratch_mb is not applied")
        put_one_node_graph(self, self.api, "g-fill", "ScratchFillNode", {})
        state = finished_state(self.api, trigger(self, self.api, "g-fill"))
        self.assertEqual(state["status"], "ERRORED", state)
        self.assertRegex(state["error"], r"^scratch full after (9[0-9]|100) MiB: No space left on device$")
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
