/* Background work of the engine (background.h): graph verification, lease expiry,
 * cron firing, trigger housekeeping. */
#include "background.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cron.h"
#include "engine_internal.h"
#include "graph.h"
#include "log.h"
#include "strfmt.h"

#define TICK_MS 500
#define REAP_BATCH 200
#define SHARED_PENDING_SCAN_S 10 /* how often a replica looks for PENDING graphs of others */

struct exo_background {
    exo_app *app;
    pthread_t verify_thread, sched_thread;
    int verify_started, sched_started;
};

/* ---- verification ------------------------------------------------------------------- */

typedef struct lookup_ctx {
    exo_app *app;
    int failed; /* a lookup hit a database error / ran out of memory: the verdict is not trusted */
} lookup_ctx;

static json_object *lookup_registered(void *ud, const char *node_name, const char *ns)
{
    lookup_ctx *ctx = ud;
    exo_node_row row = {0};
    exo_app_db_enter(ctx->app);
    int rc = exo_db_node_get(ctx->app->db, ns, node_name, &row);
    exo_app_db_leave(ctx->app);
    if (rc != 0) {
        if (rc < 0)
            ctx->failed = 1;
        return NULL;
    }
    json_object *o = json_object_new_object();
    if (!o) {
        ctx->failed = 1;
        exo_node_row_free(&row);
        return NULL;
    }
    json_object_object_add(o, "inputs_schema", json_object_get(row.inputs_schema));
    json_object_object_add(o, "outputs_schema", json_object_get(row.outputs_schema));
    json_object_object_add(o, "secrets", json_object_get(row.secrets));
    exo_node_row_free(&row);
    return o;
}

typedef struct verdict_tx {
    const exo_graph_row *row;
    const exo_graph *graph;
    exo_graph_status status;
    json_object *errors;
    int changed;
} verdict_tx;

static int verdict_body(exo_app *app, void *arg)
{
    verdict_tx *v = arg;
    v->changed = 0;
    int64_t now = exo_now_ms();
    int rc = exo_db_graph_set_validation(app->db, v->row->namespace_name, v->row->name, v->row->version, v->status,
                                       v->errors, now);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* a newer version was saved meanwhile: its own pass decides */
    v->changed = 1;
    int was_valid = v->row->validation_status == EXO_GRAPH_VALID;
    int now_valid = v->status == EXO_GRAPH_VALID;
    if (was_valid == now_valid)
        return 0;
    json_object *exprs = exo_graph_cron_expressions(v->graph);
    if (!exprs)
        return -1; /* out of memory: roll the verdict back rather than leave the schedule stale */
    for (size_t i = 0; i < json_object_array_length(exprs) && rc == 0; i++) {
        const char *expr = json_object_get_string(json_object_array_get_idx(exprs, i));
        if (!now_valid) {
            rc = exo_db_trigger_delete_pending(app->db, v->row->namespace_name, v->row->name, expr);
            continue;
        }
        int64_t next = exo_cron_next_expr(expr, now);
        if (next > 0)
            rc = exo_db_trigger_insert(app->db, expr, v->row->namespace_name, v->row->name, next,
                                     next + app->cfg.trigger_retention_ms);
    }
    json_object_put(exprs);
    return rc;
}

static void verify_one(exo_app *app, const exo_graph_row *row)
{
    char *err = NULL;
    exo_graph *g = exo_graph_from_stored(row->template_, &err);
    json_object *errors = NULL;
    if (!g) {
        errors = json_object_new_array();
        char msg[512];
        snprintf(msg, sizeof msg, "Validation failed due to unexpected error: %s", err ? err : "out of memory");
        json_object_array_add(errors, json_object_new_string(msg));
    } else {
        lookup_ctx ctx = {.app = app};
        errors = exo_graph_verify(g, lookup_registered, &ctx);
        if (ctx.failed) {
            /* "not registered" might be a database error: keep the previous verdict; the
               next verification pass (any upsert / registration) decides */
            log_error("graph %s/%s: verification skipped (registered nodes could not be read)", row->namespace_name,
                      row->name);
            json_object_put(errors);
            errors = NULL;
        }
    }
    free(err);
    if (!errors) {
        exo_graph_free(g);
        return;
    }
    exo_graph_status status = json_object_array_length(errors) == 0 ? EXO_GRAPH_VALID : EXO_GRAPH_INVALID;
    int same = status == row->validation_status && json_object_equal(errors, row->validation_errors);
    if (!same && g) {
        verdict_tx v = {.row = row, .graph = g, .status = status, .errors = errors};
        if (exo_app_tx(app, verdict_body, &v) < 0)
            log_error("graph %s/%s: saving the verification result failed", row->namespace_name, row->name);
        else if (v.changed)
            log_info("graph %s/%s verified: %s (%zu error(s))", row->namespace_name, row->name,
                     exo_graph_status_names[status],
                     json_object_array_length(errors));
    }
    json_object_put(errors);
    exo_graph_free(g);
}

