/* Run controls (engine.h): exo's extensions for people and dashboards — one run's
 * view and why its states wait, the filtered listing, cancel, bulk retry, purge,
 * graph deletion and retention.  The v0 transitions are in states.c / reports.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"

exo_result exo_engine_run_get(exo_app *app, const char *ns, const char *run_id, exo_run_row *row)
{
    exo_app_db_enter(app);
    int rc = exo_db_run_get(app->db, ns, run_id, row);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_run_query(exo_app *app, const exo_run_query *q, exo_run_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_run_query(app->db, q, rows, n);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

/* ---- why states wait -------------------------------------------------------------------------------- */

static int is_pending(exo_status s)
{
    return s == EXO_ST_CREATED || s == EXO_ST_QUEUED || s == EXO_ST_EXECUTED;
}

/* reason and message for one unfinished state (see engine.h); the node registry
 * is read for CREATED states.  0, or -1 on a database error. */
static int state_wait(exo_app *app, const exo_state_row *st, int64_t now, const char **reason, char **message)
{
    char when[40];
    if (st->status == EXO_ST_QUEUED) {
        *reason = "claimed";
        exo_iso_time(st->lease_expires_at, when);
        *message = st->lease_expires_at > 0
                       ? exo_strfmt("claimed by a worker, which is running it (lease until %s)", when)
                       : exo_strfmt("claimed by a worker, which is running it");
        return 0;
    }
    if (st->status == EXO_ST_EXECUTED) {
        *reason = "executed";
        *message = exo_strfmt("executed; its next states are being created");
        return 0;
    }
    if (st->enqueue_after > now) {
        *reason = "not_due";
        exo_iso_time(st->enqueue_after, when);
        *message = exo_strfmt("not yet due: may start at %s (in %.1f s)", when, (double)(st->enqueue_after - now) / 1000.0);
        return 0;
    }
    exo_node_row node = {0};
    exo_app_db_enter(app);
    int rc = exo_db_node_get(app->db, st->namespace_name, st->node_name, &node);
    exo_app_db_leave(app);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *reason = "no_node";
        *message = exo_strfmt("no runtime has registered node %s in namespace %s: start a host that has it",
                              st->node_name, st->namespace_name);
        return 0;
    }
    *reason = "unclaimed";
    exo_iso_time(node.registered_at ? node.registered_at : node.updated_at, when);
    *message = exo_strfmt("due, not claimed yet: node %s was last registered by runtime %s at %s; is that host "
                          "still running it?",
                          st->node_name, node.runtime_name, when);
    exo_node_row_free(&node);
    return 0;
}

static int add_state_wait(exo_app *app, const exo_state_row *st, int64_t now, json_object *list)
{
    const char *reason = NULL;
    char *message = NULL;
    if (state_wait(app, st, now, &reason, &message) != 0)
        return -1;
    json_object *e = json_object_new_object();
    if (!e || !message) {
        json_object_put(e);
        free(message);
        return -1;
    }
    json_object_object_add(e, "state_id", json_object_new_string(st->id));
    json_object_object_add(e, "identifier", json_object_new_string(st->identifier));
    json_object_object_add(e, "node_name", json_object_new_string(st->node_name));
    json_object_object_add(e, "status", json_object_new_string(exo_status_names[st->status]));
    json_object_object_add(e, "reason", json_object_new_string(reason));
    json_object_object_add(e, "message", json_object_new_string(message));
    free(message);
    return json_object_array_add(list, e);
}

static int identifier_has_state(const exo_state_row *rows, size_t n, const char *identifier)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].identifier, identifier))
            return 1;
    return 0;
}

/* Uniting nodes of the run's graph that have no state yet while their target
 * has one and the run still has unfinished states: they wait for the branches. */
