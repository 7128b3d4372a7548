#include "conns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "strfmt.h"

#define SWEEP_INTERVAL_MS 250
#define LIMIT_LOG_INTERVAL_MS 10000
#define LINGER_MS 5000
#define LINGER_BYTES ((size_t)64 * 1024 * 1024)
#define LINGER_MAX 256
#define LINGER_POLL_MS 10

/* A closed connection whose unread request body is being drained. */
typedef struct lingering {
    int fd;            /* our dup of MHD's descriptor */
    int64_t until_ms;
    size_t left;       /* bytes still to read before giving up */
} lingering;

typedef struct limit_log {
    int64_t last_ms;   /* when the last line was written (0 = never) */
    size_t suppressed; /* hits since then */
} limit_log;

struct exo_conns {
    exo_app *app;
    int64_t head_timeout_ms, body_timeout_ms;
    pthread_mutex_t lock; /* registry, limit logs */
    exo_conn *head;
    limit_log limits[EXO_LIMIT_KINDS];
    lingering linger[LINGER_MAX]; /* guarded by lock */
    size_t nlinger;

    pthread_mutex_t tk_lock; /* timekeeper wake-ups */
    pthread_cond_t tk_cond;
    int64_t tk_hint_ms;      /* earliest wake-up asked for since the timekeeper last looked */
    int tk_stop;
    pthread_t tk_thread;
};

/* Shuts down every connection in HEAD or BODY past its deadline; returns how many
 * of each phase. */
static void sweep(exo_conns *cs, int64_t now, size_t *heads, size_t *bodies)
{
    *heads = *bodies = 0;
    pthread_mutex_lock(&cs->lock);
    for (exo_conn *c = cs->head; c; c = c->next) {
        if ((c->phase != EXO_CONN_HEAD && c->phase != EXO_CONN_BODY) || c->deadline_ms > now)
            continue;
        if (c->phase == EXO_CONN_HEAD)
            (*heads)++;
        else
            (*bodies)++;
        /* MHD sees end-of-stream and closes the connection itself */
        (void)shutdown(c->fd, SHUT_RDWR);
        c->phase = EXO_CONN_CLOSING;
    }
    pthread_mutex_unlock(&cs->lock);
}

static void report_sweep(exo_conns *cs, size_t heads, size_t bodies)
{
    char text[160];
    if (heads) {
        snprintf(text, sizeof text, "closed %zu connection(s) that sent no complete request head within %lld s",
                 heads, (long long)(cs->head_timeout_ms / 1000));
        exo_conns_limit_hit(cs, EXO_LIMIT_HEAD_TIMEOUT, text);
    }
    if (bodies) {
        snprintf(text, sizeof text, "closed %zu connection(s) that sent no complete request body within %lld s",
                 bodies, (long long)(cs->body_timeout_ms / 1000));
        exo_conns_limit_hit(cs, EXO_LIMIT_BODY_TIMEOUT, text);
    }
}

/* Reads and drops what the lingering sockets have received; closes those at EOF,
 * error, deadline or budget.  1 when some are still lingering. */
static int drain_lingering(exo_conns *cs, int64_t now)
{
    char buf[64 * 1024];
    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->nlinger;) {
        lingering *l = &cs->linger[i];
        int done = now >= l->until_ms;
        while (!done) {
            ssize_t n = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0 && (size_t)n < l->left) {
                l->left -= (size_t)n;
                continue;
            }
            done = n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
            break;
        }
        if (!done) {
            i++;
            continue;
        }
        close(l->fd);
        cs->linger[i] = cs->linger[--cs->nlinger];
    }
    int more = cs->nlinger > 0;
    pthread_mutex_unlock(&cs->lock);
    return more;
}

static void *timekeeper(void *arg)
{
    exo_conns *cs = arg;
    int64_t next_sweep = 0;
    pthread_mutex_lock(&cs->tk_lock);
    while (!cs->tk_stop) {
        cs->tk_hint_ms = INT64_MAX;
        pthread_mutex_unlock(&cs->tk_lock);
        int64_t now = exo_mono_ms();
        int64_t next = exo_app_wake_due(cs->app, now);
        if (now >= next_sweep) {
            size_t heads, bodies;
            sweep(cs, now, &heads, &bodies);
            report_sweep(cs, heads, bodies);
            next_sweep = now + SWEEP_INTERVAL_MS;
        }
        if (next > next_sweep)
            next = next_sweep;
        if (drain_lingering(cs, now) && next > now + LINGER_POLL_MS)
            next = now + LINGER_POLL_MS;
        pthread_mutex_lock(&cs->tk_lock);
        if (cs->tk_hint_ms < next)
            next = cs->tk_hint_ms;
        while (!cs->tk_stop && cs->tk_hint_ms >= next && exo_mono_ms() < next) {
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
            int rc = pthread_cond_timedwait(&cs->tk_cond, &cs->tk_lock, &ts);
            if (rc != 0 && rc != ETIMEDOUT && rc != EINTR)
                break;
        }
    }
    pthread_mutex_unlock(&cs->tk_lock);
    return NULL;
}

