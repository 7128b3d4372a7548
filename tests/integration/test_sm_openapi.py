"""GET /openapi.json: generated from the route table, so it must list exactly the
routes of state-manager/http/router.c (read here from the source, independently of
the server), be structurally valid OpenAPI 3.0, and each of its operations must be
routed by the server (checked through /metrics, which counts by route pattern)."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import API_KEY, Api, ExoTestCase, SOURCE_DIR, main  # noqa: E402

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def source_routes():
    with open(os.path.join(SOURCE_DIR, "state-manager", "http", "router.c")) as f:
        src = f.read()
    ns = re.search(r'#define NS "([^"]+)"', src).group(1)
    table = src[src.index("static const exo_route routes[]"):]
    table = table[:table.index("};")]
    found = set()
    for m in re.finditer(r'\{"(GET|PUT|POST|DELETE|PATCH)",\s*(NS\s*)?"([^"]*)"', table):
        found.add((m.group(1).lower(), (ns if m.group(2) else "") + m.group(3)))
    return found


class OpenApiTest(ExoTestCase):
    def setUp(self):
        super().setUp()
        self.sm = self.start_state_manager()
        r = Api(self.sm.url, api_key=None).request("GET", "/openapi.json")
        self.assertEqual(r.status, 200, r)  # public: tools fetch it without a key
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        self.doc = r.json

    def operations(self):
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                yield path, method, op

    def test_matches_the_route_table(self):
        self.assertEqual({(m, p) for p, m, _ in self.operations()}, source_routes())

    def test_structure(self):
        d = self.doc
        self.assertTrue(d["openapi"].startswith("3.0."))
        self.assertTrue(d["info"]["title"])
        self.assertRegex(d["info"]["version"], r"^\d+\.\d+\.\d+")
        schemes = d["components"]["securitySchemes"]
        self.assertEqual(schemes["apiKey"], {"type": "apiKey", "in": "header", "name": "x-api-key"})
        ids = set()
        for path, method, op in self.operations():
            self.assertIn(method, METHODS)
            self.assertTrue(path.startswith("/"))
            self.assertNotIn(op["operationId"], ids)
            ids.add(op["operationId"])
            self.assertTrue(op["summary"], (method, path))
            self.assertTrue(op["responses"])
            for resp in op["responses"].values():
                self.assertTrue(resp["description"])
            names = re.findall(r"\{([^}]+)\}", path)
            declared = [p["name"] for p in op["parameters"] if p["in"] == "path"]
            self.assertEqual(names, declared, path)
            for p in op["parameters"]:
                self.assertIs(p["required"], True)
            for req in op["security"]:
                for name in req:
                    self.assertIn(name, schemes)
            self.assertIsInstance(op["x-exo-extension"], bool)
            if "requestBody" in op:
                self.assertIn("application/json", op["requestBody"]["content"])
        # what the key protects, and the reference endpoints not flagged as extensions
        ops = {(m, p): op for p, m, op in self.operations()}
        self.assertEqual(ops[("get", "/health")]["security"], [])
        self.assertEqual(ops[("get", "/v0/namespaces")]["security"], [{"apiKey": []}])
        self.assertIn({"bearerKey": []}, ops[("get", "/metrics")]["security"])
        self.assertFalse(ops[("post", "/v0/namespace/{namespace}/graph/{graph_name}/trigger")]["x-exo-extension"])
        self.assertTrue(ops[("get", "/v0/namespace/{namespace}/runs")]["x-exo-extension"])
        self.assertIn("requestBody", ops[("put", "/v0/namespace/{namespace}/nodes/")])

    def test_every_operation_is_routed(self):
        api = Api(self.sm.url, api_key=API_KEY, namespace="openapins")
        for path, method, op in self.operations():
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            body = {} if "requestBody" in op else None
            r = api.request(method.upper(), concrete, body=body, timeout=10)
            self.assertNotEqual(r.status, 405, (method, path, r))
        text = api.request("GET", "/metrics").text
        for path, method, op in self.operations():
            label = 'route="%s",method="%s"' % (path, method.upper())
            self.assertIn(label, text, f"{method} {path} was not routed to its own pattern")
        self.assertNotIn('route="unmatched"', text)


if __name__ == "__main__":
    main()
