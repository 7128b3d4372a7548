/* Per-state endpoints: enqueue (§3.7 + long-poll/lease extensions), lease
 * keep-alive (extension), executed, errored, prune, re-enqueue-after,
 * manual-retry (§3.8-§3.12) and secrets (§3.13). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "handlers.h"
#include "strfmt.h"

#define BATCH_CAP 1000
#define NODES_CAP 1000
#define WAIT_CAP_MS 60000
#define LEASE_MIN_MS 1000
#define LEASE_CAP_MS (24LL * 3600 * 1000)
#define LEASE_IDS_CAP 10000

/* Records greater_than (strict) / greater_than_equal when value < / <= bound. */
static void check_bound(exo_reqcheck *rc, json_object *body, const char *key, int64_t value, int64_t bound, int strict)
{
    if (strict ? value > bound : value >= bound)
        return;
    char loc[64], msg[96];
    snprintf(loc, sizeof loc, "body.%s", key);
    snprintf(msg, sizeof msg, "Input should be greater than %s%lld", strict ? "" : "or equal to ", (long long)bound);
    json_object *ctx = json_object_new_object();
    json_object_object_add(ctx, strict ? "gt" : "ge", json_object_new_int64(bound));
    exo_reqcheck_add(rc, loc, strict ? "greater_than" : "greater_than_equal", msg, json_object_object_get(body, key),
                     ctx);
}

/* Ends validation: answers 422 and returns 1 when something failed. */
static int finish_check(exo_reqcheck *rc, exo_resp *resp)
{
    int failed = exo_reqcheck_failed(rc);
    if (failed)
        exo_resp_422(resp, rc);
    exo_reqcheck_free(rc);
    return failed;
}

static json_object *status_body(const char *status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(status));
    return o;
}

/* ---- enqueue ------------------------------------------------------------------------------- */

/* extended (exo's extension, asked by "extended": true in the body or ?extended=true):
 * each state also names its run and graph, which exo-host puts in its log lines. */
static json_object *claimed_json(const char *ns, exo_state_row *rows, size_t n, int extended)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "state_id", json_object_new_string(rows[i].id));
        json_object_object_add(s, "node_name", json_object_new_string(rows[i].node_name));
        json_object_object_add(s, "identifier", json_object_new_string(rows[i].identifier));
        json_object_object_add(s, "inputs", json_object_get(rows[i].inputs));
        json_object_object_add(s, "created_at", exo_json_time(rows[i].created_at));
        if (extended) {
            json_object_object_add(s, "run_id", json_object_new_string(rows[i].run_id));
            json_object_object_add(s, "graph_name", json_object_new_string(rows[i].graph_name));
        }
        json_object_array_add(arr, s);
    }
    json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(o, "namespace", json_object_new_string(ns));
    json_object_object_add(o, "status", json_object_new_string("QUEUED"));
    json_object_object_add(o, "states", arr);
    return o;
}

/* A long-polling enqueue between claims: what the next claim needs.  names point
 * into the request body, which lives as long as the request. */
typedef struct enqueue_park {
    exo_park base; /* first: the server hands back &base */
    const char **names;
    size_t nn, batch;
    int64_t lease_ms;
    const char *runtime_name; /* the claimer's name (optional; NULL: unnamed) */
    int64_t deadline; /* monotonic ms */
    int extended;     /* claimed_json's */
} enqueue_park;

static void enqueue_park_free(exo_park *park)
{
    enqueue_park *p = (enqueue_park *)park;
    free(p->names);
    free(p);
}

/* One claim: answers (0), or arms the waiter and returns 1 when nothing was
 * claimable and the poll has time left. */
static int enqueue_attempt(enqueue_park *p, exo_req *req, exo_resp *resp)
{
    exo_app *app = req->app;
    uint64_t seq = exo_app_work_seq(app);
    exo_state_row *rows = NULL;
    size_t n = 0;
    int64_t next_due = 0;
    if (exo_engine_claim(app, req->params[0], p->names, p->nn, p->lease_ms, p->runtime_name, p->batch, &rows, &n,
                         &next_due) !=
        EXO_RESULT_OK) {
        exo_resp_500(resp);
        return 0;
    }
    int64_t now_mono = exo_mono_ms();
    if (n > 0 || now_mono >= p->deadline || atomic_load(&app->stopping)) {
        exo_resp_json(resp, 200, claimed_json(req->params[0], rows, n, p->extended));
        exo_state_rows_free(rows, n);
        return 0;
    }
    int64_t until = p->deadline;
    if (next_due) {
        int64_t due_mono = now_mono + (next_due - exo_now_ms());
        if (due_mono < until)
            until = due_mono;
    }
    p->base.waiter.seen = seq;
    p->base.waiter.wake_at_ms = until;
    return 1;
}

