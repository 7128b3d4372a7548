"""The dashboard end to end in headless Chromium (issue 11).

Starts a real exo-state-manager and a real exo-host (test plugins echo, flaky,
fanout), installs playwright-core as pinned by package-lock.json into the build
directory, and runs dashboard.mjs, which signs in (wrong key, then the right one),
triggers a graph from the form and watches its DAG turn green, opens a failing
node's error, retries it after fixing its cause, filters runs, renders a
1,000-branch fan-out, and signs out (the old cookie is then refused).  Missing
chromium or npm is a failure, not a skip."""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import API_KEY, BUILD_DIR, ExoTestCase, main, wait_until  # noqa: E402

NS = "web"
NO_RETRY = {"max_retries": 0, "strategy": "EXPONENTIAL", "backoff_factor": 1000, "exponent": 2, "max_delay": None}
WORK = os.path.join(BUILD_DIR, "browser-tests")


def chromium_path():
    path = os.environ.get("EXO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise AssertionError("chromium is not installed: the dashboard's browser test needs Debian's chromium "
                             "package (scripts/deps.sh installs it), or EXO_CHROMIUM=/path/to/chromium")
    return path


def install_playwright():
    """npm ci of tests/browser/package-lock.json into the build directory (once per lock)."""
    if not shutil.which("npm") or not shutil.which("node"):
        raise AssertionError("npm/node are not installed: the dashboard's browser test installs playwright-core "
                             "with npm (scripts/deps.sh installs Debian's npm)")
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(HERE, "package-lock.json"), encoding="utf-8") as f:
        lock = f.read()
    stamp = os.path.join(WORK, ".installed-lock")
    if os.path.exists(stamp) and open(stamp, encoding="utf-8").read() == lock and \
            os.path.isdir(os.path.join(WORK, "node_modules", "playwright-core")):
        return
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(HERE, name), os.path.join(WORK, name))
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=WORK,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"npm ci of playwright-core failed (network or registry?):\n{r.stdout}\n{r.stderr}")
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(lock)


def node(identifier, node_name, inputs, next_nodes=None, unites=None):
    return {"node_name": node_name, "namespace": NS, "identifier": identifier, "inputs": inputs,
            "next_nodes": next_nodes, "unites": unites}


class DashboardInChromium(ExoTestCase):
    check_sanitizers = True

    def put_graph(self, name, nodes, store_config=None):
        body = {"nodes": nodes, "retry_policy": NO_RETRY, "secrets": {}}
        if store_config:
            body["store_config"] = store_config
        r = self.api.put_graph(name, body)
        self.assertIn(r.status, (200, 201), r.text)
        self.assertEqual(self.api.wait_validated(name)["validation_status"], "VALID")

    def test_dashboard_end_to_end(self):
        chromium = chromium_path()
        install_playwright()
        sm = self.start_state_manager()
        self.api = sm.api(NS)
        # the sandbox shows a node only the system, scratch and readable_paths: the flag's own directory
        flag_dir = os.path.join(self.tmp, "flag-dir")
        os.mkdir(flag_dir)
        os.chmod(self.tmp, 0o755)  # the node runs as the sandbox's user: it must see the flag appear
        os.chmod(flag_dir, 0o755)
        self.start_host(sm, NS, ["echo.so", "flaky.so", "fanout.so"], workers=4, batch_size=64,
                        poll_interval_ms=100, extra=f'readable_paths = [ "{flag_dir}" ];\n')

        def registered():
            r = self.api.request("GET", self.api.ns_path("/nodes/"))
            return {"EchoNode", "FlakyNode", "FanOutNode"} <= {n["name"] for n in r.json["nodes"]}
        wait_until(registered, 30, what="host registration")

        self.put_graph("hello", [node("greet", "EchoNode", {"text": "${{ store.name }}", "suffix": ","}, ["shout"]),
                                 node("shout", "EchoNode", {"text": "${{ greet.outputs.text }}", "suffix": "!"})],
                       {"required_keys": [], "default_values": {"name": "world"}})
        flag = os.path.join(flag_dir, "flag")
        self.put_graph("flaky", [node("check", "FlakyNode", {"flag": flag})])
        items = ",".join(str(i) for i in range(1, 1001))
        self.put_graph("fan", [node("split", "FanOutNode", {"items": items}, ["each"]),
                               node("each", "EchoNode", {"text": "${{ split.outputs.item }}", "suffix": ""}, ["join"]),
                               node("join", "EchoNode", {"text": "done", "suffix": ""},
                                    unites={"identifier": "split", "strategy": "ALL_DONE"})])
        r = self.api.trigger("fan")
        self.assertEqual(r.status, 200, r.text)
        fan_run = r.json["run_id"]

        shots = os.path.join(WORK, "screenshots")
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ, EXO_URL=sm.url, EXO_KEY=API_KEY, EXO_NS=NS, EXO_FLAG=flag, EXO_FAN_RUN=fan_run,
                   EXO_SHOTS=shots, EXO_CHROMIUM=chromium, NODE_PATH=os.path.join(WORK, "node_modules"))
        script = os.path.join(WORK, "dashboard.mjs")
        shutil.copy(os.path.join(HERE, "dashboard.mjs"), script)  # resolves playwright-core from WORK
        r = subprocess.run(["node", script], env=env, capture_output=True, text=True, timeout=420)
        sys.stderr.write(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, "dashboard.mjs failed (its output is above)")
        report = json.loads(r.stdout.strip().splitlines()[-1])
        for name in ("signin", "overview", "graphs", "graph", "run-green", "run-error", "run-retried", "runs",
                     "fanout", "nodes", "workers", "runs-phone", "dashboard"):
            self.assertTrue(os.path.getsize(os.path.join(shots, name + ".png")) > 1000, name)
        sys.stderr.write(f"timings (ms): {json.dumps(report)}\n")


if __name__ == "__main__":
    main()
