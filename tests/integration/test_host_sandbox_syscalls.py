"""The seccomp allowlist and the per-state PID namespace: every way around a
per-call rule ends the state ERRORED as "blocked system call: NAME", nothing a state
starts outlives it, and the host, its fork server, its spool and a state running next
to them are unharmed."""

import os
import platform
import time

from harness import ExoTestCase, main, wait_until
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "syscalls"

CASES = [
    # (plugin entry, node, expected error)
    ("io_uring.so", "IoUringNode", "blocked system call: io_uring_setup"),
    ("kill_all.so", "KillAllNode", "blocked system call: kill"),
    ("prlimit_other.so", "PrlimitOtherNode", "blocked system call: prlimit64"),
    ('{ path = "clone_namespaces.so"; sandbox = { processes = 4; }; }', "CloneNamespacesNode",
     "blocked system call: clone"),
    ("open_socket.so", "SocketNode", "blocked system call: socket"),
    # 33 threads refused at once: the first one read ends the state, the rest cost
    # the fork server nothing (the states around it are unharmed)
    ("blocked_flood.so", "BlockedFloodNode", "blocked system call: io_uring_setup"),
]
if platform.machine() == "x86_64":
    CASES += [
        ("int80.so", "Int80Node", "blocked system call: getpid (i386 ABI, int 0x80)"),
        ("x32.so", "X32Node", "blocked system call: getpid (x32 ABI)"),
    ]


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def processes_named(name):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


class HostSyscalls(ExoTestCase):
    def test_blocked_calls_name_the_call_and_harm_nobody(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        state_dir = os.path.join(self.tmp, "state")
        host = self.start_host(sm, NS, [c[0] for c in CASES] + ["sleep_long.so"], workers=10,
                               extra=f'state_dir = "{state_dir}";\n'
                                     'sandbox = { timeout_ms = 20000; };\n')
        wait_registered(api, [c[1] for c in CASES] + ["SleepNode"])
        servers = children(host.proc.pid)
        self.assertEqual(len(servers), 1, servers)  # the fork server
        put_one_node_graph(self, api, "g-sleep", "SleepNode", {"seconds": "3"})
        sleeper = trigger(self, api, "g-sleep")
        runs = {}
        for _, node, _ in CASES:
            inputs = {"pid": "1"} if node == "PrlimitOtherNode" else {}
            put_one_node_graph(self, api, "g-" + node, node, inputs)
            runs[node] = trigger(self, api, "g-" + node)
        for _, node, expected in CASES:
            with self.subTest(node=node):
                state = finished_state(api, runs[node])
                self.assertEqual((state["status"], state["error"]), ("ERRORED", expected), state)
        # The state that ran next to them all finished normally.
        state = finished_state(api, sleeper)
        self.assertEqual(state["status"], "SUCCESS", state)
        self.assertTrue(host.alive(), host.log())
        self.assertEqual(children(host.proc.pid), servers, "the fork server was replaced")
        spool = os.path.join(state_dir, "spool")
        wait_until(lambda: not os.listdir(spool), 10, what="an empty spool")

    def test_nothing_a_state_starts_outlives_it(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ['{ path = "escape_session.so"; sandbox = { processes = 4; }; }'])
        wait_registered(api, ["EscapeSessionNode"])
        if "no PID namespaces here" in host.log():  # said once at start where missing
            self.skipTest("no PID namespaces here")
        put_one_node_graph(self, api, "g-escape", "EscapeSessionNode", {})
        state = finished_state(api, trigger(self, api, "g-escape"))
        self.assertEqual(state["status"], "SUCCESS", state)
        # The grandchild left its process group and session; its PID namespace ended
        # with the state's process, and it with it.
        deadline = time.time() + 5
        while processes_named("exo-escapee") and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(processes_named("exo-escapee"), [])
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
