/* Read endpoints the dashboard needs beyond the run controls (exo's extensions,
 * docs/dev/API-EXTENSIONS.md): every state of a run with its details and times,
 * and a namespace's overview (unfinished states, queue depth per node, the oldest
 * waiting state, recent runs per status, states finished per minute).  Both compose existing engine queries. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "handlers.h"

#define OVERVIEW_PENDING_RUNS 200 /* unfinished runs looked into, newest first */
#define OVERVIEW_RECENT_RUNS 1000 /* runs counted per status, newest first */
#define THROUGHPUT_RUNS 200       /* runs whose states' last changes make the throughput */
#define THROUGHPUT_MINUTES 10

static json_object *time_or_null(int64_t ms)
{
    return ms > 0 ? exo_json_time(ms) : NULL;
}

static json_object *state_json(const exo_state_row *st)
{
    json_object *e = json_object_new_object();
    if (!e)
        return NULL;
    json_object_object_add(e, "state_id", json_object_new_string(st->id));
    json_object_object_add(e, "node_name", json_object_new_string(st->node_name));
    json_object_object_add(e, "identifier", json_object_new_string(st->identifier));
    json_object_object_add(e, "status", json_object_new_string(exo_status_names[st->status]));
    json_object_object_add(e, "error", st->error ? json_object_new_string(st->error) : NULL);
    json_object_object_add(e, "retry_count", json_object_new_int64(st->retry_count));
    json_object_object_add(e, "parents", json_object_get(st->parents));
    json_object_object_add(e, "inputs", json_object_get(st->inputs));
    json_object_object_add(e, "outputs", json_object_get(st->outputs));
    json_object_object_add(e, "does_unites", json_object_new_boolean(st->does_unites));
    json_object_object_add(e, "fanout_group", json_object_new_string(st->exec_group));
    json_object_object_add(e, "created_at", exo_json_time(st->created_at));
    json_object_object_add(e, "updated_at", exo_json_time(st->updated_at));
    json_object_object_add(e, "enqueue_after", time_or_null(st->enqueue_after));
    json_object_object_add(e, "lease_expires_at", time_or_null(st->lease_expires_at));
    json_object_object_add(e, "claimed_by", st->claimed_by ? json_object_new_string(st->claimed_by) : NULL);
    return e;
}

/* GET /v0/namespace/{ns}/run/{run_id}/states */
void h_run_states(exo_req *req, exo_resp *resp)
{
    const char *ns = req->params[0], *run_id = req->params[1];
    exo_run_row run = {0};
    exo_result r = exo_engine_run_get(req->app, ns, run_id, &run);
    if (r == EXO_RESULT_NOT_FOUND) {
        exo_resp_detail(resp, 404, "Run %s not found in namespace %s", run_id, ns);
        return;
    }
    if (r != EXO_RESULT_OK) {
        exo_resp_500(resp);
        return;
    }
    exo_state_row *rows = NULL;
    size_t n = 0;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    if (!o || !arr || exo_engine_run_states(req->app, ns, run_id, &rows, &n) != EXO_RESULT_OK) {
        json_object_put(o);
        json_object_put(arr);
        exo_run_row_free(&run);
        exo_state_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, state_json(&rows[i]));
    json_object_object_add(o, "namespace", json_object_new_string(ns));
    json_object_object_add(o, "run_id", json_object_new_string(run.run_id));
    json_object_object_add(o, "graph_name", json_object_new_string(run.graph_name));
    json_object_object_add(o, "status", json_object_new_string(exo_run_status_names[exo_run_status_of(&run)]));
    json_object_object_add(o, "states", arr);
    exo_run_row_free(&run);
    exo_state_rows_free(rows, n);
    exo_resp_json(resp, 200, o);
}

/* ---- overview ---------------------------------------------------------------------------------- */

typedef struct overview {
    int64_t now;
    int64_t counts[EXO_ST_COUNT];
    json_object *queue;     /* node_name -> {"node_name","created","claimable","queued"} */
    exo_state_row oldest;   /* the longest-waiting CREATED state (copied fields) */
    int has_oldest;
} overview;

