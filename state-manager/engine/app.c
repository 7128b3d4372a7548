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
    app->runs = exo_run_cache_new();
    if (!app->graphs || !app->runs)
        return -1;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
        return -1;
    int rc = pthread_mutex_init(&app->db_lock, NULL) || pthread_mutex_init(&app->work_lock, NULL) || pthread_mutex_init(&app->verify_lock, NULL) ||
             pthread_cond_init(&app->verify_cond, &attr) || pthread_cond_init(&app->group.committed, &attr);
    atomic_init(&app->group.arriving, 0);
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

/* The storage wrappers report a state write (storage.h, exo_db_on_change). */
static void on_state_change(void *ud, const char *ns, const char *run_id)
{
    exo_app_tx_note_change(ud, ns, run_id);
}

int exo_app_set_storage(exo_app *app, exo_storage *db)
{
    app->db = db;
    exo_db_on_change(db, on_state_change, app);
    app->db_serialised = !(exo_db_caps(db) & EXO_STORAGE_CONCURRENT);
    /* EXO_GROUP_COMMIT=0 turns group commit off (to measure it against the
       transaction-per-request build in one run, bench/run.sh --compare) */
    const char *group = getenv("EXO_GROUP_COMMIT");
    app->group.enabled = app->db_serialised && !(group && !strcmp(group, "0"));
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
    exo_run_cache_free(app->runs);
    app->runs = NULL;
    if (app->db)
        exo_db_close(app->db);
    app->db = NULL;
    pthread_mutex_destroy(&app->db_lock);
    pthread_mutex_destroy(&app->work_lock);
    pthread_mutex_destroy(&app->verify_lock);
    pthread_cond_destroy(&app->verify_cond);
    pthread_cond_destroy(&app->group.committed);
    exo_metrics_free(&app->metrics);
}

/* ---- group commit (serialised backend) ---------------------------------------------- */

#define GROUP_MAX 64       /* bodies per group: bounds the wait of the first one */
#define GROUP_WAIT_MS 20   /* a member commits the group itself when nobody came by then */

/* A body of the open group waiting for its commit (on its thread's stack). */
typedef struct exo_group_member {
    struct exo_group_member *next;
    int done;                     /* the group was committed or rolled back */
    int committed;
} exo_group_member;

/* Takes db_lock, counted in `arriving` while waiting for it: a body that sees
 * someone arriving leaves the commit to them (they join the group or commit it). */
static void db_lock_take(exo_app *app)
{
    atomic_fetch_add(&app->group.arriving, 1);
    pthread_mutex_lock(&app->db_lock);
    atomic_fetch_sub(&app->group.arriving, 1);
}

/* Ends the open group (db_lock held): commits it (or, when committing fails or
 * `commit` is 0, rolls it back) and tells every waiting member.  0 when committed. */
static int group_end(exo_app *app, int commit)
{
    struct exo_group *g = &app->group;
    int ok = commit && exo_db_commit(app->db) == 0;
    if (!ok) {
        exo_db_rollback(app->db);
        if (g->members)
            log_warn("group transaction of %zu request(s) rolled back; each runs again alone", g->size);
    }
    if (ok) {
        g->commits++;
        g->bodies += g->size;
    }
    g->open = 0;
    g->size = 0;
    for (exo_group_member *m = g->members; m; m = m->next) {
        m->committed = ok;
        m->done = 1;
    }
    g->members = NULL;
    pthread_cond_broadcast(&g->committed);
    return ok ? 0 : -1;
}

/* Before db_lock is released: commits the open group unless a thread waiting for
 * the lock will take it over. */
static void group_leave(exo_app *app)
{
    if (app->group.open && atomic_load(&app->group.arriving) == 0)
        group_end(app, 1);
}

/* Waits (db_lock held, released while waiting) until the group holding `me`
 * ended, committing it itself when nobody did within wait_us; 1 when it committed. */
static int group_wait(exo_app *app, exo_group_member *me, long wait_us)
{
    struct exo_group *g = &app->group;
    me->next = g->members;
    g->members = me;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += wait_us * 1000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    while (!me->done) {
        int w = pthread_cond_timedwait(&g->committed, &app->db_lock, &ts);
        if (w == ETIMEDOUT && !me->done && g->open)
            group_end(app, 1); /* whoever was arriving did not take it over */
    }
    return me->committed;
}

