/* The PostgreSQL backend's connections (pg.h): the pool, binding a connection to the
 * thread in a transaction, running prepared statements, reading results, reconnecting
 * with backoff and telling health. */
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

#define STMT_SQL(name, sql) sql,
static const char *const stmt_sql[ST_COUNT] = {STATEMENTS(STMT_SQL)};
#undef STMT_SQL

/* ---- connections and the pool -------------------------------------------------------------- */

/* Generic plans for every prepared statement: the statements are written so that
 * their generic plans are the right ones (the claim's ORDER BY keeps it on the claim
 * index), and with the default (auto) the claim was planned anew at every execution,
 * whose planning cost ten times its execution (0.25 ms against 0.02 ms). */
#define SESSION_OPTIONS "-c plan_cache_mode=force_generic_plan"

PGconn *pg_connect_db(const char *uri)
{
    /* the URI's own settings win over these defaults (they come first) */
    const char *const keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *const vals[] = {"5", "exo-state-manager", SESSION_OPTIONS, uri, NULL};
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
    c->queued = 0; /* nor statements sent ahead */
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

void pg_param_text(pg_params *p, const char *s)
{
    p->v[p->n++] = s; /* NULL = SQL NULL */
}

void pg_param_int(pg_params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void pg_param_json(pg_params *p, json_object *o)
{
    pg_param_text(p, o ? exo_json_text(o) : "null");
}

void pg_param_bytes(pg_params *p, const char *b, int len)
{
    p->v[p->n] = b;
    p->len[p->n] = len;
    p->fmt[p->n] = 1;
    p->n++;
}

/* A text[] literal {"a","b"} of names, owned by p (0, or -1 out of memory). */
int pg_param_text_array(pg_params *p, const char *const *names, size_t n)
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
    pg_param_text(p, lit);
    return 0;
}

void pg_params_free(pg_params *p)
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

/* Sends statement id (prepared), or the text sql when id is ST_COUNT, without waiting. */
static int send_statement(pg_conn *c, stmt_id id, const char *sql, const pg_params *p, int binary_result)
{
    int n = p ? p->n : 0;
    const char *const *v = p ? p->v : NULL;
    const int *len = p ? p->len : NULL, *fmt = p ? p->fmt : NULL;
    if (id == ST_COUNT)
        return PQsendQueryParams(c->pg, sql, n, NULL, v, len, fmt, binary_result);
    char name[16];
    snprintf(name, sizeof name, "exo%d", (int)id);
    return PQsendQueryPrepared(c->pg, name, n, v, len, fmt, binary_result);
}

/* The next result of a pipeline (NULL when the connection gave none), with the NULL
 * that ends each query's results consumed. */
static PGresult *pipeline_next(pg_conn *c)
{
    PGresult *r = PQgetResult(c->pg);
    if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PGresult *end = PQgetResult(c->pg);
        PQclear(end); /* NULL: one statement has one result */
    }
    return r;
}

/* Whether a pipeline step succeeded: its result is the caller's to judge further;
 * a failed or missing one is noted (what) and cleared. */
static int pipeline_step_ok(pg_storage *q, pg_conn *c, PGresult *r, const char *what)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 1;
    if (st != PGRES_PIPELINE_ABORTED) /* an earlier step's failure was noted already */
        note_failure(q, c, r, what);
    return 0;
}

/* One exchange in libpq's pipeline mode, answered in one round trip: the statements
 * queued on c ahead (pg_exec_deferred), the transaction's BEGIN when begin is set,
 * the statement's PREPARE when this connection has not prepared it, and the
 * statement itself.  The statement's result, or NULL when it or anything before it
 * failed (noted); the connection leaves pipeline mode either way, broken when the
 * exchange did not complete. */
static PGresult *exchange(pg_storage *q, pg_conn *c, int begin, stmt_id id, const char *sql, const pg_params *p,
                          int binary_result)
{
    char name[16];
    snprintf(name, sizeof name, "exo%d", (int)id);
    int prepare = id != ST_COUNT && !c->prepared[id];
    int queued = c->queued;
    c->queued = 0;
    if ((!queued && PQenterPipelineMode(c->pg) != 1) ||
        (begin && PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1) ||
        (prepare && PQsendPrepare(c->pg, name, stmt_sql[id], 0, NULL) != 1) ||
        send_statement(c, id, sql, p, binary_result) != 1 || PQpipelineSync(c->pg) != 1) {
        note_failure(q, c, NULL, "pipelined statements");
        c->broken = 1;
        PQexitPipelineMode(c->pg);
        return NULL;
    }
    int ok = 1;
    for (int i = 0; i < queued + begin; i++) {
        PGresult *ahead = pipeline_next(c);
        ok = pipeline_step_ok(q, c, ahead, i < queued ? "statement (sent ahead)" : "BEGIN") && ok;
        PQclear(ahead);
    }
    if (prepare) {
        PGresult *prepared = pipeline_next(c);
        if (pipeline_step_ok(q, c, prepared, "prepare") && ok)
            c->prepared[id] = 1;
        else
            ok = 0;
        PQclear(prepared);
    }
    PGresult *r = pipeline_next(c);
    if (!pipeline_step_ok(q, c, r, "statement") || !ok) {
        PQclear(r);
        r = NULL;
    }
    PGresult *sync = pipeline_next(c);
    int synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || PQexitPipelineMode(c->pg) != 1) {
        if (r)
            note_failure(q, c, NULL, "pipelined statements");
        c->broken = 1; /* results left unread: the session is in an unknown state */
        PQclear(r);
        return NULL;
    }
    if (r)
        set_reachable(q, 1, NULL);
    return r;
}

