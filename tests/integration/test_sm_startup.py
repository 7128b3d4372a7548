"""Start-up configuration and shutdown of exo-state-manager (spec §13, exo brief)."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import API_KEY, Api, ExoTestCase, binary, free_port, main, node_def, wait_until  # noqa: E402


def _status(api):
    try:
        return api.request("GET", "/v0/namespaces", timeout=2).status
    except OSError:
        return None


class StartupTest(ExoTestCase):
    def run_sm(self, args, env_overrides, timeout=10):
        env = {k: v for k, v in os.environ.items()
               if k not in ("STATE_MANAGER_SECRET", "SECRETS_ENCRYPTION_KEY")}
        env.update(env_overrides)
        return subprocess.run([binary("exo-state-manager")] + args, env=env, cwd=self.tmp,
                              capture_output=True, text=True, timeout=timeout)

    def test_missing_secret_aborts_with_clear_message(self):
        p = self.run_sm(["--listen", f"127.0.0.1:{free_port()}", "--db", "x.db"], {})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("STATE_MANAGER_SECRET", p.stderr)
        p = self.run_sm(["--listen", f"127.0.0.1:{free_port()}", "--db", "x.db"], {"STATE_MANAGER_SECRET": ""})
        self.assertNotEqual(p.returncode, 0)

    def test_unreachable_postgres_is_named(self):
        p = self.run_sm(["--listen", f"127.0.0.1:{free_port()}", "--db", "postgresql://u:hunter2@127.0.0.1:1/db"],
                        {"STATE_MANAGER_SECRET": "k"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot connect to PostgreSQL", p.stderr)
        self.assertNotIn("hunter2", p.stderr)

    def test_bad_pool_size(self):
        for n in ("0", "x", "257"):
            p = self.run_sm(["--db-pool", n], {"STATE_MANAGER_SECRET": "k"})
            self.assertNotEqual(p.returncode, 0, n)
            self.assertIn("--db-pool", p.stderr)

    def test_unusable_database_path(self):
        p = self.run_sm(["--listen", f"127.0.0.1:{free_port()}", "--db", "/nonexistent-dir/x.db"],
                        {"STATE_MANAGER_SECRET": "k"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent-dir/x.db", p.stderr)

    def test_bad_arguments(self):
        for args in (["--listen", "nope"], ["--bogus"], ["--db"]):
            p = self.run_sm(args, {"STATE_MANAGER_SECRET": "k"})
            self.assertNotEqual(p.returncode, 0, args)
            self.assertTrue(p.stderr.strip(), args)
        p = self.run_sm(["--listen", "127.0.0.1:1"], {"STATE_MANAGER_SECRET": "k", "TRIGGER_RETENTION_HOURS": "abc"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("TRIGGER_RETENTION_HOURS", p.stderr)

    def test_dotenv_file_is_read(self):
        with open(os.path.join(self.tmp, ".env"), "w") as f:
            f.write(f'STATE_MANAGER_SECRET="{API_KEY}"\n')
        env = {k: v for k, v in os.environ.items() if k != "STATE_MANAGER_SECRET"}
        port = free_port()
        proc = subprocess.Popen([binary("exo-state-manager"), "--listen", f"127.0.0.1:{port}", "--db", "x.db"],
                                env=env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            api = Api(f"http://127.0.0.1:{port}", API_KEY)
            wait_until(lambda: _status(api) == 200, what="start-up with .env")
            api.api_key = "wrong"
            self.assertEqual(_status(api), 401)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0)

    def test_without_encryption_key_secrets_are_refused(self):
        sm = self.start_state_manager(env={"SECRETS_ENCRYPTION_KEY": ""})
        api = sm.api("ns")
        api.register([node_def("A")])
        node = {"node_name": "A", "namespace": "ns", "identifier": "a", "inputs": {}}
        r = api.put_graph("g", {"secrets": {"s": "v"}, "nodes": [node]})
        self.assertEqual(r.status, 400, r)
        self.assertTrue(r.json["detail"].startswith("Error validating graph template: "), r)
        self.assertIn("SECRETS_ENCRYPTION_KEY", r.json["detail"])
        r = api.put_graph("g", {"secrets": {}, "nodes": [node]})
        self.assertEqual(r.status, 201, r)
        self.assertIn("SECRETS_ENCRYPTION_KEY", sm.log())

    def test_sigint_and_sigterm_stop_cleanly(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            sm = self.start_state_manager()
            self.assertEqual(sm.stop(sig), 0)


if __name__ == "__main__":
    main()
