/* Run controls (exo's extension endpoints, docs/dev/API-EXTENSIONS.md): the filtered
 * run listing, one run's view, cancel, bulk retry, purge and graph deletion. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

#define QUERY_LIMIT_DEFAULT 50
#define QUERY_LIMIT_CAP 1000
#define BY_MAX 200

/* ---- shared rendering ------------------------------------------------------------------------------- */

/* A run as the extension endpoints show it: the v0 listing's fields (status with
 * CANCELLED added), the cancel mark and the count of every state status. */
static json_object *run_json(const exo_run_row *x)
{
    const int64_t *c = x->counts;
    int64_t success = c[EXO_ST_SUCCESS] + c[EXO_ST_PRUNED];
    int64_t pending = c[EXO_ST_CREATED] + c[EXO_ST_QUEUED] + c[EXO_ST_EXECUTED];
    int64_t errored = c[EXO_ST_ERRORED] + c[EXO_ST_NEXT_CREATED_ERROR];
    int64_t retried = c[EXO_ST_RETRY_CREATED];
    json_object *e = json_object_new_object(), *states = json_object_new_object();
    if (!e || !states) {
        json_object_put(e);
        json_object_put(states);
        return NULL;
    }
    json_object_object_add(e, "run_id", json_object_new_string(x->run_id));
    json_object_object_add(e, "graph_name", json_object_new_string(x->graph_name));
    json_object_object_add(e, "status", json_object_new_string(exo_run_status_names[exo_run_status_of(x)]));
    json_object_object_add(e, "success_count", json_object_new_int64(success));
    json_object_object_add(e, "pending_count", json_object_new_int64(pending));
    json_object_object_add(e, "errored_count", json_object_new_int64(errored));
    json_object_object_add(e, "retried_count", json_object_new_int64(retried));
    json_object_object_add(e, "total_count", json_object_new_int64(success + pending + errored + retried));
    json_object_object_add(e, "created_at", exo_json_time(x->created_at));
    json_object_object_add(e, "cancelled_at", x->cancelled_at > 0 ? exo_json_time(x->cancelled_at) : NULL);
    json_object_object_add(e, "cancelled_by", x->cancelled_by ? json_object_new_string(x->cancelled_by) : NULL);
    for (int i = 0; i < EXO_ST_COUNT; i++)
        json_object_object_add(states, exo_status_names[i], json_object_new_int64(c[i]));
    json_object_object_add(e, "states", states);
    return e;
}

/* The keyset cursor of a row: "<created_at ms>.<seq>" (opaque to clients). */
static json_object *cursor_json(const exo_run_row *x)
{
    char text[64];
    snprintf(text, sizeof text, "%lld.%lld", (long long)x->created_at, (long long)x->seq);
    return json_object_new_string(text);
}

static int parse_cursor(const char *text, int64_t *created_at, int64_t *seq)
{
    long long c, s;
    int used = 0;
    if (sscanf(text, "%lld.%lld%n", &c, &s, &used) != 2 || text[used] || c < 0 || s < 1)
        return -1;
    *created_at = c;
    *seq = s;
    return 0;
}

static void query_error(exo_reqcheck *rc, const char *param, const char *msg, const char *value)
{
    char loc[64];
    snprintf(loc, sizeof loc, "query.%s", param);
    json_object *in = value ? json_object_new_string(value) : NULL;
    exo_reqcheck_add(rc, loc, "value_error", msg, in, NULL);
    json_object_put(in);
}

/* Statuses "A,B" into a mask; records an error naming an unknown one. */
static unsigned parse_status_list(exo_reqcheck *rc, const char *text)
{
    unsigned mask = 0;
    char *copy = strdup(text), *save = NULL;
    if (!copy) {
        rc->oom = 1;
        return 0;
    }
    for (char *p = copy; *p; p++) /* "failed" names FAILED too */
        *p = (char)toupper((unsigned char)*p);
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int st = exo_run_status_from_name(tok);
        if (st < 0) {
            query_error(rc, "status", "Unknown run status: expected PENDING, SUCCESS, FAILED or CANCELLED", tok);
            continue;
        }
        mask |= 1u << st;
    }
    free(copy);
    if (!mask && !exo_reqcheck_failed(rc))
        query_error(rc, "status", "Expected one or more of PENDING, SUCCESS, FAILED, CANCELLED", text);
    return mask;
}

static void parse_query_time(exo_reqcheck *rc, const exo_req *req, const char *param, int64_t *out)
{
    const char *text = exo_req_query(req, param);
    if (text && exo_parse_time(text, out) != 0)
        query_error(rc, param, "Expected a time: Unix milliseconds or UTC ISO-8601 (2026-12-01T10:00:00)", text);
}

/* ---- GET /runs: the filtered listing ---------------------------------------------------------------- */

