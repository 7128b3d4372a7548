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
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "storage.h"
#include "strfmt.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define MAX_PARAMS 24
#define MIGRATION_LOCK 7304415001LL /* advisory lock key: "exo schema" */
#define WORK_CHANNEL "exo_work"

/* ---- schema ---------------------------------------------------------------------------- */

static const char *const schema_v1 =
    "CREATE TABLE nodes(seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE,"
    " namespace_name text NOT NULL, name text NOT NULL, runtime_name text NOT NULL,"
    " inputs_schema text NOT NULL, outputs_schema text NOT NULL, secrets text NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, UNIQUE(namespace_name, name));"
    "CREATE TABLE graphs(seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE,"
    " namespace_name text NOT NULL, name text NOT NULL, version bigint NOT NULL,"
    " validation_status text NOT NULL, validation_errors text NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, UNIQUE(namespace_name, name));"
    "CREATE TABLE graph_versions(version bigserial PRIMARY KEY,"
    " namespace_name text NOT NULL, name text NOT NULL, template text NOT NULL);"
    "CREATE TABLE runs(seq bigserial PRIMARY KEY, run_id text NOT NULL UNIQUE,"
    " namespace_name text NOT NULL, graph_name text NOT NULL, graph_version bigint NOT NULL,"
    " created_at bigint NOT NULL);"
    "CREATE INDEX runs_by_ns ON runs(namespace_name, created_at, seq);"
    /* bytea: store values keep U+0000, which PostgreSQL text cannot hold */
    "CREATE TABLE store(run_id text NOT NULL, namespace_name text NOT NULL,"
    " graph_name text NOT NULL, key text NOT NULL, value bytea NOT NULL,"
    " PRIMARY KEY(run_id, namespace_name, graph_name, key));"
    /* Every change of a state's status rewrites its row and adds an entry to each of
       its indexes that the new row belongs to: so the indexes are few, and partial
       where only some statuses are ever looked for.  seq orders a run's states and
       needs no index of its own. */
    "CREATE TABLE states(id text PRIMARY KEY, seq bigserial NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, node_name text NOT NULL,"
    " namespace_name text NOT NULL, identifier text NOT NULL, graph_name text NOT NULL,"
    " run_id text NOT NULL, status text NOT NULL, inputs text NOT NULL, outputs text NOT NULL,"
    " data text NOT NULL, error text, parents text NOT NULL, does_unites integer NOT NULL,"
    " unite_key text, enqueue_after bigint NOT NULL, retry_count bigint NOT NULL,"
    " fanout_id text NOT NULL, manual_retry_fanout_id text NOT NULL, exec_group text NOT NULL,"
    " lease_expires_at bigint NOT NULL DEFAULT 0, lease_ms bigint NOT NULL DEFAULT 0,"
    " UNIQUE(node_name, namespace_name, graph_name, identifier, run_id, retry_count, fanout_id));"
    "CREATE UNIQUE INDEX states_unite_key ON states(unite_key) WHERE unite_key IS NOT NULL;"
    /* the claim's: small (only claimable rows), and the one a generic plan picks */
    "CREATE INDEX states_created ON states(namespace_name, node_name, enqueue_after) WHERE status = 'CREATED';"
    "CREATE INDEX states_run ON states(run_id);"
    "CREATE INDEX states_lease ON states(lease_expires_at) WHERE status = 'QUEUED';"
    "CREATE TABLE state_ancestors(ancestor_group text NOT NULL, state_id text NOT NULL,"
    " status text NOT NULL, PRIMARY KEY(ancestor_group, state_id));"
    "CREATE INDEX state_ancestors_status ON state_ancestors(ancestor_group, status);"
    "CREATE INDEX state_ancestors_state ON state_ancestors(state_id);"
    "CREATE TABLE triggers(id bigserial PRIMARY KEY, type text NOT NULL,"
    " expression text NOT NULL, namespace_name text NOT NULL, graph_name text NOT NULL,"
    " trigger_time bigint NOT NULL, trigger_status text NOT NULL, expires_at bigint,"
    " UNIQUE(type, expression, graph_name, namespace_name, trigger_time));"
    "CREATE INDEX triggers_due ON triggers(trigger_status, trigger_time);"
    /* every replica's long-polls hear of claimable states, whoever committed them;
       a payload too long for NOTIFY wakes every long-poll instead */
    "CREATE FUNCTION exo_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE p text := NEW.namespace_name || chr(31) || NEW.node_name;"
    " BEGIN IF octet_length(p) > 7000 THEN p := ''; END IF;"
    " PERFORM pg_notify('" WORK_CHANNEL "', p); RETURN NULL; END $$;"
    "CREATE TRIGGER states_work AFTER INSERT OR UPDATE OF status ON states FOR EACH ROW"
    " WHEN (NEW.status = 'CREATED') EXECUTE FUNCTION exo_notify_work();";

/* Migration 2 (run controls, registry): a run's cancel mark; when a node was last
 * registered; indexes for the filtered run listing (by graph), for retention
 * (finished runs of every namespace, oldest first), for graph deletion, and for
 * the PENDING run listing: CREATED and QUEUED states are found through the claim
 * and lease indexes, EXECUTED ones (few, short-lived) through a partial index of
 * their own.  runs.seq (bigserial since version 1) is the listing's tie-break. */
static const char *const schema_v2 =
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS cancelled_at bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS cancelled_by text;"
    "ALTER TABLE nodes ADD COLUMN IF NOT EXISTS registered_at bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX IF NOT EXISTS runs_by_graph ON runs(namespace_name, graph_name, created_at, seq);"
    "CREATE INDEX IF NOT EXISTS runs_by_time ON runs(created_at, seq);"
    "CREATE INDEX IF NOT EXISTS graph_versions_by_name ON graph_versions(namespace_name, name);"
    "CREATE INDEX IF NOT EXISTS runs_by_version ON runs(graph_version);"
    "CREATE INDEX IF NOT EXISTS states_executed ON states(namespace_name) WHERE status = 'EXECUTED';";

/* Ordered migrations: entry i brings the schema from version i to i + 1.  Append
 * only; never edit one that has shipped. */
static const char *const migrations[] = {schema_v1, schema_v2};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

/* ---- statements -------------------------------------------------------------------------- */

#define NODE_COLS "id, created_at, updated_at, name, namespace_name, runtime_name, inputs_schema, outputs_schema," \
                  " secrets, registered_at"
#define RUN_COLS "run_id, graph_name, namespace_name, created_at, seq, cancelled_at, cancelled_by"
#define GRAPH_COLS "g.id, g.created_at, g.updated_at, g.namespace_name, g.name, g.version, v.template," \
                   " g.validation_status, g.validation_errors"
#define STATE_COLS "id, created_at, updated_at, node_name, namespace_name, identifier, graph_name, run_id," \
                   " status, inputs, outputs, data, error, parents, does_unites, unite_key, enqueue_after,"  \
                   " retry_count, fanout_id, manual_retry_fanout_id, exec_group, lease_expires_at, lease_ms"