static int add_unite_waits(exo_app *app, const exo_state_row *rows, size_t n, size_t pending, json_object *list)
{
    if (n == 0 || pending == 0)
        return 0;
    const exo_graph *g = exo_engine_run_graph(app, rows[0].run_id, NULL);
    if (!g)
        return 0; /* the run's version is gone: nothing to say about unites */
    int rc = 0;
    for (size_t i = 0; i < g->node_count && rc == 0; i++) {
        const exo_node_tpl *u = &g->nodes[i];
        if (!u->unites || identifier_has_state(rows, n, u->identifier) || !identifier_has_state(rows, n, u->unites))
            continue;
        json_object *e = json_object_new_object();
        char *message = exo_strfmt("waiting on a unite: starts when the states descending from %s have finished "
                                   "(%zu state(s) of the run are unfinished)",
                                   u->unites, pending);
        if (!e || !message) {
            json_object_put(e);
            free(message);
            rc = -1;
            break;
        }
        json_object_object_add(e, "identifier", json_object_new_string(u->identifier));
        json_object_object_add(e, "unites", json_object_new_string(u->unites));
        json_object_object_add(e, "message", json_object_new_string(message));
        free(message);
        rc = json_object_array_add(list, e);
    }
    exo_graph_cache_release(app->graphs, g);
    return rc;
}

exo_result exo_engine_run_waits(exo_app *app, const char *ns, const char *run_id, json_object **out)
{
    exo_state_row *rows = NULL;
    size_t n = 0;
    *out = NULL;
    exo_result r = exo_engine_run_states(app, ns, run_id, &rows, &n);
    if (r != EXO_RESULT_OK)
        return r;
    json_object *o = json_object_new_object(), *states = json_object_new_array(), *unites = json_object_new_array();
    int rc = o && states && unites ? 0 : -1;
    int64_t now = exo_now_ms();
    size_t pending = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!is_pending(rows[i].status))
            continue;
        pending++;
        rc = add_state_wait(app, &rows[i], now, states);
    }
    if (rc == 0)
        rc = add_unite_waits(app, rows, n, pending, unites);
    exo_state_rows_free(rows, n);
    if (rc != 0) {
        json_object_put(o);
        json_object_put(states);
        json_object_put(unites);
        return EXO_RESULT_FAILED;
    }
    json_object_object_add(o, "states", states);
    json_object_object_add(o, "unites", unites);
    *out = o;
    return EXO_RESULT_OK;
}

/* ---- cancel ----------------------------------------------------------------------------------------- */

typedef struct cancel_tx {
    const char *ns, *run_id, *by;
    int64_t now, cancelled;
    char **detail;
    exo_result result;
} cancel_tx;

/* Ends every unfinished state of the run as ERRORED with the cancel message. */
static int cancel_states(exo_app *app, cancel_tx *t)
{
    exo_state_row *rows = NULL;
    size_t n = 0;
    if (exo_db_states_of_run(app->db, t->ns, t->run_id, &rows, &n) != 0)
        return -1;
    char when[40];
    exo_iso_time(t->now, when);
    char *message = exo_strfmt("Run cancelled by %s at %s", t->by, when);
    int rc = message ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        exo_state_row *st = &rows[i];
        if (!is_pending(st->status))
            continue;
        free(st->error);
        st->error = strdup(message);
        st->status = EXO_ST_ERRORED;
        st->lease_expires_at = 0;
        st->updated_at = t->now;
        rc = st->error && exo_db_state_update(app->db, st) == 0 ? 0 : -1;
        t->cancelled++;
    }
    free(message);
    exo_state_rows_free(rows, n);
    return rc;
}

static int cancel_body(exo_app *app, void *arg)
{
    cancel_tx *t = arg;
    exo_run_row run = {0};
    int rc = exo_db_run_get(app->db, t->ns, t->run_id, &run);
    if (rc != 0) {
        t->result = exo_result_of(rc);
        if (rc == 1)
            *t->detail = exo_strfmt("Run %s not found in namespace %s", t->run_id, t->ns);
        return -1;
    }
    exo_run_status status = exo_run_status_of(&run);
    exo_run_row_free(&run);
    if (status != EXO_RUN_PENDING) {
        t->result = EXO_RESULT_CONFLICT;
        *t->detail = exo_strfmt("Run %s has already finished (%s): there is nothing to cancel", t->run_id,
                                exo_run_status_names[status]);
        return -1;
    }
    if (cancel_states(app, t) != 0 || exo_db_run_mark_cancelled(app->db, t->run_id, t->by, t->now) != 0)
        return -1;
    t->result = EXO_RESULT_OK;
    return 0;
}

