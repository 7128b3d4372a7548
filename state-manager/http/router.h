/* URL routing of the v0 API: path patterns with {param} segments, method lookup,
 * and the framework-level outcomes (404, 405 + Allow, 307 trailing-slash). */
#ifndef EXO_SM_ROUTER_H
#define EXO_SM_ROUTER_H

#include <stddef.h>

#include "http.h"

typedef struct exo_route {
    const char *method;
    const char *pattern;   /* "/v0/namespace/{namespace}/graph/{graph_name}" ({name} = one
                              non-empty segment, the name documents it) */
    exo_handler handler;
    int takes_body;
    int public_;           /* no API key needed */
    int bearer;            /* also "Authorization: Bearer <key>" (what Prometheus sends); its
                              handler may waive the key (/metrics with --metrics-public) */
    int extension;         /* exo's own: not in the reference state manager's API */
    const char *summary;   /* one line for /openapi.json */
} exo_route;

typedef enum { EXO_ROUTE_FOUND, EXO_ROUTE_NOT_FOUND, EXO_ROUTE_BAD_METHOD } exo_route_result;

/* Matches method + path.  FOUND: *route set, params filled (pointers into the
 * caller's buffer `scratch`, which must hold strlen(path)+1 bytes).  BAD_METHOD:
 * allow receives "GET, PUT" style text. */
exo_route_result exo_route_match(const char *method, const char *path, const exo_route **route,
                                 const char **params, size_t *nparams, char *scratch,
                                 char *allow, size_t allowlen);

/* The route table, for /metrics (a counter per route) and /openapi.json. */
size_t exo_route_count(void);
const exo_route *exo_route_at(size_t i);
/* r's index in the table (r must come from exo_route_match or exo_route_at). */
size_t exo_route_index(const exo_route *r);

#endif
