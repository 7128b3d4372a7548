"""Shared harness for exo integration tests.

Starts the real programs (exo-state-manager, exo-host, exoctl) from the build tree on
free loopback ports, talks to them over real HTTP, and cleans everything up.
Python standard library only.

    from harness import StateManager, Host, Api, wait_until, ExoTestCase

The build tree is taken from EXO_BUILD_DIR (set by ctest), else ../../build.

Backend: EXO_TEST_DB=postgres runs every state manager a test starts without an
explicit db on PostgreSQL, each on a fresh database of the cluster whose unix
socket directory is EXO_PG_HOST (tests/pg/cluster.sh; ctest starts one); any other
value (or none) keeps SQLite files in the test's directory.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("EXO_BUILD_DIR", os.path.join(SOURCE_DIR, "build")))
BIN_DIR = os.path.join(BUILD_DIR, "bin")
PLUGIN_DIR = os.path.join(BUILD_DIR, "plugins")

API_KEY = "test-secret-key"
# 32 zero-based bytes, URL-safe base64 with padding (44 characters), as the spec requires.
ENCRYPTION_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


TEST_DB = os.environ.get("EXO_TEST_DB", "sqlite")
PG_HOST = os.environ.get("EXO_PG_HOST", "")
_pg_databases = []  # created by this process; dropped by ExoTestCase.tearDown


def pg_tool(name):
    """A PostgreSQL client program (createdb, dropdb, psql)."""
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True) if os.path.isdir("/usr/lib/postgresql") else ():
        candidate = os.path.join("/usr/lib/postgresql", d, "bin", name)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{name} not found (apt-get install postgresql-client)")


def pg_uri(name):
    return f"postgresql:///{name}?host={PG_HOST}&user=postgres"


def new_pg_database():
    """Creates an empty database on the test cluster; returns its --db URI."""
    if not PG_HOST:
        raise AssertionError("EXO_TEST_DB=postgres needs EXO_PG_HOST (the cluster's socket directory)")
    name = "exo_" + uuid.uuid4().hex[:16]
    subprocess.run([pg_tool("createdb"), "-h", PG_HOST, "-U", "postgres", name], check=True,
                   capture_output=True, timeout=60)
    _pg_databases.append(name)
    return pg_uri(name)


def psql(uri, sql):
    """Runs sql on the database of uri; returns its unaligned output."""
    p = subprocess.run([pg_tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"psql failed: {p.stderr}")
    return p.stdout.strip()


def drop_pg_databases():
    while _pg_databases:
        name = _pg_databases.pop()
        subprocess.run([pg_tool("dropdb"), "-h", PG_HOST, "-U", "postgres", "--if-exists", "--force", name],
                       capture_output=True, timeout=60)


def default_db(workdir):
    """The --db value of a state manager started without one."""
    if TEST_DB == "postgres":
        return new_pg_database()
    return os.path.join(workdir, "exo.db")


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is not built (EXO_BUILD_DIR={BUILD_DIR})")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=20.0, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.text = body.decode("utf-8", "replace")
        self.headers = headers
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<Response {self.status} {self.text[:300]}>"


class Api:
    """Minimal client of the state manager's v0 API."""

    def __init__(self, base_url, api_key=API_KEY, namespace="testns"):
        self.base = base_url.rstrip("/")
        self.api_key = api_key
        self.ns = namespace

    def request(self, method, path, body=None, headers=None, raw=None, timeout=30):
        hdrs = {}
        if self.api_key is not None:
            hdrs["x-api-key"] = self.api_key
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=timeout) as r:
                return Response(r.status, r.read(), r.headers)
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read(), e.headers)

    def ns_path(self, rest, ns=None):
        return f"/v0/namespace/{ns or self.ns}{rest}"

    # ---- convenience wrappers ------------------------------------------------
    def register(self, nodes, runtime_name="test-runtime", ns=None):
        return self.request("PUT", self.ns_path("/nodes/", ns), {"runtime_name": runtime_name, "nodes": nodes})

    def put_graph(self, name, body, ns=None):
        return self.request("PUT", self.ns_path(f"/graph/{name}", ns), body)

    def get_graph(self, name, ns=None):
        return self.request("GET", self.ns_path(f"/graph/{name}", ns))

    def wait_validated(self, name, ns=None, timeout=20):
        def done():
            r = self.get_graph(name, ns)
            if r.status == 200 and r.json["validation_status"] not in ("PENDING", "ONGOING"):
                return r.json
            return None
        return wait_until(done, timeout, what=f"validation of graph {name}")

    def trigger(self, name, inputs=None, store=None, start_delay=0, ns=None):
        body = {"inputs": inputs or {}, "store": store or {}, "start_delay": start_delay}
        return self.request("POST", self.ns_path(f"/graph/{name}/trigger", ns), body)

    def enqueue(self, nodes, batch_size=16, ns=None, **extra):
        body = {"nodes": nodes, "batch_size": batch_size}
        body.update(extra)
        return self.request("POST", self.ns_path("/states/enqueue", ns), body)

    def executed(self, state_id, outputs, ns=None, **extra):
        body = {"outputs": outputs}
        body.update(extra)
        return self.request("POST", self.ns_path(f"/state/{state_id}/executed", ns), body)

    def errored(self, state_id, error, ns=None):
        return self.request("POST", self.ns_path(f"/state/{state_id}/errored", ns), {"error": error})

    def run_graph(self, run_id, ns=None):
        return self.request("GET", self.ns_path(f"/states/run/{run_id}/graph", ns))

    def node_details(self, graph, run_id, state_id, ns=None):
        return self.request("GET", self.ns_path(f"/graph/{graph}/run/{run_id}/node/{state_id}", ns))

    def runs(self, page=1, size=50, ns=None):
        return self.request("GET", self.ns_path(f"/runs/{page}/{size}", ns))

    def run_status(self, run_id, ns=None):
        r = self.runs(1, 1000, ns)
        for run in (r.json or {}).get("runs", []):
            if run["run_id"] == run_id:
                return run
        return None

    def wait_run_finished(self, run_id, ns=None, timeout=30):
        def done():
            run = self.run_status(run_id, ns)
            return run if run and run["pending_count"] == 0 and run["total_count"] > 0 else None
        return wait_until(done, timeout, what=f"run {run_id} to finish")

    def run_states(self, graph, run_id, ns=None):
        """All states of a run with full details, in storage order."""
        g = self.run_graph(run_id, ns).json
        return [self.node_details(graph, run_id, n["id"], ns).json for n in g["nodes"]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def simple_schema(fields, title, defaults=None):
    """JSON Schema of an all-string model, as a runtime registers it."""
    defaults = defaults or {}
    props = {}
    for f in fields:
        props[f] = {"title": f.replace("_", " ").title(), "type": "string"}
        if f in defaults:
            props[f] = {"default": defaults[f], **props[f]}
    schema = {"properties": props, "title": title, "type": "object"}
    required = [f for f in fields if f not in defaults]
    if required:
        schema["required"] = required
    return schema


def node_def(name, inputs=(), outputs=(), secrets=()):
    return {"name": name, "inputs_schema": simple_schema(list(inputs), "Inputs"),
            "outputs_schema": simple_schema(list(outputs), "Outputs"), "secrets": list(secrets)}


class Process:
    """A child program whose output goes to a log file in its work directory."""

    def __init__(self, argv, env, workdir, logname):
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.log_path = os.path.join(workdir, logname)
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.workdir, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops the process; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class StateManager(Process):
    def __init__(self, workdir, db=None, port=None, env=None, logname="state-manager.log", args=()):
        self.port = port or free_port()
        self.db = db or default_db(workdir)
        full_env = dict(os.environ)
        full_env.update({"STATE_MANAGER_SECRET": API_KEY, "SECRETS_ENCRYPTION_KEY": ENCRYPTION_KEY})
        full_env.update(env or {})
        super().__init__([binary("exo-state-manager"), "--listen", f"127.0.0.1:{self.port}",
                          "--db", self.db] + list(args), full_env, workdir, logname)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=20):
        super().start()

        def healthy():
            if not self.alive():
                raise AssertionError("exo-state-manager exited during start-up:\n" + self.log()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(healthy, timeout, what="state manager /health")
        return self

    def api(self, namespace="testns"):
        return Api(self.url, API_KEY, namespace)


def write_host_conf(path, uri, namespace, plugins, plugin_dir=None, name="test-host",
                    workers=4, batch_size=16, poll_interval_ms=200, extra=""):
    """Writes a host.conf; plugins is a list of file names or of libconfig group texts;
    uri one state manager URI or a list of them (state_manager.uris, failover)."""
    plugin_dir = plugin_dir or PLUGIN_DIR
    if isinstance(uri, (list, tuple)):
        uri_setting = "uris = [" + ", ".join(json.dumps(u) for u in uri) + "]"
    else:
        uri_setting = f'uri = "{uri}"'
    entries = ",\n  ".join(p if p.lstrip().startswith("{") else json.dumps(p) for p in plugins)
    text = (f'namespace = "{namespace}";\n'
            f'name = "{name}";\n'
            f'state_manager = {{ {uri_setting}; api_key = "{API_KEY}"; }};\n'
            f'workers = {workers};\n'
            f'batch_size = {batch_size};\n'
            f'poll_interval_ms = {poll_interval_ms};\n'
            f'plugin_dir = "{plugin_dir}";\n'
            f'plugins = (\n  {entries}\n);\n'
            f'{extra}\n')
    with open(path, "w") as f:
        f.write(text)
    return path


class Host(Process):
    def __init__(self, workdir, uri, namespace, plugins, env=None, conf_name="host.conf", **conf):
        self.conf_path = write_host_conf(os.path.join(workdir, conf_name), uri, namespace, plugins, **conf)
        full_env = dict(os.environ)
        full_env.update(env or {})
        super().__init__([binary("exo-host"), "-c", self.conf_path], full_env, workdir, "host.log")


def exoctl(args, uri, namespace="testns", env=None, timeout=60):
    """Runs exoctl; returns the CompletedProcess (stdout/stderr as text)."""
    full_env = dict(os.environ)
    full_env.update({"EXOSPHERE_STATE_MANAGER_URI": uri, "EXOSPHERE_API_KEY": API_KEY,
                     "EXOSPHERE_NAMESPACE": namespace})
    full_env.update(env or {})
    return subprocess.run([binary("exoctl")] + list(args), env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def sanitizer_report(log_text):
    """The text from the first AddressSanitizer / LeakSanitizer / UBSan report in a log, or None."""
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        i = log_text.find(marker)
        if i >= 0:
            return log_text[max(0, i - 200):i + 3000]
    return None


class ExoTestCase(unittest.TestCase):
    """A test case with a temporary directory and automatic clean-up of processes.

    self.start_state_manager() / self.start_host(...) start the programs; on failure
    their log tails are printed to help diagnosis."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="exo-test-")
        self._procs = []

    # Opt-in: fail the test when a program's log holds an ASan/UBSan/LSan report
    # (under -DEXO_SANITIZE=ON reports go to the log, and the exit code is not checked).
    check_sanitizers = False

    def tearDown(self):
        failed = self._failed()
        for p in reversed(self._procs):
            if p.proc is not None:
                p.stop()
        if failed or os.environ.get("EXO_TEST_SHOW_LOGS"):
            for p in self._procs:
                sys.stderr.write(f"\n--- {p.log_path} (tail) ---\n{p.log()[-4000:]}\n")
        reports = [(p.log_path, r) for p in self._procs for r in [sanitizer_report(p.log())] if r]
        shutil.rmtree(self.tmp, ignore_errors=True)
        drop_pg_databases()
        if self.check_sanitizers and reports:
            self.fail("sanitizer report in %s:\n%s" % reports[0])

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(test is self for test, _ in result.failures + result.errors)

    def start_state_manager(self, **kw):
        sm = StateManager(self.tmp, **kw)
        self._procs.append(sm)
        return sm.start()

    def start_host(self, sm, namespace, plugins, **kw):
        host = Host(self.tmp, sm.url, namespace, plugins, **kw)
        self._procs.append(host)
        return host.start()


def main():
    unittest.main(verbosity=2)
