/* The worker registry (exo's extension, docs/api.md "Worker registry"):
 *   POST /v0/namespace/{ns}/runtimes/heartbeat  a runtime says it is alive
 *   GET  /v0/namespace/{ns}/runtimes            every runtime, alive or lost
 * Everything a client sends is bounded: name lengths, nodes per heartbeat and their
 * bytes together, numbers (runtimes per namespace: the engine's
 * EXO_RUNTIMES_MAX_PER_NS, 409), so a namespace's registry stays below 64 MiB. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "handlers.h"

#define NAME_MAX_LEN 200       /* runtime_name, version */
#define HOSTNAME_MAX_LEN 255   /* a DNS name's limit */
#define NODE_NAME_MAX_LEN 512
#define NODES_MAX 1000         /* as many as one enqueue may name */
#define NODES_BYTES_MAX 65536  /* node names of one heartbeat, together */
#define COUNT_MAX 1000000      /* slots, running */
#define INTERVAL_MIN_MS 100
#define INTERVAL_MAX_MS 3600000
#define INTERVAL_DEFAULT_MS 10000

/* 1 when v is 1..max bytes with no control character (one line, printable). */
static int name_ok(const char *v, size_t max, int allow_empty)
{
    size_t len = strlen(v);
    if ((!allow_empty && len == 0) || len > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* An optional or required string field of at most max bytes on one line. */
static const char *bounded_string(exo_reqcheck *rc, json_object *body, const char *key, int required, size_t max)
{
    const char *v = NULL;
    if (exo_req_string(rc, body, key, "body", required, &v) != 0)
        return NULL;
    if (!name_ok(v, max, !required)) {
        char loc[64], msg[160];
        snprintf(loc, sizeof loc, "body.%s", key);
        snprintf(msg, sizeof msg, "%s must be %s to %zu characters on one line", key, required ? "1" : "0", max);
        exo_reqcheck_value_error(rc, loc, msg, json_object_object_get(body, key));
        return NULL;
    }
    return v;
}

/* An optional integer field in [min, max] (*out keeps its default when absent). */
static void bounded_int(exo_reqcheck *rc, json_object *body, const char *key, int64_t min, int64_t max,
                        int64_t *out)
{
    if (exo_req_int(rc, body, key, "body", 0, out) != 0 || (*out >= min && *out <= max))
        return;
    char loc[64], msg[160];
    snprintf(loc, sizeof loc, "body.%s", key);
    snprintf(msg, sizeof msg, "%s must be between %lld and %lld", key, (long long)min, (long long)max);
    exo_reqcheck_value_error(rc, loc, msg, json_object_object_get(body, key));
}

static void check_nodes(exo_reqcheck *rc, json_object *nodes)
{
    size_t n = json_object_array_length(nodes);
    if (n > NODES_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "nodes may name at most %d nodes (got %zu)", NODES_MAX, n);
        exo_reqcheck_value_error(rc, "body.nodes", msg, NULL);
        return;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(nodes, i));
        bytes += name ? strlen(name) : 0;
        if (name && name_ok(name, NODE_NAME_MAX_LEN, 0))
            continue;
        char loc[64], msg[96];
        snprintf(loc, sizeof loc, "body.nodes.%zu", i);
        snprintf(msg, sizeof msg, "a node name must be 1 to %d characters on one line", NODE_NAME_MAX_LEN);
        exo_reqcheck_value_error(rc, loc, msg, json_object_array_get_idx(nodes, i));
    }
    if (bytes > NODES_BYTES_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "the node names may take at most %d bytes together (got %zu)", NODES_BYTES_MAX,
                 bytes);
        exo_reqcheck_value_error(rc, "body.nodes", msg, NULL);
    }
}