static int enqueue_resume(exo_park *park, exo_req *req, exo_resp *resp)
{
    enqueue_park *p = (enqueue_park *)park;
    if (exo_req_client_gone(req)) { /* nobody would receive what we claim now */
        exo_resp_json(resp, 200, claimed_json(req->params[0], NULL, 0, 0));
        return 0;
    }
    return enqueue_attempt(p, req, resp);
}

/* The optional "runtime_name" by which a worker names itself (exo's extension):
 * recorded as the claimer of what it gets.  At most RUNTIME_NAME_MAX bytes, one line. */
#define RUNTIME_NAME_MAX 200
static const char *claimer_name(exo_reqcheck *rc, json_object *body)
{
    const char *name = NULL;
    if (exo_req_string(rc, body, "runtime_name", "body", 0, &name) != 0)
        return NULL;
    size_t len = strlen(name);
    int ok = len > 0 && len <= RUNTIME_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)name[i] >= 0x20 && name[i] != 0x7f;
    if (!ok)
        exo_reqcheck_value_error(rc, "body.runtime_name", "runtime_name must be 1 to 200 characters on one line",
                                 json_object_object_get(body, "runtime_name"));
    return ok ? name : NULL;
}

void h_enqueue(exo_req *req, exo_resp *resp)
{
    exo_app *app = req->app;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *nodes = NULL;
    int64_t batch = 0, wait_ms = 0, lease_ms = app->cfg.default_lease_ms;
    const char *runtime_name = NULL;
    if (body) {
        exo_req_string_list(&rc, body, "nodes", "body", 1, &nodes);
        runtime_name = claimer_name(&rc, body);
        exo_req_int(&rc, body, "batch_size", "body", 1, &batch);
        if (exo_req_int(&rc, body, "wait_ms", "body", 0, &wait_ms) == 0)
            check_bound(&rc, body, "wait_ms", wait_ms, 0, 0);
        if (exo_req_int(&rc, body, "lease_ms", "body", 0, &lease_ms) == 0)
            check_bound(&rc, body, "lease_ms", lease_ms, 0, 1);
    }
    if (finish_check(&rc, resp))
        return;
    json_object *ext = json_object_object_get(body, "extended");
    int extended = exo_req_extended(req) || (ext && json_object_is_type(ext, json_type_boolean) &&
                                             json_object_get_boolean(ext));
    if (wait_ms > WAIT_CAP_MS)
        wait_ms = WAIT_CAP_MS;
    if (lease_ms < LEASE_MIN_MS)
        lease_ms = LEASE_MIN_MS;
    if (lease_ms > LEASE_CAP_MS)
        lease_ms = LEASE_CAP_MS;
    if (batch > BATCH_CAP)
        batch = BATCH_CAP;
    size_t nn = json_object_array_length(nodes);
    if (nn > NODES_CAP) {
        exo_resp_detail(resp, 400, "Too many node names: at most %d per enqueue call", NODES_CAP);
        return;
    }
    if (batch <= 0 || nn == 0) {
        exo_resp_json(resp, 200, claimed_json(req->params[0], NULL, 0, 0));
        return;
    }
    enqueue_park *p = calloc(1, sizeof *p);
    const char **names = calloc(nn, sizeof *names);
    if (!p || !names) {
        free(p);
        free(names);
        exo_resp_500(resp);
        return;
    }
    for (size_t i = 0; i < nn; i++)
        names[i] = json_object_get_string(json_object_array_get_idx(nodes, i));
    *p = (enqueue_park){.names = names, .nn = nn, .batch = (size_t)batch, .lease_ms = lease_ms,
                        .runtime_name = runtime_name, .deadline = exo_mono_ms() + wait_ms, .extended = extended};
    p->base.resume = enqueue_resume;
    p->base.free = enqueue_park_free;
    p->base.waiter.ns = req->params[0];
    p->base.waiter.names = names;
    p->base.waiter.nnames = nn;
    if (enqueue_attempt(p, req, resp) == 1)
        resp->park = &p->base;
    else
        enqueue_park_free(&p->base);
}

/* ---- lease keep-alive (extension) ------------------------------------------------------ */

