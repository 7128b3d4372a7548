/* Worker-facing transitions of one state (engine.h): claims, leases, reports,
 * signals, manual retry and the secrets a state may read.  Each is one transaction
 * that loads the state, checks its status and applies the change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "secrets_crypto.h"
#include "strfmt.h"

typedef struct claim_tx {
    const char *ns;
    const char *const *nodes;
    size_t nnodes, limit;
    int64_t lease_ms;
    const char *runtime_name;
    exo_state_row **rows;
    size_t *n;
    int64_t *next_due;
    int attempted;
} claim_tx;

static int claim_body(exo_app *app, void *arg)
{
    claim_tx *t = arg;
    if (t->attempted) { /* a retry: the previous attempt's rows were not committed */
        exo_state_rows_free(*t->rows, *t->n);
        *t->rows = NULL;
        *t->n = 0;
    }
    t->attempted = 1;
    return exo_db_state_claim(app->db, t->ns, t->nodes, t->nnodes, exo_now_ms(), t->lease_ms, t->runtime_name, t->limit,
                              t->rows, t->n, t->next_due);
}

/* Schedule-to-start of the states a claim took: from when each was due to now. */
static void observe_claimed(exo_app *app, const exo_state_row *rows, size_t n)
{
    int64_t now = exo_now_ms();
    for (size_t i = 0; i < n; i++)
        exo_metrics_observe(&app->metrics.schedule_to_start, (now - rows[i].enqueue_after) * 1000);
}

exo_result exo_engine_claim(exo_app *app, const char *ns, const char *const *nodes, size_t nnodes, int64_t lease_ms,
                            const char *runtime_name, size_t limit, exo_state_row **rows, size_t *n, int64_t *next_due)
{
    claim_tx t = {.ns = ns, .nodes = nodes, .nnodes = nnodes, .limit = limit, .lease_ms = lease_ms,
                  .runtime_name = runtime_name, .rows = rows, .n = n, .next_due = next_due};
    if (exo_db_caps(app->db) & EXO_STORAGE_ATOMIC_CLAIM) {
        /* one statement: no transaction round trips around it */
        exo_app_db_enter(app);
        int rc = claim_body(app, &t);
        exo_app_db_leave(app);
        if (rc == 0)
            observe_claimed(app, *rows, *n);
        return rc == 0 ? EXO_RESULT_OK : EXO_RESULT_FAILED;
    }
    if (exo_app_tx(app, claim_body, &t) == 0) {
        observe_claimed(app, *rows, *n);
        return EXO_RESULT_OK;
    }
    if (t.attempted) { /* claimed rows whose commit failed are not the caller's */
        exo_state_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return EXO_RESULT_FAILED;
}

typedef struct lease_tx {
    const char *ns;
    json_object *ids, *renewed, *lost;
    int64_t lease_ms;
} lease_tx;

/* Empties arr (a retried transaction starts its answer again). */
static void array_clear(json_object *arr)
{
    size_t len = json_object_array_length(arr);
    if (len)
        json_object_array_del_idx(arr, 0, len);
}

static int lease_body(exo_app *app, void *arg)
{
    lease_tx *t = arg;
    array_clear(t->renewed);
    array_clear(t->lost);
    int64_t until = exo_now_ms() + t->lease_ms;
    for (size_t i = 0; i < json_object_array_length(t->ids); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(t->ids, i));
        int rc = 1;
        char norm[EXO_ID_LEN + 1];
        if (exo_id_canonical(id, norm) == 0) {
            rc = exo_db_lease_renew(app->db, t->ns, norm, until, t->lease_ms);
            if (rc < 0)
                return -1;
        }
        if (json_object_array_add(rc == 0 ? t->renewed : t->lost, json_object_new_string(id)) != 0)
            return -1;
    }
    return 0;
}

