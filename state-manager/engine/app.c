#include "app.h"

#include <errno.h>
#include <stdlib.h>
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
    int rc = pthread_mutex_init(&app->db_lock, NULL) || pthread_mutex_init(&app->work_lock, NULL) || pthread_mutex_init(&app->verify_lock, NULL) ||
             pthread_cond_init(&app->verify_cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&app->stopping, 0);
    exo_metrics_init(&app->metrics);
    return rc ? -1 : 0;
}

/* A backend's listener heard that some process committed claimable states. */
static void on_remote_work(void *ud, const char *ns, const char *node_name)
{
    exo_app_notify_work(ud, ns, node_name);
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
    pthread_mutex_destroy(&app->verify_lock);
    pthread_cond_destroy(&app->verify_cond);
    exo_metrics_free(&app->metrics);
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

/* ---- work notifications ----------------------------------------------------------- */

/* FNV-1a; 0 is reserved for "any", so a name hashing to 0 is nudged to 1 (a
 * collision only costs a spurious wake-up). */
static uint64_t name_hash(const char *s)
{
    if (!s)
        return 0;
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

static int waiter_wants(const exo_work_waiter *w, const char *ns, uint64_t ns_hash, const char *node_name)
{
    if (!ns)
        return 1;
    if (w->ns_hash != ns_hash || strcmp(w->ns, ns) != 0)
        return 0;
    if (!node_name)
        return 1;
    for (size_t i = 0; i < w->nnames; i++)
        if (!strcmp(w->names[i], node_name))
            return 1;
    return 0;
}

/* Same test against a ring slot (hashes only). */
static int waiter_wants_slot(const exo_work_waiter *w, const struct exo_work_note_slot *slot)
{
    if (!slot->ns_hash)
        return 1;
    if (slot->ns_hash != w->ns_hash)
        return 0;
    if (!slot->node_hash)
        return 1;
    for (size_t i = 0; i < w->nnames; i++)
        if (name_hash(w->names[i]) == slot->node_hash)
            return 1;
    return 0;
}

static void waiter_unlink(exo_app *app, exo_work_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        app->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->parked = 0;
    app->nwaiters--;
}

static void waiter_fire(exo_app *app, exo_work_waiter *w)
{
    waiter_unlink(app, w);
    w->wake(w);
}

void exo_app_notify_work(exo_app *app, const char *ns, const char *node_name)
{
    pthread_mutex_lock(&app->work_lock);
    app->work_seq++;
    struct exo_work_note_slot *slot = &app->work_ring[app->work_seq % EXO_WORK_RING];
    uint64_t ns_hash = name_hash(ns);
    slot->ns_hash = ns_hash;
    slot->node_hash = ns ? name_hash(node_name) : 0;
    exo_work_waiter *w = app->waiters;
    while (w) {
        exo_work_waiter *next = w->next;
        if (waiter_wants(w, ns, ns_hash, node_name))
            waiter_fire(app, w);
        w = next;
    }
    pthread_mutex_unlock(&app->work_lock);
}

uint64_t exo_app_work_seq(exo_app *app)
{
    pthread_mutex_lock(&app->work_lock);
    uint64_t seq = app->work_seq;
    pthread_mutex_unlock(&app->work_lock);
    return seq;
}

/* 1 when a notification after `seen` may concern w (or too many came to tell). */
static int missed_work(const exo_app *app, const exo_work_waiter *w)
{
    if (app->work_seq - w->seen >= EXO_WORK_RING)
        return 1;
    for (uint64_t seq = w->seen + 1; seq <= app->work_seq; seq++)
        if (waiter_wants_slot(w, &app->work_ring[seq % EXO_WORK_RING]))
            return 1;
    return 0;
}

int exo_app_park(exo_app *app, exo_work_waiter *w)
{
    w->ns_hash = name_hash(w->ns);
    pthread_mutex_lock(&app->work_lock);
    int refused = app->waiters_closed || atomic_load(&app->stopping) || missed_work(app, w);
    if (!refused) {
        w->prev = NULL;
        w->next = app->waiters;
        if (app->waiters)
            app->waiters->prev = w;
        app->waiters = w;
        w->parked = 1;
        app->nwaiters++;
    }
    pthread_mutex_unlock(&app->work_lock);
    return refused;
}

int exo_app_unpark(exo_app *app, exo_work_waiter *w)
{
    pthread_mutex_lock(&app->work_lock);
    int was = w->parked;
    if (was)
        waiter_unlink(app, w);
    pthread_mutex_unlock(&app->work_lock);
    return was;
}

int exo_app_wake(exo_app *app, exo_work_waiter *w)
{
    pthread_mutex_lock(&app->work_lock);
    int was = w->parked;
    if (was)
        waiter_fire(app, w);
    pthread_mutex_unlock(&app->work_lock);
    return was;
}

int64_t exo_app_wake_due(exo_app *app, int64_t now_ms)
{
    int64_t earliest = INT64_MAX;
    pthread_mutex_lock(&app->work_lock);
    exo_work_waiter *w = app->waiters;
    while (w) {
        exo_work_waiter *next = w->next;
        if (w->wake_at_ms <= now_ms)
            waiter_fire(app, w);
        else if (w->wake_at_ms < earliest)
            earliest = w->wake_at_ms;
        w = next;
    }
    pthread_mutex_unlock(&app->work_lock);
    return earliest;
}

size_t exo_app_close_waiters(exo_app *app)
{
    pthread_mutex_lock(&app->work_lock);
    app->waiters_closed = 1;
    size_t n = app->nwaiters;
    while (app->waiters)
        waiter_fire(app, app->waiters);
    pthread_mutex_unlock(&app->work_lock);
    return n;
}

size_t exo_app_parked_count(exo_app *app)
{
    pthread_mutex_lock(&app->work_lock);
    size_t n = app->nwaiters;
    pthread_mutex_unlock(&app->work_lock);
    return n;
}

/* ---- notifications collected inside a transaction ------------------------------------ */

#define TX_NOTES_CAP 32

/* What one exo_app_tx has created; more distinct nodes than fit collapse into one
 * notification per namespace, more namespaces into a wildcard. */
typedef struct tx_notes {
    exo_app *app;
    size_t n;
    int overflow;                 /* wake everything after the commit */
    char *ns[TX_NOTES_CAP], *node[TX_NOTES_CAP]; /* node NULL = any node of ns */
} tx_notes;

/* The transaction running on this thread: exo_app_tx's notes live on its stack and
 * the engine's insert sites reach them through this pointer without threading a
 * parameter through every engine function.  Thread-local, so concurrent
 * transactions of a concurrent backend never share it. */
static _Thread_local tx_notes *current_notes;

static int note_add(tx_notes *t, const char *ns, const char *node_name)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->ns[i], ns) != 0)
            continue;
        if (!t->node[i] || !strcmp(t->node[i], node_name))
            return 0;
    }
    if (t->n == TX_NOTES_CAP) {
        t->overflow = 1;
        return 0;
    }
    t->ns[t->n] = strdup(ns);
    t->node[t->n] = strdup(node_name);
    if (!t->ns[t->n] || !t->node[t->n]) {
        free(t->ns[t->n]);
        free(t->node[t->n]);
        t->overflow = 1; /* out of memory: a wildcard wake-up is still correct */
        return 0;
    }
    t->n++;
    return 0;
}

