/* Per-state endpoints: enqueue (§3.7 + long-poll/lease extensions), lease
 * keep-alive (extension), executed, errored, prune, re-enqueue-after,
 * manual-retry (§3.8-§3.12) and secrets (§3.13). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "handlers.h"
#include "log.h"
#include "secrets_crypto.h"

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

/* Loads the path's state (params[1]) of namespace params[0].  0 found, 1 answered
 * 404 "State not found", -1 answered 500.  Call with the db lock held. */
static int load_state(exo_req *req, exo_resp *resp, exo_state_row *st)
{
    const char *id = req->params[1];
    if (!exo_id_valid(id)) {
        exo_resp_detail(resp, 404, "State not found");
        return 1;
    }
    char norm[EXO_ID_LEN + 1];
    exo_id_normalize(id, norm);
    int rc = req->app->db->ops->state_get(req->app->db, norm, st);
    if (rc < 0) {
        exo_resp_500(resp);
        return -1;
    }
    if (rc == 1 || strcmp(st->namespace_name, req->params[0]) != 0) {
        exo_state_row_free(st);
        exo_resp_detail(resp, 404, "State not found");
        return 1;
    }
    return 0;
}

/* Runs fn inside a write transaction with the path's state loaded; fn answers.
 * fn returns >= 0 to commit, < 0 to roll back (after answering). */
typedef int (*state_fn)(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg);

static void with_state(exo_req *req, exo_resp *resp, state_fn fn, void *arg, int notify)
{
    exo_app *app = req->app;
    const exo_storage_ops *ops = app->db->ops;
    exo_app_lock(app);
    if (ops->begin(app->db) != 0) {
        exo_app_unlock(app);
        exo_resp_500(resp);
        return;
    }
    exo_state_row st = {0};
    int rc = load_state(req, resp, &st);
    if (rc == 0) {
        rc = fn(req, resp, &st, arg);
        exo_state_row_free(&st);
    }
    if (rc >= 0 && ops->commit(app->db) == 0) {
        exo_app_unlock(app);
        if (notify && resp->status < 300)
            exo_app_notify_work(app);
        return;
    }
    ops->rollback(app->db);
    exo_app_unlock(app);
    exo_resp_500(resp);
}

static json_object *status_body(const char *status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(status));
    return o;
}

/* ---- enqueue ------------------------------------------------------------------------------- */

static json_object *claimed_json(const char *ns, exo_state_row *rows, size_t n)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "state_id", json_object_new_string(rows[i].id));
        json_object_object_add(s, "node_name", json_object_new_string(rows[i].node_name));
        json_object_object_add(s, "identifier", json_object_new_string(rows[i].identifier));
        json_object_object_add(s, "inputs", json_object_get(rows[i].inputs));
        json_object_object_add(s, "created_at", exo_json_time(rows[i].created_at));
        json_object_array_add(arr, s);
    }
    json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(o, "namespace", json_object_new_string(ns));
    json_object_object_add(o, "status", json_object_new_string("QUEUED"));
    json_object_object_add(o, "states", arr);
    return o;
}

/* One atomic claim round.  0 ok (rows/n set), -1 database error. */
static int claim_once(exo_app *app, const char *ns, const char **nodes, size_t nn, int64_t lease_ms, size_t batch,
                      exo_state_row **rows, size_t *n, int64_t *next_due)
{
    const exo_storage_ops *ops = app->db->ops;
    exo_app_lock(app);
    int rc = ops->begin(app->db);
    if (rc == 0) {
        rc = ops->state_claim(app->db, ns, nodes, nn, exo_now_ms(), lease_ms, batch, rows, n, next_due);
        if (rc == 0)
            rc = ops->commit(app->db);
        if (rc != 0)
            ops->rollback(app->db);
    }
    exo_app_unlock(app);
    return rc;
}

