/* Endpoint handlers (one per route of the v0 API, plus exo's extensions).
 *
 * A handler checks its request (422 with every problem found), calls one engine
 * function and renders the result; it never touches storage and never holds a
 * database lock.  Engine results map to statuses in one place: exo_resp_result. */
#ifndef EXO_SM_HANDLERS_H
#define EXO_SM_HANDLERS_H

#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "http.h"

/* Answers a non-OK engine result: NOT_FOUND 404, REFUSED 400, CONFLICT 409 with
 * the engine's detail message, FAILED (or a missing message) the generic 500.
 * Takes ownership of detail (the engine's malloc'd *detail, set only when the
 * result is not OK). */
static inline void exo_resp_result(exo_resp *resp, exo_result result, char *detail)
{
    static const int status_of[] = {[EXO_RESULT_NOT_FOUND] = 404, [EXO_RESULT_REFUSED] = 400,
                                    [EXO_RESULT_CONFLICT] = 409};
    if (result > EXO_RESULT_OK && detail)
        exo_resp_detail(resp, status_of[result], "%s", detail);
    else
        exo_resp_500(resp);
    free(detail);
}

/* 1 when the request asks for exo's additions to a v0 answer with ?extended=true
 * (without it every v0 answer is the reference's, byte for byte). */
static inline int exo_req_extended(const exo_req *req)
{
    const char *v = exo_req_query(req, "extended");
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* Copies every member of extra (exo's optional answer fields) into body. */
static inline void exo_resp_add_extra(json_object *body, json_object *extra)
{
    if (!body || !extra)
        return;
    json_object_object_foreach(extra, key, val)
        json_object_object_add(body, key, json_object_get(val));
}

/* exo_resp_result, with extra's members added next to "detail" (the detail text
 * stays what a client may match on; the extra fields say what, where, which). */
static inline void exo_resp_result_extra(exo_resp *resp, exo_result result, char *detail, json_object *extra)
{
    exo_resp_result(resp, result, detail);
    if (result > EXO_RESULT_OK && resp->body && resp->status != 500)
        exo_resp_add_extra(resp->body, extra);
}

void h_health(exo_req *req, exo_resp *resp);
void h_metrics(exo_req *req, exo_resp *resp); /* handlers_metrics.c */
void h_openapi(exo_req *req, exo_resp *resp); /* handlers_openapi.c */
/* handlers_graph.c */
void h_graph_put(exo_req *req, exo_resp *resp);
void h_graph_get(exo_req *req, exo_resp *resp);
void h_graphs_list(exo_req *req, exo_resp *resp);
void h_trigger(exo_req *req, exo_resp *resp);
/* handlers_nodes.c */
void h_nodes_put(exo_req *req, exo_resp *resp);
void h_nodes_list(exo_req *req, exo_resp *resp);
void h_namespaces(exo_req *req, exo_resp *resp);
/* handlers_states.c */
void h_enqueue(exo_req *req, exo_resp *resp);
void h_lease(exo_req *req, exo_resp *resp);
void h_executed(exo_req *req, exo_resp *resp);
void h_errored(exo_req *req, exo_resp *resp);
void h_prune(exo_req *req, exo_resp *resp);
void h_reenqueue(exo_req *req, exo_resp *resp);
void h_manual_retry(exo_req *req, exo_resp *resp);
void h_secrets(exo_req *req, exo_resp *resp);
/* handlers_batch.c */
void h_states_report(exo_req *req, exo_resp *resp);
/* handlers_runtimes.c: the worker registry */
void h_runtime_heartbeat(exo_req *req, exo_resp *resp);
void h_runtimes_list(exo_req *req, exo_resp *resp);
void h_state_logs(exo_req *req, exo_resp *resp);
/* handlers_runs.c */
void h_runs(exo_req *req, exo_resp *resp);
void h_run_graph(exo_req *req, exo_resp *resp);
void h_node_details(exo_req *req, exo_resp *resp);
/* handlers_run_controls.c (exo's extensions) */
void h_runs_query(exo_req *req, exo_resp *resp);
void h_run_get(exo_req *req, exo_resp *resp);
void h_run_cancel(exo_req *req, exo_resp *resp);
void h_run_retry(exo_req *req, exo_resp *resp);
void h_graph_retry(exo_req *req, exo_resp *resp);
void h_runs_purge(exo_req *req, exo_resp *resp);
void h_graph_delete(exo_req *req, exo_resp *resp);
/* handlers_dashboard_api.c (exo's extensions) */
void h_run_states(exo_req *req, exo_resp *resp);
/* handlers_live.c: the live views, and the "version" of the answers they watch
 * (added to a 200 JSON answer: a hash of its text) */
void h_run_watch(exo_req *req, exo_resp *resp);
void h_runs_watch(exo_req *req, exo_resp *resp);
void exo_resp_add_version(exo_resp *resp);
void h_overview(exo_req *req, exo_resp *resp);
/* handlers_dashboard.c: the dashboard's files and sessions */
void h_dash_index(exo_req *req, exo_resp *resp);
void h_dash_asset(exo_req *req, exo_resp *resp);
void h_session_create(exo_req *req, exo_resp *resp);
void h_session_get(exo_req *req, exo_resp *resp);
void h_session_delete(exo_req *req, exo_resp *resp);

#endif
