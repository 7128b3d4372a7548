/* The worker registry's ops of the PostgreSQL backend (storage.h: runtime_upsert,
 * runtime_list).  Several replicas may take heartbeats of one namespace at once: a
 * transaction-scoped advisory lock on the namespace makes the count-then-insert of
 * the per-namespace cap one step across them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static int read_runtime(const PGresult *r, int i, void *row)
{
    exo_runtime_row *rt = row;
    rt->namespace_name = pg_col_text(r, i, 0);
    rt->name = pg_col_text(r, i, 1);
    rt->version = pg_col_text(r, i, 2);
    rt->hostname = pg_col_text(r, i, 3);
    rt->pid = pg_col_int(r, i, 4);
    rt->slots = pg_col_int(r, i, 5);
    rt->running = pg_col_int(r, i, 6);
    rt->interval_ms = pg_col_int(r, i, 7);
    rt->first_seen = pg_col_int(r, i, 8);
    rt->last_seen = pg_col_int(r, i, 9);
    rt->nodes = pg_col_json(r, i, 10);
    return rt->namespace_name && rt->name && rt->version && rt->hostname && pg_json_read(r, i, 10, rt->nodes) ? 0
                                                                                                          : -1;
}

static void free_runtime_row(void *row) { exo_runtime_row_free(row); }
static const pg_row_kind runtime_rows = {"runtime", sizeof(exo_runtime_row), read_runtime, free_runtime_row};

/* Serialises the heartbeats of namespace ns until the transaction ends (outside
 * one, a no-op lock released at once). */
static int lock_namespace(exo_storage *s, const char *ns)
{
    char *key = NULL;
    if (asprintf(&key, "exo-runtimes|%s", ns) < 0)
        return -1;
    pg_params p = {0};
    pg_param_text(&p, key);
    PGresult *r = pg_query(s, ST_GROUP_LOCK, &p, 0);
    free(key);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* 1 when the namespace may not take one more runtime called name, 0 when it may. */
static int namespace_full(exo_storage *s, const exo_runtime_row *row, size_t max_per_ns)
{
    pg_params k = {0};
    pg_param_text(&k, row->namespace_name);
    pg_param_text(&k, row->name);
    int known = pg_has_row(pg_query(s, ST_RUNTIME_KNOWN, &k, 0));
    if (known != 0)
        return known < 0 ? -1 : 0;
    pg_params c = {0};
    pg_param_text(&c, row->namespace_name);
    PGresult *r = pg_query(s, ST_RUNTIME_COUNT, &c, 0);
    if (!r)
        return -1;
    int64_t count = PQntuples(r) > 0 ? pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    return (size_t)count >= max_per_ns ? 1 : 0;
}

int pg_runtime_upsert(exo_storage *s, const exo_runtime_row *row, size_t max_per_ns, int64_t forget_before)
{
    if (lock_namespace(s, row->namespace_name) != 0)
        return -1;
    pg_params f = {0};
    pg_param_text(&f, row->namespace_name);
    pg_param_int(&f, forget_before);
    if (pg_exec_ok(s, ST_RUNTIME_FORGET, &f) != 0)
        return -1;
    int full = namespace_full(s, row, max_per_ns);
    if (full != 0)
        return full;
    pg_params p = {0};
    pg_param_text(&p, row->namespace_name);
    pg_param_text(&p, row->name);
    pg_param_text(&p, row->version);
    pg_param_text(&p, row->hostname);
    pg_param_int(&p, row->pid);
    pg_param_int(&p, row->slots);
    pg_param_int(&p, row->running);
    pg_param_int(&p, row->interval_ms);
    pg_param_int(&p, row->first_seen);
    pg_param_int(&p, row->last_seen);
    pg_param_json(&p, row->nodes);
    return pg_exec_ok(s, ST_RUNTIME_UPSERT, &p);
}

int pg_runtime_list(exo_storage *s, const char *ns, exo_runtime_row **out, size_t *n)
{
    pg_params p = {0};
    pg_param_text(&p, ns);
    return pg_fetch_all(pg_query(s, ST_RUNTIME_LIST, &p, 0), &runtime_rows, (void **)out, n);
}