void h_lease(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *ids = NULL;
    int64_t lease_ms = req->app->cfg.default_lease_ms;
    if (body) {
        exo_req_string_list(&rc, body, "state_ids", "body", 1, &ids);
        if (exo_req_int(&rc, body, "lease_ms", "body", 0, &lease_ms) == 0)
            check_bound(&rc, body, "lease_ms", lease_ms, 0, 1);
    }
    if (finish_check(&rc, resp))
        return;
    if (json_object_array_length(ids) > LEASE_IDS_CAP) {
        exo_resp_detail(resp, 400, "Too many state_ids: at most %d per call", LEASE_IDS_CAP);
        return;
    }
    if (lease_ms < LEASE_MIN_MS)
        lease_ms = LEASE_MIN_MS;
    if (lease_ms > LEASE_CAP_MS)
        lease_ms = LEASE_CAP_MS;
    json_object *renewed = json_object_new_array(), *lost = json_object_new_array(), *o = json_object_new_object();
    if (!renewed || !lost || !o ||
        exo_engine_renew_leases(req->app, req->params[0], ids, lease_ms, renewed, lost) != EXO_RESULT_OK) {
        json_object_put(renewed);
        json_object_put(lost);
        json_object_put(o);
        exo_resp_500(resp);
        return;
    }
    json_object_object_add(o, "renewed", renewed);
    json_object_object_add(o, "lost", lost);
    exo_resp_json(resp, 200, o);
}

/* ---- executed --------------------------------------------------------------------------- */

/* outputs: an array of objects of strings. */
static void check_outputs(exo_reqcheck *rc, json_object *outputs)
{
    for (size_t i = 0; i < json_object_array_length(outputs); i++) {
        json_object *item = json_object_array_get_idx(outputs, i);
        char loc[64];
        snprintf(loc, sizeof loc, "body.outputs.%zu", i);
        if (!json_object_is_type(item, json_type_object)) {
            exo_reqcheck_add(rc, loc, "dict_type", "Input should be a valid dictionary", item, NULL);
            continue;
        }
        json_object_object_foreach(item, key, val)
        {
            if (!json_object_is_type(val, json_type_string))
                exo_reqcheck_add_key(rc, loc, key, "string_type", "Input should be a valid string", val);
        }
    }
}

/* The optional "logs" of executed / errored (exo's extension): a string, NULs
 * allowed (what a node prints is bytes); absent or null: *logs stays NULL. */
static void optional_logs(exo_reqcheck *rc, json_object *body, const char **logs, size_t *len)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, "logs", &v) || !v)
        return;
    if (!json_object_is_type(v, json_type_string)) {
        exo_reqcheck_add(rc, "body.logs", "string_type", "Input should be a valid string", v, NULL);
        return;
    }
    *logs = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
}

void h_executed(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *outputs = NULL, *store = NULL;
    const char *logs = NULL;
    size_t logs_len = 0;
    if (body) {
        if (exo_req_array(&rc, body, "outputs", "body", 1, &outputs) == 0) {
            /* the cap keeps one report from holding the database for long (docs/dev/HARDENING.md) */
            size_t n = json_object_array_length(outputs);
            if ((int64_t)n > req->app->cfg.max_outputs) {
                exo_reqcheck_free(&rc);
                exo_resp_detail(resp, 413, "Too many outputs: at most %lld per executed call (EXO_MAX_OUTPUTS), got %zu",
                                (long long)req->app->cfg.max_outputs, n);
                return;
            }
            check_outputs(&rc, outputs);
        }
        exo_req_string_map(&rc, body, "store", "body", 0, &store);
        optional_logs(&rc, body, &logs, &logs_len);
    }
    if (finish_check(&rc, resp))
        return;
    char *msg = NULL;
    exo_result r = exo_engine_executed_logs(req->app, req->params[0], req->params[1], outputs, store, logs, logs_len,
                                            &msg);
    if (r != EXO_RESULT_OK)
        exo_resp_result(resp, r, msg);
    else
        exo_resp_json(resp, 200, status_body("EXECUTED"));
}

/* ---- errored, manual retry: bodies of one string field ------------------------------------- */

/* The string field of a {"<field>": string} body; NULL after answering 422. */
static const char *string_field(exo_req *req, exo_resp *resp, const char *field)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    const char *value = NULL;
    if (body)
        exo_req_string(&rc, body, field, "body", 1, &value);
    return finish_check(&rc, resp) ? NULL : value;
}

