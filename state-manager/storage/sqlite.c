/* SQLite backend of the storage interface (storage.h).
 * One connection in WAL mode; not EXO_STORAGE_CONCURRENT: the caller serialises
 * access.  Every query is a prepared statement with bound parameters.  Statuses are
 * stored by name (readable with the sqlite3 shell) and converted here.
 * Schema: PRAGMA user_version holds the number of migrations applied. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "storage.h"
#include "strfmt.h"

/* Prepared statements are kept per connection and reused: parsing the SQL was the
 * largest cost of a request.  The cache is direct-mapped on a hash of the SQL
 * text, so its size is fixed whatever texts arrive (claim IN lists vary). */
#define STMT_CACHE_SLOTS 256
#define STMT_CACHE_MAX_SQL 4096 /* longer texts (huge IN lists) are prepared per call */

typedef struct cached_stmt {
    sqlite3_stmt *st;
    int in_use; /* handed out and not yet returned: a nested user prepares its own */
} cached_stmt;

typedef struct sqlite_storage {
    exo_storage base;
    sqlite3 *db;
    cached_stmt cache[STMT_CACHE_SLOTS];
} sqlite_storage;

static sqlite3 *DB(exo_storage *s)
{
    return ((sqlite_storage *)s)->db;
}

/* Migration 1: the schema of the first release.  Its IF NOT EXISTS clauses also
 * adopt databases created before schema versions were recorded (user_version 0). */
static const char *const schema_v1 =
    "CREATE TABLE IF NOT EXISTS nodes(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " namespace_name TEXT NOT NULL, name TEXT NOT NULL, runtime_name TEXT NOT NULL,"
    " inputs_schema TEXT NOT NULL, outputs_schema TEXT NOT NULL, secrets TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE(namespace_name, name));"
    "CREATE TABLE IF NOT EXISTS graphs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " namespace_name TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,"
    " validation_status TEXT NOT NULL, validation_errors TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE(namespace_name, name));"
    "CREATE TABLE IF NOT EXISTS graph_versions(version INTEGER PRIMARY KEY AUTOINCREMENT,"
    " namespace_name TEXT NOT NULL, name TEXT NOT NULL, template TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs(seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE,"
    " namespace_name TEXT NOT NULL, graph_name TEXT NOT NULL, graph_version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS runs_by_ns ON runs(namespace_name, created_at, seq);"
    "CREATE TABLE IF NOT EXISTS store(run_id TEXT NOT NULL, namespace_name TEXT NOT NULL,"
    " graph_name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY(run_id, namespace_name, graph_name, key));"
    "CREATE TABLE IF NOT EXISTS states(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, node_name TEXT NOT NULL,"
    " namespace_name TEXT NOT NULL, identifier TEXT NOT NULL, graph_name TEXT NOT NULL,"
    " run_id TEXT NOT NULL, status TEXT NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL,"
    " data TEXT NOT NULL, error TEXT, parents TEXT NOT NULL, does_unites INTEGER NOT NULL,"
    " unite_key TEXT UNIQUE, enqueue_after INTEGER NOT NULL, retry_count INTEGER NOT NULL,"
    " fanout_id TEXT NOT NULL, manual_retry_fanout_id TEXT NOT NULL, exec_group TEXT NOT NULL,"
    " lease_expires_at INTEGER NOT NULL DEFAULT 0, lease_ms INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(node_name, namespace_name, graph_name, identifier, run_id, retry_count, fanout_id));"
    "CREATE INDEX IF NOT EXISTS states_claim ON states(namespace_name, status, node_name, enqueue_after);"
    "CREATE INDEX IF NOT EXISTS states_run ON states(run_id, status);"
    "CREATE INDEX IF NOT EXISTS states_lease ON states(status, lease_expires_at);"
    /* one row per (ancestor instance, descendant state), with the descendant's status
       mirrored so that "does instance g have a blocking descendant" is one index seek */
    "CREATE TABLE IF NOT EXISTS state_ancestors(ancestor_group TEXT NOT NULL, state_id TEXT NOT NULL,"
    " status TEXT NOT NULL, PRIMARY KEY(ancestor_group, state_id));"
    "CREATE INDEX IF NOT EXISTS state_ancestors_status ON state_ancestors(ancestor_group, status);"
    "CREATE INDEX IF NOT EXISTS state_ancestors_state ON state_ancestors(state_id);"
    "CREATE TABLE IF NOT EXISTS triggers(id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,"
    " expression TEXT NOT NULL, namespace_name TEXT NOT NULL, graph_name TEXT NOT NULL,"
    " trigger_time INTEGER NOT NULL, trigger_status TEXT NOT NULL, expires_at INTEGER,"
    " UNIQUE(type, expression, graph_name, namespace_name, trigger_time));"
    "CREATE INDEX IF NOT EXISTS triggers_due ON triggers(trigger_status, trigger_time);";

/* A column a migration adds: added only when missing, because SQLite has no
 * ADD COLUMN IF NOT EXISTS and a database adopted at version 0 may have it. */
typedef struct column_add {
    const char *table, *column, *definition;
} column_add;

/* Migration 2 (run controls, registry): a run's cancel mark; when a node was last
 * registered; indexes for the filtered run listing (by graph), for retention
 * (finished runs of every namespace, oldest first) and for graph deletion. */
static const column_add columns_v2[] = {
    {"runs", "cancelled_at", "INTEGER NOT NULL DEFAULT 0"},
    {"runs", "cancelled_by", "TEXT"},
    {"nodes", "registered_at", "INTEGER NOT NULL DEFAULT 0"},
    {NULL, NULL, NULL},
};
static const char *const schema_v2 =
    "CREATE INDEX IF NOT EXISTS runs_by_graph ON runs(namespace_name, graph_name, created_at, seq);"
    "CREATE INDEX IF NOT EXISTS runs_by_time ON runs(created_at, seq);"
    "CREATE INDEX IF NOT EXISTS graph_versions_by_name ON graph_versions(namespace_name, name);"
    "CREATE INDEX IF NOT EXISTS runs_by_version ON runs(graph_version);";

/* Migration 3 (worker registry): the runtime that claimed a state; the runtimes
 * table of heartbeats (nodes as a JSON array of names). */
static const column_add columns_v3[] = {
    {"states", "claimed_by", "TEXT"},
    {NULL, NULL, NULL},
};
static const char *const schema_v3 =
    /* nodes last: the other columns are read without walking its overflow pages */
    "CREATE TABLE IF NOT EXISTS runtimes(namespace_name TEXT NOT NULL, name TEXT NOT NULL,"
    " version TEXT NOT NULL, hostname TEXT NOT NULL, pid INTEGER NOT NULL, slots INTEGER NOT NULL,"
    " running INTEGER NOT NULL, interval_ms INTEGER NOT NULL, first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL, nodes TEXT NOT NULL, PRIMARY KEY(namespace_name, name));"
    "CREATE INDEX IF NOT EXISTS runtimes_by_seen ON runtimes(namespace_name, last_seen);";

/* Migration 4 (throughput): the claim and lease indexes hold only the rows they are
 * looked up for (CREATED, QUEUED), as PostgreSQL's do, and a partial index finds
 * the EXECUTED ones: a finished state leaves them, so every status change rewrites
 * fewer index pages and they stay small however many states are stored. */
static const char *const schema_v4 =
    "DROP INDEX IF EXISTS states_claim;"
    "DROP INDEX IF EXISTS states_lease;"
    "CREATE INDEX IF NOT EXISTS states_created ON states(namespace_name, node_name, enqueue_after)"
    " WHERE status='CREATED';"
    "CREATE INDEX IF NOT EXISTS states_queued ON states(lease_expires_at) WHERE status='QUEUED';"
    "CREATE INDEX IF NOT EXISTS states_executed ON states(namespace_name) WHERE status='EXECUTED';";

/* Migration 5 (the dashboard's fast status filters): each run keeps the number of
 * its states (n_states), of those unfinished (n_pending: CREATED, QUEUED, EXECUTED)
 * and of those failed (n_failed: ERRORED, NEXT_CREATED_ERROR), maintained by
 * triggers in the transaction that writes the states, so a run's status (storage.h)
 * is a condition on its own row, and the FAILED and the CANCELLED runs, usually few,
 * have partial indexes of their own (newest first).  The statuses are the stored names.
 * (Migration 7 removes n_states and n_pending again.) */