void exo_app_tx_note_work(exo_app *app, const char *ns, const char *node_name)
{
    tx_notes *t = current_notes;
    if (!t || t->app != app) {
        exo_app_notify_work(app, ns, node_name);
        return;
    }
    if (!t->overflow)
        note_add(t, ns, node_name);
}

static void notes_flush(tx_notes *t, int committed)
{
    if (committed && t->overflow)
        exo_app_notify_work(t->app, NULL, NULL);
    for (size_t i = 0; i < t->n; i++) {
        if (committed && !t->overflow)
            exo_app_notify_work(t->app, t->ns[i], t->node[i]);
        free(t->ns[i]);
        free(t->node[i]);
    }
    t->n = 0;
    t->overflow = 0;
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
    tx_notes notes = {.app = app};
    tx_notes *outer = current_notes;
    current_notes = &notes;
    int64_t started_us = exo_mono_us();
    exo_metrics_tx_begin();
    exo_app_db_enter(app);
    int rc = -1, retry = 0, attempts = 0;
    for (int attempt = 1; attempt <= EXO_TX_ATTEMPTS; attempt++) {
        attempts = attempt;
        rc = tx_attempt(app, body, arg, &retry);
        if (rc >= 0 || !retry || atomic_load(&app->stopping))
            break;
        notes_flush(&notes, 0); /* what the failed attempt created was rolled back */
        exo_metrics_tx_discard();
        /* a collision with another transaction: back off a little, growing, so
           the colliding ones do not meet again at once */
        exo_sleep_ms(attempt * 2 + (int64_t)(exo_mono_ms() % 3));
        log_debug("transaction retried (attempt %d of %d)", attempt + 1, EXO_TX_ATTEMPTS);
    }
    exo_app_db_leave(app);
    current_notes = outer;
    notes_flush(&notes, rc >= 0);
    exo_metrics_tx_end(&app->metrics, rc >= 0);
    exo_metrics_tx(&app->metrics, attempts, rc >= 0, exo_mono_us() - started_us);
    return rc;
}
