"""exo-host run by an unprivileged user (nobody): the fork server moves into a user
namespace of that user, and states get the same isolation and the same outcome
texts as under root (PID namespace, empty network, the file system view)."""

import os
import shutil
import subprocess

from harness import ExoTestCase, Process, binary, main, wait_until, write_host_conf
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered
from test_host_sandbox_syscalls import processes_named
from test_host_sandbox_exec import HELPER, PLUGIN as EXEC_PLUGIN, PROGRAMS

NS = "unprivileged"
NOBODY = 65534

CASES = [
    ("echo.so", "EchoNode", {"text": "hi", "suffix": "!"}, None),
    ("open_socket.so", "SocketNode", {}, "blocked system call: socket"),
    ("io_uring.so", "IoUringNode", {}, "blocked system call: io_uring_setup"),
    ("segfault.so", "SegfaultNode", {}, "killed by SIGSEGV"),
    ("abort.so", "AbortNode", {}, "killed by SIGABRT"),
    # a refused call in a program the node exec'd, named by the fork server
    (EXEC_PLUGIN, "ExecProgramNode", {"command": f"{HELPER} io_uring", "mode": "spawn"},
     "blocked system call: io_uring_setup"),
]


def can_run_as_nobody():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "unshare", "-U", "-r", "true"], capture_output=True)
    return r.returncode == 0


class HostUnprivileged(ExoTestCase):
    def test_same_outcomes_as_an_unprivileged_user(self):
        if not can_run_as_nobody():
            self.skipTest("needs root to become nobody, and unprivileged user namespaces")
        os.chmod(self.tmp, 0o777)
        sm = self.start_state_manager()
        api = sm.api(NS)
        os.chmod(sm.db, 0o644)  # readable by anyone: only the view keeps states out
        plugins = [c[0] for c in CASES] + [
            '{ path = "escape_session.so"; sandbox = { processes = 4; }; }', "read_file.so"]
        conf = write_host_conf(os.path.join(self.tmp, "host.conf"), sm.url, NS, plugins,
                               extra=f'state_dir = "{self.tmp}/state";\n'
                                     f'scratch_dir = "{self.tmp}/scratch";\n'
                                     f'readable_paths = [ "{PROGRAMS}" ];\n')
        os.chmod(conf, 0o644)
        host = Process(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        binary("exo-host"), "-c", conf], dict(os.environ), self.tmp, "host.log")
        host.start()
        self.addCleanup(host.stop)
        wait_registered(api, [c[1] for c in CASES] + ["EscapeSessionNode", "ReadFileNode"])
        # the fork server logs it as it sets up, possibly after the registration
        wait_until(lambda: "states run in a user namespace as the host's user" in host.log(), 30,
                   what="the fork server's user-namespace line in the host log")
        runs = {}
        for _, node, inputs, _ in CASES:
            put_one_node_graph(self, api, "g-" + node, node, inputs)
            runs[node] = trigger(self, api, "g-" + node)
        for _, node, _, error in CASES:
            with self.subTest(node=node):
                state = finished_state(api, runs[node])
                if error is None:
                    self.assertEqual(state["status"], "SUCCESS", state)
                else:
                    self.assertEqual((state["status"], state["error"]), ("ERRORED", error))
        put_one_node_graph(self, api, "g-exec", "ExecProgramNode",
                           {"command": "/usr/bin/unshare --net /bin/true", "mode": "exec"})
        state = finished_state(api, trigger(self, api, "g-exec"))
        self.assertEqual((state["status"], state["error"]),
                         ("ERRORED", "blocked system call: unshare"))
        put_one_node_graph(self, api, "g-escape", "EscapeSessionNode", {})
        self.assertEqual(finished_state(api, trigger(self, api, "g-escape"))["status"], "SUCCESS")
        wait_until(lambda: not processes_named("exo-escapee"), 5, what="no escapee left")
        put_one_node_graph(self, api, "g-read", "ReadFileNode", {"path": sm.db})
        state = finished_state(api, trigger(self, api, "g-read"))
        self.assertEqual((state["status"], state["error"]),
                         ("ERRORED", f"cannot open {sm.db}: No such file or directory"))
        self.assertTrue(host.alive(), host.log())


if __name__ == "__main__":
    main()
