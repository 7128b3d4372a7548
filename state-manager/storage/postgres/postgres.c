/* PostgreSQL backend of the storage interface (storage.h), EXO_STORAGE_CONCURRENT.
 *
 * Connections: a pool of --db-pool connections opened from the --db URI
 * (postgres:// or postgresql://; libpq's PG* environment variables fill what the URI
 * leaves out).  An op outside a transaction borrows a free connection for its one
 * statement; begin() binds a connection to the calling thread (a pthread key of
 * this handle) until commit() / rollback(), so every op of that thread in between
 * runs inside the transaction.
 *
 * Statements: every query is a named prepared statement (prepared on first use on
 * each connection) with parameters passed apart from the SQL text.  The claim reads a
 * partial index of the CREATED states: small, and the one a generic plan picks.  Isolation is
 * READ COMMITTED; the ops marked [locks] in storage.h take the locks that make the
 * engine's checks race-free across replicas (docs/dev/POSTGRES.md):
 *   state_lock      SELECT ... FOR UPDATE of the state being changed;
 *   state_claim     one UPDATE over a FOR UPDATE SKIP LOCKED sub-select;
 *   lease_expired   FOR UPDATE SKIP LOCKED: one reaper per expired state;
 *   trigger_claim   one UPDATE over a FOR UPDATE SKIP LOCKED sub-select;
 *   group_has_status  a transaction-scoped advisory lock on the group, then the
 *                   check in a new statement (whose snapshot sees every commit
 *                   made before the lock was granted).
 * Uniqueness conflicts (lane key, unite key, duplicate triggers) are ON CONFLICT DO
 * NOTHING, so they never abort the surrounding transaction.
 *
 * Errors: a deadlock or serialization failure marks the thread's transaction
 * retryable; a lost connection marks the database unreachable (health) and the
 * connection broken: it is re-established on its next use, at most every
 * RECONNECT_MAX_MS with exponential backoff.
 *
 * Work notifications: a trigger on states NOTIFYs channel exo_work with
 * "namespace<US>node" whenever a row becomes CREATED (delivered at commit, by any
 * replica); listen_work() starts a thread with its own connection that LISTENs and
 * hands each notification to the callback.
 *
 * Schema: table exo_schema holds the number of migrations applied; opening applies
 * the missing ones in one transaction under an advisory lock (replicas starting
 * together migrate once) and refuses a newer schema. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "pg.h"
#include "strfmt.h"

/* ---- nodes ---------------------------------------------------------------------------------- */

static int read_node(const PGresult *r, int i, void *row)
{
    exo_node_row *n = row;
    pg_col_id(r, i, 0, n->id);
    n->created_at = pg_col_int(r, i, 1);
    n->updated_at = pg_col_int(r, i, 2);
    n->name = pg_col_text(r, i, 3);
    n->namespace_name = pg_col_text(r, i, 4);
    n->runtime_name = pg_col_text(r, i, 5);
    n->inputs_schema = pg_col_json(r, i, 6);
    n->outputs_schema = pg_col_json(r, i, 7);
    n->secrets = pg_col_json(r, i, 8);
    n->registered_at = pg_col_int(r, i, 9);
    return n->name && n->namespace_name && n->runtime_name && pg_json_read(r, i, 6, n->inputs_schema) &&
                   pg_json_read(r, i, 7, n->outputs_schema) && pg_json_read(r, i, 8, n->secrets)
               ? 0
               : -1;
}

static void free_node_row(void *row) { exo_node_row_free(row); }
static const pg_row_kind node_rows = {"node", sizeof(exo_node_row), read_node, free_node_row};

static int pg_node_upsert(exo_storage *s, const exo_node_row *n)
{
    pg_params p = {0};
    pg_param_text(&p, n->id);
    pg_param_int(&p, n->created_at);
    pg_param_int(&p, n->updated_at);
    pg_param_text(&p, n->name);
    pg_param_text(&p, n->namespace_name);
    pg_param_text(&p, n->runtime_name);
    pg_param_json(&p, n->inputs_schema);
    pg_param_json(&p, n->outputs_schema);
    pg_param_json(&p, n->secrets);
    pg_param_int(&p, n->registered_at);
    return pg_exec_ok(s, ST_NODE_UPSERT, &p);
}

static int pg_node_get(exo_storage *s, const char *ns, const char *name, exo_node_row *out)
{
    pg_params p = {0};
    pg_param_text(&p, ns);
    pg_param_text(&p, name);
    return pg_fetch_one(pg_query(s, ST_NODE_GET, &p, 0), &node_rows, out);
}

static int pg_node_list(exo_storage *s, const char *ns, exo_node_row **out, size_t *n)
{
    pg_params p = {0};
    pg_param_text(&p, ns);
    return pg_fetch_all(pg_query(s, ST_NODE_LIST, &p, 0), &node_rows, (void **)out, n);
}