/* Runs one body in the open group (db_lock held; opens the group when none is),
 * without committing.  Returns 1 when the body ran, with *rc its result (-1: it
 * was undone alone), or 0 when the group was lost (rolled back) and the body must
 * run again alone. */
static int group_run(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg, int *rc)
{
    struct exo_group *g = &app->group;
    *rc = -1;
    if (!g->open) {
        if (exo_db_begin(app->db) != 0)
            return 1;
        g->open = 1;
    }
    /* the first body of a group needs no savepoint: undoing it is rolling back */
    int first = g->size == 0;
    if (!first && exo_db_savepoint(app->db, "exo_group_tx") != 0) {
        group_end(app, 0);
        return 0;
    }
    g->size++;
    int r = body(app, arg);
    if (r < 0) {
        /* undo this body only; when that is impossible (SQLite rolled the whole
           transaction back after an I/O error), the others run again alone */
        if (first || exo_db_rollback_to(app->db, "exo_group_tx") != 0 ||
            exo_db_release(app->db, "exo_group_tx") != 0)
            group_end(app, 0);
        return 1;
    }
    if (!first && exo_db_release(app->db, "exo_group_tx") != 0) {
        group_end(app, 0);
        return 0;
    }
    *rc = r;
    return 1;
}

/* One body in the open group (as group_run), then committed with the group: by
 * this thread when nobody is arriving to join, else by the last one to join.
 * Returns 1 when the body is done, with *rc its result (committed when >= 0), or
 * 0 when the group was lost and the body must run again alone. */
static int group_attempt(exo_app *app, int (*body)(exo_app *app, void *arg), void *arg, int *rc)
{
    struct exo_group *g = &app->group;
    if (!group_run(app, body, arg, rc))
        return 0;
    if (*rc < 0)
        return 1;
    if (g->size >= GROUP_MAX)
        return group_end(app, 1) == 0;
    /* nobody waiting for the lock: commit now (waiting for company costs a
       closed-loop client more latency than the shared commit saves: measured
       in docs/dev/PERF.md) */
    if (atomic_load(&g->arriving) == 0)
        return group_end(app, 1) == 0;
    exo_group_member me = {0};
    return group_wait(app, &me, GROUP_WAIT_MS * 1000L);
}

void exo_app_db_enter(exo_app *app)
{
    if (!app->db_serialised)
        return;
    db_lock_take(app);
    if (app->group.open)
        group_end(app, 1); /* a plain read must not see uncommitted bodies */
}

#define DB_YIELD_STEP_US 100
#define DB_YIELD_MAX_STEPS 50 /* 5 ms */

