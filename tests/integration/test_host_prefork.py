"""exo-host's pre-forked state processes (runner/zygote_server.c): the fork server
prepares the process of a node's next state while the current one runs, and each
process still serves exactly one state, in a PID namespace of its own."""

import os
import signal
import time

from harness import ExoTestCase, main, wait_until
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered
import test_host_zygote as zy  # its process helpers (children, cmdline), not its tests

NS = "prefork"


class HostPrefork(ExoTestCase):
    def start(self, plugins, **kw):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, plugins, **kw)
        return sm, api, host

    def run_one(self, api, graph):
        run_id = trigger(self, api, graph)
        state = finished_state(api, run_id)
        detail = api.node_details(graph, run_id, state["id"]).json
        return state["status"], detail.get("outputs") or {}, detail

    def fork_server(self, host):
        found = []

        def find():
            found[:] = [p for p in zy.children(host.proc.pid) if b"--zygote" in zy.cmdline(p)]
            return found
        wait_until(find, 10, what="the fork server")
        return found[0]

    def test_a_state_process_is_never_reused(self):
        _, api, host = self.start(["single_use.so"], workers=1)
        wait_registered(api, ["SingleUseNode"])
        put_one_node_graph(self, api, "g-once", "SingleUseNode", {"tag": "was-here"})
        for _ in range(6):
            status, out, detail = self.run_one(api, "g-once")
            self.assertEqual(status, "SUCCESS", detail)
            # A reused process would count 2 and find the previous state's tag.
            self.assertEqual(out["runs"], "1", out)
            self.assertEqual(out["previous"], "none", out)
        # Between states, the next state's process waits under the fork server.
        server = self.fork_server(host)
        wait_until(lambda: zy.children(server), 10, what="a pre-forked process")
        self.assertTrue(host.alive())

    def test_a_killed_waiting_process_costs_no_state(self):
        _, api, host = self.start(["single_use.so"], workers=1)
        wait_registered(api, ["SingleUseNode"])
        put_one_node_graph(self, api, "g-kill", "SingleUseNode", {"tag": "t"})
        self.assertEqual(self.run_one(api, "g-kill")[0], "SUCCESS")
        server = self.fork_server(host)
        waiting = wait_until(lambda: zy.children(server), 10, what="a pre-forked process")
        for pid in waiting:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: all(zy.gone(p) for p in waiting), 10, what="the killed process reaped")
        for _ in range(3):
            status, out, detail = self.run_one(api, "g-kill")
            self.assertEqual(status, "SUCCESS", detail)
            self.assertEqual(out["runs"], "1", out)

    def test_nodes_of_different_limits_each_get_their_own_process(self):
        _, api, host = self.start(
            ['{ path = "single_use.so"; sandbox = { memory_mb = 300; }; }', "whoami.so"],
            workers=1)
        wait_registered(api, ["SingleUseNode", "WhoAmINode"])
        put_one_node_graph(self, api, "g-a", "SingleUseNode", {"tag": "a"})
        put_one_node_graph(self, api, "g-b", "WhoAmINode", {"ms": "0"})
        for _ in range(3):
            status, out, detail = self.run_one(api, "g-a")
            self.assertEqual((status, out.get("runs"), out.get("previous")), ("SUCCESS", "1", "none"),
                             detail)
            status, out, detail = self.run_one(api, "g-b")
            self.assertEqual(status, "SUCCESS", detail)
            if "no PID namespaces here" not in host.log():
                self.assertEqual(out["pid"], "1", out)
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
