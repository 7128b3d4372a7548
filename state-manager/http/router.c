#include "router.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"

#define NS "/v0/namespace/{}"

static const exo_route routes[] = {
    {"GET", "/health", h_health, 0, 1, 0},
    /* operations (docs/operations.md): Prometheus metrics */
    {"GET", "/metrics", h_metrics, 0, 0, 1},
    {"PUT", NS "/graph/{}", h_graph_put, 1, 0, 0},
    {"GET", NS "/graph/{}", h_graph_get, 0, 0, 0},
    {"POST", NS "/graph/{}/trigger", h_trigger, 1, 0, 0},
    {"PUT", NS "/nodes/", h_nodes_put, 1, 0, 0},
    {"GET", NS "/nodes/", h_nodes_list, 0, 0, 0},
    {"POST", NS "/states/enqueue", h_enqueue, 1, 0, 0},
    {"POST", NS "/states/lease", h_lease, 1, 0, 0},
    {"POST", NS "/state/{}/executed", h_executed, 1, 0, 0},
    {"POST", NS "/state/{}/errored", h_errored, 1, 0, 0},
    {"POST", NS "/state/{}/prune", h_prune, 1, 0, 0},
    {"POST", NS "/state/{}/re-enqueue-after", h_reenqueue, 1, 0, 0},
    {"POST", NS "/state/{}/manual-retry", h_manual_retry, 1, 0, 0},
    {"GET", NS "/state/{}/secrets", h_secrets, 0, 0, 0},
    {"GET", NS "/graphs/", h_graphs_list, 0, 0, 0},
    {"GET", NS "/runs/{}/{}", h_runs, 0, 0, 0},
    {"GET", NS "/states/run/{}/graph", h_run_graph, 0, 0, 0},
    {"GET", NS "/graph/{}/run/{}/node/{}", h_node_details, 0, 0, 0},
    {"GET", "/v0/namespaces", h_namespaces, 0, 0, 0},
    /* exo's extensions: run controls (docs/dev/API-EXTENSIONS.md) */
    {"GET", NS "/runs", h_runs_query, 0, 0, 0},
    {"POST", NS "/runs/purge", h_runs_purge, 1, 0, 0},
    {"GET", NS "/run/{}", h_run_get, 0, 0, 0},
    {"POST", NS "/run/{}/cancel", h_run_cancel, 1, 0, 0},
    {"POST", NS "/run/{}/retry", h_run_retry, 1, 0, 0},
    {"POST", NS "/graph/{}/retry", h_graph_retry, 1, 0, 0},
    {"POST", NS "/graph/{}/delete", h_graph_delete, 1, 0, 0},
    /* the dashboard's read endpoints (docs/dev/API-EXTENSIONS.md) */
    {"GET", NS "/run/{}/states", h_run_states, 0, 0, 0},
    {"GET", NS "/overview", h_overview, 0, 0, 0},
    /* the dashboard: its files and its sessions (handlers_dashboard.c) check their own access */
    {"GET", "/", h_dash_index, 0, 1, 0},
    {"GET", "/ui/{}", h_dash_asset, 0, 1, 0},
    {"POST", "/ui/api/session", h_session_create, 1, 1, 0},
    {"GET", "/ui/api/session", h_session_get, 0, 1, 0},
    {"DELETE", "/ui/api/session", h_session_delete, 0, 1, 0},
};

#define NROUTES (sizeof routes / sizeof *routes)
_Static_assert(NROUTES < EXO_METRICS_MAX_ROUTES, "metrics.h keeps a counter slot per route and one more");

size_t exo_route_count(void)
{
    return NROUTES;
}

const exo_route *exo_route_at(size_t i)
{
    return i < NROUTES ? &routes[i] : NULL;
}

size_t exo_route_index(const exo_route *r)
{
    return (size_t)(r - routes);
}

/* Matches path against pattern; on success fills params (pointing into scratch,
 * a writable copy of path with '/' replaced by NULs). */
static int match_pattern(const char *pattern, const char *path, char *scratch, const char **params,
                         size_t *nparams)
{
    strcpy(scratch, path);
    size_t np = 0;
    const char *p = pattern;
    char *s = scratch;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || np >= EXO_MAX_PATH_PARAMS)
                return 0;
            params[np++] = s;
            p += 2;
            s += len;
            if (*s == '/' && *p == '/') {
                *s = '\0';
                s++;
                p++;
            }
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p || *s)
        return 0;
    *nparams = np;
    return 1;
}

exo_route_result exo_route_match(const char *method, const char *path, const exo_route **route,
                                 const char **params, size_t *nparams, char *scratch, char *allow,
                                 size_t allowlen)
{
    size_t nroutes = sizeof routes / sizeof *routes;
    int path_known = 0;
    allow[0] = '\0';
    size_t alen = 0;
    for (size_t i = 0; i < nroutes; i++) {
        if (!match_pattern(routes[i].pattern, path, scratch, params, nparams))
            continue;
        if (!strcmp(routes[i].method, method)) {
            /* re-match so that params point at this route's split */
            match_pattern(routes[i].pattern, path, scratch, params, nparams);
            *route = &routes[i];
            return EXO_ROUTE_FOUND;
        }
        path_known = 1;
        alen += (size_t)snprintf(allow + alen, alen < allowlen ? allowlen - alen : 0, "%s%s", alen ? ", " : "",
                                 routes[i].method);
    }
    return path_known ? EXO_ROUTE_BAD_METHOD : EXO_ROUTE_NOT_FOUND;
}