void exo_app_db_yield(exo_app *app)
{
    if (!app->db_serialised)
        return;
    for (int i = 0; i < DB_YIELD_MAX_STEPS && atomic_load(&app->group.arriving) > 0; i++) {
        struct timespec step = {0, DB_YIELD_STEP_US * 1000L};
        nanosleep(&step, NULL); /* an interruption only ends this step early */
    }
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
    if (w->kind != EXO_WAIT_WORK)
        return 0;
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

/* The CHANGES variant of missed_work: the change ring holds namespace hashes. */
static int missed_change(const exo_app *app, const exo_work_waiter *w)
{
    if (app->change_seq - w->seen >= EXO_WORK_RING)
        return 1;
    for (uint64_t seq = w->seen + 1; seq <= app->change_seq; seq++) {
        uint64_t h = app->change_ring[seq % EXO_WORK_RING];
        if (!h || h == w->ns_hash)
            return 1;
    }
    return 0;
}

/* 1 when a notification after `seen` may concern w (or too many came to tell). */
static int missed_work(const exo_app *app, const exo_work_waiter *w)
{
    if (w->kind == EXO_WAIT_CHANGES)
        return missed_change(app, w);
    if (app->work_seq - w->seen >= EXO_WORK_RING)
        return 1;
    for (uint64_t seq = w->seen + 1; seq <= app->work_seq; seq++)
        if (waiter_wants_slot(w, &app->work_ring[seq % EXO_WORK_RING]))
            return 1;
    return 0;
}

/* 1 when change waiter w watches run_id of namespace ns (ns_hash its hash). */
static int change_wanted(const exo_work_waiter *w, const char *ns, uint64_t ns_hash, const char *run_id)
{
    if (w->kind != EXO_WAIT_CHANGES)
        return 0;
    if (!ns)
        return 1;
    if (w->ns_hash != ns_hash || strcmp(w->ns, ns) != 0)
        return 0;
    if (!run_id || w->nnames == 0)
        return 1;
    for (size_t i = 0; i < w->nnames; i++)
        if (!strcmp(w->names[i], run_id))
            return 1;
    return 0;
}

void exo_app_notify_change(exo_app *app, const char *ns, const char *run_id)
{
    uint64_t ns_hash = name_hash(ns);
    pthread_mutex_lock(&app->work_lock);
    app->change_seq++;
    app->change_ring[app->change_seq % EXO_WORK_RING] = ns_hash;
    exo_work_waiter *w = app->waiters;
    while (w) {
        exo_work_waiter *next = w->next;
        if (change_wanted(w, ns, ns_hash, run_id))
            waiter_fire(app, w);
        w = next;
    }
    pthread_mutex_unlock(&app->work_lock);
}

uint64_t exo_app_change_seq(exo_app *app)
{
    pthread_mutex_lock(&app->work_lock);
    uint64_t seq = app->change_seq;
    pthread_mutex_unlock(&app->work_lock);
    return seq;
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
    /* the runs whose states changed (change notifications), the same way */
    size_t nchanges;
    int changes_overflow;
    char *change_ns[TX_NOTES_CAP], *change_run[TX_NOTES_CAP];
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

void exo_app_tx_note_change(exo_app *app, const char *ns, const char *run_id)
{
    tx_notes *t = current_notes;
    if (!ns || !run_id) /* a row without them (cannot happen for a stored state): tell everyone */
        ns = run_id = NULL;
    if (!t || t->app != app) {
        exo_app_notify_change(app, ns, run_id);
        return;
    }
    if (t->changes_overflow)
        return;
    for (size_t i = 0; ns && i < t->nchanges; i++)
        if (!strcmp(t->change_run[i], run_id) && !strcmp(t->change_ns[i], ns))
            return;
    if (!ns || t->nchanges == TX_NOTES_CAP) {
        t->changes_overflow = 1;
        return;
    }
    char *n = strdup(ns), *r = strdup(run_id);
    if (!n || !r) {
        free(n);
        free(r);
        t->changes_overflow = 1; /* out of memory: waking every watcher is still correct */
        return;
    }
    t->change_ns[t->nchanges] = n;
    t->change_run[t->nchanges] = r;
    t->nchanges++;
}

static void changes_flush(tx_notes *t, int committed)
{
    if (committed && t->changes_overflow)
        exo_app_notify_change(t->app, NULL, NULL);
    for (size_t i = 0; i < t->nchanges; i++) {
        if (committed && !t->changes_overflow)
            exo_app_notify_change(t->app, t->change_ns[i], t->change_run[i]);
        free(t->change_ns[i]);
        free(t->change_run[i]);
    }
    t->nchanges = 0;
    t->changes_overflow = 0;
}

static void notes_flush(tx_notes *t, int committed)
{
    changes_flush(t, committed);
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
    int grouped = app->group.enabled;
    if (grouped)
        db_lock_take(app);
    else
        exo_app_db_enter(app);
    int rc = -1, retry = 0, attempts = 0;
    if (grouped) {
        attempts = 1;
        if (!group_attempt(app, body, arg, &rc)) {
            notes_flush(&notes, 0); /* what the lost group held was rolled back */
            exo_metrics_tx_discard();
            grouped = 0;
        }
    }
    for (int attempt = attempts + 1; !grouped && attempt <= EXO_TX_ATTEMPTS; attempt++) {
        attempts = attempt;
        if (app->group.open)
            group_end(app, 1); /* alone: a group opened meanwhile commits first */
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
    if (app->group.enabled)
        group_leave(app);
    exo_app_db_leave(app);
    current_notes = outer;
    notes_flush(&notes, rc >= 0);
    exo_metrics_tx_end(&app->metrics, rc >= 0);
    exo_metrics_tx(&app->metrics, attempts, rc >= 0, exo_mono_us() - started_us);
    return rc;
}