void exo_verify_pass(exo_app *app, int all)
{
    exo_graph_row *rows = NULL;
    size_t n = 0;
    exo_app_db_enter(app);
    int rc = exo_db_graph_list(app->db, NULL, &rows, &n);
    exo_app_db_leave(app);
    for (size_t i = 0; rc == 0 && i < n && !atomic_load(&app->stopping); i++)
        if (all || rows[i].validation_status == EXO_GRAPH_PENDING)
            verify_one(app, &rows[i]);
    exo_graph_rows_free(rows, n);
}

static void *verify_main(void *arg)
{
    exo_app *app = arg;
    exo_verify_pass(app, 0); /* graphs left PENDING by a previous run */
    /* A database shared with other replicas: a graph stored through a replica that
       stopped before verifying it stays PENDING; look for such graphs now and then. */
    int shared = exo_db_caps(app->db) & EXO_STORAGE_CONCURRENT;
    int idle_seconds = 0;
    while (!atomic_load(&app->stopping)) {
        pthread_mutex_lock(&app->verify_lock);
        while (!app->verify_pending && !atomic_load(&app->stopping)) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&app->verify_cond, &app->verify_lock, &ts) == ETIMEDOUT && shared &&
                ++idle_seconds >= SHARED_PENDING_SCAN_S) {
                idle_seconds = 0;
                app->verify_pending = 1;
            }
        }
        int all = app->verify_all;
        app->verify_pending = 0;
        app->verify_all = 0;
        pthread_mutex_unlock(&app->verify_lock);
        if (!atomic_load(&app->stopping))
            exo_verify_pass(app, all);
    }
    return NULL;
}

/* ---- lease reaper ---------------------------------------------------------------------- */

typedef struct reap_tx {
    int reaped;
    int retried; /* of them, how many got a retry state */
    size_t nended;
    int64_t ended[REAP_BATCH]; /* creation times of the runs whose last state this ended */
} reap_tx;

