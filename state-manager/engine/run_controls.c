/* Run controls (engine.h): cancelling a run, and retrying the errored states of a
 * run or of a graph's failed runs in bulk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"

/* ---- cancel ----------------------------------------------------------------------------------------- */

typedef struct cancel_tx {
    const char *ns, *run_id, *by;
    int64_t now, cancelled;
    char **detail;
    exo_result result;
} cancel_tx;

/* Ends the unfinished states of one listing of the run as ERRORED with the cancel
 * message, each re-read under its row lock (state_lock: a report or claim of
 * another process may have changed it since the listing).  *changed: how many. */
static int cancel_pass(exo_app *app, cancel_tx *t, const char *message, int64_t *changed)
{
    exo_state_row *rows = NULL;
    size_t n = 0;
    *changed = 0;
    if (exo_db_states_of_run(app->db, t->ns, t->run_id, &rows, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!exo_status_unfinished(rows[i].status))
            continue;
        exo_state_row st = {0};
        int got = exo_engine_state_lock(app, rows[i].id, &st);
        if (got != 0) {
            rc = got < 0 ? -1 : 0;
            continue;
        }
        if (exo_status_unfinished(st.status)) {
            free(st.error);
            st.error = strdup(message);
            st.status = EXO_ST_ERRORED;
            st.lease_expires_at = 0;
            st.updated_at = t->now;
            rc = st.error && exo_db_state_update(app->db, &st) == 0 ? 0 : -1;
            if (rc == 0)
                exo_metrics_state_finished(&app->metrics, st.namespace_name, st.node_name, (int)st.status);
            ++*changed;
        }
        exo_state_row_free(&st);
    }
    exo_state_rows_free(rows, n);
    return rc;
}

/* Ends every unfinished state of the run.  Listing again until a pass finds none
 * catches the states that a report committed meanwhile (on a concurrent backend
 * each listing is a new snapshot; the report held the lock of a state the pass
 * waited for). */
static int cancel_states(exo_app *app, cancel_tx *t)
{
    char when[40];
    exo_iso_time(t->now, when);
    char *message = exo_strfmt("Run cancelled by %s at %s", t->by, when);
    if (!message)
        return -1;
    int64_t changed = 0;
    int rc;
    do {
        rc = cancel_pass(app, t, message, &changed);
        t->cancelled += changed;
    } while (rc == 0 && changed > 0);
    free(message);
    return rc;
}

static int cancel_body(exo_app *app, void *arg)
{
    cancel_tx *t = arg;
    t->cancelled = 0; /* a retried transaction starts over */
    /* The mark first: it locks the run, so cancels of one run (from any process)
       are serialised here; it is rolled back below when the run was not pending. */
    int marked = exo_db_run_mark_cancelled(app->db, t->run_id, t->by, t->now);
    if (marked < 0)
        return -1;
    exo_run_row run = {0};
    int rc = exo_db_run_get(app->db, t->ns, t->run_id, &run);
    if (rc != 0) {
        t->result = exo_result_of(rc);
        if (rc == 1)
            *t->detail = exo_strfmt("Run %s not found in namespace %s", t->run_id, t->ns);
        return -1;
    }
    if (marked == 0)
        run.cancelled_at = 0; /* the status it had before this mark */
    exo_run_status status = exo_run_status_of(&run);
    exo_run_row_free(&run);
    if (status != EXO_RUN_PENDING) {
        t->result = EXO_RESULT_CONFLICT;
        *t->detail = exo_strfmt("Run %s has already finished (%s): there is nothing to cancel", t->run_id,
                                exo_run_status_names[status]);
        return -1;
    }
    if (cancel_states(app, t) != 0)
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
        exo_app_notify_work(app, ns, NULL);
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

