/* GET /openapi.json: an OpenAPI 3.0 description generated from the route table
 * (router.c) at request time, so it lists exactly the routes the server serves:
 * path parameters from the patterns' {name} segments, the request body of the
 * routes that take one, the key each needs, and x-exo-extension on exo's own
 * endpoints.  The bodies' fields are documented in docs/api.md. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "router.h"
#include "version.h"

#define ADD(obj, key, val) json_object_object_add((obj), (key), (val))

static json_object *text(const char *s)
{
    return json_object_new_string(s);
}

/* The {name} segments of pattern as OpenAPI path parameters. */
static json_object *path_parameters(const char *pattern)
{
    json_object *params = json_object_new_array();
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (!end)
            break;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        json_object *param = json_object_new_object(), *schema = json_object_new_object();
        ADD(schema, "type", text("string"));
        ADD(param, "name", text(name));
        ADD(param, "in", text("path"));
        ADD(param, "required", json_object_new_boolean(1));
        ADD(param, "schema", schema);
        json_object_array_add(params, param);
    }
    return params;
}

/* "post_v0_namespace_namespace_graph_graph_name_trigger": unique per method + pattern. */
static void operation_id(const exo_route *r, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *m = r->method; *m && n + 1 < len; m++)
        buf[n++] = (char)tolower((unsigned char)*m);
    for (const char *p = r->pattern; *p && n + 1 < len; p++) {
        char c = isalnum((unsigned char)*p) ? *p : '_';
        if (c == '_' && n && buf[n - 1] == '_')
            continue;
        buf[n++] = c;
    }
    while (n && buf[n - 1] == '_')
        n--;
    if (n == 0 && len > 1)
        buf[n++] = '_';
    buf[n] = '\0';
}

static json_object *security(const exo_route *r)
{
    json_object *sec = json_object_new_array();
    if (r->public_)
        return sec; /* [] = no key needed */
    json_object *key = json_object_new_object();
    ADD(key, "apiKey", json_object_new_array());
    json_object_array_add(sec, key);
    if (r->bearer) {
        json_object *bearer = json_object_new_object();
        ADD(bearer, "bearerKey", json_object_new_array());
        json_object_array_add(sec, bearer);
    }
    return sec;
}

static json_object *responses(void)
{
    json_object *out = json_object_new_object(), *ok = json_object_new_object(), *err = json_object_new_object();
    ADD(ok, "description", text("success (docs/api.md gives each endpoint's status and body)"));
    ADD(err, "description", text("an error: a JSON object whose detail says what is wrong"));
    ADD(out, "2XX", ok);
    ADD(out, "default", err);
    return out;
}

static json_object *operation(const exo_route *r)
{
    json_object *op = json_object_new_object();
    char id[256];
    operation_id(r, id, sizeof id);
    ADD(op, "operationId", text(id));
    ADD(op, "summary", text(r->summary ? r->summary : ""));
    ADD(op, "parameters", path_parameters(r->pattern));
    ADD(op, "security", security(r));
    ADD(op, "x-exo-extension", json_object_new_boolean(r->extension));
    if (r->takes_body) {
        json_object *body = json_object_new_object(), *content = json_object_new_object(),
                    *media = json_object_new_object(), *schema = json_object_new_object();
        ADD(schema, "type", text("object"));
        ADD(media, "schema", schema);
        ADD(content, "application/json", media);
        ADD(body, "required", json_object_new_boolean(1));
        ADD(body, "content", content);
        ADD(op, "requestBody", body);
    }
    ADD(op, "responses", responses());
    return op;
}

static json_object *security_schemes(void)
{
    json_object *schemes = json_object_new_object(), *key = json_object_new_object(),
                *bearer = json_object_new_object();
    ADD(key, "type", text("apiKey"));
    ADD(key, "in", text("header"));
    ADD(key, "name", text("x-api-key"));
    ADD(bearer, "type", text("http"));
    ADD(bearer, "scheme", text("bearer"));
    ADD(schemes, "apiKey", key);
    ADD(schemes, "bearerKey", bearer);
    json_object *components = json_object_new_object();
    ADD(components, "securitySchemes", schemes);
    return components;
}

void h_openapi(exo_req *req, exo_resp *resp)
{
    (void)req;
    json_object *doc = json_object_new_object(), *info = json_object_new_object(),
                *paths = json_object_new_object();
    if (!doc || !info || !paths) {
        json_object_put(doc);
        json_object_put(info);
        json_object_put(paths);
        exo_resp_500(resp);
        return;
    }
    ADD(doc, "openapi", text("3.0.3"));
    ADD(info, "title", text("exo state manager"));
    ADD(info, "version", text(EXO_VERSION));
    ADD(doc, "info", info);
    for (size_t i = 0; i < exo_route_count(); i++) {
        const exo_route *r = exo_route_at(i);
        json_object *item = NULL;
        if (!json_object_object_get_ex(paths, r->pattern, &item)) {
            item = json_object_new_object();
            ADD(paths, r->pattern, item);
        }
        char method[16];
        snprintf(method, sizeof method, "%s", r->method);
        for (char *m = method; *m; m++)
            *m = (char)tolower((unsigned char)*m);
        ADD(item, method, operation(r));
    }
    ADD(doc, "paths", paths);
    ADD(doc, "components", security_schemes());
    exo_resp_json(resp, 200, doc);
}
