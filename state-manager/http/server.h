/* HTTP front end on libmicrohttpd: internal epoll with a small thread pool, so a
 * connection costs memory, not a thread; long-polls are parked (suspended) until
 * work they can claim appears (docs/dev/HARDENING.md).  Each request runs through
 * named phases (server.c): on the head alone framing, limits, CORS pre-flight,
 * routing, path parameters and the API key — nothing of the body is read for a
 * request they refuse — then, with the whole body, JSON body parsing, the JSON
 * guard, the handler, and finally logging and response writing.  Absolute head /
 * body deadlines, the per-address cap and limit logging: conns.c; framing checks:
 * framing.c. */
#ifndef EXO_SM_SERVER_H
#define EXO_SM_SERVER_H

#include "app.h"

typedef struct exo_server exo_server;

/* Starts serving on cfg.listen_host:listen_port.  NULL with err on failure. */
exo_server *exo_server_start(exo_app *app, char *err, size_t errlen);
void exo_server_stop(exo_server *srv);

#endif