exo_result exo_engine_renew_leases(exo_app *app, const char *ns, json_object *ids, int64_t lease_ms,
                                   json_object *renewed, json_object *lost)
{
    lease_tx t = {.ns = ns, .ids = ids, .renewed = renewed, .lost = lost, .lease_ms = lease_ms};
    return exo_app_tx(app, lease_body, &t) < 0 ? EXO_RESULT_FAILED : EXO_RESULT_OK;
}

/* ---- one state in one transaction ------------------------------------------------------------- */

/* A change applied to a loaded state: returns an exo_result (FAILED rolls back,
 * anything else commits what was written) and sets *detail for the client. */
typedef exo_result (*state_change)(exo_app *app, exo_state_row *st, void *arg, char **detail);

typedef struct state_tx {
    const char *ns, *id;
    state_change change;
    void *arg;
    char **detail;
    exo_result result;
} state_tx;

static int state_body(exo_app *app, void *arg)
{
    state_tx *t = arg;
    t->result = EXO_RESULT_NOT_FOUND;
    free(*t->detail); /* set by an attempt that was then retried */
    *t->detail = NULL;
    char norm[EXO_ID_LEN + 1];
    if (exo_id_canonical(t->id, norm) != 0) {
        *t->detail = exo_strfmt("State not found");
        return 0;
    }
    exo_state_row st = {0};
    /* locked until the transaction ends: a report, a signal or the lease reaper of
       another replica changing the same state waits and then sees this change */
    int rc = exo_engine_state_lock(app, norm, &st);
    if (rc < 0) {
        t->result = EXO_RESULT_FAILED;
        return -1;
    }
    if (rc == 1 || strcmp(st.namespace_name, t->ns) != 0) {
        exo_state_row_free(&st);
        *t->detail = exo_strfmt("State not found");
        return 0;
    }
    t->result = t->change(app, &st, t->arg, t->detail);
    exo_state_row_free(&st);
    return t->result == EXO_RESULT_FAILED ? -1 : 0;
}

/* Runs change on state id of ns in one transaction (the states it creates wake the
 * polls that can claim them after the commit: exo_app_tx_note_work). */
static exo_result with_state(exo_app *app, const char *ns, const char *id, state_change change, void *arg,
                             char **detail)
{
    state_tx t = {.ns = ns, .id = id, .change = change, .arg = arg, .detail = detail};
    if (exo_app_tx(app, state_body, &t) < 0)
        return EXO_RESULT_FAILED;
    return t.result;
}

static exo_result refuse_unless_queued(const exo_state_row *st, char **detail)
{
    if (st->status == EXO_ST_QUEUED)
        return EXO_RESULT_OK;
    *detail = exo_strfmt("State is not queued");
    return EXO_RESULT_REFUSED;
}

/* ---- reports ---------------------------------------------------------------------------------------- */

typedef struct executed_arg {
    json_object *outputs, *store;
    const char *logs; /* NULL: none */
    size_t logs_len;
    int64_t run_created_at; /* see note_run_end */
} executed_arg;

/* In a report's transaction, after its change (so in the same snapshot, with no
 * second trip to the database): when the run has no unfinished state left,
 * *created_at = the run's creation time, else 0.  -1 when the read failed. */
static int note_run_end(exo_app *app, const exo_state_row *st, int64_t *created_at)
{
    *created_at = 0;
    return exo_db_run_finished(app->db, st->run_id, created_at) < 0 ? -1 : 0;
}

/* After the report committed: a run it finished has its duration (trigger to now)
 * observed by the run duration histogram. */
static void observe_run_end(exo_app *app, int64_t created_at)
{
    if (created_at > 0)
        exo_metrics_observe(&app->metrics.run_duration, (exo_now_ms() - created_at) * 1000);
}

static exo_result change_executed(exo_app *app, exo_state_row *st, void *arg, char **detail)
{
    executed_arg *a = arg;
    exo_result r = refuse_unless_queued(st, detail);
    if (r != EXO_RESULT_OK)
        return r;
    if (exo_state_logs_store(app, st->id, a->logs, a->logs_len) != 0 ||
        exo_apply_executed(app, st, a->outputs, a->store, exo_now_ms()) != 0 ||
        note_run_end(app, st, &a->run_created_at) != 0)
        return EXO_RESULT_FAILED;
    return EXO_RESULT_OK;
}

