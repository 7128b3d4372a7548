/* URL routing of the v0 API: path patterns with {param} segments, method lookup,
 * and the framework-level outcomes (404, 405 + Allow, 307 trailing-slash). */
#ifndef EXO_SM_ROUTER_H
#define EXO_SM_ROUTER_H

#include <stddef.h>

#include "http.h"

typedef struct exo_route {
    const char *method;
    const char *pattern;   /* "/v0/namespace/{}/graph/{}" ({} = one non-empty segment) */
    exo_handler handler;
    int takes_body;
    int public_;           /* no API key needed */
} exo_route;

typedef enum { EXO_ROUTE_FOUND, EXO_ROUTE_NOT_FOUND, EXO_ROUTE_BAD_METHOD } exo_route_result;

/* Matches method + path.  FOUND: *route set, params filled (pointers into the
 * caller's buffer `scratch`, which must hold strlen(path)+1 bytes).  BAD_METHOD:
 * allow receives "GET, PUT" style text. */
exo_route_result exo_route_match(const char *method, const char *path, const exo_route **route,
                                 const char **params, size_t *nparams, char *scratch,
                                 char *allow, size_t allowlen);

#endif