static void parse_run_query(exo_reqcheck *rc, const exo_req *req, exo_run_query *q)
{
    const char *v;
    q->ns = req->params[0];
    q->limit = QUERY_LIMIT_DEFAULT;
    if ((v = exo_req_query(req, "status")) != NULL)
        q->status_mask = parse_status_list(rc, v);
    if ((v = exo_req_query(req, "graph")) != NULL && *v)
        q->graph_name = v;
    if ((v = exo_req_query(req, "run_id_prefix")) != NULL && *v)
        q->run_id_prefix = v;
    parse_query_time(rc, req, "since", &q->since);
    parse_query_time(rc, req, "until", &q->until);
    if ((v = exo_req_query(req, "after")) != NULL && parse_cursor(v, &q->after_created_at, &q->after_seq) != 0)
        query_error(rc, "after", "Expected the 'next' cursor of an earlier page", v);
    if ((v = exo_req_query(req, "limit")) != NULL) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end || n < 1)
            query_error(rc, "limit", "Expected an integer >= 1", v);
        else
            q->limit = n > QUERY_LIMIT_CAP ? QUERY_LIMIT_CAP : n;
    }
}

void h_runs_query(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_run_query q = {0};
    parse_run_query(&rc, req, &q);
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    exo_run_row *rows = NULL;
    size_t n = 0;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    if (!o || !arr || exo_engine_run_query(req->app, &q, &rows, &n) != EXO_RESULT_OK) {
        json_object_put(o);
        json_object_put(arr);
        exo_run_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, run_json(&rows[i]));
    json_object_object_add(o, "namespace", json_object_new_string(req->params[0]));
    json_object_object_add(o, "runs", arr);
    json_object_object_add(o, "limit", json_object_new_int64(q.limit));
    json_object_object_add(o, "next", n == (size_t)q.limit ? cursor_json(&rows[n - 1]) : NULL);
    exo_run_rows_free(rows, n);
    exo_resp_json(resp, 200, o);
    exo_resp_add_version(resp); /* what GET runs/watch compares */
}

/* ---- GET /run/{id} ------------------------------------------------------------------------------------ */

static void run_not_found(exo_resp *resp, const exo_req *req)
{
    exo_resp_detail(resp, 404, "Run %s not found in namespace %s", req->params[1], req->params[0]);
}

void h_run_get(exo_req *req, exo_resp *resp)
{
    exo_run_row row = {0};
    exo_result r = exo_engine_run_get(req->app, req->params[0], req->params[1], &row);
    if (r == EXO_RESULT_NOT_FOUND) {
        run_not_found(resp, req);
        return;
    }
    json_object *waits = NULL;
    if (r == EXO_RESULT_OK)
        r = exo_engine_run_waits(req->app, req->params[0], req->params[1], &waits);
    json_object *o = r == EXO_RESULT_OK ? run_json(&row) : NULL;
    exo_run_row_free(&row);
    if (!o) {
        json_object_put(waits);
        exo_resp_500(resp);
        return;
    }
    json_object_object_add(o, "namespace", json_object_new_string(req->params[0]));
    json_object_object_add(o, "waiting", waits);
    exo_resp_json(resp, 200, o);
}

/* ---- POST /run/{id}/cancel and /run/{id}/retry -------------------------------------------------------- */

/* The optional body {"by": "..."}: who cancels (default "api"). */
static const char *cancel_by(exo_req *req, exo_reqcheck *rc)
{
    if (!req->body && !req->body_raw)
        return "api";
    json_object *body = exo_req_body_object(req, rc);
    const char *by = NULL;
    if (body && exo_req_string(rc, body, "by", "body", 0, &by) == 0 && by &&
        (!*by || strlen(by) > BY_MAX || strchr(by, '\n'))) {
        exo_reqcheck_value_error(rc, "body.by", "by must be a name of 1 to 200 characters on one line",
                                 json_object_object_get(body, "by"));
        return NULL;
    }
    return by ? by : "api";
}

void h_run_cancel(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    const char *by = cancel_by(req, &rc);
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    char *msg = NULL;
    int64_t stopped = 0;
    exo_result r = exo_engine_run_cancel(req->app, req->params[0], req->params[1], by, &stopped, &msg);
    exo_run_row row = {0};
    if (r == EXO_RESULT_OK)
        r = exo_engine_run_get(req->app, req->params[0], req->params[1], &row);
    json_object *o = r == EXO_RESULT_OK ? run_json(&row) : NULL;
    exo_run_row_free(&row);
    if (r != EXO_RESULT_OK || !o) {
        exo_resp_result(resp, r, msg);
        return;
    }
    json_object_object_add(o, "cancelled_states", json_object_new_int64(stopped));
    exo_resp_json(resp, 200, o);
}

void h_run_retry(exo_req *req, exo_resp *resp)
{
    char *msg = NULL;
    json_object *pairs = json_object_new_array();
    exo_result r = pairs ? exo_engine_run_retry(req->app, req->params[0], req->params[1], pairs, &msg)
                         : EXO_RESULT_FAILED;
    if (r != EXO_RESULT_OK) {
        json_object_put(pairs);
        exo_resp_result(resp, r, msg);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "run_id", json_object_new_string(req->params[1]));
    json_object_object_add(o, "count", json_object_new_int64((int64_t)json_object_array_length(pairs)));
    json_object_object_add(o, "retried", pairs);
    exo_resp_json(resp, 200, o);
}