static int pg_namespaces(exo_storage *s, json_object **out)
{
    *out = json_object_new_array();
    PGresult *r = pg_query(s, ST_NAMESPACES, NULL, 0);
    if (!r || !*out) {
        PQclear(r);
        return -1;
    }
    int ret = 0;
    for (int i = 0; i < PQntuples(r) && ret == 0; i++) {
        json_object *item = json_object_new_string(PQgetvalue(r, i, 0));
        if (!item || json_object_array_add(*out, item) != 0) {
            json_object_put(item);
            ret = -1;
        }
    }
    PQclear(r);
    return ret;
}

/* ---- graphs ---------------------------------------------------------------------------------- */

static int read_graph(const PGresult *r, int i, void *row)
{
    exo_graph_row *g = row;
    pg_col_id(r, i, 0, g->id);
    g->created_at = pg_col_int(r, i, 1);
    g->updated_at = pg_col_int(r, i, 2);
    g->namespace_name = pg_col_text(r, i, 3);
    g->name = pg_col_text(r, i, 4);
    g->version = pg_col_int(r, i, 5);
    g->template_ = pg_col_json(r, i, 6);
    int status = exo_graph_status_from_name(PQgetvalue(r, i, 7));
    g->validation_status = status < 0 ? EXO_GRAPH_PENDING : (exo_graph_status)status;
    g->validation_errors = pg_col_json(r, i, 8);
    return g->namespace_name && g->name && pg_json_read(r, i, 6, g->template_) && status >= 0 &&
                   pg_json_read(r, i, 8, g->validation_errors)
               ? 0
               : -1;
}

static void free_graph_row(void *row) { exo_graph_row_free(row); }
static const pg_row_kind graph_rows = {"graph", sizeof(exo_graph_row), read_graph, free_graph_row};

static int pg_graph_get(exo_storage *s, const char *ns, const char *name, exo_graph_row *out)
{
    pg_params p = {0};
    pg_param_text(&p, ns);
    pg_param_text(&p, name);
    return pg_fetch_one(pg_query(s, ST_GRAPH_GET, &p, 0), &graph_rows, out);
}

static int pg_graph_save(exo_storage *s, exo_graph_row *g)
{
    pg_params p = {0};
    pg_param_text(&p, g->namespace_name);
    pg_param_text(&p, g->name);
    pg_param_json(&p, g->template_);
    PGresult *r = pg_query(s, ST_GRAPH_VERSION_INSERT, &p, 0);
    if (!r)
        return -1;
    g->version = PQntuples(r) == 1 ? pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    if (g->version <= 0)
        return -1;
    pg_params u = {0};
    pg_param_text(&u, g->id);
    pg_param_int(&u, g->created_at);
    pg_param_int(&u, g->updated_at);
    pg_param_text(&u, g->namespace_name);
    pg_param_text(&u, g->name);
    pg_param_int(&u, g->version);
    pg_param_text(&u, exo_graph_status_names[g->validation_status]);
    pg_param_json(&u, g->validation_errors);
    return pg_exec_ok(s, ST_GRAPH_UPSERT, &u);
}

static int pg_graph_set_validation(exo_storage *s, const char *ns, const char *name, int64_t version,
                                   exo_graph_status status, json_object *errors, int64_t now)
{
    pg_params p = {0};
    pg_param_text(&p, exo_graph_status_names[status]);
    pg_param_json(&p, errors);
    pg_param_int(&p, now);
    pg_param_text(&p, ns);
    pg_param_text(&p, name);
    pg_param_int(&p, version);
    int64_t n = pg_exec_count(s, ST_GRAPH_SET_VALIDATION, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_graph_list(exo_storage *s, const char *ns, exo_graph_row **out, size_t *n)
{
    pg_params p = {0};
    if (ns)
        pg_param_text(&p, ns);
    return pg_fetch_all(pg_query(s, ns ? ST_GRAPH_LIST_NS : ST_GRAPH_LIST_ALL, &p, 0), &graph_rows, (void **)out, n);
}

static int pg_graph_version(exo_storage *s, int64_t version, json_object **tpl)
{
    pg_params p = {0};
    pg_param_int(&p, version);
    PGresult *r = pg_query(s, ST_GRAPH_VERSION, &p, 0);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        *tpl = pg_col_json(r, 0, 0);
        ret = *tpl ? 0 : -1;
    }
    PQclear(r);
    return ret;
}

static int pg_graph_delete(exo_storage *s, const char *ns, const char *name)
{
    pg_params p = {0};
    pg_param_text(&p, ns);
    pg_param_text(&p, name);
    int64_t n = pg_exec_count(s, ST_GRAPH_DELETE, &p); /* row lock: a second replica's delete waits, then finds none */
    if (n <= 0)
        return n < 0 ? -1 : 1;
    pg_params t = {0}, l = {0}, v = {0};
    pg_param_text(&t, ns);
    pg_param_text(&t, name);
    pg_param_text(&l, ns);
    pg_param_text(&l, name);
    pg_param_text(&v, ns);
    pg_param_text(&v, name);
    /* The versions are locked first (waiting for runs being created from them,
       which key-share lock theirs), then deleted in a new statement whose snapshot
       sees those runs: a version a run was just created with is kept. */
    if (pg_exec_ok(s, ST_GRAPH_DELETE_TRIGGERS, &t) != 0 || pg_exec_ok(s, ST_GRAPH_LOCK_VERSIONS, &l) != 0)
        return -1;
    return pg_exec_ok(s, ST_GRAPH_DELETE_VERSIONS, &v);
}

/* ---- runs and store ----------------------------------------------------------------------------- */

static int pg_run_insert(exo_storage *s, const char *run_id, const char *ns, const char *graph, int64_t version,
                         int64_t created_at)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    pg_param_text(&p, ns);
    pg_param_text(&p, graph);
    pg_param_int(&p, version);
    pg_param_int(&p, created_at);
    return pg_exec_ok(s, ST_RUN_INSERT, &p);
}