exo_result exo_engine_executed(exo_app *app, const char *ns, const char *state_id, json_object *outputs,
                               json_object *store, char **detail)
{
    return exo_engine_executed_logs(app, ns, state_id, outputs, store, NULL, 0, detail);
}

exo_result exo_engine_executed_logs(exo_app *app, const char *ns, const char *state_id, json_object *outputs,
                                    json_object *store, const char *logs, size_t logs_len, char **detail)
{
    executed_arg a = {.outputs = outputs, .store = store, .logs = logs, .logs_len = logs_len};
    exo_result r = with_state(app, ns, state_id, change_executed, &a, detail);
    if (r == EXO_RESULT_OK)
        observe_run_end(app, a.run_created_at);
    return r;
}

typedef struct errored_arg {
    const char *error;
    const char *logs; /* NULL: none */
    size_t logs_len;
    int retry_created;
    int64_t run_created_at; /* see note_run_end */
} errored_arg;

static exo_result change_errored(exo_app *app, exo_state_row *st, void *arg, char **detail)
{
    errored_arg *a = arg;
    if (st->status == EXO_ST_EXECUTED) {
        *detail = exo_strfmt("State is already executed");
        return EXO_RESULT_REFUSED;
    }
    if (st->status != EXO_ST_QUEUED) {
        *detail = exo_strfmt("State is not queued or executed");
        return EXO_RESULT_REFUSED;
    }
    /* the run's own graph version (also right for states of cross-namespace node templates) */
    const exo_graph *g = exo_engine_run_graph(app, st->run_id, NULL);
    if (!g) {
        *detail = exo_strfmt("Graph template not found");
        return EXO_RESULT_NOT_FOUND;
    }
    int rc = exo_state_logs_store(app, st->id, a->logs, a->logs_len);
    if (rc == 0)
        rc = exo_apply_errored(app, g, st, a->error, exo_now_ms(), &a->retry_created);
    if (rc == 0)
        rc = note_run_end(app, st, &a->run_created_at); /* a retry created: not finished */
    exo_graph_cache_release(app->graphs, g);
    return rc == 0 ? EXO_RESULT_OK : EXO_RESULT_FAILED;
}

exo_result exo_engine_errored(exo_app *app, const char *ns, const char *state_id, const char *error,
                              int *retry_created, char **detail)
{
    return exo_engine_errored_logs(app, ns, state_id, error, NULL, 0, retry_created, detail);
}

exo_result exo_engine_errored_logs(exo_app *app, const char *ns, const char *state_id, const char *error,
                                   const char *logs, size_t logs_len, int *retry_created, char **detail)
{
    errored_arg a = {.error = error, .logs = logs, .logs_len = logs_len};
    exo_result r = with_state(app, ns, state_id, change_errored, &a, detail);
    *retry_created = a.retry_created;
    if (r == EXO_RESULT_OK)
        observe_run_end(app, a.run_created_at);
    if (r == EXO_RESULT_OK && a.retry_created)
        exo_metrics_add(&app->metrics.retries_error, 1);
    return r;
}

typedef struct signal_arg {
    json_object *data;
    int64_t delay_ms;
    int64_t enqueue_after;
    int64_t run_created_at; /* see note_run_end (prune) */
} signal_arg;

static exo_result change_pruned(exo_app *app, exo_state_row *st, void *arg, char **detail)
{
    signal_arg *a = arg;
    exo_result r = refuse_unless_queued(st, detail);
    if (r != EXO_RESULT_OK)
        return r;
    if (exo_apply_pruned(app, st, a->data, exo_now_ms()) != 0 || note_run_end(app, st, &a->run_created_at) != 0)
        return EXO_RESULT_FAILED;
    a->enqueue_after = st->enqueue_after;
    return EXO_RESULT_OK;
}

