/* Internal contract of the PostgreSQL backend (storage/postgres/), shared by its files:
 *   postgres.c   the storage ops, the ops table, open and close;
 *   conn.c       the connection pool, running prepared statements, reading results,
 *                transactions and health;
 *   listen.c     the work listener (LISTEN/NOTIFY -> exo_storage_work_cb);
 *   schema.c     the schema and its migrations;
 *   runtimes.c   the worker registry's ops;
 *   statements.h every statement, by number.
 * Nothing here is visible outside the backend: the rest of the state manager sees
 * only storage.h. */
#ifndef EXO_STORAGE_PG_H
#define EXO_STORAGE_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "statements.h"
#include "storage.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define MAX_PARAMS 24
#define BEGIN_PENDING_FAILED 2
#define WORK_CHANNEL "exo_work"
/* "namespace<US>run_id" of a state inserted or whose status changed (live views) */
#define CHANGE_CHANNEL "exo_change"

typedef struct pg_conn {
    PGconn *pg;
    unsigned char prepared[ST_COUNT];
    int broken;            /* lost: re-established on next use */
    /* begin() bound this connection but sent no BEGIN yet: it goes with the
       transaction's first statement (one round trip for both), and a transaction
       that runs no statement ends without any */
    int begin_pending; /* 0, 1, or BEGIN_PENDING_FAILED: the first statement failed */
    int queued;        /* statements sent ahead in pipeline mode (pg_exec_deferred), unanswered */
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

/* ---- parameters and results (conn.c) ---- */

/* One statement's parameters: text or binary values, numbers formatted in place,
 * copies this struct owns until pg_params_free. */
typedef struct pg_params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS], fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
    char *owned[MAX_PARAMS];
} pg_params;

/* How to read and free one kind of row (the fetch loops exist once). */
typedef struct pg_row_kind {
    const char *what;
    size_t size;
    int (*read)(const PGresult *r, int row, void *out);
    void (*free_row)(void *row);
} pg_row_kind;

/* Append one parameter (text, a number, JSON text, binary bytes, a text[] literal). */
void pg_param_text(pg_params *p, const char *s);
void pg_param_int(pg_params *p, int64_t v);
void pg_param_json(pg_params *p, json_object *o);
void pg_param_bytes(pg_params *p, const char *b, int len);
int pg_param_text_array(pg_params *p, const char *const *names, size_t n);
void pg_params_free(pg_params *p);
/* Run statement id (or, for pg_query_text, one-off SQL) on this thread's transaction
 * connection or a connection borrowed for it, and free p; the result, or NULL when it
 * failed (noted for health and retries).  pg_exec_count: rows changed or -1;
 * pg_exec_ok: 0 or -1. */
PGresult *pg_query(exo_storage *s, stmt_id id, pg_params *p, int binary_result);
PGresult *pg_query_text(exo_storage *s, const char *sql, pg_params *p);
int64_t pg_exec_count(exo_storage *s, stmt_id id, pg_params *p);
int pg_exec_ok(exo_storage *s, stmt_id id, pg_params *p);
/* pg_exec_ok for a statement whose caller needs only its success: in a transaction
 * it travels with the next statement (or the COMMIT), which fails when it did. */
int pg_exec_deferred(exo_storage *s, stmt_id id, pg_params *p);
/* Column readers of row `row` (SQL NULL reads as 0, NULL, an empty id). */
int64_t pg_col_int(const PGresult *r, int row, int col);
char *pg_col_text(const PGresult *r, int row, int col);
json_object *pg_col_json(const PGresult *r, int row, int col);
int pg_json_read(const PGresult *r, int row, int col, json_object *v);
void pg_col_id(const PGresult *r, int row, int col, char out[EXO_ID_LEN + 1]);
/* Read row 0 / every row of r (NULL: the statement failed) with kind, clearing r;
 * 0 found, 1 no row (fetch_one), -1 failed. */
int pg_fetch_one(PGresult *r, const pg_row_kind *kind, void *out);
int pg_fetch_all(PGresult *r, const pg_row_kind *kind, void **out, size_t *n);
int pg_has_row(PGresult *r); /* 1 a row, 0 none, -1 failed; clears r */
/* A new connection to the --db URI (the URI's settings win over exo's defaults). */
PGconn *pg_connect_db(const char *uri);
/* The ops table's transaction and health entries. */
int pg_begin(exo_storage *s);
int pg_commit(exo_storage *s);
int pg_rollback(exo_storage *s);
int pg_savepoint(exo_storage *s, const char *n);
int pg_release(exo_storage *s, const char *n);
int pg_rollback_to(exo_storage *s, const char *n);
int pg_tx_retryable(exo_storage *s);
int pg_health(exo_storage *s, int probe, char *err, size_t errlen);

/* ---- the worker registry (runtimes.c): storage.h's runtime_upsert / runtime_list ---- */
int pg_runtime_upsert(exo_storage *s, const exo_runtime_row *row, size_t max_per_ns, int64_t forget_before);
int pg_runtime_list(exo_storage *s, const char *ns, exo_runtime_row **out, size_t *n);

/* ---- the work listener (listen.c) ---- */
int pg_listen_work(exo_storage *s, exo_storage_work_cb cb, void *ud);

/* ---- schema (schema.c) ---- */
/* libpq's message as one line, in buf. */
const char *pg_one_line(const char *msg, char *buf, size_t len);
/* Brings the schema of c's database to this build's version; -1 with err. */
int pg_migrate(PGconn *c, char *err, size_t errlen);

#endif
