"""What a state can see of the file system and of other processes: the system
directories and readable_paths, its scratch directory, a /proc that shows only its
own processes — never the state dir, the spool, host.conf or a database elsewhere,
even when their modes would let any user read them."""

import os

from harness import ExoTestCase, main
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "view"


def outcome(api, graph, run_id):
    state = finished_state(api, run_id)
    if state["status"] != "SUCCESS":
        return state["status"], state["error"]
    return state["status"], api.node_details(graph, run_id, state["id"]).json["outputs"]


class HostView(ExoTestCase):
    def start(self, plugins, workers=4):
        os.chmod(self.tmp, 0o755)  # readable by anyone: only the view keeps states out
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        data = os.path.join(self.tmp, "data")
        os.mkdir(data)
        with open(os.path.join(data, "hello.txt"), "w") as f:
            f.write("hello from readable_paths")
        self.state_dir = os.path.join(self.tmp, "state")
        self.host = self.start_host(self.sm, NS, plugins, workers=workers,
                                    extra=f'state_dir = "{self.state_dir}";\n'
                                          f'readable_paths = [ "{data}" ];\n')
        if "no private file system view" in self.host.log():
            self.skipTest("no mount namespace here")

    def test_only_the_view_is_readable(self):
        self.start(["read_file.so"])
        wait_registered(self.api, ["ReadFileNode"])
        os.chmod(self.sm.db, 0o644)
        os.chmod(self.host.conf_path, 0o644)
        cases = {
            self.sm.db: None,  # the state manager's database on the same machine
            self.host.conf_path: None,  # holds the API key
            os.path.join(self.state_dir, "spool"): None,
            os.path.join(self.tmp, "data", "hello.txt"): "hello from readable_paths",
            "/etc/passwd": "root:",
        }
        runs = {}
        for i, path in enumerate(cases):
            put_one_node_graph(self, self.api, f"g-read-{i}", "ReadFileNode", {"path": path})
            runs[path] = (f"g-read-{i}", trigger(self, self.api, f"g-read-{i}"))
        for path, expected in cases.items():
            with self.subTest(path=path):
                status, result = outcome(self.api, *runs[path])
                if expected is None:
                    self.assertEqual((status, result),
                                     ("ERRORED", f"cannot open {path}: No such file or directory"))
                else:
                    self.assertEqual(status, "SUCCESS", result)
                    self.assertTrue(result["content"].startswith(expected), result)
        self.assertTrue(self.host.alive())

    def test_no_state_sees_another(self):
        if os.geteuid() != 0:
            self.skipTest("per-state users need a root host")
        self.start(["list_proc.so"], workers=3)
        wait_registered(self.api, ["ListProcNode"])
        put_one_node_graph(self, self.api, "g-proc", "ListProcNode", {"ms": "1000"})
        runs = [trigger(self, self.api, "g-proc") for _ in range(3)]
        for run in runs:
            self.assertEqual(outcome(self.api, "g-proc", run), ("SUCCESS", {"visible": "1"}))


if __name__ == "__main__":
    main()
