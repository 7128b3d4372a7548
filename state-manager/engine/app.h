/* The state manager's process-wide context, shared by the HTTP layer, the engine
 * and the background threads (verification, cron scheduler, lease reaper).
 *
 * Database access: engine code brackets every use of app->db with
 * exo_app_db_enter/leave (or runs inside exo_app_tx).  They take db_lock only for a
 * backend without EXO_STORAGE_CONCURRENT (SQLite: one connection); a concurrent
 * backend is used without a lock above storage. */
#ifndef EXO_SM_APP_H
#define EXO_SM_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "graph_cache.h"
#include "storage.h"

typedef struct exo_app {
    exo_sm_config cfg;
    exo_storage *db;
    int db_serialised;            /* the backend is not concurrent: db_lock guards every use */
    pthread_mutex_t db_lock;
    exo_graph_cache *graphs;      /* parsed template versions (its own lock) */

    /* Long-poll wake-ups: work_seq grows whenever a state may have become claimable. */
    pthread_mutex_t work_lock;
    pthread_cond_t work_cond;
    uint64_t work_seq;

    /* Background graph verification requests. */
    pthread_mutex_t verify_lock;
    pthread_cond_t verify_cond;
    int verify_pending;           /* some graph is PENDING */
    int verify_all;               /* nodes were (re-)registered: re-check every graph */

    atomic_int stopping;          /* set by SIGTERM/SIGINT */

    /* Stored graph secrets that this SECRETS_ENCRYPTION_KEY cannot decrypt, found by
     * exo_engine_check_secrets at start-up (before the server starts; read-only
     * afterwards, so no lock): /health reports them. */
    int64_t secrets_undecryptable;
    char secrets_warning[512];
} exo_app;

/* Initialises locks and the graph cache (cfg and db are set by the caller). */
int exo_app_init(exo_app *app);
/* Attaches an opened storage handle (takes ownership; closed by exo_app_destroy)
 * and starts its cross-process work notifications (a backend shared by several
 * processes wakes this process's long-polls).  0, or -1 when they cannot start. */
int exo_app_set_storage(exo_app *app, exo_storage *db);
/* 0 when the database is reachable, -1 with the reason (exo_db_health). */
int exo_app_db_health(exo_app *app, int probe, char *err, size_t errlen);
void exo_app_destroy(exo_app *app);

void exo_app_db_enter(exo_app *app);
void exo_app_db_leave(exo_app *app);

/* Wakes long-polling enqueue callers (call after committing new CREATED states). */
void exo_app_notify_work(exo_app *app);
/* Waits until work_seq differs from seen, the deadline (monotonic ms) passes or
 * the server stops. */
void exo_app_wait_work(exo_app *app, uint64_t seen, int64_t deadline_mono_ms);
uint64_t exo_app_work_seq(exo_app *app);

/* Asks the verification thread to look at PENDING graphs (all = re-check all graphs). */
void exo_app_request_verify(exo_app *app, int all);

/* Runs body(app, arg) inside one write transaction (db entered): commits when it
 * returns >= 0, rolls back otherwise.  Returns body's result (or -1 when the
 * transaction could not be opened / committed).  When the backend reports a
 * retryable failure (a deadlock or serialization failure with a transaction of
 * another replica), the whole transaction runs again, up to EXO_TX_ATTEMPTS
 * times: body must start from its arguments each time (reset what it returns). */
#define EXO_TX_ATTEMPTS 5
int exo_app_tx(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg);

#endif
