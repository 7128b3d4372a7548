"""exo-host's batched reports: against exo-state-manager (which offers POST
states/report in the X-Exo-Extensions header of its registration answer) the host
sends its reports in batches, with a claim bundled when one is due; against the
reference (the mock, which offers nothing) it never calls it; a server that offers
it but then refuses it gets every report one by one."""

from harness import API_KEY, ExoTestCase, Host, main, wait_until
from host_graphs import put_one_node_graph, wait_registered
from mock_state_manager import MockStateManager

NS = "hostbatch"


def sid(n):
    return "%024x" % (0x66c2a1d3b4e5f60718290000 + n)


def route_count(sm, route):
    """Requests answered on a route pattern (the state manager's /metrics)."""
    text = sm.api(NS).request("GET", "/metrics").text
    total = 0
    for line in text.splitlines():
        if line.startswith("exo_http_requests_total{") and f'route="{route}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class HostBatchExo(ExoTestCase):
    def test_reports_travel_in_batches(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        host = self.start_host(sm, NS, ["echo.so", "fail.so"], workers=4)
        wait_registered(api, ["EchoNode", "FailNode"])
        put_one_node_graph(self, api, "g-echo", "EchoNode", {"text": "hi"})
        put_one_node_graph(self, api, "g-fail", "FailNode", {})
        runs = [api.trigger("g-echo").json["run_id"] for _ in range(12)]
        runs += [api.trigger("g-fail").json["run_id"] for _ in range(3)]
        statuses = [api.wait_run_finished(r, timeout=60)["status"] for r in runs]
        self.assertEqual(statuses, ["SUCCESS"] * 12 + ["FAILED"] * 3, statuses)
        self.assertGreater(route_count(sm, "/v0/namespace/{namespace}/states/report"), 0)
        self.assertEqual(route_count(sm, "/v0/namespace/{namespace}/state/{state_id}/executed"), 0)
        self.assertEqual(route_count(sm, "/v0/namespace/{namespace}/state/{state_id}/errored"), 0)
        self.assertNotIn("reports go one by one", host.log())
        self.assertTrue(host.alive())

    def test_switched_off_for_a_measurement(self):
        sm = self.start_state_manager()
        api = sm.api(NS)
        self.start_host(sm, NS, ["echo.so"], workers=2, env={"EXO_HOST_BATCH_REPORTS": "0"})
        wait_registered(api, ["EchoNode"])
        put_one_node_graph(self, api, "g-echo", "EchoNode", {"text": "hi"})
        run = api.trigger("g-echo").json["run_id"]
        self.assertEqual(api.wait_run_finished(run, timeout=60)["status"], "SUCCESS")
        self.assertEqual(route_count(sm, "/v0/namespace/{namespace}/states/report"), 0)
        self.assertEqual(route_count(sm, "/v0/namespace/{namespace}/state/{state_id}/executed"), 1)


class HostBatchMock(ExoTestCase):
    def mock(self, **kw):
        m = MockStateManager(api_key=API_KEY, **kw).start()
        self.addCleanup(m.stop)
        return m

    def start_on(self, mock, plugins, **kw):
        h = Host(self.tmp, mock.url, NS, plugins, extra=f'state_dir = "{self.tmp}/state";\n', **kw)
        self._procs.append(h)
        return h.start()

    def test_the_reference_never_sees_the_batch_call(self):
        mock = self.mock()
        self.start_on(mock, ["echo.so"], workers=2)
        for i in range(4):
            mock.add_state(sid(i), "EchoNode", {"text": str(i)})
        for i in range(4):
            self.assertEqual(mock.wait_report(sid(i)), ("executed", {"outputs": [{"text": str(i)}]}))
        self.assertEqual(mock.find(path_re=r"/states/report"), [])

    def test_a_refused_batch_call_falls_back_to_single_reports(self):
        mock = self.mock(extensions="states-report")
        host = self.start_on(mock, ["echo.so"], workers=2)
        for i in range(3):
            mock.add_state(sid(i), "EchoNode", {"text": str(i)})
        for i in range(3):
            self.assertEqual(mock.wait_report(sid(i)), ("executed", {"outputs": [{"text": str(i)}]}))
        self.assertGreaterEqual(len(mock.find("POST", r"/states/report$")), 1)
        wait_until(lambda: "reports go one by one" in host.log(), 10, what="the fallback's log line")
        # Once refused, never again.
        tried = len(mock.find("POST", r"/states/report$"))
        mock.add_state(sid(9), "EchoNode", {"text": "later"})
        self.assertEqual(mock.wait_report(sid(9)), ("executed", {"outputs": [{"text": "later"}]}))
        self.assertEqual(len(mock.find("POST", r"/states/report$")), tried)
        self.assertTrue(host.alive())


if __name__ == "__main__":
    main()