static void bump(json_object *entry, const char *field)
{
    json_object *v;
    if (json_object_object_get_ex(entry, field, &v))
        json_object_set_int64(v, json_object_get_int64(v) + 1);
}

static json_object *queue_entry(overview *ov, const char *node)
{
    json_object *e;
    if (json_object_object_get_ex(ov->queue, node, &e))
        return e;
    e = json_object_new_object();
    json_object_object_add(e, "node_name", json_object_new_string(node));
    json_object_object_add(e, "created", json_object_new_int64(0));
    json_object_object_add(e, "claimable", json_object_new_int64(0));
    json_object_object_add(e, "queued", json_object_new_int64(0));
    json_object_object_add(ov->queue, node, e);
    return e;
}

static json_object *oldest_json(const overview *ov)
{
    if (!ov->has_oldest)
        return NULL;
    const exo_state_row *st = &ov->oldest;
    json_object *e = json_object_new_object();
    json_object_object_add(e, "state_id", json_object_new_string(st->id));
    json_object_object_add(e, "run_id", json_object_new_string(st->run_id));
    json_object_object_add(e, "graph_name", json_object_new_string(st->graph_name));
    json_object_object_add(e, "identifier", json_object_new_string(st->identifier));
    json_object_object_add(e, "node_name", json_object_new_string(st->node_name));
    json_object_object_add(e, "created_at", exo_json_time(st->created_at));
    json_object_object_add(e, "waiting_ms", json_object_new_int64(ov->now - st->created_at));
    return e;
}

/* Adds one unfinished run's states; takes the oldest CREATED one over (rows are
 * freed by the caller, so its strings are moved, not shared). */
static void overview_add_states(overview *ov, exo_state_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        exo_state_row *st = &rows[i];
        ov->counts[st->status]++;
        if (st->status == EXO_ST_QUEUED)
            bump(queue_entry(ov, st->node_name), "queued");
        if (st->status != EXO_ST_CREATED)
            continue;
        json_object *e = queue_entry(ov, st->node_name);
        bump(e, "created");
        if (st->enqueue_after <= ov->now)
            bump(e, "claimable");
        if (ov->has_oldest && ov->oldest.created_at <= st->created_at)
            continue;
        if (ov->has_oldest)
            exo_state_row_free(&ov->oldest);
        ov->oldest = *st;
        ov->has_oldest = 1;
        memset(st, 0, sizeof *st); /* moved */
    }
}

static int overview_scan_pending(exo_app *app, const char *ns, overview *ov, int64_t *runs_scanned)
{
    exo_run_query q = {.ns = ns, .status_mask = 1u << EXO_RUN_PENDING, .limit = OVERVIEW_PENDING_RUNS};
    exo_run_row *runs = NULL;
    size_t nruns = 0;
    if (exo_engine_run_query(app, &q, &runs, &nruns) != EXO_RESULT_OK) {
        exo_run_rows_free(runs, nruns);
        return -1;
    }
    for (size_t i = 0; i < nruns; i++) {
        exo_state_row *rows = NULL;
        size_t n = 0;
        if (exo_engine_run_states(app, ns, runs[i].run_id, &rows, &n) == EXO_RESULT_OK)
            overview_add_states(ov, rows, n);
        exo_state_rows_free(rows, n);
    }
    *runs_scanned = (int64_t)nruns;
    exo_run_rows_free(runs, nruns);
    return 0;
}

static json_object *recent_runs_json(exo_app *app, const char *ns)
{
    exo_run_query q = {.ns = ns, .limit = OVERVIEW_RECENT_RUNS};
    exo_run_row *runs = NULL;
    size_t n = 0;
    if (exo_engine_run_query(app, &q, &runs, &n) != EXO_RESULT_OK) {
        exo_run_rows_free(runs, n);
        return NULL;
    }
    int64_t per[EXO_RUN_STATUS_COUNT] = {0};
    for (size_t i = 0; i < n; i++)
        per[exo_run_status_of(&runs[i])]++;
    exo_run_rows_free(runs, n);
    json_object *o = json_object_new_object();
    for (int i = 0; i < EXO_RUN_STATUS_COUNT; i++)
        json_object_object_add(o, exo_run_status_names[i], json_object_new_int64(per[i]));
    json_object_object_add(o, "counted", json_object_new_int64((int64_t)n));
    return o;
}