static int pg_run_version(exo_storage *s, const char *run_id, int64_t *version, char **ns)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    PGresult *r = pg_query(s, ST_RUN_VERSION, &p, 0);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        *version = pg_col_int(r, 0, 0);
        *ns = pg_col_text(r, 0, 1);
        ret = *ns ? 0 : -1;
    }
    PQclear(r);
    return ret;
}

/* Fills the counts of rows[0..n) with one statement. */
static int run_counts(exo_storage *s, exo_run_row *rows, size_t n)
{
    if (n == 0)
        return 0;
    const char **ids = calloc(n, sizeof *ids);
    if (!ids)
        return -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = rows[i].run_id;
    pg_params p = {0};
    int rc = pg_param_text_array(&p, ids, n);
    free(ids);
    if (rc != 0)
        return -1;
    PGresult *r = pg_query(s, ST_RUN_COUNTS, &p, 0);
    if (!r)
        return -1;
    int ret = 0;
    for (int i = 0; i < PQntuples(r) && ret == 0; i++) {
        int64_t place = pg_col_int(r, i, 0);
        int idx = exo_status_from_name(PQgetvalue(r, i, 1));
        if (idx < 0 || place < 1 || place > (int64_t)n)
            ret = -1; /* an unknown status: the counts would be wrong */
        else
            rows[place - 1].counts[idx] = pg_col_int(r, i, 2);
    }
    PQclear(r);
    return ret;
}

static int read_run(const PGresult *r, int i, void *row)
{
    exo_run_row *run = row;
    run->run_id = pg_col_text(r, i, 0);
    run->graph_name = pg_col_text(r, i, 1);
    run->namespace_name = pg_col_text(r, i, 2);
    run->created_at = pg_col_int(r, i, 3);
    run->seq = pg_col_int(r, i, 4);
    run->cancelled_at = pg_col_int(r, i, 5);
    run->cancelled_by = pg_col_text(r, i, 6);
    int by_ok = run->cancelled_by || PQgetisnull(r, i, 6);
    return run->run_id && run->graph_name && run->namespace_name && by_ok ? 0 : -1;
}

static void free_run_row(void *row) { exo_run_row_free(row); }
static const pg_row_kind run_rows = {"run", sizeof(exo_run_row), read_run, free_run_row};