/* Fills row from a checked heartbeat body (strings borrowed from body). */
static int parse_heartbeat(exo_reqcheck *rc, json_object *body, exo_runtime_row *row)
{
    json_object *nodes = NULL;
    const char *name = bounded_string(rc, body, "runtime_name", 1, NAME_MAX_LEN);
    const char *version = bounded_string(rc, body, "version", 0, NAME_MAX_LEN);
    const char *hostname = bounded_string(rc, body, "hostname", 0, HOSTNAME_MAX_LEN);
    if (exo_req_string_list(rc, body, "nodes", "body", 1, &nodes) == 0)
        check_nodes(rc, nodes);
    row->interval_ms = INTERVAL_DEFAULT_MS;
    bounded_int(rc, body, "pid", 0, INT32_MAX, &row->pid);
    bounded_int(rc, body, "slots", 0, COUNT_MAX, &row->slots);
    bounded_int(rc, body, "running", 0, COUNT_MAX, &row->running);
    bounded_int(rc, body, "interval_ms", INTERVAL_MIN_MS, INTERVAL_MAX_MS, &row->interval_ms);
    if (exo_reqcheck_failed(rc))
        return -1;
    row->name = (char *)name;
    row->version = (char *)(version ? version : "");
    row->hostname = (char *)(hostname ? hostname : "");
    row->nodes = nodes;
    return 0;
}

void h_runtime_heartbeat(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    exo_runtime_row row = {.namespace_name = (char *)req->params[0]};
    if (!body || parse_heartbeat(&rc, body, &row) != 0) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    char *detail = NULL;
    exo_result r = exo_engine_runtime_heartbeat(req->app, &row, &detail);
    if (r != EXO_RESULT_OK) {
        exo_resp_result(resp, r, detail);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "runtime_name", json_object_new_string(row.name));
    json_object_object_add(o, "namespace", json_object_new_string(row.namespace_name));
    json_object_object_add(o, "status", json_object_new_string("alive"));
    json_object_object_add(o, "last_seen", exo_json_time(row.last_seen));
    json_object_object_add(o, "interval_ms", json_object_new_int64(row.interval_ms));
    json_object_object_add(o, "lost_after_ms", json_object_new_int64(EXO_RUNTIME_LOST_INTERVALS * row.interval_ms));
    exo_resp_json(resp, 200, o);
}

static json_object *runtime_json(const exo_runtime_row *r, int64_t now)
{
    json_object *e = json_object_new_object();
    if (!e)
        return NULL;
    int alive = exo_runtime_alive(r, now);
    json_object_object_add(e, "runtime_name", json_object_new_string(r->name));
    json_object_object_add(e, "status", json_object_new_string(alive ? "alive" : "lost"));
    json_object_object_add(e, "alive", json_object_new_boolean(alive));
    json_object_object_add(e, "last_seen", exo_json_time(r->last_seen));
    json_object_object_add(e, "first_seen", exo_json_time(r->first_seen));
    json_object_object_add(e, "silent_ms", json_object_new_int64(now > r->last_seen ? now - r->last_seen : 0));
    json_object_object_add(e, "interval_ms", json_object_new_int64(r->interval_ms));
    json_object_object_add(e, "lost_after_ms", json_object_new_int64(EXO_RUNTIME_LOST_INTERVALS * r->interval_ms));
    json_object_object_add(e, "version", json_object_new_string(r->version));
    json_object_object_add(e, "hostname", json_object_new_string(r->hostname));
    json_object_object_add(e, "pid", json_object_new_int64(r->pid));
    json_object_object_add(e, "slots", json_object_new_int64(r->slots));
    json_object_object_add(e, "running", json_object_new_int64(r->running));
    json_object_object_add(e, "nodes", json_object_get(r->nodes));
    return e;
}

void h_runtimes_list(exo_req *req, exo_resp *resp)
{
    const char *ns = req->params[0];
    exo_runtime_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_runtime_list(req->app, ns, &rows, &n) != EXO_RESULT_OK) {
        exo_resp_500(resp);
        return;
    }
    int64_t now = exo_now_ms();
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    exo_node_liveness *idx = NULL;
    size_t nidx = 0;
    json_object *lost = exo_node_liveness_index(rows, n, NULL, 0, now, &idx, &nidx) == 0 ? exo_node_liveness_lost(idx, nidx) : NULL;
    free(idx);
    for (size_t i = 0; arr && i < n; i++)
        json_object_array_add(arr, runtime_json(&rows[i], now));
    exo_runtime_rows_free(rows, n);
    if (!o || !arr || !lost) {
        json_object_put(o);
        json_object_put(arr);
        json_object_put(lost);
        exo_resp_500(resp);
        return;
    }
    json_object_object_add(o, "namespace", json_object_new_string(ns));
    json_object_object_add(o, "lost_after_intervals", json_object_new_int(EXO_RUNTIME_LOST_INTERVALS));
    json_object_object_add(o, "runtimes", arr);
    json_object_object_add(o, "lost_nodes", lost);
    exo_resp_json(resp, 200, o);
}