static const column_add columns_v5[] = {
    {"runs", "n_states", "INTEGER NOT NULL DEFAULT 0"},
    {"runs", "n_pending", "INTEGER NOT NULL DEFAULT 0"},
    {"runs", "n_failed", "INTEGER NOT NULL DEFAULT 0"},
    {NULL, NULL, NULL},
};
#define SQ_PENDING(x) "(" x ".status IN ('CREATED','QUEUED','EXECUTED'))"
#define SQ_FAILED(x) "(" x ".status IN ('ERRORED','NEXT_CREATED_ERROR'))"
static const char *const schema_v5 =
    "UPDATE runs SET n_states=(SELECT count(*) FROM states s WHERE s.run_id=runs.run_id),"
    " n_pending=(SELECT count(*) FROM states s WHERE s.run_id=runs.run_id AND " SQ_PENDING("s") "),"
    " n_failed=(SELECT count(*) FROM states s WHERE s.run_id=runs.run_id AND " SQ_FAILED("s") ");"
    "CREATE TRIGGER IF NOT EXISTS states_count_insert AFTER INSERT ON states BEGIN"
    " UPDATE runs SET n_states=n_states+1, n_pending=n_pending+" SQ_PENDING("NEW") ","
    " n_failed=n_failed+" SQ_FAILED("NEW") " WHERE run_id=NEW.run_id; END;"
    "CREATE TRIGGER IF NOT EXISTS states_count_update AFTER UPDATE OF status ON states"
    " WHEN " SQ_PENDING("OLD") "<>" SQ_PENDING("NEW") " OR " SQ_FAILED("OLD") "<>" SQ_FAILED("NEW") " BEGIN"
    " UPDATE runs SET n_pending=n_pending+" SQ_PENDING("NEW") "-" SQ_PENDING("OLD") ","
    " n_failed=n_failed+" SQ_FAILED("NEW") "-" SQ_FAILED("OLD") " WHERE run_id=NEW.run_id; END;"
    "CREATE TRIGGER IF NOT EXISTS states_count_delete AFTER DELETE ON states BEGIN"
    " UPDATE runs SET n_states=n_states-1, n_pending=n_pending-" SQ_PENDING("OLD") ","
    " n_failed=n_failed-" SQ_FAILED("OLD") " WHERE run_id=OLD.run_id; END;"
    "CREATE INDEX IF NOT EXISTS runs_failed ON runs(namespace_name, created_at, seq)"
    " WHERE cancelled_at=0 AND n_pending=0 AND (n_failed>0 OR n_states=0);"
    "CREATE INDEX IF NOT EXISTS runs_cancelled ON runs(namespace_name, created_at, seq) WHERE cancelled_at>0;";

/* Migration 6 (state logs): what a state's node printed, as its host reported it
 * with executed/errored (capped by the engine; NULL: nothing reported). */
static const column_add columns_v6[] = {
    {"states", "logs", "TEXT"},
    {NULL, NULL, NULL},
};

/* Migration 7 (throughput): migration 5's counters cost every state insert and
 * every finish an UPDATE of its run's row (1.19x transitions/s and 0.88x the server's
 * CPU per state without them, measured side by side).  Only n_failed stays, kept by
 * triggers that fire on the rare transitions into or out of a failed status, so the
 * FAILED filter still walks its partial index newest first; whether a run has an
 * unfinished state is probed in states_run(run_id, status). */
#define SQ_IS_FAILED(x) "(" x ".status IN ('ERRORED','NEXT_CREATED_ERROR'))"
static const char *const schema_v7 =
    "DROP TRIGGER IF EXISTS states_count_insert;"
    "DROP TRIGGER IF EXISTS states_count_update;"
    "DROP TRIGGER IF EXISTS states_count_delete;"
    "DROP INDEX IF EXISTS runs_failed;"
    "ALTER TABLE runs DROP COLUMN n_states;"
    "ALTER TABLE runs DROP COLUMN n_pending;"
    "CREATE TRIGGER IF NOT EXISTS states_failed_insert AFTER INSERT ON states WHEN " SQ_IS_FAILED("NEW") " BEGIN"
    " UPDATE runs SET n_failed=n_failed+1 WHERE run_id=NEW.run_id; END;"
    "CREATE TRIGGER IF NOT EXISTS states_failed_update AFTER UPDATE OF status ON states"
    " WHEN " SQ_IS_FAILED("OLD") "<>" SQ_IS_FAILED("NEW") " BEGIN"
    " UPDATE runs SET n_failed=n_failed+" SQ_IS_FAILED("NEW") "-" SQ_IS_FAILED("OLD") " WHERE run_id=NEW.run_id; END;"
    "CREATE TRIGGER IF NOT EXISTS states_failed_delete AFTER DELETE ON states WHEN " SQ_IS_FAILED("OLD") " BEGIN"
    " UPDATE runs SET n_failed=n_failed-1 WHERE run_id=OLD.run_id; END;"
    "CREATE INDEX IF NOT EXISTS runs_failed ON runs(namespace_name, created_at, seq)"
    " WHERE cancelled_at=0 AND n_failed>0;";

/* Ordered migrations: entry i brings the schema from version i to i + 1 (its
 * columns first, then its SQL).  Append only; never edit one that has shipped. */
typedef struct migration {
    const column_add *columns; /* NULL: none */
    const char *sql;
} migration;
static const migration migrations[] = {{NULL, schema_v1},    {columns_v2, schema_v2}, {columns_v3, schema_v3},
                                      {NULL, schema_v4},    {columns_v5, schema_v5}, {columns_v6, ""},
                                      {NULL, schema_v7}};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

/* ---- statement helpers ------------------------------------------------------- */

static cached_stmt *cache_slot(exo_storage *s, const char *sql)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return &((sqlite_storage *)s)->cache[h % STMT_CACHE_SLOTS];
}

/* A statement ready to bind: the cached one for this SQL text when free, else a
 * fresh one (cached when its slot is free).  Give it back with unprep(). */
static sqlite3_stmt *prep(exo_storage *s, const char *sql)
{
    cached_stmt *c = cache_slot(s, sql);
    if (c->st && !c->in_use && !strcmp(sqlite3_sql(c->st), sql)) {
        c->in_use = 1;
        return c->st;
    }
    int cacheable = !c->in_use && strlen(sql) <= STMT_CACHE_MAX_SQL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(DB(s), sql, -1, cacheable ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK) {
        log_error("sqlite prepare failed: %s (%.80s)", sqlite3_errmsg(DB(s)), sql);
        sqlite3_finalize(st);
        return NULL;
    }
    if (cacheable && st && !strcmp(sqlite3_sql(st), sql)) {
        sqlite3_finalize(c->st); /* evicts a colliding text */
        c->st = st;
        c->in_use = 1;
    }
    return st;
}

/* Returns a statement from prep(): a cached one is reset for its next use (which
 * also ends any read it had open), any other is finalized. */
static void unprep(exo_storage *s, sqlite3_stmt *st)
{
    if (!st)
        return;
    cached_stmt *c = cache_slot(s, sqlite3_sql(st));
    if (c->st != st) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    c->in_use = 0;
}

static void cache_clear(sqlite_storage *q)
{
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(q->cache[i].st);
        q->cache[i].st = NULL;
        q->cache[i].in_use = 0;
    }
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static int bind_json(sqlite3_stmt *st, int i, json_object *v)
{
    return sqlite3_bind_text(st, i, v ? exo_json_text(v) : "null", -1, SQLITE_TRANSIENT);
}

/* Binds a printf-like list: t = text, j = json, i = int64. */
static int bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int idx = 1;
    for (const char *f = fmt; *f; f++, idx++) {
        int rc;
        if (*f == 't')
            rc = bind_text(st, idx, va_arg(ap, const char *));
        else if (*f == 'j')
            rc = bind_json(st, idx, va_arg(ap, json_object *));
        else
            rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
        if (rc != SQLITE_OK)
            return -1;
    }
    return 0;
}

static sqlite3_stmt *prep_bind(exo_storage *s, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = prep(s, sql);
    if (!st)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = bindv(st, fmt, ap);
    va_end(ap);
    if (rc != 0) {
        log_error("sqlite bind failed: %s", sqlite3_errmsg(DB(s)));
        unprep(s, st);
        return NULL;
    }
    return st;
}