/* fetch_all of runs, then their counts; on failure nothing is returned. */
static int fetch_runs(exo_storage *s, PGresult *r, exo_run_row **out, size_t *n)
{
    if (pg_fetch_all(r, &run_rows, (void **)out, n) != 0)
        return -1;
    if (run_counts(s, *out, *n) == 0)
        return 0;
    exo_run_rows_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

static int pg_run_page(exo_storage *s, const char *ns, int64_t offset, int64_t limit, exo_run_row **out, size_t *n,
                       int64_t *total)
{
    *out = NULL;
    *n = 0;
    pg_params c = {0};
    pg_param_text(&c, ns);
    PGresult *r = pg_query(s, ST_RUN_COUNT, &c, 0);
    if (!r)
        return -1;
    *total = PQntuples(r) > 0 ? pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    pg_params p = {0};
    pg_param_text(&p, ns);
    pg_param_int(&p, limit);
    pg_param_int(&p, offset);
    return fetch_runs(s, pg_query(s, ST_RUN_PAGE, &p, 0), out, n);
}

static int pg_run_get(exo_storage *s, const char *ns, const char *run_id, exo_run_row *out)
{
    /* [locks] inside a transaction the run is share-locked until it ends: a cancel
       of another replica (run_mark_cancelled) waits for a retry that checked the
       mark, and a retry checking it waits for that cancel */
    int in_tx = pthread_getspecific(((pg_storage *)s)->bound) != NULL;
    pg_params p = {0};
    pg_param_text(&p, run_id);
    pg_param_text(&p, ns);
    int rc = pg_fetch_one(pg_query(s, in_tx ? ST_RUN_GET_SHARE : ST_RUN_GET, &p, 0), &run_rows, out);
    if (rc == 0 && run_counts(s, out, 1) != 0) {
        exo_run_row_free(out);
        return -1;
    }
    return rc;
}

/* Only PENDING runs asked for: the few runs with an unfinished state are then
 * found through the partial indexes of CREATED, QUEUED and EXECUTED states first,
 * instead of probing the states of every run (the status condition still
 * decides). */
static int query_pending_only(const exo_run_query *q)
{
    return (q->status_mask & ((1u << EXO_RUN_STATUS_COUNT) - 1)) == (1u << EXO_RUN_PENDING);
}

/* The run_query statement for q into sql, its parameters into p (each filter
 * numbers its parameter p->n + 1 before adding it): the WHERE clause holds only
 * the filters q uses.  0, or -1 out of memory. */
static int build_run_query(const exo_run_query *q, char **sql, pg_params *p)
{
    size_t len = 0;
    FILE *f = open_memstream(sql, &len);
    if (!f)
        return -1;
    fputs("SELECT r.run_id, r.graph_name, r.namespace_name, r.created_at, r.seq, r.cancelled_at, r.cancelled_by"
          " FROM runs r WHERE true", f);
    if (q->ns) {
        fprintf(f, " AND r.namespace_name=$%d", p->n + 1);
        pg_param_text(p, q->ns);
    }
    if (q->graph_name) {
        fprintf(f, " AND r.graph_name=$%d", p->n + 1);
        pg_param_text(p, q->graph_name);
    }
    if (q->since > 0) {
        fprintf(f, " AND r.created_at>=$%d", p->n + 1);
        pg_param_int(p, q->since);
    }
    if (q->until > 0) {
        fprintf(f, " AND r.created_at<$%d", p->n + 1);
        pg_param_int(p, q->until);
    }
    if (q->run_id_prefix) {
        fprintf(f, " AND starts_with(r.run_id, $%d::text)", p->n + 1);
        pg_param_text(p, q->run_id_prefix);
    }
    if (q->after_seq > 0) {
        fprintf(f, " AND (r.created_at, r.seq) < ($%d::bigint, $%d::bigint)", p->n + 1, p->n + 2);
        pg_param_int(p, q->after_created_at);
        pg_param_int(p, q->after_seq);
    }
    if (query_pending_only(q)) {
        const char *ns_cond = "";
        char cond[48];
        if (q->ns) {
            snprintf(cond, sizeof cond, " AND s.namespace_name=$%d", p->n + 1);
            ns_cond = cond;
            pg_param_text(p, q->ns);
        }
        fprintf(f,
                " AND r.run_id IN (SELECT s.run_id FROM states s WHERE s.status='CREATED'%s"
                " UNION SELECT s.run_id FROM states s WHERE s.status='QUEUED'%s"
                " UNION SELECT s.run_id FROM states s WHERE s.status='EXECUTED'%s)",
                ns_cond, ns_cond, ns_cond);
    }
    unsigned mask = q->status_mask & ((1u << EXO_RUN_STATUS_COUNT) - 1);
    exo_run_status_condition(f, mask);
    fprintf(f, " ORDER BY r.created_at DESC, r.seq DESC LIMIT $%d", p->n + 1);
    pg_param_int(p, q->limit);
    if (fclose(f) != 0) {
        free(*sql);
        *sql = NULL;
        return -1;
    }
    return 0;
}

static int pg_run_query(exo_storage *s, const exo_run_query *q, exo_run_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char *sql = NULL;
    pg_params p = {0};
    if (build_run_query(q, &sql, &p) != 0) {
        log_error("postgres: out of memory building the run query");
        return -1;
    }
    int rc = fetch_runs(s, pg_query_text(s, sql, &p), out, n);
    free(sql);
    return rc;
}

static int pg_run_mark_cancelled(exo_storage *s, const char *run_id, const char *by, int64_t at)
{
    /* [locks] the UPDATE row-locks the run: of two replicas cancelling it at once,
       the later one waits, then finds it marked (1) */
    pg_params p = {0};
    pg_param_int(&p, at);
    pg_param_text(&p, by);
    pg_param_text(&p, run_id);
    int64_t n = pg_exec_count(s, ST_RUN_MARK_CANCELLED, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_run_delete(exo_storage *s, const char *run_id, int finished_only)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    pg_param_int(&p, finished_only);
    PGresult *r = pg_query(s, ST_RUN_DELETE, &p, 0);
    if (!r)
        return -1;
    int64_t deleted = PQntuples(r) > 0 ? pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    return deleted > 0 ? 0 : 1;
}

static int pg_store_put(exo_storage *s, const char *run_id, const char *ns, const char *graph, const char *key,
                        json_object *value)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    pg_param_text(&p, ns);
    pg_param_text(&p, graph);
    pg_param_text(&p, key);
    /* binary: the value may contain U+0000 */
    pg_param_bytes(&p, json_object_get_string(value), json_object_get_string_len(value));
    return pg_exec_deferred(s, ST_STORE_PUT, &p);
}

static int pg_store_get(exo_storage *s, const char *run_id, const char *ns, const char *graph, const char *key,
                        json_object **value)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    pg_param_text(&p, ns);
    pg_param_text(&p, graph);
    pg_param_text(&p, key);
    PGresult *r = pg_query(s, ST_STORE_GET, &p, 1);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        *value = json_object_new_string_len(PQgetvalue(r, 0, 0), PQgetlength(r, 0, 0));
        ret = *value ? 0 : -1;
    }
    PQclear(r);
    return ret;
}

