#include "router.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"

#define NS "/v0/namespace/{namespace}"

/* The one route table: the server routes by it, /metrics counts by its patterns and
 * /openapi.json is generated from it (handlers_openapi.c), so neither can drift.
 * Columns: method, pattern, handler, takes_body, public_, bearer, extension, summary. */
static const exo_route routes[] = {
    {"GET", "/health", h_health, 0, 1, 0, 0, "Liveness and database reachability"},
    {"PUT", NS "/graph/{graph_name}", h_graph_put, 1, 0, 0, 0, "Create or replace a graph template"},
    {"GET", NS "/graph/{graph_name}", h_graph_get, 0, 0, 0, 0, "A graph template and its validation status"},
    {"POST", NS "/graph/{graph_name}/trigger", h_trigger, 1, 0, 0, 0, "Start a run of a graph"},
    {"PUT", NS "/nodes/", h_nodes_put, 1, 0, 0, 0, "Register a runtime's nodes"},
    {"GET", NS "/nodes/", h_nodes_list, 0, 0, 0, 0, "The registered nodes of a namespace"},
    {"POST", NS "/states/enqueue", h_enqueue, 1, 0, 0, 0, "Claim ready states of some nodes (long-poll with wait_ms)"},
    {"POST", NS "/states/lease", h_lease, 1, 0, 0, 1, "Renew the leases of claimed states"},
    {"POST", NS "/states/report", h_states_report, 1, 0, 0, 1, "Several state reports and a claim in one call"},
    {"POST", NS "/state/{state_id}/executed", h_executed, 1, 0, 0, 0, "Report a state's outputs"},
    {"POST", NS "/state/{state_id}/errored", h_errored, 1, 0, 0, 0, "Report a state's error"},
    {"POST", NS "/state/{state_id}/prune", h_prune, 1, 0, 0, 0, "Prune a state (no children)"},
    {"POST", NS "/state/{state_id}/re-enqueue-after", h_reenqueue, 1, 0, 0, 0, "Run a state again after a delay"},
    {"POST", NS "/state/{state_id}/manual-retry", h_manual_retry, 1, 0, 0, 0, "Retry a finished state by hand"},
    {"GET", NS "/state/{state_id}/secrets", h_secrets, 0, 0, 0, 0, "The graph secrets of a claimed state"},
    {"GET", NS "/graphs/", h_graphs_list, 0, 0, 0, 0, "The graphs of a namespace"},
    {"GET", NS "/runs/{page}/{size}", h_runs, 0, 0, 0, 0, "A page of the runs of a namespace"},
    {"GET", NS "/states/run/{run_id}/graph", h_run_graph, 0, 0, 0, 0, "A run's states as a graph"},
    {"GET", NS "/graph/{graph_name}/run/{run_id}/node/{node_id}", h_node_details, 0, 0, 0, 0,
     "One state of a run in detail"},
    {"GET", "/v0/namespaces", h_namespaces, 0, 0, 0, 0, "Every namespace with something stored"},
    /* exo's extensions: operations, run controls, the dashboard's reads (docs/api.md) */
    {"GET", "/metrics", h_metrics, 0, 0, 1, 1, "Prometheus metrics (text format 0.0.4)"},
    {"GET", "/openapi.json", h_openapi, 0, 1, 0, 1, "This API's OpenAPI 3 description"},
    {"GET", NS "/runs", h_runs_query, 0, 0, 0, 1, "Runs filtered by graph, status and time, by cursor"},
    {"POST", NS "/runs/purge", h_runs_purge, 1, 0, 0, 1, "Delete finished runs older than a time"},
    {"GET", NS "/run/{run_id}", h_run_get, 0, 0, 0, 1, "One run's status and counts"},
    {"POST", NS "/run/{run_id}/cancel", h_run_cancel, 1, 0, 0, 1, "Cancel a run"},
    {"POST", NS "/run/{run_id}/retry", h_run_retry, 1, 0, 0, 1, "Retry a run's failed states"},
    {"POST", NS "/graph/{graph_name}/retry", h_graph_retry, 1, 0, 0, 1, "Retry the failed runs of a graph"},
    {"POST", NS "/graph/{graph_name}/delete", h_graph_delete, 1, 0, 0, 1, "Delete a graph"},
    {"GET", NS "/run/{run_id}/states", h_run_states, 0, 0, 0, 1, "A run's states (the dashboard)"},
    {"GET", NS "/overview", h_overview, 0, 0, 0, 1, "Counts of a namespace (the dashboard)"},
    {"GET", NS "/run/{run_id}/watch", h_run_watch, 0, 0, 0, 1, "Wait until a run's states change (live view)"},
    {"GET", NS "/runs/watch", h_runs_watch, 0, 0, 0, 1, "Wait until a run listing changes (live view)"},
    {"POST", NS "/runtimes/heartbeat", h_runtime_heartbeat, 1, 0, 0, 1, "A worker runtime says it is alive"},
    {"GET", NS "/runtimes", h_runtimes_list, 0, 0, 0, 1, "The worker runtimes of a namespace, alive or lost"},
    {"GET", NS "/state/{state_id}/logs", h_state_logs, 0, 0, 0, 1, "What a state's node printed, as its host reported it"},
    /* the dashboard: its files and its sessions (handlers_dashboard.c) check their own access */
    {"GET", "/", h_dash_index, 0, 1, 0, 1, "The dashboard"},
    {"GET", "/ui/{asset}", h_dash_asset, 0, 1, 0, 1, "The dashboard's files"},
    {"POST", "/ui/api/session", h_session_create, 1, 1, 0, 1, "Sign in to the dashboard"},
    {"GET", "/ui/api/session", h_session_get, 0, 1, 0, 1, "The dashboard session"},
    {"DELETE", "/ui/api/session", h_session_delete, 0, 1, 0, 1, "Sign out of the dashboard"},
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
        if (p[0] == '{') {
            char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || np >= EXO_MAX_PATH_PARAMS)
                return 0;
            params[np++] = s;
            p = strchr(p, '}') + 1; /* patterns are constants: every '{' has its '}' */
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