exo_result exo_engine_run_cancel(exo_app *app, const char *ns, const char *run_id, const char *by,
                                 int64_t *cancelled, char **detail)
{
    cancel_tx t = {.ns = ns, .run_id = run_id, .by = by, .now = exo_now_ms(), .detail = detail,
                   .result = EXO_RESULT_FAILED};
    if (exo_app_tx(app, cancel_body, &t) < 0 && t.result == EXO_RESULT_OK)
        t.result = EXO_RESULT_FAILED;
    *cancelled = t.result == EXO_RESULT_OK ? t.cancelled : 0;
    if (t.result == EXO_RESULT_OK)
        log_info("run %s/%s cancelled by %s: %lld state(s) stopped", ns, run_id, by, (long long)t.cancelled);
    return t.result;
}

/* ---- bulk retry ------------------------------------------------------------------------------------- */

typedef struct retry_tx {
    const char *ns, *run_id;
    json_object *new_ids; /* NULL: only count */
    int64_t retried;
    char **detail;
    exo_result result;
} retry_tx;

static int retry_pair(json_object *list, const char *old_id, const char *new_id)
{
    json_object *e = json_object_new_object();
    if (!e)
        return -1;
    json_object_object_add(e, "state_id", json_object_new_string(old_id));
    json_object_object_add(e, "new_state_id", json_object_new_string(new_id));
    return json_object_array_add(list, e);
}

static int retry_body(exo_app *app, void *arg)
{
    retry_tx *t = arg;
    exo_run_row run = {0};
    int rc = exo_db_run_get(app->db, t->ns, t->run_id, &run);
    int64_t cancelled_at = run.cancelled_at;
    exo_run_row_free(&run);
    if (rc != 0) {
        t->result = exo_result_of(rc);
        if (rc == 1)
            *t->detail = exo_strfmt("Run %s not found in namespace %s", t->run_id, t->ns);
        return -1;
    }
    if (cancelled_at > 0) {
        t->result = EXO_RESULT_CONFLICT;
        *t->detail = exo_strfmt("Run %s was cancelled: its states are not retried", t->run_id);
        return -1;
    }
    exo_state_row *rows = NULL;
    size_t n = 0;
    if (exo_db_states_of_run(app->db, t->ns, t->run_id, &rows, &n) != 0)
        return -1;
    t->result = EXO_RESULT_OK;
    for (size_t i = 0; i < n && t->result == EXO_RESULT_OK; i++) {
        exo_state_row *st = &rows[i];
        if (st->status != EXO_ST_ERRORED && st->status != EXO_ST_NEXT_CREATED_ERROR)
            continue;
        char fanout[EXO_UUID_LEN + 1], new_id[EXO_ID_LEN + 1];
        exo_uuid4(fanout); /* a fresh one: a bulk retry never collides with an earlier retry */
        t->result = exo_apply_manual_retry(app, st, fanout, new_id, t->detail);
        if (t->result == EXO_RESULT_OK && t->new_ids && retry_pair(t->new_ids, st->id, new_id) != 0)
            t->result = EXO_RESULT_FAILED;
        t->retried += t->result == EXO_RESULT_OK;
    }
    exo_state_rows_free(rows, n);
    return t->result == EXO_RESULT_OK ? 0 : -1;
}

static exo_result retry_run(exo_app *app, const char *ns, const char *run_id, json_object *new_ids, int64_t *retried,
                            char **detail)
{
    retry_tx t = {.ns = ns, .run_id = run_id, .new_ids = new_ids, .detail = detail, .result = EXO_RESULT_FAILED};
    if (exo_app_tx(app, retry_body, &t) < 0 && t.result == EXO_RESULT_OK)
        t.result = EXO_RESULT_FAILED;
    *retried = t.result == EXO_RESULT_OK ? t.retried : 0;
    if (t.result == EXO_RESULT_OK && t.retried > 0) {
        exo_app_notify_work(app);
        log_info("run %s/%s: %lld errored state(s) retried", ns, run_id, (long long)t.retried);
    }
    return t.result;
}

exo_result exo_engine_run_retry(exo_app *app, const char *ns, const char *run_id, json_object *new_ids, char **detail)
{
    int64_t retried;
    return retry_run(app, ns, run_id, new_ids, &retried, detail);
}