/* Every statement, by number: each connection prepares one the first time it runs it. */
#define STATEMENTS(X)                                                                                           \
    X(NODE_UPSERT, "INSERT INTO nodes(" NODE_COLS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"                    \
                   " ON CONFLICT(namespace_name, name) DO UPDATE SET runtime_name=excluded.runtime_name,"       \
                   " inputs_schema=excluded.inputs_schema, outputs_schema=excluded.outputs_schema,"             \
                   " secrets=excluded.secrets, registered_at=excluded.registered_at")                          \
    X(NODE_GET, "SELECT " NODE_COLS " FROM nodes WHERE namespace_name=$1 AND name=$2")                          \
    X(NODE_LIST, "SELECT " NODE_COLS " FROM nodes WHERE namespace_name=$1 ORDER BY seq")                        \
    X(NAMESPACES, "SELECT DISTINCT namespace_name COLLATE \"C\" AS n FROM nodes WHERE namespace_name <> ''"     \
                  " ORDER BY n")                                                                               \
    X(GRAPH_GET, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"           \
                 " WHERE g.namespace_name=$1 AND g.name=$2")                                                    \
    X(GRAPH_VERSION_INSERT, "INSERT INTO graph_versions(namespace_name, name, template) VALUES($1,$2,$3)"       \
                            " RETURNING version")                                                              \
    X(GRAPH_UPSERT, "INSERT INTO graphs(id, created_at, updated_at, namespace_name, name, version,"             \
                    " validation_status, validation_errors) VALUES($1,$2,$3,$4,$5,$6,$7,$8)"                    \
                    " ON CONFLICT(namespace_name, name) DO UPDATE SET updated_at=excluded.updated_at,"          \
                    " version=excluded.version, validation_status=excluded.validation_status,"                 \
                    " validation_errors=excluded.validation_errors")                                           \
    X(GRAPH_SET_VALIDATION, "UPDATE graphs SET validation_status=$1, validation_errors=$2, updated_at=$3"       \
                            " WHERE namespace_name=$4 AND name=$5 AND version=$6"                               \
                            " AND (validation_status<>$1 OR validation_errors<>$2)")                            \
    X(GRAPH_LIST_NS, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"       \
                     " WHERE g.namespace_name=$1 ORDER BY g.seq")                                               \
    X(GRAPH_LIST_ALL, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"      \
                      " ORDER BY g.seq")                                                                       \
    X(GRAPH_VERSION, "SELECT template FROM graph_versions WHERE version=$1")                                    \
    X(GRAPH_DELETE, "DELETE FROM graphs WHERE namespace_name=$1 AND name=$2")                                   \
    X(GRAPH_DELETE_TRIGGERS, "DELETE FROM triggers WHERE namespace_name=$1 AND graph_name=$2")                  \
    X(GRAPH_LOCK_VERSIONS, "SELECT version FROM graph_versions WHERE namespace_name=$1 AND name=$2 FOR UPDATE") \
    X(GRAPH_DELETE_VERSIONS, "DELETE FROM graph_versions v WHERE namespace_name=$1 AND name=$2"                 \
                             " AND NOT EXISTS(SELECT 1 FROM runs WHERE runs.graph_version=v.version)")          \
    /* the version row is key-share locked (when it exists): a graph_delete of     \
       another replica waits for this run to commit and then keeps the version */  \
    X(RUN_INSERT, "INSERT INTO runs(run_id, namespace_name, graph_name, graph_version, created_at)"             \
                  " SELECT $1::text, $2::text, $3::text, $4::bigint, $5::bigint FROM (SELECT 1) one"           \
                  " LEFT JOIN (SELECT version FROM graph_versions WHERE version=$4::bigint FOR KEY SHARE) v"    \
                  " ON true")                                                                                  \
    X(RUN_VERSION, "SELECT graph_version, namespace_name FROM runs WHERE run_id=$1")                            \
    X(RUN_COUNT, "SELECT count(*) FROM runs WHERE namespace_name=$1")                                           \
    X(RUN_PAGE, "SELECT " RUN_COLS " FROM runs WHERE namespace_name=$1"                                          \
                " ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3")                                       \
    /* the counts of several runs at once: u.i is the run's 1-based place in $1 */ \
    X(RUN_COUNTS, "SELECT u.i, s.status, count(*) FROM unnest($1::text[]) WITH ORDINALITY u(id, i)"            \
                  " JOIN states s ON s.run_id=u.id GROUP BY u.i, s.status")                                     \
    X(RUN_GET, "SELECT " RUN_COLS " FROM runs WHERE run_id=$1 AND namespace_name=$2")                           \
    X(RUN_GET_SHARE, "SELECT " RUN_COLS " FROM runs WHERE run_id=$1 AND namespace_name=$2 FOR SHARE")           \
    X(RUN_MARK_CANCELLED, "UPDATE runs SET cancelled_at=$1, cancelled_by=$2 WHERE run_id=$3 AND cancelled_at=0")\
    /* a run another replica is deleting (or holds locked) is skipped, not waited for */ \
    X(RUN_DELETE, "WITH r AS (DELETE FROM runs WHERE run_id = (SELECT run_id FROM runs WHERE run_id=$1"         \
                  " FOR UPDATE SKIP LOCKED) RETURNING run_id),"                                                 \
                  " st AS (DELETE FROM states WHERE run_id IN (SELECT run_id FROM r) RETURNING id),"            \
                  " a AS (DELETE FROM state_ancestors WHERE state_id IN (SELECT id FROM st)),"                  \
                  " k AS (DELETE FROM store WHERE run_id IN (SELECT run_id FROM r))"                            \
                  " SELECT count(*) FROM r")                                                                   \
    X(STORE_PUT, "INSERT INTO store(run_id, namespace_name, graph_name, key, value) VALUES($1,$2,$3,$4,$5)"     \
                 " ON CONFLICT(run_id, namespace_name, graph_name, key) DO UPDATE SET value=excluded.value")    \
    X(STORE_GET, "SELECT value FROM store WHERE run_id=$1 AND namespace_name=$2 AND graph_name=$3 AND key=$4")  \
    X(STATE_INSERT, "INSERT INTO states(" STATE_COLS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14," \
                    "$15,$16,$17,$18,$19,$20,$21,$22,$23) ON CONFLICT DO NOTHING")                              \
    X(STATE_GET, "SELECT " STATE_COLS " FROM states WHERE id=$1")                                               \
    X(STATE_LOCK, "SELECT " STATE_COLS " FROM states WHERE id=$1 FOR UPDATE")                                   \
    X(STATE_UPDATE, "WITH m AS (UPDATE state_ancestors SET status=$2 WHERE state_id=$11 AND status<>$2)"        \
                    " UPDATE states SET updated_at=$1, status=$2, inputs=$3, outputs=$4, data=$5, error=$6,"    \
                    " parents=$7, enqueue_after=$8, exec_group=$9, lease_expires_at=$10 WHERE id=$11")          \
    X(STATE_CLAIM, "WITH c AS (UPDATE states SET status='QUEUED', lease_expires_at=$4, lease_ms=$5"             \
                   " WHERE id = ANY(ARRAY(SELECT id FROM states WHERE namespace_name=$1 AND status='CREATED'"  \
                   " AND node_name = ANY($2::text[]) AND enqueue_after<=$3 LIMIT $6 FOR UPDATE SKIP LOCKED))"  \
                   " AND status='CREATED' RETURNING " STATE_COLS "),"                                          \
                   " m AS (UPDATE state_ancestors SET status='QUEUED'"                                          \
                   " WHERE state_id = ANY(ARRAY(SELECT id FROM c)))"                                            \
                   " SELECT " STATE_COLS " FROM c")                                                            \
    X(STATE_NEXT_DUE, "SELECT min(enqueue_after) FROM states WHERE namespace_name=$1 AND status='CREATED'"      \
                      " AND node_name = ANY($2::text[]) AND enqueue_after>$3")                                  \
    X(ANCESTORS_COPY, "INSERT INTO state_ancestors(ancestor_group, state_id, status)"                           \
                      " SELECT a.ancestor_group, s.id, s.status FROM state_ancestors a, states s"               \
                      " WHERE a.state_id=$1 AND s.id=$2 ON CONFLICT DO NOTHING")                                \
    X(ANCESTOR_ADD, "INSERT INTO state_ancestors(ancestor_group, state_id, status)"                             \
                    " SELECT $1, id, status FROM states WHERE id=$2 ON CONFLICT DO NOTHING")                    \
    X(GROUP_LOCK, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")                                      \
    X(GROUP_HAS_STATUS, "SELECT 1 FROM state_ancestors WHERE ancestor_group=$1 AND status = ANY($2::text[])"    \
                        " LIMIT 1")                                                                            \
    X(UNITE_EXISTS, "SELECT 1 FROM states WHERE unite_key=$1 AND unite_key IS NOT NULL")                                                  \
    X(STATES_OF_RUN, "SELECT " STATE_COLS " FROM states WHERE run_id=$1 AND namespace_name=$2 ORDER BY seq")    \
    X(LEASE_RENEW, "UPDATE states SET lease_expires_at=$1, lease_ms=$2 WHERE id=$3 AND namespace_name=$4"       \
                   " AND status='QUEUED'")                                                                     \
    X(QUEUE_DEPTH, "SELECT namespace_name COLLATE \"C\" AS ns, node_name COLLATE \"C\" AS node,"              \
                   " SUM(CASE WHEN status='CREATED' THEN 1 ELSE 0 END),"                                       \
                   " SUM(CASE WHEN status='CREATED' AND enqueue_after<=$1 THEN 1 ELSE 0 END),"                 \
                   " SUM(CASE WHEN status='QUEUED' THEN 1 ELSE 0 END) FROM states"                             \
                   " WHERE status IN ('CREATED', 'QUEUED') GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $2")            \
    X(LEASE_EXPIRED, "SELECT id FROM states WHERE status='QUEUED' AND lease_expires_at>0"                       \
                     " AND lease_expires_at<=$1 LIMIT $2 FOR UPDATE SKIP LOCKED")                               \
    X(TRIGGER_INSERT, "INSERT INTO triggers(type, expression, namespace_name, graph_name, trigger_time,"        \
                      " trigger_status, expires_at) VALUES('CRON',$1,$2,$3,$4,'PENDING',$5)"                    \
                      " ON CONFLICT DO NOTHING")                                                               \
    X(TRIGGER_DELETE_PENDING, "DELETE FROM triggers WHERE trigger_status='PENDING' AND type='CRON'"             \
                              " AND namespace_name=$1 AND graph_name=$2 AND expression=$3")                     \
    X(TRIGGER_CLAIM, "UPDATE triggers SET trigger_status='TRIGGERING' WHERE id = (SELECT id FROM triggers"      \
                     " WHERE trigger_status='PENDING' AND trigger_time<=$1 ORDER BY trigger_time LIMIT 1"      \
                     " FOR UPDATE SKIP LOCKED) RETURNING id, expression, namespace_name, graph_name,"          \
                     " trigger_time")                                                                          \
    X(TRIGGER_FINISH, "UPDATE triggers SET trigger_status=$1, expires_at=$2 WHERE id=$3")                       \
    X(TRIGGER_RESET, "UPDATE triggers SET trigger_status='PENDING' WHERE trigger_status='TRIGGERING'")          \
    X(TRIGGER_EXPIRE, "DELETE FROM triggers WHERE trigger_status IN ('TRIGGERED','FAILED')"                     \
                      " AND (expires_at IS NULL OR expires_at<=$1)")                                            \
    X(PING, "SELECT 1")

#define STMT_ENUM(name, sql) ST_##name,
typedef enum { STATEMENTS(STMT_ENUM) ST_COUNT } stmt_id;
#undef STMT_ENUM
#define STMT_SQL(name, sql) sql,
static const char *const stmt_sql[ST_COUNT] = {STATEMENTS(STMT_SQL)};
#undef STMT_SQL

/* ---- connections and the pool -------------------------------------------------------------- */

typedef struct pg_conn {
    PGconn *pg;
    unsigned char prepared[ST_COUNT];
    int broken;            /* lost: re-established on next use */
    int64_t retry_at;      /* monotonic ms before which no reconnect is tried */
    int64_t backoff_ms;
} pg_conn;

typedef struct pg_storage {
    exo_storage base;
    char *uri;
    pthread_mutex_t lock;  /* guards free_list, nfree, problem */
    pthread_cond_t freed;
    pg_conn *conns;
    size_t nconns;
    pg_conn **free_list;
    size_t nfree;
    pthread_key_t bound;   /* this thread's transaction connection */
    pthread_key_t retry;   /* non-NULL: this thread's last failure may be retried */
    atomic_int reachable;
    char problem[256];     /* why not, when !reachable */
    /* the work listener */
    pthread_t listener;
    int listening;
    atomic_int stopping;
    exo_storage_work_cb work_cb;
    void *work_ud;
} pg_storage;

static PGconn *connect_db(const char *uri)
{
    /* the URI's own settings win over these defaults (they come first) */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"5", "exo-state-manager", uri, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static void set_reachable(pg_storage *q, int ok, const char *why)
{
    if (ok) {
        atomic_store(&q->reachable, 1);
        return;
    }
    pthread_mutex_lock(&q->lock);
    snprintf(q->problem, sizeof q->problem, "%s", why && *why ? why : "connection lost");
    for (char *c = q->problem; *c; c++) /* libpq's messages span lines: one line here */
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    size_t len = strlen(q->problem);
    while (len && (q->problem[len - 1] == '\n' || q->problem[len - 1] == ' '))
        q->problem[--len] = '\0';
    pthread_mutex_unlock(&q->lock);
    if (atomic_exchange(&q->reachable, 0))
        log_error("postgres: database unreachable: %s", why ? why : "connection lost");
}

/* Re-establishes a broken connection when its backoff allows.  0 = usable. */
static int conn_revive(pg_storage *q, pg_conn *c)
{
    if (!c->broken && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    int64_t now = exo_mono_ms();
    if (now < c->retry_at)
        return -1;
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RECONNECT_MIN_MS;
        if (c->backoff_ms > RECONNECT_MAX_MS)
            c->backoff_ms = RECONNECT_MAX_MS;
        c->retry_at = now + c->backoff_ms;
        set_reachable(q, 0, PQerrorMessage(c->pg));
        return -1;
    }
    memset(c->prepared, 0, sizeof c->prepared); /* a new session has none */
    c->broken = 0;
    c->backoff_ms = 0;
    c->retry_at = 0;
    if (!atomic_exchange(&q->reachable, 1))
        log_info("postgres: database reachable again");
    return 0;
}

static void mark_retry(pg_storage *q, int retryable)
{
    pthread_setspecific(q->retry, retryable ? (void *)q : NULL);
}

static pg_conn *pool_take(pg_storage *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->nfree == 0)
        pthread_cond_wait(&q->freed, &q->lock);
    pg_conn *c = q->free_list[--q->nfree];
    pthread_mutex_unlock(&q->lock);
    return c;
}

static void pool_give(pg_storage *q, pg_conn *c)
{
    pthread_mutex_lock(&q->lock);
    q->free_list[q->nfree++] = c;
    pthread_cond_signal(&q->freed);
    pthread_mutex_unlock(&q->lock);
}

/* The connection for one op: this thread's transaction's, or a free one (NULL when
 * the database cannot be reached; give it back with conn_put). */
static pg_conn *conn_get(pg_storage *q)
{
    pg_conn *c = pthread_getspecific(q->bound);
    if (c)
        return c;
    c = pool_take(q);
    if (conn_revive(q, c) != 0) {
        pool_give(q, c);
        return NULL;
    }
    return c;
}

static void conn_put(pg_storage *q, pg_conn *c)
{
    if (c && c != pthread_getspecific(q->bound))
        pool_give(q, c);
}

/* ---- running statements -------------------------------------------------------------------- */

typedef struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS], fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
    char *owned[MAX_PARAMS];
} params;