/* ---- states ------------------------------------------------------------------------------------- */

static int read_state(const PGresult *r, int i, void *row)
{
    exo_state_row *st = row;
    memset(st, 0, sizeof *st); /* fields no column fills (run_version, run_namespace) */
    pg_col_id(r, i, 0, st->id);
    st->created_at = pg_col_int(r, i, 1);
    st->updated_at = pg_col_int(r, i, 2);
    st->node_name = pg_col_text(r, i, 3);
    st->namespace_name = pg_col_text(r, i, 4);
    st->identifier = pg_col_text(r, i, 5);
    st->graph_name = pg_col_text(r, i, 6);
    st->run_id = pg_col_text(r, i, 7);
    int status = exo_status_from_name(PQgetvalue(r, i, 8));
    st->status = status < 0 ? EXO_ST_CREATED : (exo_status)status;
    st->inputs = pg_col_json(r, i, 9);
    st->outputs = pg_col_json(r, i, 10);
    st->data = pg_col_json(r, i, 11);
    st->error = pg_col_text(r, i, 12);
    st->parents = pg_col_json(r, i, 13);
    st->does_unites = (int)pg_col_int(r, i, 14);
    st->unite_key = pg_col_text(r, i, 15);
    st->enqueue_after = pg_col_int(r, i, 16);
    st->retry_count = pg_col_int(r, i, 17);
    st->fanout_id = pg_col_text(r, i, 18);
    st->manual_retry_fanout_id = pg_col_text(r, i, 19);
    pg_col_id(r, i, 20, st->exec_group);
    st->lease_expires_at = pg_col_int(r, i, 21);
    st->lease_ms = pg_col_int(r, i, 22);
    st->claimed_by = pg_col_text(r, i, 23);
    int claimer_ok = st->claimed_by || PQgetisnull(r, i, 23);
    int error_ok = st->error || PQgetisnull(r, i, 12);
    int unite_ok = st->unite_key || PQgetisnull(r, i, 15);
    return st->node_name && st->namespace_name && st->identifier && st->graph_name && st->run_id &&
                   pg_json_read(r, i, 9, st->inputs) && pg_json_read(r, i, 10, st->outputs) &&
                   pg_json_read(r, i, 11, st->data) && pg_json_read(r, i, 13, st->parents) && st->fanout_id &&
                   st->manual_retry_fanout_id && error_ok && unite_ok && claimer_ok && status >= 0
               ? 0
               : -1;
}

static void free_state_row(void *row) { exo_state_row_free(row); }
static const pg_row_kind state_rows = {"state", sizeof(exo_state_row), read_state, free_state_row};

/* A state read by STATE_LOCK: its columns, then its run's version and namespace. */
static int read_locked_state(const PGresult *r, int i, void *row)
{
    if (read_state(r, i, row) != 0)
        return -1;
    exo_state_row *st = row;
    st->run_version = pg_col_int(r, i, 24);
    st->run_namespace = pg_col_text(r, i, 25);
    return st->run_namespace || PQgetisnull(r, i, 25) ? 0 : -1;
}
static const pg_row_kind locked_state_rows = {"state", sizeof(exo_state_row), read_locked_state, free_state_row};

