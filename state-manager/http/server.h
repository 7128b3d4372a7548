/* HTTP front end on libmicrohttpd (thread per connection): body collection with a
 * size cap, request ids, then a pipeline of named phases (server.c): head-size
 * limits, CORS pre-flight, routing outcomes, path parameters, JSON body parsing
 * (§1.4 order: json_invalid before the API key), authentication, the JSON guard,
 * the handler, and finally logging and response writing. */
#ifndef EXO_SM_SERVER_H
#define EXO_SM_SERVER_H

#include "app.h"

typedef struct exo_server exo_server;

/* Starts serving on cfg.listen_host:listen_port.  NULL with err on failure. */
exo_server *exo_server_start(exo_app *app, char *err, size_t errlen);
void exo_server_stop(exo_server *srv);

#endif
