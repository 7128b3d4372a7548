/* The PostgreSQL backend's work listener (pg.h): a thread with its own connection
 * LISTENs on WORK_CHANNEL and hands each notification ("namespace<US>node", or empty
 * for "wake everyone") to the callback; it reconnects with backoff. */
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
    PGconn *c = pg_connect_db(q->uri);
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

int pg_listen_work(exo_storage *s, exo_storage_work_cb cb, void *ud)
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