exo_result exo_engine_graph_retry(exo_app *app, const char *ns, const char *graph, int64_t since, int64_t until,
                                  int64_t *runs, int64_t *states)
{
    exo_run_query q = {.ns = ns, .graph_name = graph, .status_mask = 1u << EXO_RUN_FAILED, .since = since,
                       .until = until, .limit = EXO_PURGE_BATCH};
    *runs = *states = 0;
    for (;;) {
        exo_run_row *rows = NULL;
        size_t n = 0;
        if (exo_engine_run_query(app, &q, &rows, &n) != EXO_RESULT_OK)
            return EXO_RESULT_FAILED;
        exo_result r = EXO_RESULT_OK;
        for (size_t i = 0; i < n && r != EXO_RESULT_FAILED; i++) {
            char *detail = NULL;
            int64_t retried = 0;
            r = retry_run(app, ns, rows[i].run_id, NULL, &retried, &detail);
            free(detail); /* a run that cannot be retried now is skipped */
            *runs += retried > 0;
            *states += retried;
        }
        if (n > 0) {
            q.after_created_at = rows[n - 1].created_at;
            q.after_seq = rows[n - 1].seq;
        }
        exo_run_rows_free(rows, n);
        if (r == EXO_RESULT_FAILED)
            return r;
        if (n < (size_t)q.limit)
            return EXO_RESULT_OK;
    }
}

/* ---- purge, graph deletion, retention --------------------------------------------------------------- */

typedef struct delete_tx {
    exo_run_row *rows;
    size_t n;
    int64_t deleted;
} delete_tx;

static int delete_body(exo_app *app, void *arg)
{
    delete_tx *t = arg;
    for (size_t i = 0; i < t->n; i++) {
        int rc = exo_db_run_delete(app->db, t->rows[i].run_id);
        if (rc < 0)
            return -1;
        t->deleted += rc == 0;
    }
    return 0;
}

/* Deletes every run matching q (q->limit is the batch), one batch per
 * transaction, so other requests get the database between batches.  With
 * max_batches > 0 stops after that many.  Returns the number deleted, or -1;
 * *more is set when a full last batch leaves some possibly undeleted. */
static int64_t delete_matching(exo_app *app, exo_run_query q, int max_batches, int *more)
{
    int64_t deleted = 0;
    *more = 0;
    for (int batch = 0; max_batches <= 0 || batch < max_batches; batch++) {
        exo_run_row *rows = NULL;
        size_t n = 0;
        if (exo_engine_run_query(app, &q, &rows, &n) != EXO_RESULT_OK)
            return -1;
        delete_tx t = {.rows = rows, .n = n};
        int rc = n ? exo_app_tx(app, delete_body, &t) : 0;
        if (n > 0) { /* continue after the batch: a run that could not be deleted is not retried forever */
            q.after_created_at = rows[n - 1].created_at;
            q.after_seq = rows[n - 1].seq;
        }
        exo_run_rows_free(rows, n);
        if (rc < 0)
            return -1;
        deleted += t.deleted;
        if (n < (size_t)q.limit)
            return deleted;
        *more = 1;
    }
    return deleted;
}

exo_result exo_engine_runs_purge(exo_app *app, const char *ns, const char *graph, int64_t before, int64_t *deleted)
{
    exo_run_query q = {.ns = ns, .graph_name = graph, .status_mask = EXO_RUN_FINISHED_MASK, .until = before,
                       .limit = EXO_PURGE_BATCH};
    int more;
    *deleted = delete_matching(app, q, 0, &more);
    if (*deleted < 0) {
        *deleted = 0;
        return EXO_RESULT_FAILED;
    }
    if (*deleted > 0)
        log_info("namespace %s: %lld finished run(s) created before %lld purged", ns ? ns : "(all)",
                 (long long)*deleted, (long long)before);
    return EXO_RESULT_OK;
}

typedef struct graph_delete_tx {
    const char *ns, *name;
    int rc;
} graph_delete_tx;

static int graph_delete_body(exo_app *app, void *arg)
{
    graph_delete_tx *t = arg;
    t->rc = exo_db_graph_delete(app->db, t->ns, t->name);
    return t->rc < 0 ? -1 : 0;
}