/* Runs a statement that returns no rows.  0 ok, 1 constraint violation, -1 error. */
static int exec_stmt(exo_storage *s, sqlite3_stmt *st)
{
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    unprep(s, st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return 1;
    log_error("sqlite step failed: %s", sqlite3_errmsg(DB(s)));
    return -1;
}

#define EXEC(s, sql, fmt, ...) exec_stmt((s), prep_bind((s), (sql), (fmt), ##__VA_ARGS__))

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static json_object *col_json(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? exo_json_parse((const char *)t) : NULL;
}

static void col_id(sqlite3_stmt *st, int i, char out[EXO_ID_LEN + 1])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, EXO_ID_LEN + 1, "%s", t ? (const char *)t : "");
}

/* Grows *rows by one zeroed element; returns it or NULL. */
static void *grow(void **rows, size_t *n, size_t elem)
{
    void *p = realloc(*rows, (*n + 1) * elem);
    if (!p)
        return NULL;
    *rows = p;
    memset((char *)p + *n * elem, 0, elem);
    return (char *)p + (*n)++ * elem;
}

static int step_error(exo_storage *s, int rc)
{
    if (rc == SQLITE_DONE)
        return 0;
    log_error("sqlite step failed: %s", sqlite3_errmsg(DB(s)));
    return -1;
}

/* How to read and free one kind of row, so the one-row and all-rows fetch loops
 * exist once for every kind. */
typedef struct row_kind {
    const char *what;
    size_t size;
    int (*read)(sqlite3_stmt *st, void *row);
    void (*free_row)(void *row);
} row_kind;

/* Steps st (NULL: preparing failed) once into *out and releases it.
 * 0 = row read, 1 = no row, -1 = error. */
static int fetch_one(exo_storage *s, sqlite3_stmt *st, const row_kind *kind, void *out)
{
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        ret = kind->read(st, out);
        if (ret != 0) {
            log_error("sqlite: a stored %s row could not be read (out of memory?)", kind->what);
            kind->free_row(out);
            memset(out, 0, kind->size);
        }
    } else {
        ret = rc == SQLITE_DONE ? 1 : step_error(s, rc);
    }
    unprep(s, st);
    return ret;
}

/* Reads every row of st (NULL: preparing failed) into a new array *out of *n rows
 * and releases st.  0 = ok; -1 = error, with *out NULL and *n 0. */
static int fetch_all(exo_storage *s, sqlite3_stmt *st, const row_kind *kind, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        void *row = grow(out, n, kind->size);
        if (!row || kind->read(st, row) != 0) {
            log_error("sqlite: a stored %s row could not be read (out of memory?)", kind->what);
            rc = SQLITE_NOMEM;
            break;
        }
    }
    unprep(s, st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_NOMEM)
        step_error(s, rc);
    for (size_t i = 0; i < *n; i++)
        kind->free_row((char *)*out + i * kind->size);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

/* ---- transactions -------------------------------------------------------------- */

/* One transaction-control statement (through the statement cache). */
static int sq_exec_sql(exo_storage *s, const char *sql)
{
    sqlite3_stmt *st = prep(s, sql);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        log_error("sqlite '%s' failed: %s", sql, sqlite3_errmsg(DB(s)));
        unprep(s, st);
        return -1;
    }
    unprep(s, st);
    return 0;
}

static int sq_begin(exo_storage *s) { return sq_exec_sql(s, "BEGIN IMMEDIATE"); }
static int sq_commit(exo_storage *s) { return sq_exec_sql(s, "COMMIT"); }

static int sq_rollback(exo_storage *s)
{
    if (sqlite3_get_autocommit(DB(s)))
        return 0; /* already rolled back by SQLite after an error */
    return sq_exec_sql(s, "ROLLBACK");
}

static int savepoint_sql(exo_storage *s, const char *verb, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "%s %s", verb, name);
    return sq_exec_sql(s, sql);
}

static int sq_savepoint(exo_storage *s, const char *n) { return savepoint_sql(s, "SAVEPOINT", n); }
static int sq_release(exo_storage *s, const char *n) { return savepoint_sql(s, "RELEASE SAVEPOINT", n); }
static int sq_rollback_to(exo_storage *s, const char *n) { return savepoint_sql(s, "ROLLBACK TO SAVEPOINT", n); }

static void sq_close(exo_storage *s)
{
    cache_clear((sqlite_storage *)s);
    sqlite3_close(DB(s));
    free(s);
}

/* ---- nodes ------------------------------------------------------------------------ */

#define NODE_COLS                                                                                          \
    "id, created_at, updated_at, name, namespace_name, runtime_name, inputs_schema, outputs_schema, secrets," \
    " registered_at"

/* 1 when JSON column i was read: an object, or a stored JSON null. */
static int json_read(sqlite3_stmt *st, int i, json_object *v)
{
    const unsigned char *t = v ? NULL : sqlite3_column_text(st, i);
    return v != NULL || (t && !strcmp((const char *)t, "null"));
}

/* The read_* functions return -1 when a NOT NULL column came back NULL (SQLite
 * out of memory, or a stored document that no longer parses): the caller then
 * fails the request instead of using a half-filled row. */
static int read_node(sqlite3_stmt *st, void *row)
{
    exo_node_row *r = row;
    col_id(st, 0, r->id);
    r->created_at = sqlite3_column_int64(st, 1);
    r->updated_at = sqlite3_column_int64(st, 2);
    r->name = col_text(st, 3);
    r->namespace_name = col_text(st, 4);
    r->runtime_name = col_text(st, 5);
    r->inputs_schema = col_json(st, 6);
    r->outputs_schema = col_json(st, 7);
    r->secrets = col_json(st, 8);
    r->registered_at = sqlite3_column_int64(st, 9);
    return r->name && r->namespace_name && r->runtime_name && json_read(st, 6, r->inputs_schema) &&
                   json_read(st, 7, r->outputs_schema) && json_read(st, 8, r->secrets)
               ? 0
               : -1;
}

static void free_node_row(void *row)
{
    exo_node_row_free(row);
}

static const row_kind node_rows = {"node", sizeof(exo_node_row), read_node, free_node_row};

static int sq_node_upsert(exo_storage *s, const exo_node_row *r)
{
    return EXEC(s,
                "INSERT INTO nodes(" NODE_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(namespace_name, name) DO UPDATE SET runtime_name=excluded.runtime_name,"
                " inputs_schema=excluded.inputs_schema, outputs_schema=excluded.outputs_schema,"
                " secrets=excluded.secrets, registered_at=excluded.registered_at",
                "tiitttjjji", r->id, r->created_at, r->updated_at, r->name, r->namespace_name,
                r->runtime_name, r->inputs_schema, r->outputs_schema, r->secrets, r->registered_at);
}

static int sq_node_get(exo_storage *s, const char *ns, const char *name, exo_node_row *out)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT " NODE_COLS " FROM nodes WHERE namespace_name=? AND name=?",
                                 "tt", ns, name);
    return fetch_one(s, st, &node_rows, out);
}

static int sq_node_list(exo_storage *s, const char *ns, exo_node_row **out, size_t *n)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT " NODE_COLS " FROM nodes WHERE namespace_name=? ORDER BY seq", "t", ns);
    return fetch_all(s, st, &node_rows, (void **)out, n);
}

static int sq_namespaces(exo_storage *s, json_object **out)
{
    *out = json_object_new_array();
    sqlite3_stmt *st = prep(s, "SELECT DISTINCT namespace_name FROM nodes WHERE namespace_name <> ''"
                               " ORDER BY CAST(namespace_name AS BLOB)");
    if (!st || !*out) {
        unprep(s, st);
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        json_object *item = name ? json_object_new_string((const char *)name) : NULL;
        if (!item || json_object_array_add(*out, item) != 0) {
            json_object_put(item);
            unprep(s, st);
            return -1;
        }
    }
    unprep(s, st);
    return step_error(s, rc);
}

/* ---- graphs ----------------------------------------------------------------------- */

#define GRAPH_COLS "g.id, g.created_at, g.updated_at, g.namespace_name, g.name, g.version, v.template," \
                   " g.validation_status, g.validation_errors"