/* ---- POST /graph/{g}/retry, POST /runs/purge, DELETE /graph/{g} --------------------------------------- */

/* A time member of a body: Unix ms (integer) or a time string; 0 when absent. */
static void body_time(exo_reqcheck *rc, json_object *body, const char *key, int required, int64_t *out)
{
    json_object *v = NULL;
    char loc[64];
    snprintf(loc, sizeof loc, "body.%s", key);
    *out = 0;
    if (!json_object_object_get_ex(body, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            exo_reqcheck_add(rc, loc, "missing", "Field required", body, NULL);
        return;
    }
    int ok = json_object_is_type(v, json_type_int) ? (*out = json_object_get_int64(v)) >= 0
             : json_object_is_type(v, json_type_string) ? exo_parse_time(json_object_get_string(v), out) == 0
                                                         : 0;
    if (!ok)
        exo_reqcheck_value_error(rc, loc, "Expected a time: Unix milliseconds or UTC ISO-8601 (2026-12-01T10:00:00)",
                                 v);
}

/* A body that may be absent (then {}): NULL after recording why it is not an object. */
/* Ends a body's checks: answers 422 with what failed, or 500 when there is no body
 * (out of memory); returns -1 then, 0 when the handler goes on.  Frees rc. */
static int body_checks_end(exo_resp *resp, exo_reqcheck *rc, const json_object *body)
{
    int failed = exo_reqcheck_failed(rc);
    if (failed)
        exo_resp_422(resp, rc);
    else if (!body)
        exo_resp_500(resp);
    exo_reqcheck_free(rc);
    return failed || !body ? -1 : 0;
}

static json_object *optional_body(exo_req *req, exo_reqcheck *rc, json_object **empty)
{
    *empty = NULL;
    if (!req->body && !req->body_raw)
        return *empty = json_object_new_object();
    return exo_req_body_object(req, rc);
}

void h_graph_retry(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *empty, *body = optional_body(req, &rc, &empty);
    int64_t since = 0, until = 0;
    if (body) {
        body_time(&rc, body, "since", 0, &since);
        body_time(&rc, body, "until", 0, &until);
    }
    json_object_put(empty);
    if (body_checks_end(resp, &rc, body) != 0)
        return;
    int64_t runs = 0, states = 0;
    if (exo_engine_graph_retry(req->app, req->params[0], req->params[1], since, until, &runs, &states) !=
        EXO_RESULT_OK) {
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "graph_name", json_object_new_string(req->params[1]));
    json_object_object_add(o, "runs", json_object_new_int64(runs));
    json_object_object_add(o, "states", json_object_new_int64(states));
    exo_resp_json(resp, 200, o);
}

void h_runs_purge(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    int64_t before = 0;
    const char *graph = NULL;
    if (body) {
        body_time(&rc, body, "before", 1, &before);
        exo_req_string(&rc, body, "graph_name", "body", 0, &graph);
    }
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    int64_t deleted = 0;
    if (exo_engine_runs_purge(req->app, req->params[0], graph && *graph ? graph : NULL, before, &deleted) !=
        EXO_RESULT_OK) {
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", json_object_new_string(req->params[0]));
    json_object_object_add(o, "deleted", json_object_new_int64(deleted));
    exo_resp_json(resp, 200, o);
}

/* POST .../graph/{g}/delete with the optional body {"purge": true}.  (Not DELETE
 * on the graph's path: that method answers 405 there, as in the reference.) */
void h_graph_delete(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *empty, *body = optional_body(req, &rc, &empty), *purge_value = NULL;
    int purge = 0;
    if (body && json_object_object_get_ex(body, "purge", &purge_value) && purge_value) {
        if (json_object_is_type(purge_value, json_type_boolean))
            purge = json_object_get_boolean(purge_value);
        else
            exo_reqcheck_add(&rc, "body.purge", "bool_type", "Input should be a valid boolean", purge_value, NULL);
    }
    json_object_put(empty);
    if (body_checks_end(resp, &rc, body) != 0)
        return;
    char *ns = exo_trim_dup(req->params[0]), *name = exo_trim_dup(req->params[1]), *msg = NULL;
    int64_t runs = 0;
    exo_result r = ns && name ? exo_engine_delete_graph(req->app, ns, name, purge, &runs, &msg) : EXO_RESULT_FAILED;
    if (r == EXO_RESULT_OK) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "graph_name", json_object_new_string(name));
        json_object_object_add(o, "deleted", json_object_new_boolean(1));
        json_object_object_add(o, "runs_deleted", json_object_new_int64(runs));
        exo_resp_json(resp, 200, o);
    } else {
        exo_resp_result(resp, r, msg);
    }
    free(ns);
    free(name);
}
