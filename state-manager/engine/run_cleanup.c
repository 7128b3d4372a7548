/* Deleting runs (engine.h): purge of finished runs, graph deletion and retention,
 * always in transactions of at most EXO_PURGE_BATCH runs so that other requests
 * get the database between two of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"

/* ---- purge, graph deletion, retention --------------------------------------------------------------- */

typedef struct delete_tx {
    exo_run_row *rows;
    size_t n;
    int finished_only; /* a purge: a run revived since it was listed stays */
    int64_t deleted;
} delete_tx;

static int delete_body(exo_app *app, void *arg)
{
    delete_tx *t = arg;
    for (size_t i = 0; i < t->n; i++) {
        int rc = exo_db_run_delete(app->db, t->rows[i].run_id, t->finished_only);
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
        delete_tx t = {.rows = rows, .n = n, .finished_only = q.status_mask == EXO_RUN_FINISHED_MASK};
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
        exo_app_db_yield(app);
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
        int rc = exo_db_run_delete(app->db, t->rows[i].run_id, 1);
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
