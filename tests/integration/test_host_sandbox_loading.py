"""exo-host never maps node code, and runs the plugin it loaded.

The probe (a sandboxed exo-host-runner) loads each plugin and sends its checked
descriptor back; only the states' own sandboxed processes dlopen it, from the sealed
memfd copy the host made at load time.  So: a constructor that misbehaves only where
it can see the host's credentials never runs there; a descriptor with wild pointers
is a clear load error (not a SIGSEGV of exo-host or --check); a bare plugin name is a
file in the working directory; replacing or removing the file changes nothing until a
SIGHUP reload validates the new one.  And an undeclared output fails its state."""

import os
import shutil
import signal
import subprocess

from harness import API_KEY, PLUGIN_DIR, ExoTestCase, binary, main, wait_until, write_host_conf
from host_graphs import finished_state, put_one_node_graph, trigger, wait_registered

NS = "loading"


def run_outputs(api, graph, run_id):
    """The finished single state of run_id, with its outputs."""
    state = finished_state(api, run_id)
    detail = api.node_details(graph, run_id, state["id"]).json
    return state["status"], detail["outputs"]


def mapped_files(pid):
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


class HostPluginLoading(ExoTestCase):
    def test_constructors_never_run_in_the_host(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["ctor_host_only.so", "echo.so"],
                               env={"EXOSPHERE_API_KEY": API_KEY})
        wait_registered(api, ["CtorHostOnlyNode", "EchoNode"])
        self.assertTrue(host.alive(), host.log())
        maps = mapped_files(host.proc.pid)
        for name in ("ctor_host_only.so", "echo.so", "exo-plugin"):
            self.assertNotIn(name, maps, "exo-host mapped node code")
        put_one_node_graph(self, api, "g-ctor", "CtorHostOnlyNode", {})
        self.assertEqual(run_outputs(api, "g-ctor", trigger(self, api, "g-ctor")),
                         ("SUCCESS", {"api_key_seen": "no"}))
        self.assertTrue(host.alive())

    def test_descriptor_with_wild_pointers_is_a_load_error(self):
        conf = write_host_conf(os.path.join(self.tmp, "bad.conf"), "http://127.0.0.1:9", NS,
                               ["bad_descriptor.so", "bad_descriptor_list.so"])
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True,
                           text=True, env=dict(os.environ, EXOSPHERE_API_KEY=API_KEY))
        self.assertEqual(r.returncode, 1, r.stderr)  # not -SIGSEGV
        self.assertIn("bad_descriptor.so: the node name points outside the plugin's mapped "
                      "segments", r.stderr)
        self.assertIn("bad_descriptor_list.so: the input list points outside the plugin's "
                      "mapped segments", r.stderr)
        r = subprocess.run([binary("exo-host"), "--describe",
                            os.path.join(PLUGIN_DIR, "bad_descriptor.so")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("points outside the plugin's mapped segments", r.stderr)

    def test_describe_with_a_bare_file_name(self):
        # The README's example: cd into the plugin directory, name the file.
        r = subprocess.run([binary("exo-host"), "--describe", "echo.so"], cwd=PLUGIN_DIR,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"name": "EchoNode"', r.stdout)
        # A bare name is never looked up in library paths: a file elsewhere is not found.
        r = subprocess.run([binary("exo-host"), "--describe", "echo.so"], cwd=self.tmp,
                           capture_output=True, text=True,
                           env=dict(os.environ, LD_LIBRARY_PATH=PLUGIN_DIR))
        self.assertEqual(r.returncode, 1)
        self.assertIn("echo.so: cannot open: No such file or directory", r.stderr)

    def test_replacing_the_file_changes_nothing_until_reload(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        pdir = os.path.join(self.tmp, "plugins")
        os.mkdir(pdir)
        so = os.path.join(pdir, "node.so")
        shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), so)
        host = self.start_host(sm, NS, ["node.so"], plugin_dir=pdir)
        wait_registered(api, ["EchoNode"])
        put_one_node_graph(self, api, "g-echo", "EchoNode", {"text": "hi", "suffix": "!"})

        def run_echo():
            return run_outputs(api, "g-echo", trigger(self, api, "g-echo"))

        self.assertEqual(run_echo(), ("SUCCESS", {"text": "hi!"}))
        # Rewritten in place with another plugin (same file, new bytes), then removed.
        with open(so, "r+b") as f, open(os.path.join(PLUGIN_DIR, "segfault.so"), "rb") as g:
            data = g.read()
            f.seek(0)
            f.write(data)
            f.truncate()
        self.assertEqual(run_echo(), ("SUCCESS", {"text": "hi!"}))
        os.unlink(so)
        self.assertEqual(run_echo(), ("SUCCESS", {"text": "hi!"}))
        # A reload that cannot load the file keeps the running plugin.
        host.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload" in host.log().lower() and "node.so" in host.log(), 20,
                   what="the failed reload in the log")
        self.assertEqual(run_echo(), ("SUCCESS", {"text": "hi!"}))
        # A reload that validates a new plugin switches to it.
        shutil.copy(os.path.join(PLUGIN_DIR, "fail.so"), so)
        host.send_signal(signal.SIGHUP)
        wait_registered(api, ["FailNode"])
        self.assertTrue(host.alive(), host.log())

    def test_undeclared_output_fails_the_state(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["undeclared_output.so"])
        wait_registered(api, ["UndeclaredOutputNode"])
        put_one_node_graph(self, api, "g-undeclared", "UndeclaredOutputNode", {})
        state = finished_state(api, trigger(self, api, "g-undeclared"))
        self.assertEqual(state["status"], "ERRORED", state)
        self.assertEqual(state["error"], "exo_output: 'zzz' is not a declared output of "
                                         "UndeclaredOutputNode (declared: a, b)")
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
