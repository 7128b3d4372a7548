/* Backend-independent parts of the storage layer: the backend table and its
 * selection by --db scheme, the completeness check of an ops table, status names,
 * row freeing. */
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strfmt.h"

const char *const exo_status_names[EXO_ST_COUNT] = {
    "CREATED", "QUEUED", "EXECUTED", "ERRORED", "NEXT_CREATED_ERROR", "SUCCESS", "PRUNED", "RETRY_CREATED",
};

const char *const exo_graph_status_names[EXO_GRAPH_STATUS_COUNT] = {"PENDING", "VALID", "INVALID"};

const char *const exo_run_status_names[EXO_RUN_STATUS_COUNT] = {"PENDING", "SUCCESS", "FAILED", "CANCELLED"};

static int name_index(const char *const *names, int count, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < count; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

int exo_status_from_name(const char *name)
{
    return name_index(exo_status_names, EXO_ST_COUNT, name);
}

int exo_graph_status_from_name(const char *name)
{
    return name_index(exo_graph_status_names, EXO_GRAPH_STATUS_COUNT, name);
}

int exo_run_status_from_name(const char *name)
{
    return name_index(exo_run_status_names, EXO_RUN_STATUS_COUNT, name);
}

exo_run_status exo_run_status_of(const exo_run_row *r)
{
    const int64_t *c = r->counts;
    int64_t total = 0;
    for (int i = 0; i < EXO_ST_COUNT; i++)
        total += c[i];
    if (r->cancelled_at > 0)
        return EXO_RUN_CANCELLED;
    if (c[EXO_ST_CREATED] + c[EXO_ST_QUEUED] + c[EXO_ST_EXECUTED] > 0)
        return EXO_RUN_PENDING;
    if (c[EXO_ST_ERRORED] + c[EXO_ST_NEXT_CREATED_ERROR] > 0 || total == 0)
        return EXO_RUN_FAILED;
    return EXO_RUN_SUCCESS;
}

/* "run r has status i" for each exo_run_status, by the rule above: whether the run has
 * an unfinished state, or any, is probed in states_run(run_id, status); its failed
 * states are counted in the run's row (runs.n_failed, kept by triggers on failure
 * transitions: SQLite migration 7, PostgreSQL 6).  The same text on both backends. */
#define RUN_HAS_PENDING                                                                                            \
    "EXISTS(SELECT 1 FROM states s WHERE s.run_id=r.run_id AND s.status IN ('CREATED','QUEUED','EXECUTED'))"
#define RUN_HAS_ANY "EXISTS(SELECT 1 FROM states s WHERE s.run_id=r.run_id)"
static const char *const run_status_sql[EXO_RUN_STATUS_COUNT] = {
    [EXO_RUN_PENDING] = "(r.cancelled_at=0 AND " RUN_HAS_PENDING ")",
    [EXO_RUN_SUCCESS] = "(r.cancelled_at=0 AND NOT " RUN_HAS_PENDING " AND r.n_failed=0 AND " RUN_HAS_ANY ")",
    [EXO_RUN_FAILED] = "(r.cancelled_at=0 AND NOT " RUN_HAS_PENDING " AND (r.n_failed>0 OR NOT " RUN_HAS_ANY "))",
    [EXO_RUN_CANCELLED] = "(r.cancelled_at>0)",
};

void exo_run_status_condition(FILE *f, unsigned mask)
{
    mask &= (1u << EXO_RUN_STATUS_COUNT) - 1;
    /* FAILED alone and CANCELLED alone are written as the conditions of their partial
       indexes (runs_failed, runs_cancelled): both are usually few among many runs */
    if (mask == (1u << EXO_RUN_FAILED)) {
        fputs(" AND r.cancelled_at=0 AND r.n_failed>0 AND NOT " RUN_HAS_PENDING, f);
    } else if (mask == (1u << EXO_RUN_CANCELLED)) {
        fputs(" AND r.cancelled_at>0", f);
    } else if (mask) {
        fputs(" AND (false", f);
        for (int i = 0; i < EXO_RUN_STATUS_COUNT; i++)
            if (mask & (1u << i))
                fprintf(f, " OR %s", run_status_sql[i]);
        fputs(")", f);
    }
}

/* ---- backends ------------------------------------------------------------------------- */

static const char *const postgres_schemes[] = {"postgres", "postgresql", NULL};

static const exo_storage_backend backends[] = {
    {"sqlite", NULL, exo_storage_sqlite_open},
    {"PostgreSQL", postgres_schemes, exo_storage_postgres_open},
};

/* Length of the "scheme" of "scheme://rest", 0 when db has none (a file path). */
static size_t scheme_length(const char *db)
{
    size_t n = strspn(db, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return n > 0 && !strncmp(db + n, "://", 3) ? n : 0;
}

static const exo_storage_backend *backend_for(const char *db)
{
    size_t n = scheme_length(db);
    for (size_t b = 0; b < sizeof backends / sizeof *backends; b++) {
        if (!backends[b].schemes) {
            if (n == 0)
                return &backends[b];
            continue;
        }
        for (const char *const *sc = backends[b].schemes; *sc; sc++)
            if (strlen(*sc) == n && !strncasecmp(*sc, db, n))
                return &backends[b];
    }
    return NULL;
}

int exo_storage_ops_check(const exo_storage_ops *ops, char *err, size_t errlen)
{
    if (!ops || !ops->backend)
        return exo_errf(err, errlen, "storage backend without a name");
#define EXO_CHECK_CALLBACK(name)                                                                   \
    if (!ops->name)                                                                                \
        return exo_errf(err, errlen, "storage backend %s lacks the required callback %s", ops->backend, #name);
    EXO_STORAGE_CALLBACKS(EXO_CHECK_CALLBACK)
#undef EXO_CHECK_CALLBACK
    return 0;
}

exo_storage *exo_storage_open(const char *db, char *err, size_t errlen)
{
    exo_storage_options opt = {.pool_size = EXO_STORAGE_DEFAULT_POOL};
    return exo_storage_open_with(db, &opt, err, errlen);
}

/* Appends db[from, to) to out (bounded). */
static void append(char *out, size_t outlen, size_t *len, const char *from, size_t n)
{
    while (n-- && *len + 1 < outlen)
        out[(*len)++] = *from++;
    out[*len] = '\0';
}

void exo_storage_describe(const char *db, char *out, size_t outlen)
{
    size_t len = 0;
    if (!outlen)
        return;
    out[0] = '\0';
    size_t n = scheme_length(db);
    const char *p = db;
    if (n) { /* scheme://user:password@host -> scheme://user:***@host */
        const char *auth = db + n + 3, *end = auth + strcspn(auth, "@/?");
        const char *colon = *end == '@' ? memchr(auth, ':', (size_t)(end - auth)) : NULL;
        if (colon) {
            append(out, outlen, &len, db, (size_t)(colon + 1 - db));
            append(out, outlen, &len, "***", 3);
            p = end;
        }
    }
    /* ...?password=secret&... -> ...?password=***&... */
    for (const char *q; n && (q = strstr(p, "password=")) != NULL;) {
        append(out, outlen, &len, p, (size_t)(q + 9 - p));
        append(out, outlen, &len, "***", 3);
        p = q + 9 + strcspn(q + 9, "&");
    }
    append(out, outlen, &len, p, strlen(p));
}

exo_storage *exo_storage_open_with(const char *db, const exo_storage_options *opt, char *err, size_t errlen)
{
    const exo_storage_backend *b = backend_for(db);
    if (!b) {
        exo_errf(err, errlen, "--db %.*s://...: unknown storage scheme (a file path selects SQLite; "
                              "postgres:// and postgresql:// select PostgreSQL)",
                 (int)scheme_length(db), db);
        return NULL;
    }
    if (!b->open) {
        exo_errf(err, errlen, "--db %.*s://...: %s support is not built yet", (int)scheme_length(db), db, b->name);
        return NULL;
    }
    exo_storage *s = b->open(db, opt, err, errlen);
    if (s && exo_storage_ops_check(s->ops, err, errlen) != 0) {
        exo_db_close(s);
        return NULL;
    }
    return s;
}

void exo_node_row_free(exo_node_row *r)
{
    free(r->name);
    free(r->namespace_name);
    free(r->runtime_name);
    json_object_put(r->inputs_schema);
    json_object_put(r->outputs_schema);
    json_object_put(r->secrets);
    memset(r, 0, sizeof *r);
}

void exo_graph_row_free(exo_graph_row *r)
{
    free(r->namespace_name);
    free(r->name);
    json_object_put(r->template_);
    json_object_put(r->validation_errors);
    memset(r, 0, sizeof *r);
}

void exo_state_row_free(exo_state_row *r)
{
    free(r->node_name);
    free(r->namespace_name);
    free(r->identifier);
    free(r->graph_name);
    free(r->run_id);
    json_object_put(r->inputs);
    json_object_put(r->outputs);
    json_object_put(r->data);
    json_object_put(r->parents);
    free(r->error);
    free(r->unite_key);
    free(r->fanout_id);
    free(r->manual_retry_fanout_id);
    free(r->claimed_by);
    free(r->run_namespace);
    memset(r, 0, sizeof *r);
}

void exo_run_row_free(exo_run_row *r)
{
    free(r->run_id);
    free(r->graph_name);
    free(r->namespace_name);
    free(r->cancelled_by);
    memset(r, 0, sizeof *r);
}

void exo_queue_rows_free(exo_queue_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].namespace_name);
        free(rows[i].node_name);
    }
    free(rows);
}

