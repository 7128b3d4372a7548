"""The plugin probe (which runs a plugin's constructors to read its descriptor, at
start, at SIGHUP, in --check and --describe) sees the states' file system view
without a scratch directory: a constructor that reads exo's own configuration and
encodes it in a field name (ctor_leak.so) finds nothing, as root and as an
unprivileged user, so nothing of it is registered with the state manager."""

import glob
import json
import os
import shutil
import subprocess

from harness import ExoTestCase, Process, binary, main, wait_until, write_host_conf
from host_graphs import wait_registered
from test_host_sandbox_unprivileged import NOBODY, can_run_as_nobody

NS = "probeview"
# Where ctor_leak.so looks (besides its parent's `-c FILE`): a fixed path it knows.
CONF_DIR = "/tmp/exo-test-ctor-leak"


def input_names(registration):
    return sorted(registration["inputs_schema"]["properties"])


def probe_dirs():
    return glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "exo-probe-*"))


class HostProbeView(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        shutil.rmtree(CONF_DIR, ignore_errors=True)
        os.makedirs(CONF_DIR)
        os.chmod(CONF_DIR, 0o755)
        self.addCleanup(shutil.rmtree, CONF_DIR, True)
        self.dirs_before = set(probe_dirs())

    def write_conf(self, sm_url):
        conf = write_host_conf(os.path.join(CONF_DIR, "host.conf"), sm_url, NS, ["ctor_leak.so"],
                               extra=f'state_dir = "{self.tmp}/state";\n'
                                     f'scratch_dir = "{self.tmp}/scratch";\n')
        os.chmod(conf, 0o644)  # readable by anyone: only the view keeps the probe out
        return conf

    def describe(self, conf, as_nobody=False):
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] \
            if as_nobody else []
        r = subprocess.run(prefix + [binary("exo-host"), "--describe", "ctor_leak.so", "-c", conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("no private file system view", r.stderr)
        return json.loads(r.stdout)

    def test_a_constructor_reads_nothing_of_exo(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        conf = self.write_conf(sm.url)
        # --check and --describe probe the plugin too
        r = subprocess.run([binary("exo-host"), "--check", "-c", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(input_names(self.describe(conf)), ["sealed"])
        # and so does the host at start: what it registers holds nothing of host.conf
        host = Process([binary("exo-host"), "-c", conf], dict(os.environ), self.tmp, "host.log")
        self._procs.append(host)  # stopped, and its log checked, by tearDown
        host.start()
        wait_registered(api, ["CtorLeakNode"])
        nodes = api.request("GET", api.ns_path("/nodes/")).json["nodes"]
        node = next(n for n in nodes if n["name"] == "CtorLeakNode")
        self.assertEqual(input_names(node), ["sealed"], node)
        self.assertNotIn("no private file system view", host.log())
        self.assertTrue(host.alive(), host.log())
        # the probes' mount points are gone with them
        wait_until(lambda: set(probe_dirs()) <= self.dirs_before, 5, what="no probe directory left")

    def test_without_a_view_the_host_says_so(self):
        conf = self.write_conf("http://127.0.0.1:9")
        env = dict(os.environ, TMPDIR=os.path.join(self.tmp, "missing"))  # no probe directory
        r = subprocess.run([binary("exo-host"), "--describe", "ctor_leak.so", "-c", conf],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sandbox: the plugin probe has no private file system view (cannot create "
                      "a directory for it): a plugin's constructors can read what sandbox.user "
                      "may read", r.stderr)
        self.assertEqual(r.stderr.count("no private file system view"), 1, r.stderr)
        # what the view is there for: without it, the constructor read host.conf
        self.assertTrue(input_names(json.loads(r.stdout))[0].startswith("leak_"), r.stdout)

    def test_an_unprivileged_probe_reads_nothing_of_exo(self):
        if not can_run_as_nobody():
            self.skipTest("needs root to become nobody, and unprivileged user namespaces")
        conf = self.write_conf("http://127.0.0.1:9")
        self.assertEqual(input_names(self.describe(conf, as_nobody=True)), ["sealed"])
        self.assertEqual(set(probe_dirs()), self.dirs_before)


if __name__ == "__main__":
    main()