static int read_graph(sqlite3_stmt *st, void *row)
{
    exo_graph_row *r = row;
    col_id(st, 0, r->id);
    r->created_at = sqlite3_column_int64(st, 1);
    r->updated_at = sqlite3_column_int64(st, 2);
    r->namespace_name = col_text(st, 3);
    r->name = col_text(st, 4);
    r->version = sqlite3_column_int64(st, 5);
    r->template_ = col_json(st, 6);
    int status = exo_graph_status_from_name((const char *)sqlite3_column_text(st, 7));
    r->validation_status = status < 0 ? EXO_GRAPH_PENDING : (exo_graph_status)status;
    r->validation_errors = col_json(st, 8);
    return r->namespace_name && r->name && json_read(st, 6, r->template_) && status >= 0 &&
                   json_read(st, 8, r->validation_errors)
               ? 0
               : -1;
}

static void free_graph_row(void *row)
{
    exo_graph_row_free(row);
}

static const row_kind graph_rows = {"graph", sizeof(exo_graph_row), read_graph, free_graph_row};

static int sq_graph_get(exo_storage *s, const char *ns, const char *name, exo_graph_row *out)
{
    sqlite3_stmt *st = prep_bind(s,
                                 "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"
                                 " WHERE g.namespace_name=? AND g.name=?",
                                 "tt", ns, name);
    return fetch_one(s, st, &graph_rows, out);
}

static int sq_graph_save(exo_storage *s, exo_graph_row *r)
{
    if (EXEC(s, "INSERT INTO graph_versions(namespace_name, name, template) VALUES(?,?,?)", "ttj",
             r->namespace_name, r->name, r->template_) != 0)
        return -1;
    r->version = sqlite3_last_insert_rowid(DB(s));
    return EXEC(s,
                "INSERT INTO graphs(id, created_at, updated_at, namespace_name, name, version,"
                " validation_status, validation_errors) VALUES(?,?,?,?,?,?,?,?)"
                " ON CONFLICT(namespace_name, name) DO UPDATE SET updated_at=excluded.updated_at,"
                " version=excluded.version, validation_status=excluded.validation_status,"
                " validation_errors=excluded.validation_errors",
                "tiittitj", r->id, r->created_at, r->updated_at, r->namespace_name, r->name, r->version,
                exo_graph_status_names[r->validation_status], r->validation_errors) == 0
               ? 0
               : -1;
}

static int sq_graph_set_validation(exo_storage *s, const char *ns, const char *name, int64_t version,
                                   exo_graph_status status, json_object *errors, int64_t now)
{
    if (EXEC(s,
             "UPDATE graphs SET validation_status=?, validation_errors=?, updated_at=?"
             " WHERE namespace_name=? AND name=? AND version=? AND (validation_status<>? OR validation_errors<>?)",
             "tjittitj", exo_graph_status_names[status], errors, now, ns, name, version, exo_graph_status_names[status],
             errors) != 0)
        return -1;
    return sqlite3_changes(DB(s)) == 1 ? 0 : 1;
}

static int sq_graph_list(exo_storage *s, const char *ns, exo_graph_row **out, size_t *n)
{
    sqlite3_stmt *st = ns ? prep_bind(s,
                                      "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"
                                      " WHERE g.namespace_name=? ORDER BY g.seq",
                                      "t", ns)
                          : prep(s, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"
                                    " ORDER BY g.seq");
    return fetch_all(s, st, &graph_rows, (void **)out, n);
}

static int sq_graph_version(exo_storage *s, int64_t version, json_object **tpl)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT template FROM graph_versions WHERE version=?", "i", version);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        *tpl = col_json(st, 0);
        ret = *tpl ? 0 : -1;
    } else {
        ret = rc == SQLITE_DONE ? 1 : step_error(s, rc);
    }
    unprep(s, st);
    return ret;
}

static int sq_graph_delete(exo_storage *s, const char *ns, const char *name)
{
    if (EXEC(s, "DELETE FROM graphs WHERE namespace_name=? AND name=?", "tt", ns, name) != 0)
        return -1;
    if (sqlite3_changes(DB(s)) == 0)
        return 1;
    if (EXEC(s, "DELETE FROM triggers WHERE namespace_name=? AND graph_name=?", "tt", ns, name) != 0)
        return -1;
    return EXEC(s,
                "DELETE FROM graph_versions WHERE namespace_name=? AND name=?"
                " AND NOT EXISTS(SELECT 1 FROM runs WHERE runs.graph_version=graph_versions.version)",
                "tt", ns, name) == 0
               ? 0
               : -1;
}

/* ---- runs and store ------------------------------------------------------------- */

static int sq_run_insert(exo_storage *s, const char *run_id, const char *ns, const char *graph, int64_t version,
                         int64_t created_at)
{
    return EXEC(s, "INSERT INTO runs(run_id, namespace_name, graph_name, graph_version, created_at) VALUES(?,?,?,?,?)",
                "tttii", run_id, ns, graph, version, created_at) == 0
               ? 0
               : -1;
}

static int sq_run_version(exo_storage *s, const char *run_id, int64_t *version, char **ns)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT graph_version, namespace_name FROM runs WHERE run_id=?", "t", run_id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *ns = col_text(st, 1);
        ret = *ns ? 0 : -1;
    } else {
        ret = rc == SQLITE_DONE ? 1 : step_error(s, rc);
    }
    unprep(s, st);
    return ret;
}

static int run_counts(exo_storage *s, exo_run_row *r)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT status, count(*) FROM states WHERE run_id=? GROUP BY status", "t",
                                 r->run_id);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int idx = exo_status_from_name((const char *)sqlite3_column_text(st, 0));
        if (idx < 0) { /* out of memory or an unknown status: counts would be wrong */
            unprep(s, st);
            return -1;
        }
        r->counts[idx] = sqlite3_column_int64(st, 1);
    }
    unprep(s, st);
    return step_error(s, rc);
}

static int sq_run_page(exo_storage *s, const char *ns, int64_t offset, int64_t limit, exo_run_row **out, size_t *n,
                       int64_t *total)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = prep_bind(s, "SELECT count(*) FROM runs WHERE namespace_name=?", "t", ns);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    unprep(s, st);
    if (rc != SQLITE_ROW)
        return step_error(s, rc);
    st = prep_bind(s,
                   "SELECT run_id, graph_name, created_at FROM runs WHERE namespace_name=?"
                   " ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?",
                   "tii", ns, limit, offset);
    if (!st)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        exo_run_row *r = grow((void **)out, n, sizeof **out);
        if (!r) {
            unprep(s, st);
            return -1;
        }
        r->run_id = col_text(st, 0);
        r->graph_name = col_text(st, 1);
        r->created_at = sqlite3_column_int64(st, 2);
    }
    unprep(s, st);
    if (step_error(s, rc) != 0)
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (run_counts(s, &(*out)[i]) != 0)
            return -1;
    return 0;
}

#define RUN_COLS "run_id, graph_name, namespace_name, created_at, seq, cancelled_at, cancelled_by"

static int read_run(sqlite3_stmt *st, void *row)
{
    exo_run_row *r = row;
    r->run_id = col_text(st, 0);
    r->graph_name = col_text(st, 1);
    r->namespace_name = col_text(st, 2);
    r->created_at = sqlite3_column_int64(st, 3);
    r->seq = sqlite3_column_int64(st, 4);
    r->cancelled_at = sqlite3_column_int64(st, 5);
    r->cancelled_by = col_text(st, 6);
    int by_ok = r->cancelled_by || sqlite3_column_type(st, 6) == SQLITE_NULL;
    return r->run_id && r->graph_name && r->namespace_name && by_ok ? 0 : -1;
}

static void free_run_row(void *row)
{
    exo_run_row_free(row);
}

static const row_kind run_rows = {"run", sizeof(exo_run_row), read_run, free_run_row};

static int sq_run_get(exo_storage *s, const char *ns, const char *run_id, exo_run_row *out)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT " RUN_COLS " FROM runs WHERE run_id=? AND namespace_name=?", "tt", run_id, ns);
    int rc = fetch_one(s, st, &run_rows, out);
    if (rc == 0 && run_counts(s, out) != 0) {
        exo_run_row_free(out);
        return -1;
    }
    return rc;
}

/* Only PENDING runs asked for, of one namespace: the few runs with an unfinished
 * state are then found through the claim index first, instead of probing the
 * states of every run (the status condition still decides). */
static int query_pending_only(const exo_run_query *q)
{
    return q->ns && (q->status_mask & ((1u << EXO_RUN_STATUS_COUNT) - 1)) == (1u << EXO_RUN_PENDING);
}

/* A run id prefix this long matches few runs (ids are random): they are then read
 * by the run_id index's range and sorted, instead of walking the namespace's runs
 * newest first until enough match (which reads every run when few do).  A shorter
 * prefix matches many runs, so the walk ends soon. */