void h_enqueue(exo_req *req, exo_resp *resp)
{
    exo_app *app = req->app;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *nodes = NULL;
    int64_t batch = 0, wait_ms = 0, lease_ms = app->cfg.default_lease_ms;
    if (body) {
        exo_req_string_list(&rc, body, "nodes", "body", 1, &nodes);
        exo_req_int(&rc, body, "batch_size", "body", 1, &batch);
        if (exo_req_int(&rc, body, "wait_ms", "body", 0, &wait_ms) == 0)
            check_bound(&rc, body, "wait_ms", wait_ms, 0, 0);
        if (exo_req_int(&rc, body, "lease_ms", "body", 0, &lease_ms) == 0)
            check_bound(&rc, body, "lease_ms", lease_ms, 0, 1);
    }
    if (finish_check(&rc, resp))
        return;
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
    const char **names = calloc(nn ? nn : 1, sizeof *names);
    if (!names) {
        exo_resp_500(resp);
        return;
    }
    for (size_t i = 0; i < nn; i++)
        names[i] = json_object_get_string(json_object_array_get_idx(nodes, i));
    exo_state_row *rows = NULL;
    size_t n = 0;
    int64_t deadline = exo_mono_ms() + wait_ms;
    int failed = 0;
    for (int round = 0; batch > 0 && nn > 0; round++) {
        if (round > 0 && exo_req_client_gone(req))
            break; /* nobody would receive what we claim now */
        uint64_t seq = exo_app_work_seq(app);
        int64_t next_due = 0;
        if (claim_once(app, req->params[0], names, nn, lease_ms, (size_t)batch, &rows, &n, &next_due) != 0) {
            failed = 1;
            break;
        }
        int64_t now_mono = exo_mono_ms();
        if (n > 0 || now_mono >= deadline || atomic_load(&app->stopping))
            break;
        int64_t until = deadline;
        if (next_due) {
            int64_t due_mono = now_mono + (next_due - exo_now_ms());
            if (due_mono < until)
                until = due_mono;
        }
        exo_app_wait_work(app, seq, until);
    }
    free(names);
    if (failed) {
        exo_state_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    exo_resp_json(resp, 200, claimed_json(req->params[0], rows, n));
    exo_state_rows_free(rows, n);
}

/* ---- lease keep-alive (extension) ------------------------------------------------------ */

typedef struct lease_tx {
    const char *ns;
    json_object *ids, *renewed, *lost;
    int64_t lease_ms;
} lease_tx;

static int lease_body(exo_app *app, void *arg)
{
    lease_tx *t = arg;
    int64_t until = exo_now_ms() + t->lease_ms;
    for (size_t i = 0; i < json_object_array_length(t->ids); i++) {
        json_object *idv = json_object_array_get_idx(t->ids, i);
        const char *id = json_object_get_string(idv);
        int rc = 1;
        if (exo_id_valid(id)) {
            char norm[EXO_ID_LEN + 1];
            exo_id_normalize(id, norm);
            rc = app->db->ops->lease_renew(app->db, t->ns, norm, until, t->lease_ms);
            if (rc < 0)
                return -1;
        }
        json_object_array_add(rc == 0 ? t->renewed : t->lost, json_object_new_string(id));
    }
    return 0;
}

void h_lease(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    lease_tx t = {.ns = req->params[0], .lease_ms = req->app->cfg.default_lease_ms};
    if (body) {
        exo_req_string_list(&rc, body, "state_ids", "body", 1, &t.ids);
        if (exo_req_int(&rc, body, "lease_ms", "body", 0, &t.lease_ms) == 0)
            check_bound(&rc, body, "lease_ms", t.lease_ms, 0, 1);
    }
    if (finish_check(&rc, resp))
        return;
    if (json_object_array_length(t.ids) > LEASE_IDS_CAP) {
        exo_resp_detail(resp, 400, "Too many state_ids: at most %d per call", LEASE_IDS_CAP);
        return;
    }
    if (t.lease_ms < LEASE_MIN_MS)
        t.lease_ms = LEASE_MIN_MS;
    if (t.lease_ms > LEASE_CAP_MS)
        t.lease_ms = LEASE_CAP_MS;
    t.renewed = json_object_new_array();
    t.lost = json_object_new_array();
    if (exo_app_tx(req->app, lease_body, &t) < 0) {
        json_object_put(t.renewed);
        json_object_put(t.lost);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "renewed", t.renewed);
    json_object_object_add(o, "lost", t.lost);
    exo_resp_json(resp, 200, o);
}

/* ---- executed --------------------------------------------------------------------------- */

typedef struct executed_arg {
    json_object *outputs, *store;
} executed_arg;

static int executed_fn(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg)
{
    executed_arg *a = arg;
    if (strcmp(st->status, "QUEUED") != 0) {
        exo_resp_detail(resp, 400, "State is not queued");
        return 0;
    }
    if (exo_engine_executed(req->app, st, a->outputs, a->store, exo_now_ms()) != 0)
        return -1;
    exo_resp_json(resp, 200, status_body("EXECUTED"));
    return 0;
}

void h_executed(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    executed_arg a = {0};
    if (body) {
        if (exo_req_array(&rc, body, "outputs", "body", 1, &a.outputs) == 0) {
            for (size_t i = 0; i < json_object_array_length(a.outputs); i++) {
                json_object *item = json_object_array_get_idx(a.outputs, i);
                char loc[64];
                snprintf(loc, sizeof loc, "body.outputs.%zu", i);
                if (!json_object_is_type(item, json_type_object)) {
                    exo_reqcheck_add(&rc, loc, "dict_type", "Input should be a valid dictionary", item, NULL);
                    continue;
                }
                json_object_object_foreach(item, key, val)
                {
                    if (json_object_is_type(val, json_type_string))
                        continue;
                    exo_reqcheck_add_key(&rc, loc, key, "string_type", "Input should be a valid string", val);
                }
            }
        }
        exo_req_string_map(&rc, body, "store", "body", 0, &a.store);
    }
    if (finish_check(&rc, resp))
        return;
    with_state(req, resp, executed_fn, &a, 1);
}

/* ---- errored ---------------------------------------------------------------------------- */

static int errored_fn(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg)
{
    const char *error = arg;
    exo_app *app = req->app;
    if (!strcmp(st->status, "EXECUTED")) {
        exo_resp_detail(resp, 400, "State is already executed");
        return 0;
    }
    if (strcmp(st->status, "QUEUED") != 0) {
        exo_resp_detail(resp, 400, "State is not queued or executed");
        return 0;
    }
    /* the run's own graph version (also right for states of cross-namespace node templates) */
    if (!exo_engine_run_graph(app, st->run_id, NULL)) {
        exo_resp_detail(resp, 404, "Graph template not found");
        return 0;
    }
    int retry_created = 0;
    if (exo_engine_errored(app, st, error, exo_now_ms(), &retry_created) != 0)
        return -1;
    json_object *o = status_body("ERRORED");
    json_object_object_add(o, "retry_created", json_object_new_boolean(retry_created));
    exo_resp_json(resp, 200, o);
    return 0;
}

/* A state endpoint whose body is {"<field>": string}: checks the body (422) and
 * hands the string to fn. */
static void with_state_string_field(exo_req *req, exo_resp *resp, const char *field, state_fn fn)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    const char *value = NULL;
    if (body)
        exo_req_string(&rc, body, field, "body", 1, &value);
    if (finish_check(&rc, resp))
        return;
    with_state(req, resp, fn, (void *)value, 1);
}

