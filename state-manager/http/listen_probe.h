/* Start-up check of the HTTP layer: can the server's address be bound?  main.c
 * asks before it opens (and creates) the database, so a busy port fails fast and
 * leaves no database file behind.  The server binds its own socket afterwards. */
#ifndef EXO_SM_LISTEN_PROBE_H
#define EXO_SM_LISTEN_PROBE_H

#include <stddef.h>

/* 0 when IPv4 host:port ("localhost" = 127.0.0.1) can be bound now (the probe
 * socket is closed again); -1 with err naming the address and the reason. */
int exo_listen_probe(const char *host, int port, char *err, size_t errlen);

#endif