void h_errored(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    const char *error = NULL, *logs = NULL;
    size_t logs_len = 0;
    if (body) {
        exo_req_string(&rc, body, "error", "body", 1, &error);
        optional_logs(&rc, body, &logs, &logs_len);
    }
    if (finish_check(&rc, resp))
        return;
    char *msg = NULL;
    int retry_created = 0;
    exo_result r = exo_engine_errored_logs(req->app, req->params[0], req->params[1], error, logs, logs_len,
                                           &retry_created, &msg);
    if (r != EXO_RESULT_OK) {
        exo_resp_result(resp, r, msg);
        return;
    }
    json_object *o = status_body("ERRORED");
    json_object_object_add(o, "retry_created", json_object_new_boolean(retry_created));
    exo_resp_json(resp, 200, o);
}

void h_manual_retry(exo_req *req, exo_resp *resp)
{
    const char *fanout_id = string_field(req, resp, "fanout_id");
    if (!fanout_id)
        return;
    char *msg = NULL, new_id[EXO_ID_LEN + 1];
    exo_result r = exo_engine_manual_retry(req->app, req->params[0], req->params[1], fanout_id, new_id, &msg);
    if (r != EXO_RESULT_OK) {
        exo_resp_result(resp, r, msg);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(new_id));
    json_object_object_add(o, "status", json_object_new_string("CREATED"));
    exo_resp_json(resp, 200, o);
}

/* ---- signals: prune, re-enqueue-after ---------------------------------------------------------- */

static void signal_answer(exo_resp *resp, exo_result r, char *msg, int64_t enqueue_after, const char *status)
{
    if (r != EXO_RESULT_OK) {
        exo_resp_result(resp, r, msg);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "enqueue_after", json_object_new_int64(enqueue_after));
    json_object_object_add(o, "status", json_object_new_string(status));
    exo_resp_json(resp, 200, o);
}

void h_prune(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *data = NULL;
    if (body)
        exo_req_object(&rc, body, "data", "body", 1, &data);
    if (finish_check(&rc, resp))
        return;
    char *msg = NULL;
    int64_t enqueue_after = 0;
    exo_result r = exo_engine_prune(req->app, req->params[0], req->params[1], data, &enqueue_after, &msg);
    signal_answer(resp, r, msg, enqueue_after, "PRUNED");
}

void h_reenqueue(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    int64_t delay = 0;
    if (body && exo_req_int(&rc, body, "enqueue_after", "body", 1, &delay) == 0)
        check_bound(&rc, body, "enqueue_after", delay, 0, 1);
    if (finish_check(&rc, resp))
        return;
    char *msg = NULL;
    int64_t enqueue_after = 0;
    exo_result r = exo_engine_reenqueue(req->app, req->params[0], req->params[1], delay, &enqueue_after, &msg);
    signal_answer(resp, r, msg, enqueue_after, "CREATED");
}

/* ---- secrets ------------------------------------------------------------------------------ */

void h_secrets(exo_req *req, exo_resp *resp)
{
    char *msg = NULL;
    json_object *secrets = NULL;
    exo_result r = exo_engine_state_secrets(req->app, req->params[0], req->params[1], &secrets, &msg);
    if (r == EXO_RESULT_FAILED && msg) { /* the key cannot read them: say so rather than the generic 500 */
        exo_resp_detail(resp, 500, "%s", msg);
        free(msg);
        return;
    }
    if (r != EXO_RESULT_OK) {
        exo_resp_result(resp, r, msg);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "secrets", secrets);
    exo_resp_json(resp, 200, o);
}

/* GET state/{id}/logs (exo's extension): what the state's node printed, as its host
 * reported it; "logs" is null when none was reported. */
void h_state_logs(exo_req *req, exo_resp *resp)
{
    exo_state_row st = {0};
    char *logs = NULL;
    size_t len = 0;
    exo_result r = exo_engine_state_logs(req->app, req->params[0], req->params[1], &st, &logs, &len);
    if (r != EXO_RESULT_OK) {
        exo_resp_result(resp, r, r == EXO_RESULT_NOT_FOUND ? exo_strfmt("State not found") : NULL);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "state_id", json_object_new_string(st.id));
    json_object_object_add(o, "node_name", json_object_new_string(st.node_name));
    json_object_object_add(o, "identifier", json_object_new_string(st.identifier));
    json_object_object_add(o, "run_id", json_object_new_string(st.run_id));
    json_object_object_add(o, "status", json_object_new_string(exo_status_names[st.status]));
    json_object_object_add(o, "logs", logs ? json_object_new_string_len(logs, (int)len) : NULL);
    exo_resp_json(resp, 200, o);
    free(logs);
    exo_state_row_free(&st);
}