static void p_text(params *p, const char *s)
{
    p->v[p->n++] = s; /* NULL = SQL NULL */
}

static void p_int(params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static void p_json(params *p, json_object *o)
{
    p_text(p, o ? exo_json_text(o) : "null");
}

static void p_bytes(params *p, const char *b, int len)
{
    p->v[p->n] = b;
    p->len[p->n] = len;
    p->fmt[p->n] = 1;
    p->n++;
}

/* A text[] literal {"a","b"} of names, owned by p (0, or -1 out of memory). */
static int p_text_array(params *p, const char *const *names, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(names[i]) + 3;
    char *lit = malloc(cap), *o = lit;
    if (!lit)
        return -1;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *c = names[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *o++ = '\\';
            *o++ = *c;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    p->owned[p->n] = lit;
    p_text(p, lit);
    return 0;
}

static void params_free(params *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->owned[i]);
}

/* Classifies a failure: connection trouble marks c broken and the database
 * unreachable; deadlocks and serialization failures mark the thread retryable. */
static void note_failure(pg_storage *q, pg_conn *c, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
    int lost = PQstatus(c->pg) != CONNECTION_OK || !state || !strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
               !strcmp(state, "57P02") || !strcmp(state, "57P03");
    int collided = state && (!strcmp(state, "40001") || !strcmp(state, "40P01"));
    if (lost) {
        c->broken = 1;
        set_reachable(q, 0, msg);
    }
    mark_retry(q, collided);
    if (collided)
        log_warn("postgres %s: %s (the transaction will be retried)", what, msg);
    else
        log_error("postgres %s failed: %s", what, msg);
}

/* r when it succeeded (the caller's to PQclear); NULL after a failure, classified
 * and logged. */
static PGresult *checked(pg_storage *q, pg_conn *c, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        note_failure(q, c, r, "statement");
        PQclear(r);
        return NULL;
    }
    set_reachable(q, 1, NULL);
    return r;
}