void exo_runtime_row_free(exo_runtime_row *r)
{
    free(r->namespace_name);
    free(r->name);
    free(r->version);
    free(r->hostname);
    json_object_put(r->nodes);
    memset(r, 0, sizeof *r);
}

int exo_runtime_alive(const exo_runtime_row *r, int64_t now)
{
    return now - r->last_seen <= EXO_RUNTIME_LOST_INTERVALS * r->interval_ms;
}

int exo_runtime_has_node(const exo_runtime_row *r, const char *node)
{
    size_t n = json_object_is_type(r->nodes, json_type_array) ? json_object_array_length(r->nodes) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(r->nodes, i));
        if (name && !strcmp(name, node))
            return 1;
    }
    return 0;
}

void exo_trigger_row_free(exo_trigger_row *r)
{
    free(r->expression);
    free(r->namespace_name);
    free(r->graph_name);
    memset(r, 0, sizeof *r);
}

#define ROWS_FREE(fn, type, one)                 \
    void fn(type *rows, size_t n)                \
    {                                            \
        for (size_t i = 0; rows && i < n; i++)   \
            one(&rows[i]);                       \
        free(rows);                              \
    }
ROWS_FREE(exo_node_rows_free, exo_node_row, exo_node_row_free)
ROWS_FREE(exo_graph_rows_free, exo_graph_row, exo_graph_row_free)
ROWS_FREE(exo_state_rows_free, exo_state_row, exo_state_row_free)
ROWS_FREE(exo_run_rows_free, exo_run_row, exo_run_row_free)
ROWS_FREE(exo_runtime_rows_free, exo_runtime_row, exo_runtime_row_free)
