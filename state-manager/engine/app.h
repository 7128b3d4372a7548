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
#include "run_cache.h"
#include "metrics.h"
#include "storage.h"

#define EXO_WORK_RING 64

typedef struct exo_app {
    exo_sm_config cfg;
    exo_storage *db;
    int db_serialised;            /* the backend is not concurrent: db_lock guards every use */
    pthread_mutex_t db_lock;
    exo_graph_cache *graphs;      /* parsed template versions (its own lock) */
    exo_run_cache *runs;          /* each run's version and namespace (its own lock) */

    /* Group commit (serialised backend only; see exo_app_tx): the transaction bodies
     * of concurrent requests run one after another inside one open database
     * transaction, each in its own savepoint, and are committed together by the last
     * of them; each caller returns only after that commit.  Guarded by db_lock. */
    struct exo_group {
        int enabled;              /* serialised backend and EXO_GROUP_COMMIT is not 0 */
        int open;                 /* a group transaction is open on the connection */
        size_t size;              /* bodies in it */
        struct exo_group_member *members; /* waiting for its commit */
        pthread_cond_t committed; /* broadcast after each group commit or rollback */
        atomic_int arriving;      /* threads waiting for db_lock (every serialised use counts
                                     itself): they will join or flush; exo_app_db_yield lets them in */
        uint64_t commits, bodies; /* groups committed and the bodies they held (tests) */
    } group;

    /* Long-poll wake-ups (see "Work notifications" below): every notification gets a
     * sequence number and a slot in a small ring, so a poll that claimed nothing can
     * tell whether work for it arrived before it parked. */
    pthread_mutex_t work_lock;
    uint64_t work_seq;
    struct exo_work_note_slot {
        uint64_t ns_hash, node_hash; /* 0 = any */
    } work_ring[EXO_WORK_RING];
    struct exo_work_waiter *waiters; /* parked polls, a doubly linked list */
    size_t nwaiters;
    int waiters_closed;           /* shutting down: nothing parks any more */
    /* Change notifications (dashboard live views, "Change notifications" below): their
     * own sequence and ring (namespace hashes), so that frequent state changes never
     * push the work ring's entries out. */
    uint64_t change_seq;
    uint64_t change_ring[EXO_WORK_RING];

    /* Background graph verification requests. */
    pthread_mutex_t verify_lock;
    pthread_cond_t verify_cond;
    int verify_pending;           /* some graph is PENDING */
    int verify_all;               /* nodes were (re-)registered: re-check every graph */

    atomic_int stopping;          /* set by SIGTERM/SIGINT */

    exo_metrics metrics;          /* GET /metrics (metrics.h: lock-free, any thread) */

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
/* Between two transactions of a long job (a purge's batches): when requests are
 * waiting for db_lock (serialised backend), lets them have it first, waiting at most
 * 5 ms.  Without it the job's thread, releasing and taking the lock again at once,
 * usually gets it back and the others wait for the whole job (2.7 s seen behind a
 * purge of 20,000 runs). */
void exo_app_db_yield(exo_app *app);

/* ---- Work notifications (long-poll wake-ups) ----------------------------------------
 *
 * A long-polling enqueue that claimed nothing parks an exo_work_waiter and is woken
 * only by work it could claim: a notification for its namespace and one of its node
 * names (or a wildcard one), its own deadline, or shutdown.
 *
 * exo_app_notify_work(app, ns, node_name): "a state of node_name in namespace ns may
 * have become claimable".  ns == NULL wakes every parked poll (shutdown, lease expiry);
 * node_name == NULL wakes every poll of ns.  Thread-safe and callable from any thread
 * (HTTP threads, background threads, a storage backend's listener thread relaying
 * work committed by another replica); it never blocks on the database, only takes
 * work_lock briefly, and calls the waiters' wake callbacks with work_lock held.
 * Call it after the work is committed: a woken poll claims at once.  A spurious
 * notification only costs the woken polls one empty claim. */
void exo_app_notify_work(exo_app *app, const char *ns, const char *node_name);
/* The sequence number of the latest notification: read it before a claim and put it
 * in exo_work_waiter.seen when that claim found nothing. */
uint64_t exo_app_work_seq(exo_app *app);

/* Inside exo_app_tx: records that a state of node_name in ns became CREATED; the
 * notifications are sent after the commit (dropped on rollback).  Outside a
 * transaction it notifies at once. */
void exo_app_tx_note_work(exo_app *app, const char *ns, const char *node_name);

/* What a parked waiter waits for: claimable work (a long-polling enqueue, the
 * default) or a change of states (a dashboard live view; names are run ids then). */
typedef enum { EXO_WAIT_WORK = 0, EXO_WAIT_CHANGES } exo_wait_kind;

typedef struct exo_work_waiter {
    /* set by the caller before exo_app_park; must stay valid while parked */
    exo_wait_kind kind;
    const char *ns;
    const char *const *names;     /* the node names the poll claims (CHANGES: run ids, 0 = any run of ns) */
    size_t nnames;
    uint64_t seen;                /* exo_app_work_seq() (CHANGES: exo_app_change_seq()) before the
                                     claim / read that found nothing new */
    int64_t wake_at_ms;           /* monotonic ms: woken then at the latest */
    /* Called exactly once per park, with work_lock held, from the notifying thread:
     * it must only signal (e.g. resume the connection), never call back into app. */
    void (*wake)(struct exo_work_waiter *w);
    void *arg;
    /* owned by app.c */
    struct exo_work_waiter *prev, *next;
    uint64_t ns_hash;             /* of ns: a notification compares numbers first */
    int parked;
} exo_work_waiter;

/* Parks w: 0 parked (wake will be called), 1 not parked because matching work was
 * notified after w->seen or the server is stopping (claim again / answer now). */
int exo_app_park(exo_app *app, exo_work_waiter *w);
/* Removes w without waking it; 1 when it was still parked. */
int exo_app_unpark(exo_app *app, exo_work_waiter *w);
/* Wakes w now if it is still parked (e.g. its client went away); 1 when it was. */
int exo_app_wake(exo_app *app, exo_work_waiter *w);
/* Wakes the waiters whose wake_at_ms is <= now_ms; returns the earliest wake_at_ms
 * still parked (INT64_MAX when none). */
int64_t exo_app_wake_due(exo_app *app, int64_t now_ms);
/* Wakes every waiter and refuses new ones (shutdown); returns how many were parked. */
size_t exo_app_close_waiters(exo_app *app);
size_t exo_app_parked_count(exo_app *app);

/* ---- Change notifications (dashboard live views) -----------------------------------------
 *
 * exo_app_notify_change(app, ns, run_id): "some state of run_id in namespace ns was
 * created or changed".  Wakes the parked EXO_WAIT_CHANGES waiters of ns that watch
 * that run (or every run of ns); ns == NULL wakes every such waiter (a session
 * ended: each checks its own), run_id == NULL every one of ns.  Never wakes a
 * work waiter.  Same threading rules as exo_app_notify_work.  The storage wrappers
 * report every state write through exo_app_tx_note_change (exo_app_set_storage
 * installs the hook), so the notifications go out after the commit. */
void exo_app_notify_change(exo_app *app, const char *ns, const char *run_id);
uint64_t exo_app_change_seq(exo_app *app);
/* Inside exo_app_tx: records the change, notified after the commit (dropped on
 * rollback); outside a transaction it notifies at once. */
void exo_app_tx_note_change(exo_app *app, const char *ns, const char *run_id);

/* Asks the verification thread to look at PENDING graphs (all = re-check all graphs). */
void exo_app_request_verify(exo_app *app, int all);

/* Runs body(app, arg) inside one write transaction (db entered): commits when it
 * returns >= 0, rolls back otherwise.  Returns body's result (or -1 when the
 * transaction could not be opened / committed).  When the backend reports a
 * retryable failure (a deadlock or serialization failure with a transaction of
 * another replica), the whole transaction runs again, up to EXO_TX_ATTEMPTS
 * times: body must start from its arguments each time (reset what it returns).
 *
 * On a serialised backend (SQLite) with group commit, body runs in a savepoint of
 * the group transaction: a body that fails is rolled back to its savepoint alone;
 * a body that succeeds returns only after the group committed (the last body of
 * the group, or the next thread that enters the database, commits it).  When the
 * group's commit fails, every body of it runs again alone, in its own transaction,
 * so one request's failure never fails the others.  Plain database use
 * (exo_app_db_enter) commits an open group first: nothing uncommitted is ever read
 * outside a transaction body. */
#define EXO_TX_ATTEMPTS 5
int exo_app_tx(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg);

#endif