/* Runs prepared statement id on c; the result (NULL after a failure, already
 * logged) is the caller's to PQclear.  binary_result asks for binary columns. */
static PGresult *run(pg_storage *q, pg_conn *c, stmt_id id, const params *p, int binary_result)
{
    char name[16];
    snprintf(name, sizeof name, "exo%d", (int)id);
    if (!c->prepared[id]) {
        PGresult *r = PQprepare(c->pg, name, stmt_sql[id], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            note_failure(q, c, r, "prepare");
            PQclear(r);
            return NULL;
        }
        PQclear(r);
        c->prepared[id] = 1;
    }
    PGresult *r = PQexecPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL, p ? p->fmt : NULL,
                                 binary_result);
    return checked(q, c, r);
}

/* An unprepared statement (its text varies with the request, as run_query's):
 * planned for these parameter values each time. */
static PGresult *run_text(pg_storage *q, pg_conn *c, const char *sql, const params *p)
{
    PGresult *r = PQexecParams(c->pg, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, 0);
    return checked(q, c, r);
}

/* The connection for one statement of this thread (NULL, logged, when none). */
static pg_conn *conn_for_statement(pg_storage *q)
{
    pg_conn *c = conn_get(q);
    if (!c) {
        mark_retry(q, 0);
        pthread_mutex_lock(&q->lock);
        log_error("postgres: no connection to the database: %s", q->problem);
        pthread_mutex_unlock(&q->lock);
    }
    return c;
}

/* One statement on this thread's connection: the result or NULL. */
static PGresult *query(exo_storage *s, stmt_id id, params *p, int binary_result)
{
    pg_storage *q = (pg_storage *)s;
    pg_conn *c = conn_for_statement(q);
    PGresult *r = c ? run(q, c, id, p, binary_result) : NULL;
    conn_put(q, c);
    if (p)
        params_free(p);
    return r;
}

/* query() for an unprepared statement text. */
static PGresult *query_text(exo_storage *s, const char *sql, params *p)
{
    pg_storage *q = (pg_storage *)s;
    pg_conn *c = conn_for_statement(q);
    PGresult *r = c ? run_text(q, c, sql, p) : NULL;
    conn_put(q, c);
    if (p)
        params_free(p);
    return r;
}

/* A statement without rows: rows affected (>= 0) or -1. */
static int64_t exec_count(exo_storage *s, stmt_id id, params *p)
{
    PGresult *r = query(s, id, p, 0);
    if (!r)
        return -1;
    int64_t n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

static int exec_ok(exo_storage *s, stmt_id id, params *p)
{
    return exec_count(s, id, p) < 0 ? -1 : 0;
}

static int64_t col_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static char *col_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static json_object *col_json(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : exo_json_parse(PQgetvalue(r, row, col));
}

/* 1 when JSON column col was read: an object, or a stored JSON null. */
static int json_read(const PGresult *r, int row, int col, json_object *v)
{
    return v != NULL || (!PQgetisnull(r, row, col) && !strcmp(PQgetvalue(r, row, col), "null"));
}

static void col_id(const PGresult *r, int row, int col, char out[EXO_ID_LEN + 1])
{
    snprintf(out, EXO_ID_LEN + 1, "%s", PQgetvalue(r, row, col));
}

/* How to read and free one kind of row (the fetch loops exist once). */
typedef struct row_kind {
    const char *what;
    size_t size;
    int (*read)(const PGresult *r, int row, void *out);
    void (*free_row)(void *row);
} row_kind;

/* Reads row 0 of r (NULL: the statement failed) into out and clears r. */
static int fetch_one(PGresult *r, const row_kind *kind, void *out)
{
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        ret = kind->read(r, 0, out);
        if (ret != 0) {
            log_error("postgres: a stored %s row could not be read (out of memory?)", kind->what);
            kind->free_row(out);
            memset(out, 0, kind->size);
        }
    }
    PQclear(r);
    return ret;
}

static int fetch_all(PGresult *r, const row_kind *kind, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        return 0;
    }
    char *arr = calloc(rows, kind->size);
    size_t done = 0;
    while (arr && done < rows && kind->read(r, (int)done, arr + done * kind->size) == 0)
        done++;
    PQclear(r);
    if (arr && done == rows) {
        *out = arr;
        *n = rows;
        return 0;
    }
    log_error("postgres: a stored %s row could not be read (out of memory?)", kind->what);
    for (size_t i = 0; arr && i <= done && i < rows; i++)
        kind->free_row(arr + i * kind->size);
    free(arr);
    return -1;
}

