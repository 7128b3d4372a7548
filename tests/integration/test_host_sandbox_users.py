"""Each running state has a user of its own (state_uids, when the host runs as
root) and is pid 1 of its own PID namespace; max_threads bounds its threads; its
memory limit counts what RLIMIT_AS does not (memfd pages), where cgroups allow."""

import os

from harness import ExoTestCase, main
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "users"


def outputs(api, graph, run_id):
    state = finished_state(api, run_id)
    detail = api.node_details(graph, run_id, state["id"]).json
    return state["status"], detail["outputs"]


class HostUsers(ExoTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("per-state users need a root host")

    def test_concurrent_states_never_share_a_user(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["whoami.so"], workers=4,
                               extra='state_uids = "1900000000-1900000099";\n')
        wait_registered(api, ["WhoAmINode"])
        put_one_node_graph(self, api, "g-who", "WhoAmINode", {"ms": "1500"})
        runs = [trigger(self, api, "g-who") for _ in range(4)]
        results = [outputs(api, "g-who", r) for r in runs]
        self.assertEqual([s for s, _ in results], ["SUCCESS"] * 4, results)
        uids = [int(o["uid"]) for _, o in results]
        self.assertEqual(len(set(uids)), 4, uids)
        for uid in uids:
            self.assertTrue(1900000000 <= uid <= 1900000099, uid)
        if "no PID namespaces here" not in host.log():
            self.assertEqual({o["pid"] for _, o in results}, {"1"})
        self.assertTrue(host.alive())

    def test_two_hosts_never_share_a_user(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        # The same range (the default one) on both: ids are locked machine-wide.
        for name in ("host-a", "host-b"):
            self.start_host(sm, NS, ["whoami.so"], workers=2, name=name, conf_name=name + ".conf",
                            extra=f'state_dir = "{self.tmp}/{name}";\n')
        wait_registered(api, ["WhoAmINode"])
        put_one_node_graph(self, api, "g-who", "WhoAmINode", {"ms": "2000"})
        runs = [trigger(self, api, "g-who") for _ in range(4)]
        results = [outputs(api, "g-who", r) for r in runs]
        self.assertEqual([s for s, _ in results], ["SUCCESS"] * 4, results)
        self.assertEqual(len({o["uid"] for _, o in results}), 4, results)

    def test_max_threads(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ['{ path = "thread_bomb.so"; sandbox = { max_threads = 10; }; }',
                                        "whoami.so"])
        wait_registered(api, ["ThreadBombNode", "WhoAmINode"])
        put_one_node_graph(self, api, "g-threads", "ThreadBombNode", {})
        # The state's own thread plus 10 more.
        self.assertEqual(outputs(api, "g-threads", trigger(self, api, "g-threads")),
                         ("SUCCESS", {"threads": "10"}))
        put_one_node_graph(self, api, "g-who", "WhoAmINode", {"ms": "0"})
        self.assertEqual(outputs(api, "g-who", trigger(self, api, "g-who"))[0], "SUCCESS")
        self.assertTrue(host.alive())

    def test_memory_limit_counts_memfd(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ['{ path = "memfd_hog.so"; sandbox = { memory_mb = 64; }; }',
                                        "whoami.so"])
        wait_registered(api, ["MemfdHogNode", "WhoAmINode"])
        if "no cgroup memory and pids controllers" in host.log():
            self.skipTest("no usable cgroups here")
        put_one_node_graph(self, api, "g-hog", "MemfdHogNode", {})
        state = finished_state(api, trigger(self, api, "g-hog"))
        self.assertEqual((state["status"], state["error"]),
                         ("ERRORED", "memory limit 64 MiB exceeded"))
        put_one_node_graph(self, api, "g-who", "WhoAmINode", {"ms": "0"})
        self.assertEqual(outputs(api, "g-who", trigger(self, api, "g-who"))[0], "SUCCESS")
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