exo_result exo_engine_delete_graph(exo_app *app, const char *ns, const char *name, int purge, int64_t *runs_deleted,
                                   char **detail)
{
    *runs_deleted = 0;
    exo_graph_row row = {0};
    exo_result r = exo_engine_get_graph(app, ns, name, &row);
    exo_graph_row_free(&row);
    if (r == EXO_RESULT_NOT_FOUND)
        *detail = exo_strfmt("Graph template not found for namespace %s and graph %s", ns, name);
    if (r != EXO_RESULT_OK)
        return r;
    if (purge) {
        exo_run_query q = {.ns = ns, .graph_name = name, .limit = EXO_PURGE_BATCH};
        int more;
        *runs_deleted = delete_matching(app, q, 0, &more);
        if (*runs_deleted < 0) {
            *runs_deleted = 0;
            return EXO_RESULT_FAILED;
        }
    }
    graph_delete_tx t = {.ns = ns, .name = name};
    if (exo_app_tx(app, graph_delete_body, &t) < 0)
        return EXO_RESULT_FAILED;
    if (t.rc == 1) { /* deleted meanwhile by another request */
        *detail = exo_strfmt("Graph template not found for namespace %s and graph %s", ns, name);
        return EXO_RESULT_NOT_FOUND;
    }
    log_info("graph %s/%s deleted (%lld run(s) purged)", ns, name, (long long)*runs_deleted);
    return EXO_RESULT_OK;
}

/* keep_ms of namespace ns: its own rule, else the global one (0 = keep forever). */
static int64_t retention_of(const exo_sm_config *cfg, const char *ns)
{
    for (size_t i = 0; i < cfg->retention_count; i++)
        if (!strcmp(cfg->retention_rules[i].ns, ns))
            return cfg->retention_rules[i].keep_ms;
    return cfg->retention_ms;
}

typedef struct retention_tx {
    const exo_sm_config *cfg;
    exo_run_row *rows;
    size_t n;
    int64_t now, deleted;
} retention_tx;

/* The global pass lists every namespace's runs: those under a rule of their own
 * are left to that rule's pass. */
static int retention_delete_body(exo_app *app, void *arg)
{
    retention_tx *t = arg;
    for (size_t i = 0; i < t->n; i++) {
        int64_t keep = retention_of(t->cfg, t->rows[i].namespace_name);
        if (keep <= 0 || t->rows[i].created_at >= t->now - keep)
            continue;
        int rc = exo_db_run_delete(app->db, t->rows[i].run_id);
        if (rc < 0)
            return -1;
        t->deleted += rc == 0;
    }
    return 0;
}

/* One batch of one rule (ns NULL: the global rule).  1 more may wait, 0 done, -1 error.
 * *cursor_* keep the global pass moving past runs that another rule keeps. */
static int retention_batch(exo_app *app, const char *ns, int64_t keep_ms, int64_t now, int64_t *after_created_at,
                           int64_t *after_seq, int64_t *deleted)
{
    if (keep_ms <= 0)
        return 0;
    exo_run_query q = {.ns = ns, .status_mask = EXO_RUN_FINISHED_MASK, .until = now - keep_ms, .limit = EXO_PURGE_BATCH,
                       .after_created_at = *after_created_at, .after_seq = *after_seq};
    exo_run_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_run_query(app, &q, &rows, &n) != EXO_RESULT_OK)
        return -1;
    retention_tx t = {.cfg = &app->cfg, .rows = rows, .n = n, .now = now};
    int rc = n ? exo_app_tx(app, retention_delete_body, &t) : 0;
    if (n > 0) {
        *after_created_at = rows[n - 1].created_at;
        *after_seq = rows[n - 1].seq;
    }
    exo_run_rows_free(rows, n);
    if (rc < 0)
        return -1;
    *deleted += t.deleted;
    return n == (size_t)q.limit;
}

int exo_engine_retention_step(exo_app *app, exo_retention_cursor *cursor)
{
    const exo_sm_config *cfg = &app->cfg;
    int64_t now = exo_now_ms(), deleted = 0;
    int more = 0;
    /* The global rule's cursor lives with the caller between steps of one pass:
     * runs kept by their namespace's own rule are not re-read every step. */
    int rc = retention_batch(app, NULL, cfg->retention_ms, now, &cursor->created_at, &cursor->seq, &deleted);
    if (rc < 0)
        return -1;
    if (rc == 0)
        cursor->created_at = cursor->seq = 0; /* pass done: the next one starts from the newest */
    more |= rc;
    for (size_t i = 0; i < cfg->retention_count; i++) {
        int64_t c = 0, sq = 0; /* a rule's own runs that stay are newer than its cut: no cursor needed */
        int r = retention_batch(app, cfg->retention_rules[i].ns, cfg->retention_rules[i].keep_ms, now, &c, &sq,
                                &deleted);
        if (r < 0)
            return -1;
        more |= r;
    }
    if (deleted > 0)
        log_info("retention: %lld finished run(s) deleted", (long long)deleted);
    return more;
}
