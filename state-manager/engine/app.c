#include "app.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

int exo_app_init(exo_app *app)
{
    memset(app, 0, sizeof *app);
    app->graphs = exo_graph_cache_new();
    if (!app->graphs)
        return -1;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
        return -1;
    int rc = pthread_mutex_init(&app->db_lock, NULL) || pthread_mutex_init(&app->work_lock, NULL) ||
             pthread_cond_init(&app->work_cond, &attr) || pthread_mutex_init(&app->verify_lock, NULL) ||
             pthread_cond_init(&app->verify_cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&app->stopping, 0);
    return rc ? -1 : 0;
}

/* A backend's listener heard that some process committed claimable states. */
static void on_remote_work(void *ud, const char *ns, const char *node_name)
{
    (void)ns, (void)node_name; /* one wake-up for all long-polls: they re-check their own nodes */
    exo_app_notify_work(ud);
}

int exo_app_set_storage(exo_app *app, exo_storage *db)
{
    app->db = db;
    app->db_serialised = !(exo_db_caps(db) & EXO_STORAGE_CONCURRENT);
    return exo_db_listen_work(db, on_remote_work, app);
}

int exo_app_db_health(exo_app *app, int probe, char *err, size_t errlen)
{
    exo_app_db_enter(app);
    int rc = exo_db_health(app->db, probe, err, errlen);
    exo_app_db_leave(app);
    return rc;
}

void exo_app_destroy(exo_app *app)
{
    exo_graph_cache_free(app->graphs);
    app->graphs = NULL;
    if (app->db)
        exo_db_close(app->db);
    app->db = NULL;
    pthread_mutex_destroy(&app->db_lock);
    pthread_mutex_destroy(&app->work_lock);
    pthread_cond_destroy(&app->work_cond);
    pthread_mutex_destroy(&app->verify_lock);
    pthread_cond_destroy(&app->verify_cond);
}

void exo_app_db_enter(exo_app *app)
{
    if (app->db_serialised)
        pthread_mutex_lock(&app->db_lock);
}

void exo_app_db_leave(exo_app *app)
{
    if (app->db_serialised)
        pthread_mutex_unlock(&app->db_lock);
}

void exo_app_notify_work(exo_app *app)
{
    pthread_mutex_lock(&app->work_lock);
    app->work_seq++;
    pthread_cond_broadcast(&app->work_cond);
    pthread_mutex_unlock(&app->work_lock);
}

uint64_t exo_app_work_seq(exo_app *app)
{
    pthread_mutex_lock(&app->work_lock);
    uint64_t seq = app->work_seq;
    pthread_mutex_unlock(&app->work_lock);
    return seq;
}

void exo_app_wait_work(exo_app *app, uint64_t seen, int64_t deadline)
{
    pthread_mutex_lock(&app->work_lock);
    while (app->work_seq == seen && !atomic_load(&app->stopping)) {
        int64_t now = exo_mono_ms();
        if (now >= deadline)
            break;
        /* wake at least every 500 ms to notice shutdown */
        int64_t until = deadline - now > 500 ? now + 500 : deadline;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
        int rc = pthread_cond_timedwait(&app->work_cond, &app->work_lock, &ts);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR)
            break;
    }
    pthread_mutex_unlock(&app->work_lock);
}

void exo_app_request_verify(exo_app *app, int all)
{
    pthread_mutex_lock(&app->verify_lock);
    app->verify_pending = 1;
    if (all)
        app->verify_all = 1;
    pthread_cond_broadcast(&app->verify_cond);
    pthread_mutex_unlock(&app->verify_lock);
}

/* One attempt: 0/body's result, or -1 (with *retry set when the backend says the
 * transaction may run again). */
static int tx_attempt(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg, int *retry)
{
    *retry = 0;
    if (exo_db_begin(app->db) != 0) {
        *retry = exo_db_tx_retryable(app->db);
        return -1;
    }
    int rc = body(app, arg);
    if (rc >= 0 && exo_db_commit(app->db) == 0)
        return rc;
    int failed_commit = rc >= 0;
    *retry = exo_db_tx_retryable(app->db);
    if (!failed_commit)
        exo_db_rollback(app->db);
    return -1;
}

int exo_app_tx(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg)
{
    exo_app_db_enter(app);
    int rc = -1, retry = 0;
    for (int attempt = 1; attempt <= EXO_TX_ATTEMPTS; attempt++) {
        rc = tx_attempt(app, body, arg, &retry);
        if (rc >= 0 || !retry || atomic_load(&app->stopping))
            break;
        /* a collision with another transaction: back off a little, growing, so
           the colliding ones do not meet again at once */
        exo_sleep_ms(attempt * 2 + (int64_t)(exo_mono_ms() % 3));
        log_debug("transaction retried (attempt %d of %d)", attempt + 1, EXO_TX_ATTEMPTS);
    }
    exo_app_db_leave(app);
    return rc;
}
