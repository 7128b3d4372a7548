"""The dashboard served by exo-state-manager (issue 11): its compiled-in files, the
session sign-in (cookie + CSRF token), the cookie on the JSON API, and the
dashboard's read endpoints (a run's states, a namespace's overview) — each with
authentication checked: no key, wrong key, cookie without CSRF token."""

import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import API_KEY, Api, ExoTestCase, main, node_def  # noqa: E402
from host_graphs import put_one_node_graph, trigger  # noqa: E402

NS = "dash"


class Session:
    """A browser-like client: the cookie it was given and the CSRF token."""

    def __init__(self, sm, key=API_KEY, headers=None):
        self.api = Api(sm.url, api_key=None, namespace=NS)
        r = self.api.request("POST", "/ui/api/session", {"api_key": key}, headers=headers)
        self.signin = r
        self.cookie = None
        self.csrf = None
        if r.status == 200:
            m = re.match(r"exo_session=([0-9a-f]+);", r.headers["Set-Cookie"])
            self.cookie = m.group(1)
            self.csrf = r.json["csrf_token"]

    def request(self, method, path, body=None, csrf=True, origin=None):
        headers = {"Cookie": f"exo_session={self.cookie}"}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        if origin:
            headers["Origin"] = origin
        return self.api.request(method, path, body, headers=headers)


class DashboardFiles(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.anon = Api(self.sm.url, api_key=None)

    def test_index_and_assets_with_types_and_etags(self):
        html = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
        r = self.anon.request("GET", "/", headers=html)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "text/html; charset=utf-8")
        self.assertIn('<script type="module" src="/ui/app.js">', r.text)
        self.assertIn("default-src 'none'", r.headers["Content-Security-Policy"])
        etag = r.headers["ETag"]
        self.assertRegex(etag, r'^"[0-9a-f]{20}"$')
        self.assertEqual(r.headers["Cache-Control"], "no-cache")
        again = self.anon.request("GET", "/", headers=dict(html, **{"If-None-Match": etag}))
        self.assertEqual(again.status, 304)
        self.assertEqual(again.text, "")
        for name, ctype in (("app.js", "text/javascript"), ("views.js", "text/javascript"),
                            ("dag.js", "text/javascript"), ("api.js", "text/javascript"),
                            ("app.css", "text/css"), ("index.html", "text/html")):
            a = self.anon.request("GET", "/ui/" + name)
            self.assertEqual(a.status, 200, name)
            self.assertTrue(a.headers["Content-Type"].startswith(ctype), (name, a.headers["Content-Type"]))
            self.assertEqual(a.headers["X-Content-Type-Options"], "nosniff")
            with open(os.path.join(os.path.dirname(__file__), "..", "..", "state-manager", "dashboard", name),
                      encoding="utf-8") as f:
                self.assertEqual(a.text, f.read(), f"{name} is served as it is in the source tree")
        self.assertEqual(self.anon.request("GET", "/ui/nope.js").status, 404)
        self.assertEqual(self.anon.request("GET", "/ui/../main.c").status, 404)

    def test_api_paths_unchanged(self):
        self.assertEqual(self.anon.request("GET", "/health").json.get("message"), "OK")
        r = self.anon.request("GET", "/v0/namespaces")
        self.assertEqual((r.status, r.json), (401, {"detail": "Invalid API key"}))
        self.assertEqual(self.anon.request("POST", "/").status, 405)
        # `/` is the page for browsers only: an API client keeps the reference's 404
        for accept in (None, "application/json", "*/*"):
            r = self.anon.request("GET", "/", headers={"Accept": accept} if accept else {})
            self.assertEqual((r.status, r.json), (404, {"detail": "Not Found"}), accept)