#define PREFIX_RANGE_MIN 2

static int prefix_by_range(const exo_run_query *q)
{
    return q->run_id_prefix && strlen(q->run_id_prefix) >= PREFIX_RANGE_MIN;
}

/* The run_query statement for q: its WHERE clause holds only the filters q uses,
 * so each combination is one cached statement text. */
static sqlite3_stmt *prep_run_query(exo_storage *s, const exo_run_query *q)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f)
        return NULL;
    fputs("SELECT r.run_id, r.graph_name, r.namespace_name, r.created_at, r.seq, r.cancelled_at, r.cancelled_by"
          " FROM runs r WHERE 1", f);
    /* (unary + keeps the planner off the namespace's index when the range is better) */
    if (q->ns)
        fputs(prefix_by_range(q) ? " AND +r.namespace_name=?" : " AND r.namespace_name=?", f);
    if (q->graph_name)
        fputs(prefix_by_range(q) ? " AND +r.graph_name=?" : " AND r.graph_name=?", f);
    if (q->since > 0)
        fputs(" AND r.created_at>=?", f);
    if (q->until > 0)
        fputs(" AND r.created_at<?", f);
    if (q->run_id_prefix)
        fputs(" AND substr(r.run_id, 1, length(?))=?", f);
    if (prefix_by_range(q)) /* every text that starts with the prefix sorts in [prefix, prefix U+10FFFF) */
        fputs(" AND r.run_id>=? AND r.run_id<?||char(1114111)", f);
    if (q->after_seq > 0)
        fputs(" AND (r.created_at<? OR (r.created_at=? AND r.seq<?))", f);
    unsigned mask = q->status_mask & ((1u << EXO_RUN_STATUS_COUNT) - 1);
    if (query_pending_only(q))
        /* one branch per status, each on its partial index (:pns binds all three) */
        fputs(" AND r.run_id IN (SELECT run_id FROM states WHERE namespace_name=:pns AND status='CREATED'"
              " UNION ALL SELECT run_id FROM states WHERE namespace_name=:pns AND status='QUEUED'"
              " UNION ALL SELECT run_id FROM states WHERE namespace_name=:pns AND status='EXECUTED')", f);
    exo_run_status_condition(f, mask);
    fputs(" ORDER BY r.created_at DESC, r.seq DESC LIMIT ?", f);
    if (fclose(f) != 0) {
        free(sql);
        return NULL;
    }
    sqlite3_stmt *st = prep(s, sql);
    free(sql);
    if (!st)
        return NULL;
    int idx = 1, rc = SQLITE_OK;
    if (q->ns)
        rc = bind_text(st, idx++, q->ns);
    if (rc == SQLITE_OK && q->graph_name)
        rc = bind_text(st, idx++, q->graph_name);
    if (rc == SQLITE_OK && q->since > 0)
        rc = sqlite3_bind_int64(st, idx++, q->since);
    if (rc == SQLITE_OK && q->until > 0)
        rc = sqlite3_bind_int64(st, idx++, q->until);
    if (rc == SQLITE_OK && q->run_id_prefix) {
        rc = bind_text(st, idx++, q->run_id_prefix);
        if (rc == SQLITE_OK)
            rc = bind_text(st, idx++, q->run_id_prefix);
    }
    for (int k = 0; k < 2 && rc == SQLITE_OK && prefix_by_range(q); k++)
        rc = bind_text(st, idx++, q->run_id_prefix);
    if (rc == SQLITE_OK && q->after_seq > 0) {
        rc = sqlite3_bind_int64(st, idx++, q->after_created_at);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, idx++, q->after_created_at);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, idx++, q->after_seq);
    }
    if (rc == SQLITE_OK && query_pending_only(q))
        rc = bind_text(st, idx++, q->ns);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, idx++, q->limit);
    if (rc != SQLITE_OK) {
        log_error("sqlite bind failed: %s", sqlite3_errmsg(DB(s)));
        unprep(s, st);
        return NULL;
    }
    return st;
}

static int sq_run_query(exo_storage *s, const exo_run_query *q, exo_run_row **out, size_t *n)
{
    if (fetch_all(s, prep_run_query(s, q), &run_rows, (void **)out, n) != 0)
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (run_counts(s, &(*out)[i]) != 0) {
            exo_run_rows_free(*out, *n);
            *out = NULL;
            *n = 0;
            return -1;
        }
    return 0;
}

static int sq_run_mark_cancelled(exo_storage *s, const char *run_id, const char *by, int64_t at)
{
    if (EXEC(s, "UPDATE runs SET cancelled_at=?, cancelled_by=? WHERE run_id=? AND cancelled_at=0", "itt", at, by,
             run_id) != 0)
        return -1;
    return sqlite3_changes(DB(s)) == 1 ? 0 : 1;
}

static int sq_run_delete(exo_storage *s, const char *run_id, int finished_only)
{
    if (EXEC(s,
             "DELETE FROM runs WHERE run_id=?1 AND (?2=0 OR cancelled_at>0 OR NOT EXISTS(SELECT 1 FROM states"
             " WHERE run_id=?1 AND status IN ('CREATED','QUEUED','EXECUTED')))",
             "ti", run_id, (int64_t)finished_only) != 0)
        return -1;
    if (sqlite3_changes(DB(s)) == 0)
        return 1;
    if (EXEC(s, "DELETE FROM state_ancestors WHERE state_id IN (SELECT id FROM states WHERE run_id=?)", "t", run_id) != 0 ||
        EXEC(s, "DELETE FROM states WHERE run_id=?", "t", run_id) != 0 ||
        EXEC(s, "DELETE FROM store WHERE run_id=?", "t", run_id) != 0)
        return -1;
    return 0;
}

static int sq_store_put(exo_storage *s, const char *run_id, const char *ns, const char *graph, const char *key,
                        json_object *value)
{
    sqlite3_stmt *st = prep_bind(s,
                                 "INSERT INTO store(run_id, namespace_name, graph_name, key, value) VALUES(?,?,?,?,?)"
                                 " ON CONFLICT(run_id, namespace_name, graph_name, key) DO UPDATE SET value=excluded.value",
                                 "tttt", run_id, ns, graph, key);
    if (!st)
        return -1;
    /* bound by length: a value may contain U+0000 */
    if (sqlite3_bind_text(st, 5, json_object_get_string(value), json_object_get_string_len(value),
                          SQLITE_TRANSIENT) != SQLITE_OK) {
        log_error("sqlite bind failed: %s", sqlite3_errmsg(DB(s)));
        unprep(s, st);
        return -1;
    }
    return exec_stmt(s, st) == 0 ? 0 : -1;
}

static int sq_store_get(exo_storage *s, const char *run_id, const char *ns, const char *graph, const char *key,
                        json_object **value)
{
    sqlite3_stmt *st = prep_bind(s,
                                 "SELECT value FROM store WHERE run_id=? AND namespace_name=? AND graph_name=? AND key=?",
                                 "tttt", run_id, ns, graph, key);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        int len = sqlite3_column_bytes(st, 0); /* after column_text: the UTF-8 length, NULs included */
        *value = t ? json_object_new_string_len((const char *)t, len) : NULL;
        ret = *value ? 0 : -1;
    } else {
        ret = rc == SQLITE_DONE ? 1 : step_error(s, rc);
    }
    unprep(s, st);
    return ret;
}

/* ---- states ------------------------------------------------------------------------ */

#define STATE_COLS "id, created_at, updated_at, node_name, namespace_name, identifier, graph_name, run_id," \
                   " status, inputs, outputs, data, error, parents, does_unites, unite_key, enqueue_after,"  \
                   " retry_count, fanout_id, manual_retry_fanout_id, exec_group, lease_expires_at, lease_ms," \
                   " claimed_by"

