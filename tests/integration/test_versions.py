"""--version of every program: the project's version from CMake's project() and, in
a git checkout, `git describe` (common/version.h)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, ExoTestCase, binary, main  # noqa: E402


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(exo VERSION ([0-9.]+)", f.read())
    assert m, "project(exo VERSION ...) not found"
    return m.group(1)


class VersionTest(ExoTestCase):
    def test_every_program_prints_the_project_version(self):
        want = project_version()
        for prog in ("exo-state-manager", "exo-host", "exoctl", "exo-host-runner"):
            # no STATE_MANAGER_SECRET, no config: --version needs nothing
            env = {k: v for k, v in os.environ.items() if k != "STATE_MANAGER_SECRET"}
            p = subprocess.run([binary(prog), "--version"], capture_output=True, text=True, timeout=10, env=env)
            self.assertEqual(p.returncode, 0, (prog, p.stderr))
            self.assertRegex(p.stdout, rf"^{re.escape(prog)} {re.escape(want)}( \(git [A-Za-z0-9._+-]+\))?\n$")
            if os.path.exists(os.path.join(SOURCE_DIR, ".git")):
                self.assertIn("(git ", p.stdout, prog)

    def test_help_mentions_version(self):
        for prog in ("exo-state-manager", "exo-host"):
            p = subprocess.run([binary(prog), "--help"], capture_output=True, text=True, timeout=10)
            self.assertIn("--version", p.stdout, prog)


if __name__ == "__main__":
    main()