exo_result exo_engine_prune(exo_app *app, const char *ns, const char *state_id, json_object *data,
                            int64_t *enqueue_after, char **detail)
{
    signal_arg a = {.data = data};
    exo_result r = with_state(app, ns, state_id, change_pruned, &a, detail);
    *enqueue_after = a.enqueue_after;
    if (r == EXO_RESULT_OK)
        observe_run_end(app, a.run_created_at);
    return r;
}

static exo_result change_reenqueued(exo_app *app, exo_state_row *st, void *arg, char **detail)
{
    signal_arg *a = arg;
    exo_result r = refuse_unless_queued(st, detail);
    if (r != EXO_RESULT_OK)
        return r;
    int64_t now = exo_now_ms();
    st->status = EXO_ST_CREATED;
    st->enqueue_after = exo_add_saturating(now, a->delay_ms);
    st->updated_at = now;
    st->lease_expires_at = 0;
    if (exo_db_state_update(app->db, st) != 0)
        return EXO_RESULT_FAILED;
    exo_app_tx_note_work(app, st->namespace_name, st->node_name);
    a->enqueue_after = st->enqueue_after;
    return EXO_RESULT_OK;
}

exo_result exo_engine_reenqueue(exo_app *app, const char *ns, const char *state_id, int64_t delay_ms,
                                int64_t *enqueue_after, char **detail)
{
    signal_arg a = {.delay_ms = delay_ms};
    exo_result r = with_state(app, ns, state_id, change_reenqueued, &a, detail);
    *enqueue_after = a.enqueue_after;
    return r;
}

/* ---- manual retry ------------------------------------------------------------------------------------ */

typedef struct retry_arg {
    const char *fanout_id;
    char new_id[EXO_ID_LEN + 1];
} retry_arg;

static exo_result change_manual_retry(exo_app *app, exo_state_row *st, void *arg, char **detail)
{
    retry_arg *a = arg;
    exo_run_row run = {0};
    int rc = exo_db_run_get(app->db, st->namespace_name, st->run_id, &run);
    int cancelled = rc == 0 && run.cancelled_at > 0;
    exo_run_row_free(&run);
    if (rc < 0)
        return EXO_RESULT_FAILED;
    if (cancelled) {
        *detail = exo_strfmt("Run %s was cancelled: its states are not retried", st->run_id);
        return EXO_RESULT_CONFLICT;
    }
    return exo_apply_manual_retry(app, st, a->fanout_id, a->new_id, detail);
}

exo_result exo_apply_manual_retry(exo_app *app, exo_state_row *st, const char *fanout_id, char new_id[EXO_ID_LEN + 1],
                                  char **detail)
{
    if (st->status != EXO_ST_ERRORED && st->status != EXO_ST_NEXT_CREATED_ERROR) {
        *detail = exo_strfmt("State is not errored: only ERRORED or NEXT_CREATED_ERROR states can be retried");
        return EXO_RESULT_REFUSED;
    }
    int64_t now = exo_now_ms();
    exo_state_row r = {0};
    exo_result result = EXO_RESULT_FAILED;
    if (exo_state_init_retry(&r, st, fanout_id, now) != 0)
        goto out;
    free(r.manual_retry_fanout_id);
    r.manual_retry_fanout_id = strdup(fanout_id);
    if (!r.manual_retry_fanout_id)
        goto out;
    int rc = exo_db_state_insert(app->db, &r);
    if (rc < 0)
        goto out;
    if (rc == 0)
        exo_metrics_state_created(&app->metrics, r.namespace_name, r.node_name);
    if (rc == 0 && r.status == EXO_ST_CREATED)
        exo_app_tx_note_work(app, r.namespace_name, r.node_name);
    if (rc == 1) {
        *detail = exo_strfmt("Duplicate retry state detected");
        result = EXO_RESULT_CONFLICT;
        goto out;
    }
    if (exo_db_ancestors_copy(app->db, st->id, r.id) != 0)
        goto out;
    st->status = EXO_ST_RETRY_CREATED;
    st->updated_at = now;
    if (exo_db_state_update(app->db, st) != 0)
        goto out;
    exo_metrics_state_finished(&app->metrics, st->namespace_name, st->node_name, (int)st->status);
    memcpy(new_id, r.id, EXO_ID_LEN + 1);
    result = EXO_RESULT_OK;
out:
    exo_state_row_free(&r);
    return result;
}