/* States finished per minute over the last THROUGHPUT_MINUTES minutes, among the
 * THROUGHPUT_RUNS newest runs: [{"minutes_ago": 0, "succeeded": n, "errored": n}...]. */
static json_object *throughput_json(exo_app *app, const char *ns, int64_t now)
{
    exo_run_query q = {.ns = ns, .limit = THROUGHPUT_RUNS};
    exo_run_row *runs = NULL;
    size_t nruns = 0;
    if (exo_engine_run_query(app, &q, &runs, &nruns) != EXO_RESULT_OK) {
        exo_run_rows_free(runs, nruns);
        return NULL;
    }
    int64_t ok[THROUGHPUT_MINUTES] = {0}, failed[THROUGHPUT_MINUTES] = {0};
    for (size_t i = 0; i < nruns; i++) {
        exo_state_row *rows = NULL;
        size_t n = 0;
        if (exo_engine_run_states(app, ns, runs[i].run_id, &rows, &n) == EXO_RESULT_OK) {
            for (size_t k = 0; k < n; k++) {
                int64_t minute = (now - rows[k].updated_at) / 60000;
                if (minute < 0 || minute >= THROUGHPUT_MINUTES)
                    continue;
                exo_status st = rows[k].status;
                if (st == EXO_ST_SUCCESS || st == EXO_ST_PRUNED)
                    ok[minute]++;
                else if (st == EXO_ST_ERRORED || st == EXO_ST_NEXT_CREATED_ERROR)
                    failed[minute]++;
            }
        }
        exo_state_rows_free(rows, n);
    }
    exo_run_rows_free(runs, nruns);
    json_object *arr = json_object_new_array();
    for (int m = 0; arr && m < THROUGHPUT_MINUTES; m++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "minutes_ago", json_object_new_int(m));
        json_object_object_add(e, "succeeded", json_object_new_int64(ok[m]));
        json_object_object_add(e, "errored", json_object_new_int64(failed[m]));
        json_object_array_add(arr, e);
    }
    return arr;
}

/* GET /v0/namespace/{ns}/overview */
void h_overview(exo_req *req, exo_resp *resp)
{
    const char *ns = req->params[0];
    overview ov = {.now = exo_now_ms(), .queue = json_object_new_object()};
    int64_t scanned = 0;
    json_object *recent = NULL, *throughput = NULL;
    if (!ov.queue || overview_scan_pending(req->app, ns, &ov, &scanned) != 0 ||
        !(recent = recent_runs_json(req->app, ns)) || !(throughput = throughput_json(req->app, ns, ov.now))) {
        json_object_put(ov.queue);
        json_object_put(recent);
        if (ov.has_oldest)
            exo_state_row_free(&ov.oldest);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object(), *states = json_object_new_object(), *queue = json_object_new_array();
    for (int i = 0; i < EXO_ST_COUNT; i++)
        json_object_object_add(states, exo_status_names[i], json_object_new_int64(ov.counts[i]));
    json_object_object_foreach(ov.queue, node, entry)
    {
        (void)node;
        json_object_array_add(queue, json_object_get(entry));
    }
    json_object_object_add(o, "namespace", json_object_new_string(ns));
    json_object_object_add(o, "pending_runs_scanned", json_object_new_int64(scanned));
    json_object_object_add(o, "pending_runs_limit", json_object_new_int64(OVERVIEW_PENDING_RUNS));
    json_object_object_add(o, "states", states);
    json_object_object_add(o, "queue", queue);
    json_object_object_add(o, "oldest_waiting", oldest_json(&ov));
    json_object_object_add(o, "recent_runs", recent);
    json_object_object_add(o, "throughput", throughput);
    json_object_object_add(o, "throughput_runs_limit", json_object_new_int64(THROUGHPUT_RUNS));
    json_object_put(ov.queue);
    if (ov.has_oldest)
        exo_state_row_free(&ov.oldest);
    exo_resp_json(resp, 200, o);
}