exo_conns *exo_conns_start(exo_app *app, int head_timeout_s, int body_timeout_s, char *err, size_t errlen)
{
    exo_conns *cs = calloc(1, sizeof *cs);
    if (!cs) {
        exo_errf(err, errlen, "out of memory");
        return NULL;
    }
    cs->app = app;
    cs->head_timeout_ms = (int64_t)head_timeout_s * 1000;
    cs->body_timeout_ms = (int64_t)body_timeout_s * 1000;
    cs->tk_hint_ms = INT64_MAX;
    pthread_condattr_t attr;
    int ok = pthread_condattr_init(&attr) == 0;
    ok = ok && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0;
    ok = ok && pthread_mutex_init(&cs->lock, NULL) == 0;
    ok = ok && pthread_mutex_init(&cs->tk_lock, NULL) == 0;
    ok = ok && pthread_cond_init(&cs->tk_cond, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!ok || pthread_create(&cs->tk_thread, NULL, timekeeper, cs) != 0) {
        free(cs);
        exo_errf(err, errlen, "cannot start the connection timekeeper thread");
        return NULL;
    }
    return cs;
}

void exo_conns_stop(exo_conns *cs)
{
    if (!cs)
        return;
    pthread_mutex_lock(&cs->tk_lock);
    cs->tk_stop = 1;
    pthread_cond_signal(&cs->tk_cond);
    pthread_mutex_unlock(&cs->tk_lock);
    pthread_join(cs->tk_thread, NULL);
    for (size_t i = 0; i < cs->nlinger; i++)
        close(cs->linger[i].fd);
    while (cs->head) {
        exo_conn *c = cs->head;
        cs->head = c->next;
        free(c);
    }
    pthread_mutex_destroy(&cs->lock);
    pthread_mutex_destroy(&cs->tk_lock);
    pthread_cond_destroy(&cs->tk_cond);
    free(cs);
}

exo_conn *exo_conns_opened(exo_conns *cs, int fd)
{
    exo_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->phase = EXO_CONN_HEAD;
    c->deadline_ms = exo_mono_ms() + cs->head_timeout_ms;
    pthread_mutex_lock(&cs->lock);
    c->next = cs->head;
    if (cs->head)
        cs->head->prev = c;
    cs->head = c;
    pthread_mutex_unlock(&cs->lock);
    return c;
}

void exo_conns_closed(exo_conns *cs, exo_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->lock);
    if (c->linger && cs->nlinger < LINGER_MAX) {
        /* MHD closes its descriptor after this call; ours keeps the socket open */
        int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0)
            cs->linger[cs->nlinger++] = (lingering){.fd = fd, .until_ms = exo_mono_ms() + LINGER_MS,
                                                    .left = LINGER_BYTES};
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&cs->lock);
    free(c);
}

void exo_conns_set_phase(exo_conns *cs, exo_conn *c, exo_conn_phase phase)
{
    if (!c)
        return;
    int64_t now = exo_mono_ms();
    pthread_mutex_lock(&cs->lock);
    if (c->phase != EXO_CONN_CLOSING) {
        c->phase = phase;
        if (phase == EXO_CONN_HEAD)
            c->deadline_ms = now + cs->head_timeout_ms;
        else if (phase == EXO_CONN_BODY)
            c->deadline_ms = now + cs->body_timeout_ms;
    }
    pthread_mutex_unlock(&cs->lock);
}

void exo_conns_linger(exo_conns *cs, exo_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->lock);
    c->linger = 1;
    pthread_mutex_unlock(&cs->lock);
    exo_conns_timer_hint(cs, exo_mono_ms() + LINGER_POLL_MS);
}

void exo_conns_timer_hint(exo_conns *cs, int64_t wake_at_ms)
{
    pthread_mutex_lock(&cs->tk_lock);
    if (wake_at_ms < cs->tk_hint_ms) {
        cs->tk_hint_ms = wake_at_ms;
        pthread_cond_signal(&cs->tk_cond);
    }
    pthread_mutex_unlock(&cs->tk_lock);
}

void exo_conns_limit_hit(exo_conns *cs, exo_limit_kind kind, const char *text)
{
    int64_t now = exo_mono_ms();
    pthread_mutex_lock(&cs->lock);
    limit_log *l = &cs->limits[kind];
    int write = !l->last_ms || now - l->last_ms >= LIMIT_LOG_INTERVAL_MS;
    size_t suppressed = l->suppressed;
    if (write) {
        l->last_ms = now;
        l->suppressed = 0;
    } else {
        l->suppressed++;
    }
    pthread_mutex_unlock(&cs->lock);
    if (!write)
        return;
    if (suppressed)
        log_warn("limit: %s (and %zu more such events in the last %d s)", text, suppressed,
                 LIMIT_LOG_INTERVAL_MS / 1000);
    else
        log_warn("limit: %s", text);
}