exo_result exo_engine_manual_retry(exo_app *app, const char *ns, const char *state_id, const char *fanout_id,
                                   char new_id[EXO_ID_LEN + 1], char **detail)
{
    retry_arg a = {.fanout_id = fanout_id};
    exo_result r = with_state(app, ns, state_id, change_manual_retry, &a, detail);
    memcpy(new_id, a.new_id, sizeof a.new_id);
    return r;
}

/* ---- secrets ------------------------------------------------------------------------------------------- */

/* Decrypts every stored secret of a graph template into out.  0, or -1 (logged,
 * and *detail says why when the key is the problem). */
static int decrypt_secrets(exo_app *app, const exo_graph_row *g, json_object *out, char **detail)
{
    json_object *stored = NULL;
    if (!json_object_object_get_ex(g->template_, "secrets", &stored) || !json_object_is_type(stored, json_type_object) ||
        json_object_object_length(stored) == 0)
        return 0;
    if (!app->cfg.have_key) {
        log_error("secrets of graph %s/%s requested but %s", g->namespace_name, g->name, app->cfg.key_error);
        *detail = exo_strfmt("Secrets of graph %s cannot be decrypted: %s", g->name, app->cfg.key_error);
        return -1;
    }
    json_object_object_foreach(stored, name, val)
    {
        char why[160];
        char *plain = exo_secret_decrypt(&app->cfg.key, json_object_get_string(val), why, sizeof why);
        if (!plain) {
            log_error("secret '%s' of graph %s/%s cannot be decrypted: %s", name, g->namespace_name, g->name, why);
            *detail = exo_strfmt("Secret %s of graph %s cannot be decrypted with this SECRETS_ENCRYPTION_KEY (was "
                                 "the state manager restarted with another key?)",
                                 name, g->name);
            return -1;
        }
        json_object_object_add(out, name, json_object_new_string(plain));
        free(plain);
    }
    return 0;
}

typedef struct secrets_arg {
    json_object *secrets;
} secrets_arg;

static exo_result read_secrets(exo_app *app, exo_state_row *st, void *arg, char **detail)
{
    secrets_arg *a = arg;
    json_object_put(a->secrets); /* from an attempt that was retried */
    a->secrets = NULL;
    exo_graph_row g = {0};
    int64_t version;
    char *run_ns = NULL;
    int rc = exo_engine_run_version(app, st->run_id, &version, &run_ns);
    if (rc == 0)
        rc = exo_db_graph_get(app->db, run_ns, st->graph_name, &g);
    free(run_ns);
    if (rc != 0) {
        if (rc == 1)
            *detail = exo_strfmt("Graph template not found");
        return exo_result_of(rc);
    }
    a->secrets = json_object_new_object();
    exo_result result = a->secrets && decrypt_secrets(app, &g, a->secrets, detail) == 0 ? EXO_RESULT_OK : EXO_RESULT_FAILED;
    exo_graph_row_free(&g);
    if (result != EXO_RESULT_OK) {
        json_object_put(a->secrets);
        a->secrets = NULL;
    }
    return result;
}

exo_result exo_engine_state_secrets(exo_app *app, const char *ns, const char *state_id, json_object **secrets,
                                    char **detail)
{
    secrets_arg a = {0};
    exo_result r = with_state(app, ns, state_id, read_secrets, &a, detail);
    *secrets = a.secrets;
    return r;
}