static int reap_body(exo_app *app, void *arg)
{
    reap_tx *t = arg;
    t->reaped = t->retried = 0;
    t->nended = 0;
    int64_t now = exo_now_ms();
    char(*ids)[EXO_ID_LEN + 1] = NULL;
    size_t n = 0;
    if (exo_db_lease_expired(app->db, now, REAP_BATCH, &ids, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        exo_state_row st = {0};
        rc = exo_engine_state_lock(app, ids[i], &st);
        if (rc != 0)
            break;
        if (st.status != EXO_ST_QUEUED || st.lease_expires_at <= 0 || st.lease_expires_at > now) {
            exo_state_row_free(&st); /* reported or renewed since it was listed */
            continue;
        }
        char error[128];
        snprintf(error, sizeof error, "lease expired: no report from the worker within %lld ms",
                 (long long)st.lease_ms);
        int retry = 0;
        const exo_graph *g = exo_engine_run_graph(app, st.run_id, NULL);
        rc = exo_apply_errored(app, g, &st, error, now, &retry);
        exo_graph_cache_release(app->graphs, g);
        int64_t run_created_at = 0;
        if (rc == 0 && !retry && exo_db_run_finished(app->db, st.run_id, &run_created_at) < 0)
            rc = -1;
        if (run_created_at > 0)
            t->ended[t->nended++] = run_created_at;
        log_warn("state %s (%s, run %s): %s%s", st.id, st.identifier, st.run_id, error,
                 retry ? "; retry created" : "");
        exo_state_row_free(&st);
        t->reaped++;
        t->retried += retry != 0;
    }
    free(ids);
    return rc < 0 ? -1 : 0;
}

void exo_reap_leases(exo_app *app)
{
    reap_tx t = {0};
    if (exo_app_tx(app, reap_body, &t) < 0)
        log_error("lease reaper: database error");
    else if (t.reaped) {
        for (size_t i = 0; i < t.nended; i++)
            exo_metrics_observe(&app->metrics.run_duration, (exo_now_ms() - t.ended[i]) * 1000);
        exo_metrics_add(&app->metrics.leases_expired, (uint64_t)t.reaped);
        exo_metrics_add(&app->metrics.retries_lease, (uint64_t)t.retried);
        exo_app_notify_work(app, NULL, NULL); /* retries were created (their notes were sent too) */
    }
}

/* ---- cron ---------------------------------------------------------------------------------- */

typedef struct cron_tx {
    int fired;
    int none_due;
} cron_tx;

static int cron_body(exo_app *app, void *arg)
{
    cron_tx *t = arg;
    t->fired = t->none_due = 0;
    int64_t now = exo_now_ms();
    exo_trigger_row tr = {0};
    int rc = exo_db_trigger_claim(app->db, now, &tr);
    if (rc != 0) {
        t->none_due = 1;
        return rc < 0 ? -1 : 0;
    }
    char run_id[EXO_UUID_LEN + 1];
    char *message = NULL;
    if (exo_db_savepoint(app->db, "cron_fire") != 0) {
        exo_trigger_row_free(&tr);
        return -1;
    }
    json_object *empty = json_object_new_object();
    exo_result started = empty ? exo_run_start(app, tr.namespace_name, tr.graph_name, empty, empty, 0, now, run_id,
                                               &message)
                               : EXO_RESULT_FAILED;
    json_object_put(empty);
    rc = started == EXO_RESULT_OK ? 0 : -1;
    if (rc != 0) {
        if (exo_db_rollback_to(app->db, "cron_fire") != 0)
            rc = -2;
        log_warn("cron '%s' of graph %s/%s could not start a run: %s", tr.expression, tr.namespace_name,
                 tr.graph_name, message ? message : "database error");
    } else {
        log_info("cron '%s' started run %s of graph %s/%s", tr.expression, run_id, tr.namespace_name, tr.graph_name);
        t->fired++;
    }
    free(message);
    int ret = exo_db_release(app->db, "cron_fire");
    if (rc == -2 || ret != 0) {
        exo_trigger_row_free(&tr);
        return -1;
    }
    int64_t retention = app->cfg.trigger_retention_ms;
    ret = exo_db_trigger_finish(app->db, tr.id, rc == 0 ? "TRIGGERED" : "FAILED", now + retention);
    /* follow-up: the next fire time after now (a missed schedule fires once) */
    int64_t next = exo_cron_next_expr(tr.expression, tr.trigger_time > now ? tr.trigger_time : now);
    if (ret == 0 && next > 0)
        ret = exo_db_trigger_insert(app->db, tr.expression, tr.namespace_name, tr.graph_name, next, next + retention);
    exo_trigger_row_free(&tr);
    return ret;
}

void exo_cron_pass(exo_app *app)
{
    for (int i = 0; i < 100 && !atomic_load(&app->stopping); i++) {
        cron_tx t = {0};
        if (exo_app_tx(app, cron_body, &t) < 0) {
            log_error("cron scheduler: database error");
            return;
        }
        exo_metrics_add(&app->metrics.cron_firings, (uint64_t)t.fired);
        if (t.none_due)
            return;
    }
}

static int housekeeping_body(exo_app *app, void *arg)
{
    return exo_db_trigger_housekeeping(app->db, exo_now_ms(), *(int *)arg);
}

/* Run retention: one batch per tick while a pass has more to delete, so lease
 * reaping, cron and the API keep their turn; then a pause of retention_interval_ms. */
typedef struct retention_clock {
    int64_t next_ms;
    exo_retention_cursor cursor;
} retention_clock;

static void retention_tick(exo_app *app, retention_clock *rc)
{
    if (app->cfg.retention_ms <= 0 && app->cfg.retention_count == 0)
        return;
    if (exo_mono_ms() < rc->next_ms)
        return;
    int more = exo_engine_retention_step(app, &rc->cursor);
    if (more != 1)
        rc->next_ms = exo_mono_ms() + app->cfg.retention_interval_ms;
}

static void *sched_main(void *arg)
{
    exo_app *app = arg;
    int at_startup = 1;
    exo_app_tx(app, housekeeping_body, &at_startup);
    at_startup = 0;
    int64_t next_housekeeping = exo_mono_ms() + 60000;
    retention_clock retention = {0};
    while (!atomic_load(&app->stopping)) {
        exo_reap_leases(app);
        exo_cron_pass(app);
        if (exo_mono_ms() >= next_housekeeping) {
            exo_app_tx(app, housekeeping_body, &at_startup);
            next_housekeeping = exo_mono_ms() + 60000;
        }
        retention_tick(app, &retention);
        exo_sleep_ms(TICK_MS);
    }
    return NULL;
}

exo_background *exo_background_start(exo_app *app, char *err, size_t errlen)
{
    exo_background *bg = calloc(1, sizeof *bg);
    if (!bg) {
        exo_errf(err, errlen, "out of memory");
        return NULL;
    }
    bg->app = app;
    int rc = pthread_create(&bg->verify_thread, NULL, verify_main, app);
    bg->verify_started = rc == 0;
    if (rc == 0) {
        rc = pthread_create(&bg->sched_thread, NULL, sched_main, app);
        bg->sched_started = rc == 0;
    }
    if (rc != 0) {
        exo_errf(err, errlen, "cannot start background threads: %s", strerror(rc));
        atomic_store(&app->stopping, 1);
        exo_background_stop(bg);
        return NULL;
    }
    return bg;
}

void exo_background_stop(exo_background *bg)
{
    if (!bg)
        return;
    exo_app_request_verify(bg->app, 0); /* wake the verifier */
    if (bg->verify_started)
        pthread_join(bg->verify_thread, NULL);
    if (bg->sched_started)
        pthread_join(bg->sched_thread, NULL);
    free(bg);
}