class DashboardSessions(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)

    def test_wrong_key_is_refused_with_a_message(self):
        s = Session(self.sm, key="not-the-key")
        self.assertEqual(s.signin.status, 401)
        self.assertIn("Wrong API key", s.signin.json["detail"])
        self.assertNotIn("Set-Cookie", s.signin.headers)
        anon = Api(self.sm.url, api_key=None)
        self.assertEqual(anon.request("POST", "/ui/api/session", {}).status, 422)
        self.assertEqual(anon.request("POST", "/ui/api/session", {"api_key": 5}).status, 422)
        self.assertEqual(anon.request("POST", "/ui/api/session", raw="{").status, 422)

    def sign_in_from(self, source, key):
        """POST /ui/api/session from another loopback address (Linux routes all of 127/8)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.sm.port, timeout=10, source_address=(source, 0))
        try:
            conn.request("POST", "/ui/api/session", json.dumps({"api_key": key}),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"null"), r.getheader("Retry-After")
        finally:
            conn.close()

    def test_wrong_keys_are_throttled_per_address(self):
        for i in range(5):
            self.assertEqual(self.sign_in_from("127.0.0.2", "guess")[0], 401, f"wrong key {i + 1}: no wait yet")
        self.assertEqual(self.sign_in_from("127.0.0.2", "guess")[0], 401, "the sixth is answered, and starts a wait")
        status, body, retry_after = self.sign_in_from("127.0.0.2", "guess")
        self.assertEqual(status, 429, body)
        self.assertEqual(retry_after, "1")
        self.assertIn("Too many wrong API keys from this address: try again in 1 s", body["detail"])
        self.assertEqual(self.sign_in_from("127.0.0.2", API_KEY)[0], 429, "even the right key waits")
        self.assertEqual(self.sign_in_from("127.0.0.3", API_KEY)[0], 200, "another address is not held up")
        self.assertEqual(self.api.request("GET", "/v0/namespaces").status, 200, "x-api-key clients never wait")
        time.sleep(1.1)
        self.assertEqual(self.sign_in_from("127.0.0.2", "guess")[0], 401, "after the wait: tried (and wrong)")
        status, _, retry_after = self.sign_in_from("127.0.0.2", "guess")
        self.assertEqual((status, retry_after), (429, "2"), "the wait doubles")
        time.sleep(2.1)
        self.assertEqual(self.sign_in_from("127.0.0.2", API_KEY)[0], 200)
        for i in range(5):  # a right key starts the count again
            self.assertEqual(self.sign_in_from("127.0.0.2", "guess")[0], 401, i)
        self.assertIn("wrong API keys in a row from 127.0.0.2: its next sign-in waits 1 s", self.sm.log())

    def test_cookie_flags_and_secure_behind_tls(self):
        s = Session(self.sm)
        self.assertEqual(s.signin.status, 200, s.signin)
        cookie = s.signin.headers["Set-Cookie"]
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
            self.assertIn(flag, cookie)
        self.assertNotIn("Secure", cookie)
        self.assertNotIn(API_KEY, s.signin.text + cookie)
        tls = Session(self.sm, headers={"X-Forwarded-Proto": "https"})
        self.assertIn("; Secure", tls.signin.headers["Set-Cookie"])

    def test_sign_in_from_another_origin_is_refused(self):
        s = Session(self.sm, headers={"Origin": "http://evil.example", "Host": "127.0.0.1"})
        self.assertEqual(s.signin.status, 403)
        s = Session(self.sm, headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(s.signin.status, 403)

    def test_cookie_reads_and_csrf_guards_changes(self):
        self.api.register([node_def("A", ["x"], ["y"])])
        put_one_node_graph(self, self.api, "g", "A", {"x": "1"})
        s = Session(self.sm)
        self.assertEqual(s.request("GET", "/ui/api/session").json["csrf_token"], s.csrf)
        self.assertEqual(s.request("GET", "/v0/namespaces", csrf=False).status, 200)
        path = self.api.ns_path("/graph/g/trigger")
        r = s.request("POST", path, {}, csrf=False)
        self.assertEqual(r.status, 403, r)
        self.assertIn("X-CSRF-Token", r.json["detail"])
        s2 = Session(self.sm)
        r = self.api.request("POST", path, {}, headers={"x-api-key": "", "Cookie": f"exo_session={s.cookie}",
                                                        "X-CSRF-Token": s2.csrf})
        self.assertEqual(r.status, 403, "another session's token is refused")
        r = s.request("POST", path, {}, origin="http://evil.example")
        self.assertEqual(r.status, 403, r)
        r = s.request("POST", path, {}, origin=self.sm.url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.request("POST", path, {}).status, 200)

    def test_sign_out_ends_the_session_server_side(self):
        s = Session(self.sm)
        self.assertEqual(s.request("DELETE", "/ui/api/session", csrf=False).status, 403)
        r = s.request("DELETE", "/ui/api/session")
        self.assertEqual(r.status, 200, r)
        self.assertIn("Max-Age=0", r.headers["Set-Cookie"])
        r = s.request("GET", "/v0/namespaces")
        self.assertEqual(r.status, 401)
        self.assertIn("sign in again", r.json["detail"])
        self.assertEqual(s.request("GET", "/ui/api/session").status, 401)
        self.assertEqual(s.request("DELETE", "/ui/api/session").status, 401)

    def test_sessions_expire(self):
        self.sm.stop()
        self._procs.remove(self.sm)
        sm = self.start_state_manager(env={"EXO_SESSION_TTL_S": "1"})
        s = Session(sm)
        self.assertIn("Max-Age=1", s.signin.headers["Set-Cookie"])
        self.assertEqual(s.request("GET", "/v0/namespaces").status, 200)
        time.sleep(1.3)
        r = s.request("GET", "/v0/namespaces")
        self.assertEqual(r.status, 401)
        self.assertIn("Session expired", r.json["detail"])


class DashboardEndpoints(ExoTestCase):
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        self.api = self.sm.api(NS)
        self.api.register([node_def("A", ["x"], ["y"]), node_def("B", ["x"], ["y"])])
        put_one_node_graph(self, self.api, "ga", "A", {"x": "1"})
        put_one_node_graph(self, self.api, "gb", "B", {"x": "1"})

    def assert_authenticated(self, method, path):
        """No key, a wrong key and a foreign cookie are refused; key and session pass."""
        anon = Api(self.sm.url, api_key=None)
        self.assertEqual(anon.request(method, path).status, 401, "no key")
        self.assertEqual(Api(self.sm.url, api_key="wrong").request(method, path).status, 401, "wrong key")
        r = anon.request(method, path, headers={"Cookie": "exo_session=" + "0" * 64})
        self.assertEqual(r.status, 401, "unknown session")
        ok = self.api.request(method, path)
        self.assertEqual(ok.status, 200, ok)
        self.assertEqual(Session(self.sm).request(method, path, csrf=False).status, 200, "session cookie")
        return ok.json

    def test_run_states(self):
        run = trigger(self, self.api, "ga")
        st = self.api.enqueue(["A"], batch_size=1).json["states"][0]
        self.assertEqual(self.api.errored(st["state_id"], "boom").status, 200)
        body = self.assert_authenticated("GET", self.api.ns_path(f"/run/{run}/states"))
        self.assertEqual((body["run_id"], body["graph_name"], body["status"]), (run, "ga", "FAILED"))
        [s] = body["states"]
        self.assertEqual((s["state_id"], s["identifier"], s["node_name"], s["status"], s["error"]),
                         (st["state_id"], "step", "A", "ERRORED", "boom"))
        self.assertEqual((s["inputs"], s["outputs"], s["parents"], s["retry_count"]), ({"x": "1"}, {}, {}, 0))
        for key in ("created_at", "updated_at", "enqueue_after", "lease_expires_at", "fanout_group", "does_unites"):
            self.assertIn(key, s)
        r = self.api.request("GET", self.api.ns_path("/run/00000000-0000-4000-8000-000000000000/states"))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.api.request("GET", f"/v0/namespace/other/run/{run}/states").status, 404)

    def test_overview(self):
        first = trigger(self, self.api, "ga")
        time.sleep(0.01)
        trigger(self, self.api, "ga")
        trigger(self, self.api, "gb")
        self.api.enqueue(["B"], batch_size=1)
        self.api.trigger("ga", start_delay=600000)
        o = self.assert_authenticated("GET", self.api.ns_path("/overview"))
        self.assertEqual(o["namespace"], NS)
        self.assertEqual((o["states"]["CREATED"], o["states"]["QUEUED"]), (3, 1))
        queue = {q["node_name"]: q for q in o["queue"]}
        self.assertEqual((queue["A"]["created"], queue["A"]["claimable"], queue["A"]["queued"]), (3, 2, 0))
        self.assertEqual((queue["B"]["created"], queue["B"]["queued"]), (0, 1))
        ow = o["oldest_waiting"]
        self.assertEqual((ow["run_id"], ow["graph_name"], ow["node_name"]), (first, "ga", "A"))
        self.assertGreaterEqual(ow["waiting_ms"], 0)
        self.assertEqual(o["recent_runs"]["PENDING"], 4)
        # an A state fails now: the current minute's throughput counts it
        st = self.api.enqueue(["A"], batch_size=1).json["states"][0]
        self.assertEqual(self.api.errored(st["state_id"], "boom").status, 200)
        o = self.api.request("GET", self.api.ns_path("/overview")).json
        self.assertEqual(len(o["throughput"]), 10)
        self.assertEqual((o["throughput"][0]["minutes_ago"], o["throughput"][0]["errored"]), (0, 1))
        self.assertEqual(sum(m["succeeded"] + m["errored"] for m in o["throughput"]), 1)
        empty = self.api.request("GET", "/v0/namespace/nothing/overview").json
        self.assertEqual((empty["queue"], empty["oldest_waiting"], empty["recent_runs"]["counted"]), ([], None, 0))
        self.assertEqual(sum(m["succeeded"] + m["errored"] for m in empty["throughput"]), 0)

    def test_every_extension_endpoint_takes_the_session(self):
        """The run controls answer the dashboard's cookie; a change without its token is refused."""
        run = trigger(self, self.api, "ga")
        s = Session(self.sm)
        for path in (f"/run/{run}", "/runs?status=PENDING", f"/run/{run}/states", "/overview", "/graphs/",
                     "/nodes/", f"/run/{run}/watch?wait_ms=0", "/runs/watch?wait_ms=0"):
            self.assertEqual(s.request("GET", self.api.ns_path(path), csrf=False).status, 200, path)
        cancel = self.api.ns_path(f"/run/{run}/cancel")
        self.assertEqual(s.request("POST", cancel, {}, csrf=False).status, 403)
        self.assertEqual(s.request("POST", cancel, {"by": "dash"}).status, 200)


if __name__ == "__main__":
    main()
