"""A refused system call in a program the node executed (processes > 0) is named
exactly as one the node makes itself: "blocked system call: NAME", with the ABI
note for int 0x80 and x32.  The exec'd program has none of the node's signal
handlers; the fork server holds the seccomp filter's listener, names the call and
ends the whole state, whether the node's process became the program (exec) or the
program runs in a child the node waits for (spawn: the node never gets to report the
child's status).  The host, its fork server, its spool and a state running next to
them are unharmed.

Where a state cannot have a listener (a kernel without user notification, or
exo-host under a supervisor's filter that has one), the fork server says so once
at start and refusals trap as before: the node's own call is still named, an
exec'd program's is "killed by SIGSYS"."""

import os
import platform

from harness import PLUGIN_DIR, ExoTestCase, Process, binary, main, wait_until, write_host_conf
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered
from test_host_sandbox_syscalls import children

NS = "execblocked"
PROGRAMS = os.path.join(PLUGIN_DIR, "programs")
HELPER = os.path.join(PROGRAMS, "exo-test-blocked-call")
PLUGIN = '{ path = "exec_program.so"; sandbox = { processes = 4; }; }'

CASES = [
    # (command, expected error)
    (f"{HELPER} io_uring", "blocked system call: io_uring_setup"),
    (f"{HELPER} unshare", "blocked system call: unshare"),
    # a system program, as found in the view (/usr is bound read-only)
    ("/usr/bin/unshare --net /bin/true", "blocked system call: unshare"),
]
if platform.machine() == "x86_64":
    CASES += [
        (f"{HELPER} int80", "blocked system call: getpid (i386 ABI, int 0x80)"),
        (f"{HELPER} x32", "blocked system call: getpid (x32 ABI)"),
    ]
MODES = ["exec", "spawn"]


def host_conf_extra(state_dir):
    return (f'state_dir = "{state_dir}";\n'
            f'readable_paths = [ "{PROGRAMS}" ];\n'
            'sandbox = { timeout_ms = 20000; };\n')


class HostExecBlocked(ExoTestCase):
    check_sanitizers = True

    def test_blocked_calls_of_exec_programs_are_named(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        state_dir = os.path.join(self.tmp, "state")
        host = self.start_host(sm, NS, [PLUGIN, "sleep_long.so", "echo.so"], workers=12,
                               extra=host_conf_extra(state_dir))
        wait_registered(api, ["ExecProgramNode", "SleepNode", "EchoNode"])
        if "no seccomp user notification here" in host.log():  # said once at start
            self.skipTest("no seccomp user notification here: exec'd programs die unnamed")
        servers = children(host.proc.pid)
        self.assertEqual(len(servers), 1, servers)  # the fork server
        put_one_node_graph(self, api, "g-sleep", "SleepNode", {"seconds": "3"})
        sleeper = trigger(self, api, "g-sleep")
        # The program really runs in the view, and a harmless one succeeds.
        put_one_node_graph(self, api, "g-true", "ExecProgramNode",
                           {"command": "/bin/sh -c true", "mode": "spawn"})
        harmless = trigger(self, api, "g-true")
        runs = {}
        for i, (command, _) in enumerate(CASES):
            for mode in MODES:
                graph = f"g-{i}-{mode}"
                put_one_node_graph(self, api, graph, "ExecProgramNode",
                                   {"command": command, "mode": mode})
                runs[(command, mode)] = trigger(self, api, graph)
        for command, expected in CASES:
            for mode in MODES:
                with self.subTest(command=command, mode=mode):
                    state = finished_state(api, runs[(command, mode)])
                    self.assertEqual((state["status"], state["error"]), ("ERRORED", expected),
                                     state)
        state = finished_state(api, harmless)
        self.assertEqual(state["status"], "SUCCESS", state)
        self.assertEqual(finished_state(api, sleeper)["status"], "SUCCESS")
        # The fork server that read every refusal still serves new states.
        put_one_node_graph(self, api, "g-echo", "EchoNode", {"text": "after", "suffix": "!"})
        self.assertEqual(finished_state(api, trigger(self, api, "g-echo"))["status"], "SUCCESS")
        self.assertTrue(host.alive(), host.log())
        self.assertEqual(children(host.proc.pid), servers, "the fork server was replaced")
        spool = os.path.join(state_dir, "spool")
        wait_until(lambda: not os.listdir(spool), 10, what="an empty spool")

    def test_without_a_listener_refusals_trap_and_the_start_says_so(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        state_dir = os.path.join(self.tmp, "state")
        conf = write_host_conf(os.path.join(self.tmp, "host.conf"), sm.url, NS,
                               [PLUGIN, "open_socket.so", "blocked_flood.so", "echo.so"],
                               extra=host_conf_extra(state_dir))
        host = Process([os.path.join(PROGRAMS, "exo-test-with-listener"), binary("exo-host"),
                        "-c", conf], dict(os.environ), self.tmp, "host.log")
        self._procs.append(host)  # stopped, and its log checked, by tearDown
        host.start()
        wait_registered(api, ["ExecProgramNode", "SocketNode", "BlockedFloodNode", "EchoNode"])
        wait_until(lambda: "no seccomp user notification here" in host.log(), 30,
                   what="the fork server's fallback line in the host log")
        self.assertIn("sandbox: no seccomp user notification here (a filter with a listener is "
                      "refused: Device or resource busy): a blocked system call in a program a "
                      "node executes ends its state as \"killed by SIGSYS\", unnamed",
                      host.log())
        expected = {
            "g-socket": ("SocketNode", {}, ("ERRORED", "blocked system call: socket")),
            # 33 threads trapping at once: one result, not 33 interleaved ones
            "g-flood": ("BlockedFloodNode", {}, ("ERRORED", "blocked system call: io_uring_setup")),
            "g-exec": ("ExecProgramNode", {"command": f"{HELPER} unshare", "mode": "exec"},
                       ("ERRORED", "blocked system call in a program the node executed "
                                   "(killed by SIGSYS)")),
            "g-echo": ("EchoNode", {"text": "hi", "suffix": "!"}, ("SUCCESS", None)),
        }
        runs = {}
        for graph, (node, inputs, _) in expected.items():
            put_one_node_graph(self, api, graph, node, inputs)
            runs[graph] = trigger(self, api, graph)
        for graph, (_, _, outcome) in expected.items():
            with self.subTest(graph=graph):
                state = finished_state(api, runs[graph])
                self.assertEqual((state["status"], state["error"]), outcome, state)
        self.assertTrue(host.alive(), host.log())


if __name__ == "__main__":
    main()
