/* The server's connection bookkeeping (state-manager/http/): a registry fed by
 * libmicrohttpd's connection notifications, the absolute deadlines a request head
 * and body must meet (counted from when the server starts waiting for them, so a
 * client that sends a byte now and then cannot extend them), and the timekeeper
 * thread that enforces them and wakes parked long-polls at their deadline
 * (exo_app_wake_due).  A connection past its deadline is shut down
 * (shutdown(2), never close: MHD still owns the descriptor and closes it).
 * Limit hits are logged in one rate-limited line per kind.  Connections answered
 * before their body was read are drained before they really close (linger).
 *
 * Thread-safe: MHD's worker threads call every function; one internal lock guards
 * the registry; the timekeeper holds it only for a non-blocking scan. */
#ifndef EXO_SM_CONNS_H
#define EXO_SM_CONNS_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

typedef enum {
    EXO_CONN_HEAD,    /* waiting for a request head (also idle keep-alive) */
    EXO_CONN_BODY,    /* head received, body being read */
    EXO_CONN_BUSY,    /* being handled, parked or answered: no deadline */
    EXO_CONN_CLOSING, /* shut down by the timekeeper */
} exo_conn_phase;

typedef struct exo_conn {
    int fd;
    int linger;          /* answered before its body was read: drain it when MHD closes */
    exo_conn_phase phase;
    int64_t deadline_ms; /* monotonic; meaningful in HEAD and BODY */
    struct exo_conn *prev, *next;
} exo_conn;

typedef struct exo_conns exo_conns;

typedef enum { EXO_LIMIT_CONNECTIONS, EXO_LIMIT_HEAD_TIMEOUT, EXO_LIMIT_BODY_TIMEOUT, EXO_LIMIT_BODY_SIZE,
               EXO_LIMIT_KINDS } exo_limit_kind;

/* Starts the timekeeper.  Timeouts in seconds (> 0). */
exo_conns *exo_conns_start(exo_app *app, int head_timeout_s, int body_timeout_s, char *err, size_t errlen);
/* Stops the timekeeper and frees what is left (after MHD has stopped). */
void exo_conns_stop(exo_conns *cs);

/* MHD_CONNECTION_NOTIFY_STARTED / CLOSED. */
exo_conn *exo_conns_opened(exo_conns *cs, int fd);
void exo_conns_closed(exo_conns *cs, exo_conn *conn);
/* Moves conn to phase; HEAD and BODY restart their deadline from now. */
void exo_conns_set_phase(exo_conns *cs, exo_conn *conn, exo_conn_phase phase);
/* conn was answered before its body was read, and MHD will close it: when it
 * does, the rest of the body is read and thrown away for a bounded time (up to
 * 5 s and 64 MiB; at most 256 such connections at once) before the socket is
 * really closed, so that a client still sending receives the answer instead of a
 * connection reset (closing a socket with unread data sends RST, and the client's
 * kernel then drops the answer it has not read yet). */
void exo_conns_linger(exo_conns *cs, exo_conn *conn);
/* A waiter was parked with this wake-up time: the timekeeper wakes by then. */
void exo_conns_timer_hint(exo_conns *cs, int64_t wake_at_ms);
/* Logs that a limit was hit: the first time and then at most one line per 10 s
 * per kind, counting what was not logged.  text: what happened. */
void exo_conns_limit_hit(exo_conns *cs, exo_limit_kind kind, const char *text);

#endif