void h_errored(exo_req *req, exo_resp *resp)
{
    with_state_string_field(req, resp, "error", errored_fn);
}

/* ---- prune ------------------------------------------------------------------------------ */

static int prune_fn(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg)
{
    if (strcmp(st->status, "QUEUED") != 0) {
        exo_resp_detail(resp, 400, "State is not queued");
        return 0;
    }
    if (exo_engine_pruned(req->app, st, arg, exo_now_ms()) != 0)
        return -1;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "enqueue_after", json_object_new_int64(st->enqueue_after));
    json_object_object_add(o, "status", json_object_new_string("PRUNED"));
    exo_resp_json(resp, 200, o);
    return 0;
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
    with_state(req, resp, prune_fn, data, 1);
}

/* ---- re-enqueue-after ------------------------------------------------------------------- */

static int reenqueue_fn(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg)
{
    int64_t delay = *(int64_t *)arg, now = exo_now_ms();
    if (strcmp(st->status, "QUEUED") != 0) {
        exo_resp_detail(resp, 400, "State is not queued");
        return 0;
    }
    snprintf(st->status, sizeof st->status, "CREATED");
    st->enqueue_after = exo_add_saturating(now, delay);
    st->updated_at = now;
    st->lease_expires_at = 0;
    if (req->app->db->ops->state_update(req->app->db, st) != 0)
        return -1;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "enqueue_after", json_object_new_int64(st->enqueue_after));
    json_object_object_add(o, "status", json_object_new_string("CREATED"));
    exo_resp_json(resp, 200, o);
    return 0;
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
    with_state(req, resp, reenqueue_fn, &delay, 1);
}