static int read_state(sqlite3_stmt *st, void *row)
{
    exo_state_row *r = row;
    memset(r, 0, sizeof *r); /* fields no column fills (run_version, run_namespace) */
    col_id(st, 0, r->id);
    r->created_at = sqlite3_column_int64(st, 1);
    r->updated_at = sqlite3_column_int64(st, 2);
    r->node_name = col_text(st, 3);
    r->namespace_name = col_text(st, 4);
    r->identifier = col_text(st, 5);
    r->graph_name = col_text(st, 6);
    r->run_id = col_text(st, 7);
    int status = exo_status_from_name((const char *)sqlite3_column_text(st, 8));
    r->status = status < 0 ? EXO_ST_CREATED : (exo_status)status;
    r->inputs = col_json(st, 9);
    r->outputs = col_json(st, 10);
    r->data = col_json(st, 11);
    r->error = col_text(st, 12);
    r->parents = col_json(st, 13);
    r->does_unites = sqlite3_column_int(st, 14);
    r->unite_key = col_text(st, 15);
    r->enqueue_after = sqlite3_column_int64(st, 16);
    r->retry_count = sqlite3_column_int64(st, 17);
    r->fanout_id = col_text(st, 18);
    r->manual_retry_fanout_id = col_text(st, 19);
    col_id(st, 20, r->exec_group);
    r->lease_expires_at = sqlite3_column_int64(st, 21);
    r->lease_ms = sqlite3_column_int64(st, 22);
    r->claimed_by = col_text(st, 23);
    int claimer_ok = r->claimed_by || sqlite3_column_type(st, 23) == SQLITE_NULL;
    int error_ok = r->error || sqlite3_column_type(st, 12) == SQLITE_NULL;
    int unite_ok = r->unite_key || sqlite3_column_type(st, 15) == SQLITE_NULL;
    return r->node_name && r->namespace_name && r->identifier && r->graph_name && r->run_id &&
                   json_read(st, 9, r->inputs) && json_read(st, 10, r->outputs) && json_read(st, 11, r->data) &&
                   json_read(st, 13, r->parents) && r->fanout_id && r->manual_retry_fanout_id && error_ok && unite_ok && claimer_ok &&
                   status >= 0
               ? 0
               : -1;
}

static void free_state_row(void *row)
{
    exo_state_row_free(row);
}

static const row_kind state_rows = {"state", sizeof(exo_state_row), read_state, free_state_row};

static int sq_state_insert(exo_storage *s, const exo_state_row *r)
{
    return EXEC(s, "INSERT INTO states(" STATE_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                "tiitttttt" "jjjtjitiitttiit", r->id, r->created_at, r->updated_at, r->node_name, r->namespace_name,
                r->identifier, r->graph_name, r->run_id, exo_status_names[r->status], r->inputs, r->outputs, r->data, r->error,
                r->parents, (int64_t)r->does_unites, r->unite_key, r->enqueue_after, r->retry_count, r->fanout_id,
                r->manual_retry_fanout_id, r->exec_group, r->lease_expires_at, r->lease_ms, r->claimed_by);
}

static int sq_state_get(exo_storage *s, const char *id, exo_state_row *out)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT " STATE_COLS " FROM states WHERE id=?", "t", id);
    return fetch_one(s, st, &state_rows, out);
}

/* One connection and the caller's db lock: no other transaction can change the row
 * before this one ends, so the plain read is the locked read. */
static int sq_state_lock(exo_storage *s, const char *id, exo_state_row *out)
{
    return sq_state_get(s, id, out);
}

static int mirror_status(exo_storage *s, const char *id, exo_status status)
{
    return EXEC(s, "UPDATE state_ancestors SET status=? WHERE state_id=?", "tt", exo_status_names[status], id) == 0
               ? 0
               : -1;
}

static int sq_state_update(exo_storage *s, const exo_state_row *r)
{
    if (mirror_status(s, r->id, r->status) != 0)
        return -1;
    return EXEC(s,
                "UPDATE states SET updated_at=?, status=?, inputs=?, outputs=?, data=?, error=?, parents=?,"
                " enqueue_after=?, exec_group=?, lease_expires_at=? WHERE id=?",
                "itjjjtjitit", r->updated_at, exo_status_names[r->status], r->inputs, r->outputs, r->data, r->error, r->parents,
                r->enqueue_after, r->exec_group, r->lease_expires_at, r->id) == 0
               ? 0
               : -1;
}

/* "?,?,?" for n parameters, appended to buf. */
static char *claim_sql(const char *head, size_t nnodes, const char *tail)
{
    size_t len = strlen(head) + 2 * nnodes + strlen(tail) + 1;
    char *sql = malloc(len);
    if (!sql)
        return NULL;
    char *p = sql + sprintf(sql, "%s", head);
    for (size_t i = 0; i < nnodes; i++)
        p += sprintf(p, i ? ",?" : "?");
    strcpy(p, tail);
    return sql;
}

static sqlite3_stmt *prep_nodes_query(exo_storage *s, const char *head, const char *tail, const char *ns,
                                      const char *const *nodes, size_t nnodes, int64_t a, int64_t b, int bind_b)
{
    char *sql = claim_sql(head, nnodes, tail);
    if (!sql)
        return NULL;
    sqlite3_stmt *st = prep(s, sql);
    free(sql);
    if (!st)
        return NULL;
    int idx = 1;
    int rc = bind_text(st, idx++, ns);
    for (size_t i = 0; i < nnodes && rc == SQLITE_OK; i++)
        rc = bind_text(st, idx++, nodes[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, idx++, a);
    if (rc == SQLITE_OK && bind_b)
        rc = sqlite3_bind_int64(st, idx++, b);
    if (rc != SQLITE_OK) {
        unprep(s, st);
        return NULL;
    }
    return st;
}

static int sq_state_claim(exo_storage *s, const char *ns, const char *const *nodes, size_t nnodes, int64_t now,
                          int64_t lease_ms, const char *claimed_by, size_t limit, exo_state_row **out, size_t *n,
                          int64_t *next_due)
{
    int64_t lease_until = now + lease_ms;
    *out = NULL;
    *n = 0;
    *next_due = 0;
    if (nnodes == 0)
        return 0;
    sqlite3_stmt *st = prep_nodes_query(s, "SELECT " STATE_COLS " FROM states WHERE namespace_name=?"
                                           " AND status='CREATED' AND node_name IN (",
                                        ") AND enqueue_after<=? LIMIT ?", ns, nodes, nnodes, now, (int64_t)limit, 1);
    if (fetch_all(s, st, &state_rows, (void **)out, n) != 0)
        return -1;
    for (size_t i = 0; i < *n; i++) {
        exo_state_row *r = &(*out)[i];
        r->status = EXO_ST_QUEUED;
        r->lease_expires_at = lease_until;
        r->lease_ms = lease_ms;
        free(r->claimed_by);
        r->claimed_by = claimed_by ? strdup(claimed_by) : NULL;
        if ((claimed_by && !r->claimed_by) ||
            EXEC(s, "UPDATE states SET status='QUEUED', lease_expires_at=?, lease_ms=?, claimed_by=?"
                    " WHERE id=? AND status='CREATED'",
                 "iitt", lease_until, lease_ms, claimed_by, r->id) != 0 ||
            mirror_status(s, r->id, EXO_ST_QUEUED) != 0)
            return -1;
    }
    if (*n > 0)
        return 0;
    st = prep_nodes_query(s, "SELECT min(enqueue_after) FROM states WHERE namespace_name=?"
                             " AND status='CREATED' AND node_name IN (",
                          ") AND enqueue_after>?", ns, nodes, nnodes, now, 0, 0);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *next_due = sqlite3_column_int64(st, 0);
    unprep(s, st);
    return rc == SQLITE_ROW ? 0 : step_error(s, rc);
}

static int sq_ancestors_copy(exo_storage *s, const char *from, const char *to)
{
    return EXEC(s,
                "INSERT OR IGNORE INTO state_ancestors(ancestor_group, state_id, status)"
                " SELECT a.ancestor_group, s.id, s.status FROM state_ancestors a, states s"
                " WHERE a.state_id=? AND s.id=?",
                "tt", from, to) == 0
               ? 0
               : -1;
}

static int sq_ancestor_add(exo_storage *s, const char *group, const char *state_id)
{
    return EXEC(s,
                "INSERT OR IGNORE INTO state_ancestors(ancestor_group, state_id, status)"
                " SELECT ?, id, status FROM states WHERE id=?",
                "tt", group, state_id) == 0
               ? 0
               : -1;
}

static int sq_group_has_status(exo_storage *s, const char *group, unsigned mask)
{
    char in[256] = "";
    size_t len = 0;
    for (int i = 0; i < EXO_ST_COUNT; i++)
        if (mask & EXO_ST_BIT(i))
            len += (size_t)snprintf(in + len, sizeof in - len, "%s'%s'", len ? "," : "", exo_status_names[i]);
    if (!len)
        return 0;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT 1 FROM state_ancestors WHERE ancestor_group=? AND status IN (%s) LIMIT 1",
             in);
    sqlite3_stmt *st = prep_bind(s, sql, "t", group);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    unprep(s, st);
    if (rc == SQLITE_ROW)
        return 1;
    return step_error(s, rc);
}

