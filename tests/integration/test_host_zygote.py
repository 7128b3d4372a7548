"""exo-host's fork server (host/zygote.h): every state's process is its child, it
dies with the host, and when it dies itself the host reports the states it was
running as errored, starts a new one and keeps serving."""

import os
import signal
import time

from harness import API_KEY, main, wait_until
from mock_state_manager import MockHostTestCase

NS = "zygote"


def sid(n):
    return "%024x" % (0x77c2a1d3b4e5f60718290000 + n)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def gone(pid):
    """No such process, or only a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class HostZygote(MockHostTestCase):
    namespace = NS

    def zygote_of(self, host):
        """The fork server: the host's child running `--zygote`."""
        found = []

        def find():
            found[:] = [p for p in children(host.proc.pid) if b"--zygote" in cmdline(p)]
            return found
        wait_until(find, 10, what="the fork server")
        return found[0]

    def running_state(self, zygote):
        found = []

        def find():
            found[:] = children(zygote)
            return found
        wait_until(find, 10, what="the state's process under the fork server")
        return found[0]

    def test_state_runs_under_the_fork_server_without_credentials(self):
        self.mock.add_state(sid(1), "SleepNode", {"seconds": "3600"})
        h = self.host(["sleep_long.so"], workers=1)
        zygote = self.zygote_of(h)
        self.running_state(zygote)

        def own_group():  # the state's process leads a process group of its own (a
            # pre-forked one still starting may not have left the server's group yet)
            mine = []
            for p in children(zygote):
                try:
                    if os.getpgid(p) == p:
                        mine.append(p)
                except ProcessLookupError:
                    pass  # ended meanwhile
            return mine
        wait_until(own_group, 10, what="a state's process in a process group of its own")
        with open(f"/proc/{zygote}/environ", "rb") as f:
            env = f.read()
        self.assertNotIn(API_KEY.encode(), env)
        self.assertNotIn(b"EXOSPHERE_API_KEY", env)

    def test_fork_server_death_errors_running_states_and_is_replaced(self):
        self.mock.add_state(sid(1), "SleepNode", {"seconds": "3600"})
        h = self.host(["sleep_long.so", "echo.so"], workers=2)
        zygote = self.zygote_of(h)
        state = self.running_state(zygote)
        os.kill(zygote, signal.SIGKILL)
        kind, body = self.mock.wait_report(sid(1))
        self.assertEqual(kind, "errored")
        self.assertIn("fork server ended (killed by SIGKILL)", body["error"])
        wait_until(lambda: gone(state), 10, what="the orphaned state's process to die")
        # A new fork server runs the next state.
        self.mock.add_state(sid(2), "EchoNode", {"text": "after"})
        self.assertEqual(self.mock.wait_report(sid(2)), ("executed", {"outputs": [{"text": "after"}]}))
        self.assertNotEqual(self.zygote_of(h), zygote)
        self.assertTrue(h.alive())

    def test_timeout_kills_through_the_fork_server(self):
        self.mock.add_state(sid(1), "SleepNode", {"seconds": "3600"})
        h = self.host(["sleep_long.so"], workers=1, extra="sandbox = { timeout_ms = 500; };\n")
        zygote = self.zygote_of(h)
        state = self.running_state(zygote)
        kind, body = self.mock.wait_report(sid(1))
        self.assertEqual((kind, body["error"]), ("errored", "timed out after 500 ms"))
        # What stays under the server is the next state's pre-forked process only.
        wait_until(lambda: state not in children(zygote), 10, what="the fork server to reap it")
        self.assertTrue(gone(state))

    def test_host_death_takes_fork_server_and_states_along(self):
        self.mock.add_state(sid(1), "SleepNode", {"seconds": "3600"})
        h = self.host(["sleep_long.so"], workers=1)
        zygote = self.zygote_of(h)
        state = self.running_state(zygote)
        h.proc.kill()
        h.proc.wait()
        wait_until(lambda: gone(zygote) and gone(state), 10,
                   what="the fork server and the state to die with the host")


if __name__ == "__main__":
    main()
