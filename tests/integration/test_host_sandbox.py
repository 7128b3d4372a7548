"""exo-host with the real state manager: every misbehaving plugin ends ERRORED with
its precise reason, and the host keeps serving healthy states afterwards."""

import ctypes
import os

from harness import ExoTestCase, main
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "sandbox"

MISBEHAVING = [
    # (plugin, node, graph inputs, expected error (exact) or None, fragment)
    ("segfault.so", "SegfaultNode", {}, "killed by SIGSEGV", None),
    ("abort.so", "AbortNode", {}, "killed by SIGABRT", None),
    ("infinite_loop.so", "InfiniteLoopNode", {}, "timed out after 2000 ms", None),
    ("sleep_long.so", "SleepNode", {"seconds": "3600"}, "timed out after 2000 ms", None),
    ("fork_bomb.so", "ForkBombNode", {}, "blocked system call: clone", None),
    ("open_socket.so", "SocketNode", {}, "blocked system call: socket", None),
    ("print_flood.so", "PrintFloodNode", {}, "output larger than 1 MiB", None),
    ("exit_early.so", "ExitNode", {}, "exited without a result", None),
    # "No such file or directory" in the file system view, "Permission denied" without it
    ("write_outside.so", "WriteOutsideNode", None, None, "cannot write "),
]


def writes_can_be_confined():
    """Root (states drop to nobody) or Landlock: otherwise nothing stops a write."""
    if os.geteuid() == 0:
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(444, None, 0, 1) > 0  # landlock_create_ruleset(VERSION)


class HostSandbox(ExoTestCase):
    def test_misbehaving_plugins_cost_one_state_each(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        forbidden = os.path.join(self.tmp, "outside")
        os.mkdir(forbidden)
        target = os.path.join(forbidden, "escaped.txt")
        plugins = [p for p, *_ in MISBEHAVING] + [
            '{ path = "busy_cpu.so"; sandbox = { cpu_seconds = 1; timeout_ms = 60000; }; }', "echo.so"]
        host = self.start_host(sm, NS, plugins, workers=4,
                               extra=f'state_dir = "{self.tmp}/state";\nsandbox = {{ timeout_ms = 2000; }};\n')
        wait_registered(api, [n for _, n, *_ in MISBEHAVING] + ["BusyCpuNode", "EchoNode"])
        cases = [c for c in MISBEHAVING if c[1] != "WriteOutsideNode" or writes_can_be_confined()] + [("busy_cpu.so", "BusyCpuNode", {}, "CPU time limit 1 s exceeded", None)]
        runs = {}
        for plugin, node, inputs, _, _ in cases:
            if inputs is None:
                inputs = {"path": target}
            put_one_node_graph(self, api, "g-" + node, node, inputs)
            runs[node] = trigger(self, api, "g-" + node)
        for plugin, node, _, exact, fragment in cases:
            with self.subTest(node=node):
                state = finished_state(api, runs[node])
                self.assertEqual(state["status"], "ERRORED", state)
                if exact:
                    self.assertEqual(state["error"], exact)
                else:
                    self.assertIn(fragment, state["error"])
        self.assertFalse(os.path.exists(target), "a plugin wrote outside its scratch directory")
        # The host survived all of it and still runs healthy states.
        self.assertTrue(host.alive())
        put_one_node_graph(self, api, "g-echo", "EchoNode", {"text": "still here", "suffix": "!"})
        state = finished_state(api, trigger(self, api, "g-echo"))
        self.assertEqual(state["status"], "SUCCESS", state)
        self.assertIn("killed by SIGSEGV", host.log())  # one log line per state with its outcome


if __name__ == "__main__":
    main()
