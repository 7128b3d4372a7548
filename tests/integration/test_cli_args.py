"""exoctl argument handling: every bad argument gets exit status 2, a message naming
what is wrong and the usage line; --help works for the program, groups and commands.

Most cases are rejected before any request is sent; the URI points at a port with
no server so that a case wrongly reaching the network fails with status 1, not 2."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ExoTestCase, binary, free_port, main  # noqa: E402


def run(args, env_overrides=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXOSPHERE_")}
    env.update({"EXOSPHERE_STATE_MANAGER_URI": f"http://127.0.0.1:{free_port()}",
                "EXOSPHERE_API_KEY": "k", "EXOSPHERE_NAMESPACE": "ns"})
    env.update(env_overrides or {})
    for k in [k for k, v in env.items() if v is None]:
        del env[k]
    return subprocess.run([binary("exoctl")] + args, env=env, capture_output=True, text=True,
                          timeout=30, input=stdin)


class CliArgs(ExoTestCase):
    def assert_usage_error(self, args, *needles, env=None, stdin=None):
        r = run(args, env, stdin)
        self.assertEqual(r.returncode, 2, f"exoctl {args}: {r.stdout}{r.stderr}")
        self.assertIn("usage: exoctl", r.stderr)
        for needle in needles:
            self.assertIn(needle, r.stderr, f"exoctl {args}")
        self.assertEqual(r.stdout, "")
        return r

    def test_help(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for words in ("graph put", "graph get", "graph list", "trigger", "run list", "run show",
                      "state retry", "nodes list", "namespaces", "EXOSPHERE_STATE_MANAGER_URI"):
            self.assertIn(words, r.stdout)
        r = run(["graph", "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("graph put", r.stdout)
        self.assertNotIn("run show", r.stdout)
        for cmd, option in ((["trigger"], "--start-delay"), (["graph", "put"], "--file"),
                            (["run", "list"], "--page")):
            r = run(cmd + ["--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage: exoctl " + " ".join(cmd), r.stdout)
            self.assertIn(option, r.stdout)
        r = run(["help", "run", "show"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("RUN_ID", r.stdout)

    def test_commands_and_options(self):
        self.assert_usage_error([], "no command given")
        self.assert_usage_error(["frobnicate"], "unknown command 'frobnicate'")
        self.assert_usage_error(["graph"], "'graph' needs a subcommand", "put")
        self.assert_usage_error(["graph", "destroy", "x"], "unknown graph subcommand 'destroy'")
        self.assert_usage_error(["--bogus", "namespaces"], "unknown option '--bogus'")
        self.assert_usage_error(["graph", "list", "--bogus"], "unknown option '--bogus'")
        self.assert_usage_error(["trigger"], "missing argument NAME")
        self.assert_usage_error(["run", "show"], "missing argument RUN_ID")
        self.assert_usage_error(["run", "show", "a", "b"], "unexpected argument 'b'")
        self.assert_usage_error(["trigger", "g", "--start-delay"], "--start-delay needs a value")
        self.assert_usage_error(["graph", "list", "--json=yes"], "--json takes no value")

    def test_values(self):
        self.assert_usage_error(["trigger", "g", "--input", "novalue"], "--input", "'novalue'",
                                "KEY=VALUE")
        self.assert_usage_error(["trigger", "g", "--store", "=v"], "--store", "'=v'")
        self.assert_usage_error(["trigger", "g", "--start-delay", "-5"], "--start-delay", "-5")
        self.assert_usage_error(["trigger", "g", "--start-delay", "soon"], "--start-delay",
                                "'soon'")
        self.assert_usage_error(["trigger", "g", "--timeout", "5"], "--timeout", "--wait")
        self.assert_usage_error(["trigger", "g", "--wait", "--timeout", "0"], "--timeout")
        self.assert_usage_error(["trigger", "g", "--wait", "--timeout", "x"], "--timeout", "'x'")
        self.assert_usage_error(["trigger", " "], "NAME must not be empty")
        self.assert_usage_error(["run", "list", "--page", "0"], "--page", "0")
        self.assert_usage_error(["run", "list", "--size", "ten"], "--size", "'ten'")
        self.assert_usage_error(["graph", "put", "g"], "--file")

    def test_settings(self):
        self.assert_usage_error(["namespaces"], "EXOSPHERE_STATE_MANAGER_URI",
                                env={"EXOSPHERE_STATE_MANAGER_URI": None})
        self.assert_usage_error(["namespaces"], "EXOSPHERE_API_KEY",
                                env={"EXOSPHERE_API_KEY": None})
        self.assert_usage_error(["graph", "list"], "EXOSPHERE_NAMESPACE",
                                env={"EXOSPHERE_NAMESPACE": None})
        self.assert_usage_error(["--uri", "ftp://x", "namespaces"], "ftp://x", "http://")

    def test_graph_file_errors(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.json")
            with open(bad, "w") as f:
                f.write('{"secrets": {},\n "nodes": [}\n')
            r = run(["graph", "put", "g", "-f", bad])
            self.assertEqual(r.returncode, 1)
            self.assertIn("not valid JSON", r.stderr)
            self.assertIn("line 2", r.stderr)
            r = run(["graph", "put", "g", "-f", "-"], stdin="[1, 2]")
            self.assertEqual(r.returncode, 1)
            self.assertIn("JSON object", r.stderr)
            r = run(["graph", "put", "g", "-f", os.path.join(d, "missing.json")])
            self.assertEqual(r.returncode, 1)
            self.assertIn("missing.json", r.stderr)

    def test_unreachable_server(self):
        r = run(["namespaces"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach the state manager", r.stderr)


if __name__ == "__main__":
    main()
