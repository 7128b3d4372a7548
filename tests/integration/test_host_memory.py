"""exo-host: a plugin that allocates 4 GiB ends ERRORED with "memory limit 256 MiB
exceeded" (needs RLIMIT_AS, hence not under AddressSanitizer: label no_asan)."""

from harness import ExoTestCase, main
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "memory"


class HostMemoryLimit(ExoTestCase):
    def test_allocating_4_gib_hits_the_memory_limit(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["alloc.so", "echo.so"],
                               extra=f'state_dir = "{self.tmp}/state";\nsandbox = {{ memory_mb = 256; }};\n')
        wait_registered(api, ["AllocNode", "EchoNode"])
        put_one_node_graph(self, api, "g-alloc", "AllocNode", {})
        state = finished_state(api, trigger(self, api, "g-alloc"))
        self.assertEqual(state["status"], "ERRORED", state)
        self.assertEqual(state["error"], "memory limit 256 MiB exceeded")
        put_one_node_graph(self, api, "g-echo", "EchoNode", {"text": "ok", "suffix": ""})
        self.assertEqual(finished_state(api, trigger(self, api, "g-echo"))["status"], "SUCCESS")
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