static int sq_unite_exists(exo_storage *s, const char *key)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT 1 FROM states WHERE unite_key=?", "t", key);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    unprep(s, st);
    if (rc == SQLITE_ROW)
        return 1;
    return step_error(s, rc);
}

static int sq_states_of_run(exo_storage *s, const char *ns, const char *run_id, exo_state_row **out, size_t *n)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT " STATE_COLS " FROM states WHERE run_id=? AND namespace_name=? ORDER BY seq",
                                 "tt", run_id, ns);
    return fetch_all(s, st, &state_rows, (void **)out, n);
}

static int sq_lease_renew(exo_storage *s, const char *ns, const char *id, int64_t until, int64_t lease_ms)
{
    if (EXEC(s, "UPDATE states SET lease_expires_at=?, lease_ms=? WHERE id=? AND namespace_name=? AND status='QUEUED'",
             "iitt", until, lease_ms, id, ns) != 0)
        return -1;
    return sqlite3_changes(DB(s)) == 1 ? 0 : 1;
}

static int sq_state_logs_set(exo_storage *s, const char *id, const char *logs, size_t len)
{
    sqlite3_stmt *st = prep_bind(s, "UPDATE states SET logs=? WHERE id=?", "");
    if (!st)
        return -1;
    /* bound by length: node output may contain U+0000 */
    if (sqlite3_bind_text(st, 1, logs, (int)len, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        log_error("sqlite bind failed: %s", sqlite3_errmsg(DB(s)));
        unprep(s, st);
        return -1;
    }
    if (exec_stmt(s, st) != 0)
        return -1;
    return sqlite3_changes(DB(s)) == 1 ? 0 : 1;
}

static int sq_state_logs_get(exo_storage *s, const char *ns, const char *id, char **logs, size_t *len)
{
    *logs = NULL;
    *len = 0;
    sqlite3_stmt *st = prep_bind(s, "SELECT logs FROM states WHERE id=? AND namespace_name=?", "tt", id, ns);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0); /* after column_text: the UTF-8 length, NULs included */
        if (!t || !(*logs = malloc((size_t)n + 1))) {
            ret = -1;
        } else {
            memcpy(*logs, t, (size_t)n);
            (*logs)[n] = '\0';
            *len = (size_t)n;
        }
    } else if (rc == SQLITE_DONE) {
        ret = 1;
    } else if (rc != SQLITE_ROW) {
        log_error("sqlite state_logs_get failed: %s", sqlite3_errmsg(DB(s)));
        ret = -1;
    }
    unprep(s, st);
    return ret;
}

static int sq_run_finished(exo_storage *s, const char *run_id, int64_t *created_at)
{
    sqlite3_stmt *st = prep_bind(s,
                                 "SELECT created_at FROM runs WHERE run_id=? AND NOT EXISTS (SELECT 1 FROM states"
                                 " WHERE run_id=? AND status IN ('CREATED', 'QUEUED', 'EXECUTED'))",
                                 "tt", run_id, run_id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret = 1;
    if (rc == SQLITE_ROW) {
        *created_at = sqlite3_column_int64(st, 0);
        ret = 0;
    } else if (rc != SQLITE_DONE) {
        log_error("sqlite run_finished failed: %s", sqlite3_errmsg(DB(s)));
        ret = -1;
    }
    unprep(s, st);
    return ret;
}

static int read_queue(sqlite3_stmt *st, void *row)
{
    exo_queue_row *r = row;
    r->namespace_name = col_text(st, 0);
    r->node_name = col_text(st, 1);
    r->created = sqlite3_column_int64(st, 2);
    r->due = sqlite3_column_int64(st, 3);
    r->queued = sqlite3_column_int64(st, 4);
    return r->namespace_name && r->node_name ? 0 : -1;
}

static void free_queue_row(void *row)
{
    exo_queue_row *r = row;
    free(r->namespace_name);
    free(r->node_name);
}

static const row_kind queue_rows = {"queue", sizeof(exo_queue_row), read_queue, free_queue_row};

static int sq_queue_depth(exo_storage *s, int64_t now, size_t limit, exo_queue_row **out, size_t *n)
{
    sqlite3_stmt *st = prep_bind(s,
                                 /* one branch per status, each on its partial index */
                                 "SELECT ns, node, SUM(c), SUM(d), SUM(q) FROM ("
                                 " SELECT namespace_name AS ns, node_name AS node, 1 AS c, enqueue_after<=? AS d,"
                                 " 0 AS q FROM states WHERE status='CREATED'"
                                 " UNION ALL SELECT namespace_name, node_name, 0, 0, 1 FROM states"
                                 " WHERE status='QUEUED') GROUP BY ns, node"
                                 " ORDER BY CAST(ns AS BLOB), CAST(node AS BLOB) LIMIT ?",
                                 "ii", now, (int64_t)limit);
    return fetch_all(s, st, &queue_rows, (void **)out, n);
}

/* ---- worker registry ------------------------------------------------------------- */

#define RUNTIME_COLS "namespace_name, name, version, hostname, pid, slots, running, interval_ms, first_seen," \
                     " last_seen, nodes"

static int read_runtime(sqlite3_stmt *st, void *row)
{
    exo_runtime_row *r = row;
    r->namespace_name = col_text(st, 0);
    r->name = col_text(st, 1);
    r->version = col_text(st, 2);
    r->hostname = col_text(st, 3);
    r->pid = sqlite3_column_int64(st, 4);
    r->slots = sqlite3_column_int64(st, 5);
    r->running = sqlite3_column_int64(st, 6);
    r->interval_ms = sqlite3_column_int64(st, 7);
    r->first_seen = sqlite3_column_int64(st, 8);
    r->last_seen = sqlite3_column_int64(st, 9);
    r->nodes = col_json(st, 10);
    return r->namespace_name && r->name && r->version && r->hostname && json_read(st, 10, r->nodes) ? 0 : -1;
}

static void free_runtime_row(void *row)
{
    exo_runtime_row_free(row);
}

static const row_kind runtime_rows = {"runtime", sizeof(exo_runtime_row), read_runtime, free_runtime_row};

/* One integer of a one-row query (st NULL: preparing failed).  0 ok, -1 error. */
static int query_int(exo_storage *s, sqlite3_stmt *st, int64_t *out)
{
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    unprep(s, st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : step_error(s, rc);
}

static int sq_runtime_upsert(exo_storage *s, const exo_runtime_row *r, size_t max_per_ns, int64_t forget_before)
{
    if (EXEC(s, "DELETE FROM runtimes WHERE namespace_name=? AND last_seen<?", "ti", r->namespace_name,
             forget_before) != 0)
        return -1;
    int64_t known = 0, count = 0;
    if (query_int(s, prep_bind(s, "SELECT count(*) FROM runtimes WHERE namespace_name=? AND name=?", "tt",
                               r->namespace_name, r->name), &known) != 0 ||
        (!known && query_int(s, prep_bind(s, "SELECT count(*) FROM runtimes WHERE namespace_name=?", "t",
                                          r->namespace_name), &count) != 0))
        return -1;
    if (!known && (size_t)count >= max_per_ns)
        return 1;
    return EXEC(s,
                "INSERT INTO runtimes(" RUNTIME_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(namespace_name, name) DO UPDATE SET version=excluded.version,"
                " hostname=excluded.hostname, pid=excluded.pid, slots=excluded.slots, running=excluded.running,"
                " interval_ms=excluded.interval_ms, nodes=excluded.nodes, last_seen=excluded.last_seen",
                "ttttiiiiiij", r->namespace_name, r->name, r->version, r->hostname, r->pid, r->slots, r->running,
                r->interval_ms, r->first_seen, r->last_seen, r->nodes) == 0
               ? 0
               : -1;
}

static int sq_runtime_list(exo_storage *s, const char *ns, exo_runtime_row **out, size_t *n)
{
    sqlite3_stmt *st = prep_bind(s, "SELECT " RUNTIME_COLS " FROM runtimes WHERE namespace_name=?"
                                    " ORDER BY CAST(name AS BLOB)", "t", ns);
    return fetch_all(s, st, &runtime_rows, (void **)out, n);
}

static int sq_lease_expired(exo_storage *s, int64_t now, size_t limit, char (**ids)[EXO_ID_LEN + 1], size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st = prep_bind(s,
                                 "SELECT id FROM states WHERE status='QUEUED' AND lease_expires_at>0"
                                 " AND lease_expires_at<=? LIMIT ?",
                                 "ii", now, (int64_t)limit);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char(*slot)[EXO_ID_LEN + 1] = grow((void **)ids, n, sizeof **ids);
        if (!slot) {
            unprep(s, st);
            return -1;
        }
        col_id(st, 0, *slot);
    }
    unprep(s, st);
    return step_error(s, rc);
}

/* ---- triggers --------------------------------------------------------------------- */

static int sq_trigger_insert(exo_storage *s, const char *expr, const char *ns, const char *graph, int64_t t,
                             int64_t expires)
{
    return EXEC(s,
                "INSERT OR IGNORE INTO triggers(type, expression, namespace_name, graph_name, trigger_time,"
                " trigger_status, expires_at) VALUES('CRON',?,?,?,?,'PENDING',?)",
                "tttii", expr, ns, graph, t, expires) == 0
               ? 0
               : -1;
}

static int sq_trigger_delete_pending(exo_storage *s, const char *ns, const char *graph, const char *expr)
{
    return EXEC(s,
                "DELETE FROM triggers WHERE trigger_status='PENDING' AND type='CRON' AND namespace_name=?"
                " AND graph_name=? AND expression=?",
                "ttt", ns, graph, expr) == 0
               ? 0
               : -1;
}

static int sq_trigger_claim(exo_storage *s, int64_t now, exo_trigger_row *out)
{
    sqlite3_stmt *st = prep_bind(s,
                                 "SELECT id, expression, namespace_name, graph_name, trigger_time FROM triggers"
                                 " WHERE trigger_status='PENDING' AND trigger_time<=? ORDER BY trigger_time LIMIT 1",
                                 "i", now);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        unprep(s, st);
        return rc == SQLITE_DONE ? 1 : step_error(s, rc);
    }
    out->id = sqlite3_column_int64(st, 0);
    out->expression = col_text(st, 1);
    out->namespace_name = col_text(st, 2);
    out->graph_name = col_text(st, 3);
    out->trigger_time = sqlite3_column_int64(st, 4);
    unprep(s, st);
    return EXEC(s, "UPDATE triggers SET trigger_status='TRIGGERING' WHERE id=?", "i", out->id) == 0 ? 0 : -1;
}