/* 1 when r (NULL: failed, -1) has a row, 0 when not; clears r. */
static int has_row(PGresult *r)
{
    if (!r)
        return -1;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* ---- transactions --------------------------------------------------------------------------- */

/* A transaction-control command on c; 0 ok. */
static int control(pg_storage *q, pg_conn *c, const char *sql)
{
    PGresult *r = PQexec(c->pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        note_failure(q, c, r, sql);
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_begin(exo_storage *s)
{
    pg_storage *q = (pg_storage *)s;
    mark_retry(q, 0);
    if (pthread_getspecific(q->bound)) {
        log_error("postgres: begin inside an open transaction of this thread");
        return -1;
    }
    pg_conn *c = pool_take(q);
    int rc = conn_revive(q, c) == 0 ? control(q, c, "BEGIN") : -1;
    if (rc != 0 && c->broken && conn_revive(q, c) == 0)
        rc = control(q, c, "BEGIN"); /* the server restarted since this connection's last use */
    if (rc != 0) {
        mark_retry(q, 0);
        pool_give(q, c);
        return -1;
    }
    if (pthread_setspecific(q->bound, c) != 0) {
        control(q, c, "ROLLBACK");
        pool_give(q, c);
        return -1;
    }
    return 0;
}

/* Ends this thread's transaction with sql (COMMIT or ROLLBACK) and frees its
 * connection.  A COMMIT of a failed transaction answers ROLLBACK: an error. */
static int finish(exo_storage *s, const char *sql)
{
    pg_storage *q = (pg_storage *)s;
    pg_conn *c = pthread_getspecific(q->bound);
    if (!c)
        return 0;
    int rc = -1;
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        rc = !strcmp(PQcmdStatus(r), sql) ? 0 : -1;
    else
        note_failure(q, c, r, sql);
    if (rc != 0 && PQresultStatus(r) == PGRES_COMMAND_OK)
        log_error("postgres %s: the transaction had failed and was rolled back", sql);
    PQclear(r);
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE && !c->broken)
        c->broken = 1; /* in an unknown state: start afresh */
    pthread_setspecific(q->bound, NULL);
    pool_give(q, c);
    return rc;
}

static int pg_commit(exo_storage *s) { return finish(s, "COMMIT"); }

static int pg_rollback(exo_storage *s)
{
    pg_storage *q = (pg_storage *)s;
    void *keep = pthread_getspecific(q->retry); /* the failure's verdict, not the rollback's */
    int rc = finish(s, "ROLLBACK");
    pthread_setspecific(q->retry, keep);
    return rc;
}

static int savepoint_cmd(exo_storage *s, const char *verb, const char *name)
{
    pg_storage *q = (pg_storage *)s;
    pg_conn *c = pthread_getspecific(q->bound);
    if (!c) {
        log_error("postgres: %s outside a transaction", verb);
        return -1;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "%s %s", verb, name);
    return control(q, c, sql);
}

static int pg_savepoint(exo_storage *s, const char *n) { return savepoint_cmd(s, "SAVEPOINT", n); }
static int pg_release(exo_storage *s, const char *n) { return savepoint_cmd(s, "RELEASE SAVEPOINT", n); }
static int pg_rollback_to(exo_storage *s, const char *n) { return savepoint_cmd(s, "ROLLBACK TO SAVEPOINT", n); }

static int pg_tx_retryable(exo_storage *s)
{
    return pthread_getspecific(((pg_storage *)s)->retry) != NULL;
}

static int pg_health(exo_storage *s, int probe, char *err, size_t errlen)
{
    pg_storage *q = (pg_storage *)s;
    if (probe) {
        PGresult *r = query(s, ST_PING, NULL, 0);
        PQclear(r);
    }
    if (atomic_load(&q->reachable))
        return 0;
    pthread_mutex_lock(&q->lock);
    exo_errf(err, errlen, "database unreachable: %s", q->problem);
    pthread_mutex_unlock(&q->lock);
    return -1;
}

/* ---- nodes ---------------------------------------------------------------------------------- */

static int read_node(const PGresult *r, int i, void *row)
{
    exo_node_row *n = row;
    col_id(r, i, 0, n->id);
    n->created_at = col_int(r, i, 1);
    n->updated_at = col_int(r, i, 2);
    n->name = col_text(r, i, 3);
    n->namespace_name = col_text(r, i, 4);
    n->runtime_name = col_text(r, i, 5);
    n->inputs_schema = col_json(r, i, 6);
    n->outputs_schema = col_json(r, i, 7);
    n->secrets = col_json(r, i, 8);
    n->registered_at = col_int(r, i, 9);
    return n->name && n->namespace_name && n->runtime_name && json_read(r, i, 6, n->inputs_schema) &&
                   json_read(r, i, 7, n->outputs_schema) && json_read(r, i, 8, n->secrets)
               ? 0
               : -1;
}

static void free_node_row(void *row) { exo_node_row_free(row); }
static const row_kind node_rows = {"node", sizeof(exo_node_row), read_node, free_node_row};

static int pg_node_upsert(exo_storage *s, const exo_node_row *n)
{
    params p = {0};
    p_text(&p, n->id);
    p_int(&p, n->created_at);
    p_int(&p, n->updated_at);
    p_text(&p, n->name);
    p_text(&p, n->namespace_name);
    p_text(&p, n->runtime_name);
    p_json(&p, n->inputs_schema);
    p_json(&p, n->outputs_schema);
    p_json(&p, n->secrets);
    p_int(&p, n->registered_at);
    return exec_ok(s, ST_NODE_UPSERT, &p);
}

static int pg_node_get(exo_storage *s, const char *ns, const char *name, exo_node_row *out)
{
    params p = {0};
    p_text(&p, ns);
    p_text(&p, name);
    return fetch_one(query(s, ST_NODE_GET, &p, 0), &node_rows, out);
}

static int pg_node_list(exo_storage *s, const char *ns, exo_node_row **out, size_t *n)
{
    params p = {0};
    p_text(&p, ns);
    return fetch_all(query(s, ST_NODE_LIST, &p, 0), &node_rows, (void **)out, n);
}

static int pg_namespaces(exo_storage *s, json_object **out)
{
    *out = json_object_new_array();
    PGresult *r = query(s, ST_NAMESPACES, NULL, 0);
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
    col_id(r, i, 0, g->id);
    g->created_at = col_int(r, i, 1);
    g->updated_at = col_int(r, i, 2);
    g->namespace_name = col_text(r, i, 3);
    g->name = col_text(r, i, 4);
    g->version = col_int(r, i, 5);
    g->template_ = col_json(r, i, 6);
    int status = exo_graph_status_from_name(PQgetvalue(r, i, 7));
    g->validation_status = status < 0 ? EXO_GRAPH_PENDING : (exo_graph_status)status;
    g->validation_errors = col_json(r, i, 8);
    return g->namespace_name && g->name && json_read(r, i, 6, g->template_) && status >= 0 &&
                   json_read(r, i, 8, g->validation_errors)
               ? 0
               : -1;
}

static void free_graph_row(void *row) { exo_graph_row_free(row); }
static const row_kind graph_rows = {"graph", sizeof(exo_graph_row), read_graph, free_graph_row};

static int pg_graph_get(exo_storage *s, const char *ns, const char *name, exo_graph_row *out)
{
    params p = {0};
    p_text(&p, ns);
    p_text(&p, name);
    return fetch_one(query(s, ST_GRAPH_GET, &p, 0), &graph_rows, out);
}

static int pg_graph_save(exo_storage *s, exo_graph_row *g)
{
    params p = {0};
    p_text(&p, g->namespace_name);
    p_text(&p, g->name);
    p_json(&p, g->template_);
    PGresult *r = query(s, ST_GRAPH_VERSION_INSERT, &p, 0);
    if (!r)
        return -1;
    g->version = PQntuples(r) == 1 ? col_int(r, 0, 0) : 0;
    PQclear(r);
    if (g->version <= 0)
        return -1;
    params u = {0};
    p_text(&u, g->id);
    p_int(&u, g->created_at);
    p_int(&u, g->updated_at);
    p_text(&u, g->namespace_name);
    p_text(&u, g->name);
    p_int(&u, g->version);
    p_text(&u, exo_graph_status_names[g->validation_status]);
    p_json(&u, g->validation_errors);
    return exec_ok(s, ST_GRAPH_UPSERT, &u);
}

static int pg_graph_set_validation(exo_storage *s, const char *ns, const char *name, int64_t version,
                                   exo_graph_status status, json_object *errors, int64_t now)
{
    params p = {0};
    p_text(&p, exo_graph_status_names[status]);
    p_json(&p, errors);
    p_int(&p, now);
    p_text(&p, ns);
    p_text(&p, name);
    p_int(&p, version);
    int64_t n = exec_count(s, ST_GRAPH_SET_VALIDATION, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_graph_list(exo_storage *s, const char *ns, exo_graph_row **out, size_t *n)
{
    params p = {0};
    if (ns)
        p_text(&p, ns);
    return fetch_all(query(s, ns ? ST_GRAPH_LIST_NS : ST_GRAPH_LIST_ALL, &p, 0), &graph_rows, (void **)out, n);
}

static int pg_graph_version(exo_storage *s, int64_t version, json_object **tpl)
{
    params p = {0};
    p_int(&p, version);
    PGresult *r = query(s, ST_GRAPH_VERSION, &p, 0);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        *tpl = col_json(r, 0, 0);
        ret = *tpl ? 0 : -1;
    }
    PQclear(r);
    return ret;
}

static int pg_graph_delete(exo_storage *s, const char *ns, const char *name)
{
    params p = {0};
    p_text(&p, ns);
    p_text(&p, name);
    int64_t n = exec_count(s, ST_GRAPH_DELETE, &p); /* row lock: a second replica's delete waits, then finds none */
    if (n <= 0)
        return n < 0 ? -1 : 1;
    params t = {0}, l = {0}, v = {0};
    p_text(&t, ns);
    p_text(&t, name);
    p_text(&l, ns);
    p_text(&l, name);
    p_text(&v, ns);
    p_text(&v, name);
    /* The versions are locked first (waiting for runs being created from them,
       which key-share lock theirs), then deleted in a new statement whose snapshot
       sees those runs: a version a run was just created with is kept. */
    if (exec_ok(s, ST_GRAPH_DELETE_TRIGGERS, &t) != 0 || exec_ok(s, ST_GRAPH_LOCK_VERSIONS, &l) != 0)
        return -1;
    return exec_ok(s, ST_GRAPH_DELETE_VERSIONS, &v);
}

/* ---- runs and store ----------------------------------------------------------------------------- */

static int pg_run_insert(exo_storage *s, const char *run_id, const char *ns, const char *graph, int64_t version,
                         int64_t created_at)
{
    params p = {0};
    p_text(&p, run_id);
    p_text(&p, ns);
    p_text(&p, graph);
    p_int(&p, version);
    p_int(&p, created_at);
    return exec_ok(s, ST_RUN_INSERT, &p);
}

static int pg_run_version(exo_storage *s, const char *run_id, int64_t *version, char **ns)
{
    params p = {0};
    p_text(&p, run_id);
    PGresult *r = query(s, ST_RUN_VERSION, &p, 0);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        *version = col_int(r, 0, 0);
        *ns = col_text(r, 0, 1);
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
    params p = {0};
    int rc = p_text_array(&p, ids, n);
    free(ids);
    if (rc != 0)
        return -1;
    PGresult *r = query(s, ST_RUN_COUNTS, &p, 0);
    if (!r)
        return -1;
    int ret = 0;
    for (int i = 0; i < PQntuples(r) && ret == 0; i++) {
        int64_t place = col_int(r, i, 0);
        int idx = exo_status_from_name(PQgetvalue(r, i, 1));
        if (idx < 0 || place < 1 || place > (int64_t)n)
            ret = -1; /* an unknown status: the counts would be wrong */
        else
            rows[place - 1].counts[idx] = col_int(r, i, 2);
    }
    PQclear(r);
    return ret;
}

static int read_run(const PGresult *r, int i, void *row)
{
    exo_run_row *run = row;
    run->run_id = col_text(r, i, 0);
    run->graph_name = col_text(r, i, 1);
    run->namespace_name = col_text(r, i, 2);
    run->created_at = col_int(r, i, 3);
    run->seq = col_int(r, i, 4);
    run->cancelled_at = col_int(r, i, 5);
    run->cancelled_by = col_text(r, i, 6);
    int by_ok = run->cancelled_by || PQgetisnull(r, i, 6);
    return run->run_id && run->graph_name && run->namespace_name && by_ok ? 0 : -1;
}

static void free_run_row(void *row) { exo_run_row_free(row); }
static const row_kind run_rows = {"run", sizeof(exo_run_row), read_run, free_run_row};

/* fetch_all of runs, then their counts; on failure nothing is returned. */
static int fetch_runs(exo_storage *s, PGresult *r, exo_run_row **out, size_t *n)
{
    if (fetch_all(r, &run_rows, (void **)out, n) != 0)
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
    params c = {0};
    p_text(&c, ns);
    PGresult *r = query(s, ST_RUN_COUNT, &c, 0);
    if (!r)
        return -1;
    *total = PQntuples(r) > 0 ? col_int(r, 0, 0) : 0;
    PQclear(r);
    params p = {0};
    p_text(&p, ns);
    p_int(&p, limit);
    p_int(&p, offset);
    return fetch_runs(s, query(s, ST_RUN_PAGE, &p, 0), out, n);
}

static int pg_run_get(exo_storage *s, const char *ns, const char *run_id, exo_run_row *out)
{
    /* [locks] inside a transaction the run is share-locked until it ends: a cancel
       of another replica (run_mark_cancelled) waits for a retry that checked the
       mark, and a retry checking it waits for that cancel */
    int in_tx = pthread_getspecific(((pg_storage *)s)->bound) != NULL;
    params p = {0};
    p_text(&p, run_id);
    p_text(&p, ns);
    int rc = fetch_one(query(s, in_tx ? ST_RUN_GET_SHARE : ST_RUN_GET, &p, 0), &run_rows, out);
    if (rc == 0 && run_counts(s, out, 1) != 0) {
        exo_run_row_free(out);
        return -1;
    }
    return rc;
}

/* SQL condition "run r has status i" for each exo_run_status, by the rule of
 * storage.h (precedence CANCELLED, PENDING, FAILED, SUCCESS).  The unfinished
 * statuses are spelt as ORs of equalities: the planner then reads them through
 * the partial indexes of CREATED, QUEUED and EXECUTED states (a BitmapOr), where
 * an IN list makes it scan every state (the finished listing of retention). */
#define RUN_HAS(cond) "EXISTS(SELECT 1 FROM states s WHERE s.run_id=r.run_id AND " cond ")"
#define UNFINISHED "(s.status='CREATED' OR s.status='QUEUED' OR s.status='EXECUTED')"
#define RUN_NOT_PENDING "NOT " RUN_HAS(UNFINISHED)
#define RUN_FAILED_STATES \
    "(" RUN_HAS("s.status IN ('ERRORED','NEXT_CREATED_ERROR')") \
    " OR NOT EXISTS(SELECT 1 FROM states s WHERE s.run_id=r.run_id))"
static const char *const run_status_sql[EXO_RUN_STATUS_COUNT] = {
    [EXO_RUN_PENDING] = "(r.cancelled_at=0 AND " RUN_HAS(UNFINISHED) ")",
    [EXO_RUN_SUCCESS] = "(r.cancelled_at=0 AND " RUN_NOT_PENDING " AND NOT " RUN_FAILED_STATES ")",
    [EXO_RUN_FAILED] = "(r.cancelled_at=0 AND " RUN_NOT_PENDING " AND " RUN_FAILED_STATES ")",
    [EXO_RUN_CANCELLED] = "(r.cancelled_at>0)",
};

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
static int build_run_query(const exo_run_query *q, char **sql, params *p)
{
    size_t len = 0;
    FILE *f = open_memstream(sql, &len);
    if (!f)
        return -1;
    fputs("SELECT r.run_id, r.graph_name, r.namespace_name, r.created_at, r.seq, r.cancelled_at, r.cancelled_by"
          " FROM runs r WHERE true", f);
    if (q->ns) {
        fprintf(f, " AND r.namespace_name=$%d", p->n + 1);
        p_text(p, q->ns);
    }
    if (q->graph_name) {
        fprintf(f, " AND r.graph_name=$%d", p->n + 1);
        p_text(p, q->graph_name);
    }
    if (q->since > 0) {
        fprintf(f, " AND r.created_at>=$%d", p->n + 1);
        p_int(p, q->since);
    }
    if (q->until > 0) {
        fprintf(f, " AND r.created_at<$%d", p->n + 1);
        p_int(p, q->until);
    }
    if (q->run_id_prefix) {
        fprintf(f, " AND starts_with(r.run_id, $%d::text)", p->n + 1);
        p_text(p, q->run_id_prefix);
    }
    if (q->after_seq > 0) {
        fprintf(f, " AND (r.created_at, r.seq) < ($%d::bigint, $%d::bigint)", p->n + 1, p->n + 2);
        p_int(p, q->after_created_at);
        p_int(p, q->after_seq);
    }
    if (query_pending_only(q)) {
        const char *ns_cond = "";
        char cond[48];
        if (q->ns) {
            snprintf(cond, sizeof cond, " AND s.namespace_name=$%d", p->n + 1);
            ns_cond = cond;
            p_text(p, q->ns);
        }
        fprintf(f,
                " AND r.run_id IN (SELECT s.run_id FROM states s WHERE s.status='CREATED'%s"
                " UNION SELECT s.run_id FROM states s WHERE s.status='QUEUED'%s"
                " UNION SELECT s.run_id FROM states s WHERE s.status='EXECUTED'%s)",
                ns_cond, ns_cond, ns_cond);
    }
    unsigned mask = q->status_mask & ((1u << EXO_RUN_STATUS_COUNT) - 1);
    if (mask) {
        fputs(" AND (false", f);
        for (int i = 0; i < EXO_RUN_STATUS_COUNT; i++)
            if (mask & (1u << i))
                fprintf(f, " OR %s", run_status_sql[i]);
        fputs(")", f);
    }
    fprintf(f, " ORDER BY r.created_at DESC, r.seq DESC LIMIT $%d", p->n + 1);
    p_int(p, q->limit);
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
    params p = {0};
    if (build_run_query(q, &sql, &p) != 0) {
        log_error("postgres: out of memory building the run query");
        return -1;
    }
    int rc = fetch_runs(s, query_text(s, sql, &p), out, n);
    free(sql);
    return rc;
}

static int pg_run_mark_cancelled(exo_storage *s, const char *run_id, const char *by, int64_t at)
{
    /* [locks] the UPDATE row-locks the run: of two replicas cancelling it at once,
       the later one waits, then finds it marked (1) */
    params p = {0};
    p_int(&p, at);
    p_text(&p, by);
    p_text(&p, run_id);
    int64_t n = exec_count(s, ST_RUN_MARK_CANCELLED, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_run_delete(exo_storage *s, const char *run_id)
{
    params p = {0};
    p_text(&p, run_id);
    PGresult *r = query(s, ST_RUN_DELETE, &p, 0);
    if (!r)
        return -1;
    int64_t deleted = PQntuples(r) > 0 ? col_int(r, 0, 0) : 0;
    PQclear(r);
    return deleted > 0 ? 0 : 1;
}

static int pg_store_put(exo_storage *s, const char *run_id, const char *ns, const char *graph, const char *key,
                        json_object *value)
{
    params p = {0};
    p_text(&p, run_id);
    p_text(&p, ns);
    p_text(&p, graph);
    p_text(&p, key);
    /* binary: the value may contain U+0000 */
    p_bytes(&p, json_object_get_string(value), json_object_get_string_len(value));
    return exec_ok(s, ST_STORE_PUT, &p);
}

static int pg_store_get(exo_storage *s, const char *run_id, const char *ns, const char *graph, const char *key,
                        json_object **value)
{
    params p = {0};
    p_text(&p, run_id);
    p_text(&p, ns);
    p_text(&p, graph);
    p_text(&p, key);
    PGresult *r = query(s, ST_STORE_GET, &p, 1);
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
    col_id(r, i, 0, st->id);
    st->created_at = col_int(r, i, 1);
    st->updated_at = col_int(r, i, 2);
    st->node_name = col_text(r, i, 3);
    st->namespace_name = col_text(r, i, 4);
    st->identifier = col_text(r, i, 5);
    st->graph_name = col_text(r, i, 6);
    st->run_id = col_text(r, i, 7);
    int status = exo_status_from_name(PQgetvalue(r, i, 8));
    st->status = status < 0 ? EXO_ST_CREATED : (exo_status)status;
    st->inputs = col_json(r, i, 9);
    st->outputs = col_json(r, i, 10);
    st->data = col_json(r, i, 11);
    st->error = col_text(r, i, 12);
    st->parents = col_json(r, i, 13);
    st->does_unites = (int)col_int(r, i, 14);
    st->unite_key = col_text(r, i, 15);
    st->enqueue_after = col_int(r, i, 16);
    st->retry_count = col_int(r, i, 17);
    st->fanout_id = col_text(r, i, 18);
    st->manual_retry_fanout_id = col_text(r, i, 19);
    col_id(r, i, 20, st->exec_group);
    st->lease_expires_at = col_int(r, i, 21);
    st->lease_ms = col_int(r, i, 22);
    int error_ok = st->error || PQgetisnull(r, i, 12);
    int unite_ok = st->unite_key || PQgetisnull(r, i, 15);
    return st->node_name && st->namespace_name && st->identifier && st->graph_name && st->run_id &&
                   json_read(r, i, 9, st->inputs) && json_read(r, i, 10, st->outputs) &&
                   json_read(r, i, 11, st->data) && json_read(r, i, 13, st->parents) && st->fanout_id &&
                   st->manual_retry_fanout_id && error_ok && unite_ok && status >= 0
               ? 0
               : -1;
}

static void free_state_row(void *row) { exo_state_row_free(row); }
static const row_kind state_rows = {"state", sizeof(exo_state_row), read_state, free_state_row};

static int pg_state_insert(exo_storage *s, const exo_state_row *st)
{
    params p = {0};
    p_text(&p, st->id);
    p_int(&p, st->created_at);
    p_int(&p, st->updated_at);
    p_text(&p, st->node_name);
    p_text(&p, st->namespace_name);
    p_text(&p, st->identifier);
    p_text(&p, st->graph_name);
    p_text(&p, st->run_id);
    p_text(&p, exo_status_names[st->status]);
    p_json(&p, st->inputs);
    p_json(&p, st->outputs);
    p_json(&p, st->data);
    p_text(&p, st->error);
    p_json(&p, st->parents);
    p_int(&p, st->does_unites);
    p_text(&p, st->unite_key);
    p_int(&p, st->enqueue_after);
    p_int(&p, st->retry_count);
    p_text(&p, st->fanout_id);
    p_text(&p, st->manual_retry_fanout_id);
    p_text(&p, st->exec_group);
    p_int(&p, st->lease_expires_at);
    p_int(&p, st->lease_ms);
    int64_t n = exec_count(s, ST_STATE_INSERT, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int pg_state_get(exo_storage *s, const char *id, exo_state_row *out)
{
    params p = {0};
    p_text(&p, id);
    return fetch_one(query(s, ST_STATE_GET, &p, 0), &state_rows, out);
}

static int pg_state_lock(exo_storage *s, const char *id, exo_state_row *out)
{
    params p = {0};
    p_text(&p, id);
    return fetch_one(query(s, ST_STATE_LOCK, &p, 0), &state_rows, out);
}

static int pg_state_update(exo_storage *s, const exo_state_row *st)
{
    params p = {0};
    p_int(&p, st->updated_at);
    p_text(&p, exo_status_names[st->status]);
    p_json(&p, st->inputs);
    p_json(&p, st->outputs);
    p_json(&p, st->data);
    p_text(&p, st->error);
    p_json(&p, st->parents);
    p_int(&p, st->enqueue_after);
    p_text(&p, st->exec_group);
    p_int(&p, st->lease_expires_at);
    p_text(&p, st->id);
    return exec_ok(s, ST_STATE_UPDATE, &p);
}

static int pg_state_claim(exo_storage *s, const char *ns, const char *const *nodes, size_t nnodes, int64_t now,
                          int64_t lease_ms, size_t limit, exo_state_row **out, size_t *n, int64_t *next_due)
{
    *out = NULL;
    *n = 0;
    *next_due = 0;
    if (nnodes == 0)
        return 0;
    params p = {0};
    p_text(&p, ns);
    if (p_text_array(&p, nodes, nnodes) != 0)
        return -1;
    p_int(&p, now);
    p_int(&p, now + lease_ms);
    p_int(&p, lease_ms);
    p_int(&p, (int64_t)limit);
    if (fetch_all(query(s, ST_STATE_CLAIM, &p, 0), &state_rows, (void **)out, n) != 0)
        return -1;
    if (*n > 0)
        return 0;
    params d = {0};
    p_text(&d, ns);
    if (p_text_array(&d, nodes, nnodes) != 0)
        return -1;
    p_int(&d, now);
    PGresult *r = query(s, ST_STATE_NEXT_DUE, &d, 0);
    if (!r)
        return -1;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        *next_due = col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_ancestors_copy(exo_storage *s, const char *from, const char *to)
{
    params p = {0};
    p_text(&p, from);
    p_text(&p, to);
    return exec_ok(s, ST_ANCESTORS_COPY, &p);
}

static int pg_ancestor_add(exo_storage *s, const char *group, const char *state_id)
{
    params p = {0};
    p_text(&p, group);
    p_text(&p, state_id);
    return exec_ok(s, ST_ANCESTOR_ADD, &p);
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
    params l = {0};
    p_text(&l, group);
    PGresult *r = query(s, ST_GROUP_LOCK, &l, 0);
    if (!r)
        return -1;
    PQclear(r);
    params p = {0};
    p_text(&p, group);
    if (p_text_array(&p, names, k) != 0)
        return -1;
    return has_row(query(s, ST_GROUP_HAS_STATUS, &p, 0));
}

static int pg_unite_exists(exo_storage *s, const char *key)
{
    params p = {0};
    p_text(&p, key);
    return has_row(query(s, ST_UNITE_EXISTS, &p, 0));
}

static int pg_states_of_run(exo_storage *s, const char *ns, const char *run_id, exo_state_row **out, size_t *n)
{
    params p = {0};
    p_text(&p, run_id);
    p_text(&p, ns);
    return fetch_all(query(s, ST_STATES_OF_RUN, &p, 0), &state_rows, (void **)out, n);
}

static int pg_lease_renew(exo_storage *s, const char *ns, const char *id, int64_t until, int64_t lease_ms)
{
    params p = {0};
    p_int(&p, until);
    p_int(&p, lease_ms);
    p_text(&p, id);
    p_text(&p, ns);
    int64_t n = exec_count(s, ST_LEASE_RENEW, &p);
    return n < 0 ? -1 : n == 1 ? 0 : 1;
}

static int read_queue(const PGresult *r, int i, void *row)
{
    exo_queue_row *q = row;
    q->namespace_name = col_text(r, i, 0);
    q->node_name = col_text(r, i, 1);
    q->created = col_int(r, i, 2);
    q->due = col_int(r, i, 3);
    q->queued = col_int(r, i, 4);
    return q->namespace_name && q->node_name ? 0 : -1;
}

static void free_queue_row(void *row)
{
    exo_queue_row *q = row;
    free(q->namespace_name);
    free(q->node_name);
}

static const row_kind queue_rows = {"queue", sizeof(exo_queue_row), read_queue, free_queue_row};

static int pg_queue_depth(exo_storage *s, int64_t now, size_t limit, exo_queue_row **out, size_t *n)
{
    params p = {0};
    p_int(&p, now);
    p_int(&p, (int64_t)limit);
    return fetch_all(query(s, ST_QUEUE_DEPTH, &p, 0), &queue_rows, (void **)out, n);
}

static int pg_lease_expired(exo_storage *s, int64_t now, size_t limit, char (**ids)[EXO_ID_LEN + 1], size_t *n)
{
    *ids = NULL;
    *n = 0;
    params p = {0};
    p_int(&p, now);
    p_int(&p, (int64_t)limit);
    PGresult *r = query(s, ST_LEASE_EXPIRED, &p, 0);
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
            col_id(r, (int)i, 0, (*ids)[i]);
        *n = rows;
    }
    PQclear(r);
    return 0;
}

/* ---- triggers ----------------------------------------------------------------------------------- */

static int pg_trigger_insert(exo_storage *s, const char *expr, const char *ns, const char *graph, int64_t t,
                             int64_t expires)
{
    params p = {0};
    p_text(&p, expr);
    p_text(&p, ns);
    p_text(&p, graph);
    p_int(&p, t);
    p_int(&p, expires);
    return exec_ok(s, ST_TRIGGER_INSERT, &p);
}

static int pg_trigger_delete_pending(exo_storage *s, const char *ns, const char *graph, const char *expr)
{
    params p = {0};
    p_text(&p, ns);
    p_text(&p, graph);
    p_text(&p, expr);
    return exec_ok(s, ST_TRIGGER_DELETE_PENDING, &p);
}

static int pg_trigger_claim(exo_storage *s, int64_t now, exo_trigger_row *out)
{
    params p = {0};
    p_int(&p, now);
    PGresult *r = query(s, ST_TRIGGER_CLAIM, &p, 0);
    if (!r)
        return -1;
    int ret = 1;
    if (PQntuples(r) > 0) {
        out->id = col_int(r, 0, 0);
        out->expression = col_text(r, 0, 1);
        out->namespace_name = col_text(r, 0, 2);
        out->graph_name = col_text(r, 0, 3);
        out->trigger_time = col_int(r, 0, 4);
        ret = out->expression && out->namespace_name && out->graph_name ? 0 : -1;
    }
    PQclear(r);
    return ret;
}

static int pg_trigger_finish(exo_storage *s, int64_t id, const char *status, int64_t expires_at)
{
    params p = {0};
    p_text(&p, status);
    p_int(&p, expires_at);
    p_int(&p, id);
    return exec_ok(s, ST_TRIGGER_FINISH, &p);
}

static int pg_trigger_housekeeping(exo_storage *s, int64_t now, int at_startup)
{
    /* A TRIGGERING record is never committed (claim and finish share one
       transaction), so resetting at start-up cannot steal another replica's. */
    if (at_startup && exec_ok(s, ST_TRIGGER_RESET, NULL) != 0)
        return -1;
    params p = {0};
    p_int(&p, now);
    return exec_ok(s, ST_TRIGGER_EXPIRE, &p);
}

/* ---- work listener -------------------------------------------------------------------------------- */

/* Delivers every pending notification of c; 0, or -1 when the connection is lost. */
static int drain_notifications(pg_storage *q, PGconn *c)
{
    if (!PQconsumeInput(c))
        return -1;
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        char *sep = strchr(n->extra, '\x1f');
        if (sep) {
            *sep = '\0';
            q->work_cb(q->work_ud, n->extra, sep + 1);
        } else {
            q->work_cb(q->work_ud, NULL, NULL);
        }
        PQfreemem(n);
    }
    return 0;
}

static PGconn *listen_connect(pg_storage *q)
{
    PGconn *c = connect_db(q->uri);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, "LISTEN " WORK_CHANNEL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok)
            return c;
    }
    log_warn("postgres: work listener cannot connect: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
}

static void *listener_main(void *arg)
{
    pg_storage *q = arg;
    PGconn *c = NULL;
    int64_t backoff = RECONNECT_MIN_MS;
    while (!atomic_load(&q->stopping)) {
        if (!c) {
            c = listen_connect(q);
            if (!c) {
                exo_sleep_ms(backoff);
                backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
                continue;
            }
            backoff = RECONNECT_MIN_MS;
            q->work_cb(q->work_ud, NULL, NULL); /* what happened while not listening */
        }
        /* a bounded wait: stopping is noticed within 250 ms */
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int rc = poll(&pfd, 1, 250);
        if (rc < 0 && errno != EINTR) {
            log_error("postgres: work listener poll: %s", strerror(errno));
            rc = 0;
        }
        if (rc > 0 && drain_notifications(q, c) != 0) {
            log_warn("postgres: work listener lost its connection: %s", PQerrorMessage(c));
            PQfinish(c);
            c = NULL;
        }
    }
    PQfinish(c);
    return NULL;
}

static int pg_listen_work(exo_storage *s, exo_storage_work_cb cb, void *ud)
{
    pg_storage *q = (pg_storage *)s;
    if (q->listening)
        return 0;
    q->work_cb = cb;
    q->work_ud = ud;
    int rc = pthread_create(&q->listener, NULL, listener_main, q);
    if (rc != 0) {
        log_error("postgres: cannot start the work listener: %s", strerror(rc));
        return -1;
    }
    q->listening = 1;
    return 0;
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
    .trigger_insert = pg_trigger_insert,
    .trigger_delete_pending = pg_trigger_delete_pending,
    .trigger_claim = pg_trigger_claim,
    .trigger_finish = pg_trigger_finish,
    .trigger_housekeeping = pg_trigger_housekeeping,
};

/* libpq's message as one line (its messages end in a newline and may span lines). */
static const char *one_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg ? msg : "");
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
        buf[n - 1] = '\0';
    return buf;
}

/* One command of the migration transaction; 0 ok, -1 with the server's message. */
static int migrate_exec(PGconn *c, const char *sql, PGresult **out, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        exo_errf(err, errlen, "cannot initialise the PostgreSQL database: %s",
                 one_line(PQresultErrorMessage(r), msg, sizeof msg));
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* Brings the schema to SCHEMA_VERSION in one transaction; refuses a newer one. */
static int migrate(PGconn *c, char *err, size_t errlen)
{
    char sql[160];
    PGresult *r = NULL;
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", MIGRATION_LOCK);
    if (migrate_exec(c, sql, NULL, err, errlen) != 0 ||
        migrate_exec(c, "CREATE TABLE IF NOT EXISTS exo_schema(version integer NOT NULL)", NULL, err, errlen) != 0 ||
        migrate_exec(c, "SELECT max(version) FROM exo_schema", &r, err, errlen) != 0)
        goto failed;
    int version = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (version > SCHEMA_VERSION) {
        exo_errf(err, errlen,
                 "the PostgreSQL database has schema version %d, newer than this exo-state-manager knows (%d): "
                 "run the newer exo-state-manager that wrote it",
                 version, SCHEMA_VERSION);
        goto failed;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        if (migrate_exec(c, migrations[v], NULL, err, errlen) != 0)
            goto failed;
        log_info("PostgreSQL database: schema migrated to version %d", v + 1);
    }
    snprintf(sql, sizeof sql, "DELETE FROM exo_schema; INSERT INTO exo_schema VALUES(%d); COMMIT", SCHEMA_VERSION);
    if (migrate_exec(c, sql, NULL, err, errlen) != 0)
        goto failed;
    return 0;
failed:
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
}

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
        c->pg = connect_db(uri);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            char msg[512];
            exo_errf(err, errlen, "cannot connect to PostgreSQL: %s",
                     c->pg ? one_line(PQerrorMessage(c->pg), msg, sizeof msg) : "out of memory");
            q->nconns++;
            pg_close(&q->base);
            return NULL;
        }
        q->free_list[q->nfree++] = c;
    }
    if (migrate(q->conns[0].pg, err, errlen) != 0) {
        pg_close(&q->base);
        return NULL;
    }
    return &q->base;
}