/* Runs prepared statement id, or the text sql when id is ST_COUNT, on c; the result
 * (NULL after a failure, already logged) is the caller's to PQclear.  binary_result
 * asks for binary columns.  The first statement of a transaction takes its BEGIN
 * along; should the connection turn out lost then (the server restarted since its
 * last use), it is re-established and the two are sent once more: nothing of this
 * transaction had reached the database. */
static PGresult *run_on(pg_storage *q, pg_conn *c, stmt_id id, const char *sql, const pg_params *p,
                        int binary_result)
{
    if (c->begin_pending == BEGIN_PENDING_FAILED) { /* never a transaction without its first statement */
        log_error("postgres: statement after the transaction's failed first one: not run");
        return NULL;
    }
    if (c->begin_pending) {
        PGresult *r = exchange(q, c, 1, id, sql, p, binary_result);
        if (!r && c->broken && conn_revive(q, c) == 0)
            r = exchange(q, c, 1, id, sql, p, binary_result);
        if (PQtransactionStatus(c->pg) == PQTRANS_INTRANS || PQtransactionStatus(c->pg) == PQTRANS_INERROR)
            c->begin_pending = 0; /* the BEGIN was done: COMMIT or ROLLBACK now end it */
        else if (!r)
            c->begin_pending = BEGIN_PENDING_FAILED; /* a COMMIT now must fail */
        return r;
    }
    if (c->queued)
        return exchange(q, c, 0, id, sql, p, binary_result);
    if (id == ST_COUNT)
        return checked(q, c, PQexecParams(c->pg, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                                          p ? p->fmt : NULL, 0));
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
PGresult *pg_query(exo_storage *s, stmt_id id, pg_params *p, int binary_result)
{
    pg_storage *q = (pg_storage *)s;
    pg_conn *c = conn_for_statement(q);
    PGresult *r = c ? run_on(q, c, id, NULL, p, binary_result) : NULL;
    conn_put(q, c);
    if (p)
        pg_params_free(p);
    return r;
}

/* pg_query() for an unprepared statement text. */
PGresult *pg_query_text(exo_storage *s, const char *sql, pg_params *p)
{
    pg_storage *q = (pg_storage *)s;
    pg_conn *c = conn_for_statement(q);
    PGresult *r = c ? run_on(q, c, ST_COUNT, sql, p, 0) : NULL;
    conn_put(q, c);
    if (p)
        pg_params_free(p);
    return r;
}

/* A statement without rows: rows affected (>= 0) or -1. */
int64_t pg_exec_count(exo_storage *s, stmt_id id, pg_params *p)
{
    PGresult *r = pg_query(s, id, p, 0);
    if (!r)
        return -1;
    int64_t n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

int pg_exec_ok(exo_storage *s, stmt_id id, pg_params *p)
{
    return pg_exec_count(s, id, p) < 0 ? -1 : 0;
}

/* Sends statement id (or the text sql when id is ST_COUNT) on c without waiting for
 * its answer, which the next exchange reads (pg_exec_deferred); 0 sent, -1 failed. */
static int send_ahead(pg_storage *q, pg_conn *c, stmt_id id, const char *sql, const pg_params *p)
{
    if ((!c->queued && PQenterPipelineMode(c->pg) != 1) || send_statement(c, id, sql, p, 0) != 1) {
        note_failure(q, c, NULL, "statement (sent ahead)");
        c->broken = 1;
        return -1;
    }
    c->queued++;
    return 0;
}

/* In a transaction that has begun, a statement whose caller needs only its success
 * travels with the next one (or the COMMIT), which fails when it did; one that this
 * connection has not prepared yet, and any outside a transaction or before its
 * BEGIN went out (that first exchange can be sent again on a new connection), runs
 * at once. */
static int exec_deferred(pg_storage *q, stmt_id id, const char *sql, pg_params *p)
{
    pg_conn *c = pthread_getspecific(q->bound);
    if (!c || c->begin_pending || c->broken || (id != ST_COUNT && !c->prepared[id])) {
        PGresult *r = id == ST_COUNT ? pg_query_text(&q->base, sql, p) : pg_query(&q->base, id, p, 0);
        PQclear(r);
        return r ? 0 : -1;
    }
    int rc = send_ahead(q, c, id, sql, p);
    if (p)
        pg_params_free(p);
    return rc;
}

int pg_exec_deferred(exo_storage *s, stmt_id id, pg_params *p)
{
    return exec_deferred((pg_storage *)s, id, NULL, p);
}

int64_t pg_col_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

char *pg_col_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

json_object *pg_col_json(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : exo_json_parse(PQgetvalue(r, row, col));
}

/* 1 when JSON column col was read: an object, or a stored JSON null. */
int pg_json_read(const PGresult *r, int row, int col, json_object *v)
{
    return v != NULL || (!PQgetisnull(r, row, col) && !strcmp(PQgetvalue(r, row, col), "null"));
}

void pg_col_id(const PGresult *r, int row, int col, char out[EXO_ID_LEN + 1])
{
    snprintf(out, EXO_ID_LEN + 1, "%s", PQgetvalue(r, row, col));
}

/* Reads row 0 of r (NULL: the statement failed) into out and clears r. */
int pg_fetch_one(PGresult *r, const pg_row_kind *kind, void *out)
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

int pg_fetch_all(PGresult *r, const pg_row_kind *kind, void **out, size_t *n)
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
int pg_has_row(PGresult *r)
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

int pg_begin(exo_storage *s)
{
    pg_storage *q = (pg_storage *)s;
    mark_retry(q, 0);
    if (pthread_getspecific(q->bound)) {
        log_error("postgres: begin inside an open transaction of this thread");
        return -1;
    }
    pg_conn *c = pool_take(q);
    if (conn_revive(q, c) != 0) {
        mark_retry(q, 0);
        pool_give(q, c);
        return -1;
    }
    if (pthread_setspecific(q->bound, c) != 0) {
        log_error("postgres: cannot bind the transaction's connection to this thread");
        pool_give(q, c);
        return -1;
    }
    c->begin_pending = 1; /* BEGIN goes with the first statement (run_on) */
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
    if (c->begin_pending) { /* no statement reached the database: no transaction to end */
        int rc = c->begin_pending == BEGIN_PENDING_FAILED && !strcmp(sql, "COMMIT") ? -1 : 0;
        if (rc != 0)
            log_error("postgres COMMIT: the transaction's first statement had failed; nothing was written");
        c->begin_pending = 0;
        pthread_setspecific(q->bound, NULL);
        pool_give(q, c);
        return rc;
    }
    int rc = -1;
    /* statements still sent ahead go with the COMMIT (which fails when one did) */
    PGresult *r = c->queued ? exchange(q, c, 0, ST_COUNT, sql, NULL, 0) : checked(q, c, PQexec(c->pg, sql));
    if (r && !strcmp(PQcmdStatus(r), sql))
        rc = 0;
    else if (r)
        log_error("postgres %s: the transaction had failed and was rolled back", sql);
    PQclear(r);
    /* a pipelined COMMIT or ROLLBACK is skipped after a failure ahead of it */
    if (!c->broken && PQtransactionStatus(c->pg) == PQTRANS_INERROR && control(q, c, "ROLLBACK") == 0 &&
        !strcmp(sql, "ROLLBACK"))
        rc = 0;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE && !c->broken)
        c->broken = 1; /* in an unknown state: start afresh */
    pthread_setspecific(q->bound, NULL);
    pool_give(q, c);
    return rc;
}

int pg_commit(exo_storage *s) { return finish(s, "COMMIT"); }

int pg_rollback(exo_storage *s)
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
    /* a savepoint as the transaction's first command takes the BEGIN along (run_on) */
    char sql[128];
    snprintf(sql, sizeof sql, "%s %s", verb, name);
    return exec_deferred(q, ST_COUNT, sql, NULL);
}

int pg_savepoint(exo_storage *s, const char *n) { return savepoint_cmd(s, "SAVEPOINT", n); }
int pg_release(exo_storage *s, const char *n) { return savepoint_cmd(s, "RELEASE SAVEPOINT", n); }
int pg_rollback_to(exo_storage *s, const char *n) { return savepoint_cmd(s, "ROLLBACK TO SAVEPOINT", n); }

int pg_tx_retryable(exo_storage *s)
{
    return pthread_getspecific(((pg_storage *)s)->retry) != NULL;
}

int pg_health(exo_storage *s, int probe, char *err, size_t errlen)
{
    pg_storage *q = (pg_storage *)s;
    if (probe) {
        PGresult *r = pg_query(s, ST_PING, NULL, 0);
        PQclear(r);
    }
    if (atomic_load(&q->reachable))
        return 0;
    pthread_mutex_lock(&q->lock);
    exo_errf(err, errlen, "database unreachable: %s", q->problem);
    pthread_mutex_unlock(&q->lock);
    return -1;
}