static int sq_trigger_finish(exo_storage *s, int64_t id, const char *status, int64_t expires_at)
{
    return EXEC(s, "UPDATE triggers SET trigger_status=?, expires_at=? WHERE id=?", "tii", status, expires_at, id) == 0
               ? 0
               : -1;
}

static int sq_trigger_housekeeping(exo_storage *s, int64_t now, int at_startup)
{
    if (at_startup &&
        EXEC(s, "UPDATE triggers SET trigger_status='PENDING' WHERE trigger_status='TRIGGERING'", "") != 0)
        return -1;
    return EXEC(s,
                "DELETE FROM triggers WHERE trigger_status IN ('TRIGGERED','FAILED')"
                " AND (expires_at IS NULL OR expires_at<=?)",
                "i", now) == 0
               ? 0
               : -1;
}

/* A local file: reachable once opened (a failing disk shows as failing calls). */
static int sq_health(exo_storage *s, int probe, char *err, size_t errlen)
{
    (void)s, (void)probe, (void)err, (void)errlen;
    return 0;
}

/* The busy timeout already waits for other writers: a failed transaction is not
 * worth repeating. */
static int sq_tx_retryable(exo_storage *s)
{
    (void)s;
    return 0;
}

/* One process owns the file: the app wakes its own long-polls. */
static int sq_listen_work(exo_storage *s, exo_storage_work_cb cb, void *ud)
{
    (void)s, (void)cb, (void)ud;
    return 0;
}

static const exo_storage_ops sqlite_ops = {
    .backend = "sqlite",
    .caps = 0, /* one connection: the caller serialises */
    .close = sq_close,
    .health = sq_health,
    .tx_retryable = sq_tx_retryable,
    .listen_work = sq_listen_work,
    .state_lock = sq_state_lock,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .node_upsert = sq_node_upsert,
    .node_get = sq_node_get,
    .node_list = sq_node_list,
    .namespaces = sq_namespaces,
    .graph_get = sq_graph_get,
    .graph_save = sq_graph_save,
    .graph_set_validation = sq_graph_set_validation,
    .graph_list = sq_graph_list,
    .graph_version = sq_graph_version,
    .graph_delete = sq_graph_delete,
    .run_insert = sq_run_insert,
    .run_version = sq_run_version,
    .run_page = sq_run_page,
    .store_put = sq_store_put,
    .store_get = sq_store_get,
    .run_get = sq_run_get,
    .run_query = sq_run_query,
    .run_mark_cancelled = sq_run_mark_cancelled,
    .run_delete = sq_run_delete,
    .state_insert = sq_state_insert,
    .state_get = sq_state_get,
    .state_update = sq_state_update,
    .state_claim = sq_state_claim,
    .ancestors_copy = sq_ancestors_copy,
    .ancestor_add = sq_ancestor_add,
    .group_has_status = sq_group_has_status,
    .unite_exists = sq_unite_exists,
    .states_of_run = sq_states_of_run,
    .lease_renew = sq_lease_renew,
    .lease_expired = sq_lease_expired,
    .queue_depth = sq_queue_depth,
    .runtime_upsert = sq_runtime_upsert,
    .runtime_list = sq_runtime_list,
    .state_logs_set = sq_state_logs_set,
    .state_logs_get = sq_state_logs_get,
    .run_finished = sq_run_finished,
    .trigger_insert = sq_trigger_insert,
    .trigger_delete_pending = sq_trigger_delete_pending,
    .trigger_claim = sq_trigger_claim,
    .trigger_finish = sq_trigger_finish,
    .trigger_housekeeping = sq_trigger_housekeeping,
};

static int user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* 1 when table has the column, 0 when not, -1 on error. */
static int has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc, found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        found |= sqlite3_column_text(st, 1) && !strcmp((const char *)sqlite3_column_text(st, 1), column);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? found : -1;
}

static int apply_migration(sqlite3 *db, const migration *m, char **msg)
{
    for (const column_add *c = m->columns; c && c->table; c++) {
        int has = has_column(db, c->table, c->column);
        if (has < 0)
            return -1;
        if (has)
            continue;
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", c->table, c->column, c->definition);
        if (sqlite3_exec(db, sql, NULL, NULL, msg) != SQLITE_OK)
            return -1;
    }
    return sqlite3_exec(db, m->sql, NULL, NULL, msg) == SQLITE_OK ? 0 : -1;
}

/* Brings the schema to SCHEMA_VERSION in one transaction; refuses a newer one. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
        goto failed;
    int version = 0;
    if (user_version(db, &version) != 0)
        goto failed;
    if (version > SCHEMA_VERSION) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return exo_errf(err, errlen,
                        "database %s has schema version %d, newer than this exo-state-manager knows (%d): "
                        "run the newer exo-state-manager that wrote it",
                        path, version, SCHEMA_VERSION);
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        if (apply_migration(db, &migrations[v], &msg) != 0)
            goto failed;
        log_info("database %s: schema migrated to version %d", path, v + 1);
    }
    char set_version[48];
    snprintf(set_version, sizeof set_version, "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (sqlite3_exec(db, set_version, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
        goto failed;
    return 0;
failed:
    exo_errf(err, errlen, "cannot initialise database %s: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

exo_storage *exo_storage_sqlite_open(const char *path, const exo_storage_options *opt, char *err, size_t errlen)
{
    (void)opt; /* one connection: no pool */
    sqlite_storage *s = calloc(1, sizeof *s);
    if (!s) {
        exo_errf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        exo_errf(err, errlen, "cannot open database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                     /* speed only, durability unchanged: a bounded 16 MiB page cache,
                        temporary b-trees in memory, and fewer, larger checkpoints
                        (each one an fsync under the db lock) */
                     " PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;"
                     " PRAGMA wal_autocheckpoint=8192;", NULL, NULL,
                     &msg) != SQLITE_OK) {
        exo_errf(err, errlen, "cannot initialise database %s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    if (migrate(s->db, path, err, errlen) != 0) {
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    return &s->base;
}
