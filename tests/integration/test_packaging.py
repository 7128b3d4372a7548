"""Packaging (packaging/, docs/operations.md): `cpack -G DEB` builds a package with
the programs, the systemd units, the example host.conf and the man pages; the
unpacked example config passes `exo-host --check`; `systemd-analyze verify` accepts
the units; the man pages render without warnings.  With EXO_TEST_DPKG_INSTALL=1 (CI,
as root on a throwaway machine) the package is also installed with a real
`dpkg -i`, checked in place and removed again."""
import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD_DIR, ExoTestCase, main  # noqa: E402


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def read(path):
    with open(path) as f:
        return f.read()


def cache_value(name):
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name} not in CMakeCache.txt")


class PackagingTest(ExoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = os.path.join(BUILD_DIR, "test-packaging")
        shutil.rmtree(cls.out, ignore_errors=True)
        p = run(["cpack", "-G", "DEB", "-B", cls.out], cwd=BUILD_DIR)
        assert p.returncode == 0, p.stdout + p.stderr
        debs = glob.glob(os.path.join(cls.out, "*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.prefix = cache_value("CMAKE_INSTALL_PREFIX")
        cls.etc = "/etc" if cls.prefix == "/usr" else cls.prefix + "/etc"

    def unpack(self):
        root = os.path.join(self.tmp, "root")
        p = run(["dpkg-deb", "-x", self.deb, root])
        self.assertEqual(p.returncode, 0, p.stderr)
        return root

    def test_contents(self):
        p = run(["dpkg-deb", "-c", self.deb])
        self.assertEqual(p.returncode, 0, p.stderr)
        names = {line.split()[-1].lstrip(".") for line in p.stdout.splitlines()}
        pre = self.prefix
        for want in [f"{pre}/bin/exo-state-manager", f"{pre}/bin/exo-host", f"{pre}/bin/exoctl",
                     f"{pre}/lib/systemd/system/exo-state-manager.service",
                     f"{pre}/lib/systemd/system/exo-host.service", f"{self.etc}/exo/host.conf",
                     f"{pre}/share/man/man8/exo-host.8", f"{pre}/share/man/man8/exo-state-manager.8",
                     f"{pre}/share/man/man1/exoctl.1", f"{pre}/share/man/man3/exo_node.3",
                     f"{pre}/include/exo/node.h"]:
            self.assertIn(want, names)
        info = run(["dpkg-deb", "-f", self.deb, "Package", "Version", "Depends"]).stdout
        self.assertIn("Package: exo", info)
        self.assertIn("libmicrohttpd", info)
        ctrl = os.path.join(self.tmp, "control")
        self.assertEqual(run(["dpkg-deb", "-e", self.deb, ctrl]).returncode, 0)
        with open(os.path.join(ctrl, "conffiles")) as f:  # an upgrade keeps the operator's host.conf
            self.assertEqual(f.read().split(), [f"{self.etc}/exo/host.conf"])

    def test_unpacked_example_config_checks(self):
        root = self.unpack()
        conf = root + self.etc + "/exo/host.conf"
        env = {k: v for k, v in os.environ.items() if k != "EXOSPHERE_API_KEY"}
        p = run([root + self.prefix + "/bin/exo-host", "--check", "-c", conf], env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("OK", p.stdout + p.stderr)

    def test_units(self):
        root = self.unpack()
        units = os.path.join(root + self.prefix, "lib/systemd/system")
        host = read(os.path.join(units, "exo-host.service"))
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", host)
        self.assertIn("StateDirectory=exo/host", host)
        self.assertIn("Delegate=yes", host)  # it writes its own cgroup subtree
        self.assertNotIn("RestrictNamespaces", host)  # it creates namespaces
        sm = read(os.path.join(units, "exo-state-manager.service"))
        self.assertIn("StateDirectory=exo/state-manager", sm)
        self.assertIn(f"ExecStart={self.prefix}/bin/exo-state-manager", sm)
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        # the unpacked units, with their programs pointed into the unpacked tree
        staged = []
        for name in ("exo-state-manager.service", "exo-host.service"):
            text = read(os.path.join(units, name)).replace(self.prefix + "/bin/", root + self.prefix + "/bin/")
            path = os.path.join(self.tmp, name)
            with open(path, "w") as f:
                f.write(text)
            staged.append(path)
        env = dict(os.environ, MANPATH=root + self.prefix + "/share/man", SYSTEMD_LOG_LEVEL="warning")
        p = run([analyze, "verify"] + staged, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("Invalid", p.stdout + p.stderr)

    def test_man_pages_render(self):
        if not shutil.which("man"):
            self.skipTest("man is not installed")
        root = self.unpack()
        pages = glob.glob(root + self.prefix + "/share/man/man*/*")
        self.assertEqual(len(pages), 4, pages)
        for page in pages:
            p = run(["man", "--warnings", "-l", page], env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr.strip(), "", page)
            self.assertIn("NAME", p.stdout)

    def test_real_install(self):
        if os.environ.get("EXO_TEST_DPKG_INSTALL") != "1" or os.geteuid() != 0:
            self.skipTest("a real dpkg -i only with EXO_TEST_DPKG_INSTALL=1 as root (CI)")
        p = run(["dpkg", "-i", self.deb])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        try:
            p = run([self.prefix + "/bin/exo-host", "--check", "-c", self.etc + "/exo/host.conf"])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            p = run([self.prefix + "/bin/exo-state-manager", "--version"])
            self.assertEqual(p.returncode, 0, p.stderr)
            if shutil.which("systemd-analyze"):
                units = [self.prefix + "/lib/systemd/system/" + u for u in ("exo-state-manager.service", "exo-host.service")]
                p = run(["systemd-analyze", "verify"] + units)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            run(["dpkg", "--purge", "exo"])


if __name__ == "__main__":
    main()