static int pg_state_insert(exo_storage *s, const exo_state_row *st)
{
    pg_params p = {0};
    pg_param_text(&p, st->id);
    pg_param_int(&p, st->created_at);
    pg_param_int(&p, st->updated_at);
    pg_param_text(&p, st->node_name);
    pg_param_text(&p, st->namespace_name);
    pg_param_text(&p, st->identifier);
    pg_param_text(&p, st->graph_name);
    pg_param_text(&p, st->run_id);
    pg_param_text(&p, exo_status_names[st->status]);
    pg_param_json(&p, st->inputs);
    pg_param_json(&p, st->outputs);
    pg_param_json(&p, st->data);
    pg_param_text(&p, st->error);
    pg_param_json(&p, st->parents);
    pg_param_int(&p, st->does_unites);
    pg_param_text(&p, st->unite_key);
    pg_param_int(&p, st->enqueue_after);
    pg_param_int(&p, st->retry_count);
    pg_param_text(&p, st->fanout_id);
    pg_param_text(&p, st->manual_retry_fanout_id);
    pg_param_text(&p, st->exec_group);
    pg_param_int(&p, st->lease_expires_at);
    pg_param_int(&p, st->lease_ms);
    pg_param_text(&p, st->claimed_by);
    int64_t n = pg_exec_count(s, ST_STATE_INSERT, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_state_get(exo_storage *s, const char *id, exo_state_row *out)
{
    pg_params p = {0};
    pg_param_text(&p, id);
    return pg_fetch_one(pg_query(s, ST_STATE_GET, &p, 0), &state_rows, out);
}

static int pg_state_lock(exo_storage *s, const char *id, exo_state_row *out)
{
    pg_params p = {0};
    pg_param_text(&p, id);
    return pg_fetch_one(pg_query(s, ST_STATE_LOCK, &p, 0), &locked_state_rows, out);
}

static int pg_state_update(exo_storage *s, const exo_state_row *st)
{
    pg_params p = {0};
    pg_param_int(&p, st->updated_at);
    pg_param_text(&p, exo_status_names[st->status]);
    pg_param_json(&p, st->inputs);
    pg_param_json(&p, st->outputs);
    pg_param_json(&p, st->data);
    pg_param_text(&p, st->error);
    pg_param_json(&p, st->parents);
    pg_param_int(&p, st->enqueue_after);
    pg_param_text(&p, st->exec_group);
    pg_param_int(&p, st->lease_expires_at);
    pg_param_text(&p, st->id);
    return pg_exec_deferred(s, ST_STATE_UPDATE, &p);
}

static int pg_state_claim(exo_storage *s, const char *ns, const char *const *nodes, size_t nnodes, int64_t now,
                          int64_t lease_ms, const char *claimed_by, size_t limit, exo_state_row **out, size_t *n,
                          int64_t *next_due)
{
    *out = NULL;
    *n = 0;
    *next_due = 0;
    if (nnodes == 0)
        return 0;
    pg_params p = {0};
    pg_param_text(&p, ns);
    if (pg_param_text_array(&p, nodes, nnodes) != 0)
        return -1;
    pg_param_int(&p, now);
    pg_param_int(&p, now + lease_ms);
    pg_param_int(&p, lease_ms);
    pg_param_int(&p, (int64_t)limit);
    pg_param_text(&p, claimed_by);
    if (pg_fetch_all(pg_query(s, ST_STATE_CLAIM, &p, 0), &state_rows, (void **)out, n) != 0)
        return -1;
    if (*n > 0)
        return 0;
    pg_params d = {0};
    pg_param_text(&d, ns);
    if (pg_param_text_array(&d, nodes, nnodes) != 0)
        return -1;
    pg_param_int(&d, now);
    PGresult *r = pg_query(s, ST_STATE_NEXT_DUE, &d, 0);
    if (!r)
        return -1;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        *next_due = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_ancestors_copy(exo_storage *s, const char *from, const char *to)
{
    pg_params p = {0};
    pg_param_text(&p, from);
    pg_param_text(&p, to);
    return pg_exec_deferred(s, ST_ANCESTORS_COPY, &p);
}

static int pg_ancestor_add(exo_storage *s, const char *group, const char *state_id)
{
    pg_params p = {0};
    pg_param_text(&p, group);
    pg_param_text(&p, state_id);
    return pg_exec_deferred(s, ST_ANCESTOR_ADD, &p);
}

static int pg_group_has_status(exo_storage *s, const char *group, unsigned mask)
{
    const char *names[EXO_ST_COUNT];
    size_t k = 0;
    for (int i = 0; i < EXO_ST_COUNT; i++)
        if (mask & EXO_ST_BIT(i))
            names[k++] = exo_status_names[i];
    if (!k)
        return 0;
    pg_params l = {0};
    pg_param_text(&l, group);
    if (pg_exec_deferred(s, ST_GROUP_LOCK, &l) != 0) /* held from the next statement on */
        return -1;
    pg_params p = {0};
    pg_param_text(&p, group);
    if (pg_param_text_array(&p, names, k) != 0)
        return -1;
    return pg_has_row(pg_query(s, ST_GROUP_HAS_STATUS, &p, 0));
}

static int pg_unite_exists(exo_storage *s, const char *key)
{
    pg_params p = {0};
    pg_param_text(&p, key);
    return pg_has_row(pg_query(s, ST_UNITE_EXISTS, &p, 0));
}

static int pg_states_of_run(exo_storage *s, const char *ns, const char *run_id, exo_state_row **out, size_t *n)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    pg_param_text(&p, ns);
    return pg_fetch_all(pg_query(s, ST_STATES_OF_RUN, &p, 0), &state_rows, (void **)out, n);
}

static int pg_lease_renew(exo_storage *s, const char *ns, const char *id, int64_t until, int64_t lease_ms)
{
    pg_params p = {0};
    pg_param_int(&p, until);
    pg_param_int(&p, lease_ms);
    pg_param_text(&p, id);
    pg_param_text(&p, ns);
    int64_t n = pg_exec_count(s, ST_LEASE_RENEW, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_state_logs_set(exo_storage *s, const char *id, const char *logs, size_t len)
{
    pg_params p = {0};
    pg_param_bytes(&p, logs, (int)len); /* binary: node output may contain U+0000 */
    pg_param_text(&p, id);
    int64_t n = pg_exec_count(s, ST_STATE_LOGS_SET, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_state_logs_get(exo_storage *s, const char *ns, const char *id, char **logs, size_t *len)
{
    *logs = NULL;
    *len = 0;
    pg_params p = {0};
    pg_param_text(&p, id);
    pg_param_text(&p, ns);
    PGresult *r = pg_query(s, ST_STATE_LOGS_GET, &p, 1);
    if (!r)
        return -1;
    int ret = PQntuples(r) > 0 ? 0 : 1;
    if (ret == 0 && !PQgetisnull(r, 0, 0)) {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        if ((*logs = malloc(n + 1))) {
            memcpy(*logs, PQgetvalue(r, 0, 0), n);
            (*logs)[n] = '\0';
            *len = n;
        } else {
            ret = -1;
        }
    }
    PQclear(r);
    return ret;
}

static int pg_run_finished(exo_storage *s, const char *run_id, int64_t *created_at)
{
    pg_params p = {0};
    pg_param_text(&p, run_id);
    PGresult *r = pg_query(s, ST_RUN_FINISHED, &p, 0);
    if (!r)
        return -1;
    int ret = PQntuples(r) > 0 ? 0 : 1;
    if (ret == 0)
        *created_at = pg_col_int(r, 0, 0);
    PQclear(r);
    return ret;
}

static int read_queue(const PGresult *r, int i, void *row)
{
    exo_queue_row *q = row;
    q->namespace_name = pg_col_text(r, i, 0);
    q->node_name = pg_col_text(r, i, 1);
    q->created = pg_col_int(r, i, 2);
    q->due = pg_col_int(r, i, 3);
    q->queued = pg_col_int(r, i, 4);
    return q->namespace_name && q->node_name ? 0 : -1;
}

static void free_queue_row(void *row)
{
    exo_queue_row *q = row;
    free(q->namespace_name);
    free(q->node_name);
}

static const pg_row_kind queue_rows = {"queue", sizeof(exo_queue_row), read_queue, free_queue_row};

static int pg_queue_depth(exo_storage *s, int64_t now, size_t limit, exo_queue_row **out, size_t *n)
{
    pg_params p = {0};
    pg_param_int(&p, now);
    pg_param_int(&p, (int64_t)limit);
    return pg_fetch_all(pg_query(s, ST_QUEUE_DEPTH, &p, 0), &queue_rows, (void **)out, n);
}

static int pg_lease_expired(exo_storage *s, int64_t now, size_t limit, char (**ids)[EXO_ID_LEN + 1], size_t *n)
{
    *ids = NULL;
    *n = 0;
    pg_params p = {0};
    pg_param_int(&p, now);
    pg_param_int(&p, (int64_t)limit);
    PGresult *r = pg_query(s, ST_LEASE_EXPIRED, &p, 0);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    if (rows) {
        *ids = calloc(rows, sizeof **ids);
        if (!*ids) {
            PQclear(r);
            return -1;
        }
        for (size_t i = 0; i < rows; i++)
            pg_col_id(r, (int)i, 0, (*ids)[i]);
        *n = rows;
    }
    PQclear(r);
    return 0;
}

/* ---- triggers ----------------------------------------------------------------------------------- */

static int pg_trigger_insert(exo_storage *s, const char *expr, const char *ns, const char *graph, int64_t t,
                             int64_t expires)
{
    pg_params p = {0};
    pg_param_text(&p, expr);
    pg_param_text(&p, ns);
    pg_param_text(&p, graph);
    pg_param_int(&p, t);
    pg_param_int(&p, expires);
    return pg_exec_ok(s, ST_TRIGGER_INSERT, &p);
}

static int pg_trigger_delete_pending(exo_storage *s, const char *ns, const char *graph, const char *expr)
{
    pg_params p = {0};
    pg_param_text(&p, ns);
    pg_param_text(&p, graph);
    pg_param_text(&p, expr);
    return pg_exec_ok(s, ST_TRIGGER_DELETE_PENDING, &p);
}

static int pg_trigger_claim(exo_storage *s, int64_t now, exo_trigger_row *out)
{
    pg_params p = {0};
    pg_param_int(&p, now);
    PGresult *r = pg_query(s, ST_TRIGGER_CLAIM, &p, 0);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        out->id = pg_col_int(r, 0, 0);
        out->expression = pg_col_text(r, 0, 1);
        out->namespace_name = pg_col_text(r, 0, 2);
        out->graph_name = pg_col_text(r, 0, 3);
        out->trigger_time = pg_col_int(r, 0, 4);
        ret = out->expression && out->namespace_name && out->graph_name ? 0 : -1;
    }
    PQclear(r);
    return ret;
}

static int pg_trigger_finish(exo_storage *s, int64_t id, const char *status, int64_t expires_at)
{
    pg_params p = {0};
    pg_param_text(&p, status);
    pg_param_int(&p, expires_at);
    pg_param_int(&p, id);
    return pg_exec_ok(s, ST_TRIGGER_FINISH, &p);
}

static int pg_trigger_housekeeping(exo_storage *s, int64_t now, int at_startup)
{
    /* A TRIGGERING record is never committed (claim and finish share one
       transaction), so resetting at start-up cannot steal another replica's. */
    if (at_startup && pg_exec_ok(s, ST_TRIGGER_RESET, NULL) != 0)
        return -1;
    pg_params p = {0};
    pg_param_int(&p, now);
    return pg_exec_ok(s, ST_TRIGGER_EXPIRE, &p);
}

/* ---- open / close ------------------------------------------------------------------------------- */

static void pg_close(exo_storage *s)
{
    pg_storage *q = (pg_storage *)s;
    atomic_store(&q->stopping, 1);
    if (q->listening)
        pthread_join(q->listener, NULL);
    for (size_t i = 0; i < q->nconns; i++)
        PQfinish(q->conns[i].pg);
    free(q->conns);
    free(q->free_list);
    pthread_key_delete(q->bound);
    pthread_key_delete(q->retry);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->freed);
    free(q->uri);
    free(q);
}

static const exo_storage_ops postgres_ops = {
    .backend = "postgres",
    .caps = EXO_STORAGE_CONCURRENT | EXO_STORAGE_ATOMIC_CLAIM, /* a pool; the claim is one statement */
    .close = pg_close,
    .health = pg_health,
    .tx_retryable = pg_tx_retryable,
    .listen_work = pg_listen_work,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .node_upsert = pg_node_upsert,
    .node_get = pg_node_get,
    .node_list = pg_node_list,
    .namespaces = pg_namespaces,
    .graph_get = pg_graph_get,
    .graph_save = pg_graph_save,
    .graph_set_validation = pg_graph_set_validation,
    .graph_list = pg_graph_list,
    .graph_version = pg_graph_version,
    .graph_delete = pg_graph_delete,
    .run_insert = pg_run_insert,
    .run_version = pg_run_version,
    .run_page = pg_run_page,
    .store_put = pg_store_put,
    .store_get = pg_store_get,
    .run_get = pg_run_get,
    .run_query = pg_run_query,
    .run_mark_cancelled = pg_run_mark_cancelled,
    .run_delete = pg_run_delete,
    .state_insert = pg_state_insert,
    .state_get = pg_state_get,
    .state_lock = pg_state_lock,
    .state_update = pg_state_update,
    .state_claim = pg_state_claim,
    .ancestors_copy = pg_ancestors_copy,
    .ancestor_add = pg_ancestor_add,
    .group_has_status = pg_group_has_status,
    .unite_exists = pg_unite_exists,
    .states_of_run = pg_states_of_run,
    .lease_renew = pg_lease_renew,
    .lease_expired = pg_lease_expired,
    .queue_depth = pg_queue_depth,
    .runtime_upsert = pg_runtime_upsert,
    .runtime_list = pg_runtime_list,
    .state_logs_set = pg_state_logs_set,
    .state_logs_get = pg_state_logs_get,
    .run_finished = pg_run_finished,
    .trigger_insert = pg_trigger_insert,
    .trigger_delete_pending = pg_trigger_delete_pending,
    .trigger_claim = pg_trigger_claim,
    .trigger_finish = pg_trigger_finish,
    .trigger_housekeeping = pg_trigger_housekeeping,
};

exo_storage *exo_storage_postgres_open(const char *uri, const exo_storage_options *opt, char *err, size_t errlen)
{
    size_t pool = opt && opt->pool_size ? opt->pool_size : EXO_STORAGE_DEFAULT_POOL;
    if (pool > EXO_STORAGE_MAX_POOL)
        pool = EXO_STORAGE_MAX_POOL;
    pg_storage *q = calloc(1, sizeof *q);
    if (!q) {
        exo_errf(err, errlen, "out of memory");
        return NULL;
    }
    q->base.ops = &postgres_ops;
    q->uri = strdup(uri);
    q->conns = calloc(pool, sizeof *q->conns);
    q->free_list = calloc(pool, sizeof *q->free_list);
    if (!q->uri || !q->conns || !q->free_list || pthread_mutex_init(&q->lock, NULL) != 0) {
        free(q->uri), free(q->conns), free(q->free_list), free(q);
        exo_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (pthread_cond_init(&q->freed, NULL) != 0 || pthread_key_create(&q->bound, NULL) != 0 ||
        pthread_key_create(&q->retry, NULL) != 0) {
        pthread_mutex_destroy(&q->lock);
        free(q->uri), free(q->conns), free(q->free_list), free(q);
        exo_errf(err, errlen, "cannot create the connection pool's synchronisation primitives");
        return NULL;
    }
    atomic_init(&q->reachable, 1);
    atomic_init(&q->stopping, 0);
    for (; q->nconns < pool; q->nconns++) {
        pg_conn *c = &q->conns[q->nconns];
        c->pg = pg_connect_db(uri);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            char msg[512];
            exo_errf(err, errlen, "cannot connect to PostgreSQL: %s",
                     c->pg ? pg_one_line(PQerrorMessage(c->pg), msg, sizeof msg) : "out of memory");
            q->nconns++;
            pg_close(&q->base);
            return NULL;
        }
        q->free_list[q->nfree++] = c;
    }
    if (pg_migrate(q->conns[0].pg, err, errlen) != 0) {
        pg_close(&q->base);
        return NULL;
    }
    return &q->base;
}