/* ---- manual retry ------------------------------------------------------------------------ */

static int manual_retry_fn(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg)
{
    const char *fanout_id = arg;
    exo_app *app = req->app;
    if (strcmp(st->status, "ERRORED") != 0 && strcmp(st->status, "NEXT_CREATED_ERROR") != 0) {
        exo_resp_detail(resp, 400, "State is not errored: only ERRORED or NEXT_CREATED_ERROR states can be retried");
        return 0;
    }
    int64_t now = exo_now_ms();
    exo_state_row r;
    int ret = -1;
    if (exo_state_init(&r, st->node_name, st->namespace_name, st->identifier, st->graph_name, st->run_id, now) != 0)
        goto out;
    json_object_put(r.inputs);
    json_object_put(r.parents);
    r.inputs = NULL;
    r.parents = NULL;
    if (json_object_deep_copy(st->inputs, &r.inputs, NULL) != 0 ||
        json_object_deep_copy(st->parents, &r.parents, NULL) != 0)
        goto out;
    free(r.fanout_id);
    free(r.manual_retry_fanout_id);
    r.fanout_id = strdup(fanout_id);
    r.manual_retry_fanout_id = strdup(fanout_id);
    if (!r.fanout_id || !r.manual_retry_fanout_id)
        goto out;
    r.does_unites = st->does_unites;
    int rc = app->db->ops->state_insert(app->db, &r);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        exo_resp_detail(resp, 409, "Duplicate retry state detected");
        ret = 0;
        goto out;
    }
    if (app->db->ops->ancestors_copy(app->db, st->id, r.id) != 0)
        goto out;
    snprintf(st->status, sizeof st->status, "RETRY_CREATED");
    st->updated_at = now;
    if (app->db->ops->state_update(app->db, st) != 0)
        goto out;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(r.id));
    json_object_object_add(o, "status", json_object_new_string("CREATED"));
    exo_resp_json(resp, 200, o);
    ret = 0;
out:
    exo_state_row_free(&r);
    return ret;
}

void h_manual_retry(exo_req *req, exo_resp *resp)
{
    with_state_string_field(req, resp, "fanout_id", manual_retry_fn);
}

/* ---- secrets ------------------------------------------------------------------------------ */

static int secrets_fn(exo_req *req, exo_resp *resp, exo_state_row *st, void *arg)
{
    (void)arg;
    exo_app *app = req->app;
    exo_graph_row g = {0};
    int64_t version;
    char *run_ns = NULL;
    int rc = app->db->ops->run_version(app->db, st->run_id, &version, &run_ns);
    if (rc == 0)
        rc = app->db->ops->graph_get(app->db, run_ns, st->graph_name, &g);
    free(run_ns);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        exo_resp_detail(resp, 404, "Graph template not found");
        return 0;
    }
    json_object *stored = NULL, *out = json_object_new_object();
    int ret = 0;
    if (json_object_object_get_ex(g.template_, "secrets", &stored) && json_object_is_type(stored, json_type_object) &&
        json_object_object_length(stored) > 0) {
        if (!app->cfg.have_key) {
            log_error("secrets of graph %s/%s requested but %s", g.namespace_name, g.name, app->cfg.key_error);
            ret = -1;
        }
        json_object_object_foreach(stored, name, val)
        {
            if (ret != 0)
                break;
            char err[160];
            char *plain = exo_secret_decrypt(&app->cfg.key, json_object_get_string(val), err, sizeof err);
            if (!plain) {
                log_error("secret '%s' of graph %s/%s cannot be decrypted: %s", name, g.namespace_name, g.name, err);
                ret = -1;
                break;
            }
            json_object_object_add(out, name, json_object_new_string(plain));
            free(plain);
        }
    }
    exo_graph_row_free(&g);
    if (ret != 0) {
        json_object_put(out);
        exo_resp_500(resp);
        return 0;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "secrets", out);
    exo_resp_json(resp, 200, o);
    return 0;
}

void h_secrets(exo_req *req, exo_resp *resp)
{
    with_state(req, resp, secrets_fn, NULL, 0);
}
