/* The state manager's process-wide context, shared by the HTTP handlers and the
 * background threads (verification, cron scheduler, lease reaper). */
#ifndef EXO_SM_APP_H
#define EXO_SM_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "storage.h"

typedef struct exo_app {
    exo_sm_config cfg;
    exo_storage *db;
    pthread_mutex_t db_lock;      /* serialises every use of db (one connection) */

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
} exo_app;

int exo_app_init(exo_app *app);
void exo_app_destroy(exo_app *app);

void exo_app_lock(exo_app *app);
void exo_app_unlock(exo_app *app);
/* Wakes long-polling enqueue callers (call after committing new CREATED states). */
void exo_app_notify_work(exo_app *app);
/* Waits until work_seq differs from seen, the deadline (monotonic ms) passes or
 * the server stops. */
void exo_app_wait_work(exo_app *app, uint64_t seen, int64_t deadline_mono_ms);
uint64_t exo_app_work_seq(exo_app *app);

/* Asks the verification thread to look at PENDING graphs (all = re-check all graphs). */
void exo_app_request_verify(exo_app *app, int all);

/* Runs body(app, arg) inside one write transaction under the db lock: commits when
 * it returns >= 0, rolls back otherwise.  Returns body's result (or -1 when the
 * transaction could not be opened / committed). */
int exo_app_tx(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg);

#endif
