/* Run views: paginated runs (§3.15), run graph (§3.16), node details (§3.17). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

#define RUNS_PAGE_CAP 1000

static int path_int(exo_reqcheck *rc, const char *text, const char *loc, int64_t *out)
{
    json_object *v = json_object_new_string(text);
    int r = exo_req_value_int(rc, v, loc, out);
    if (r == 0 && *out < 1) {
        json_object *ctx = json_object_new_object();
        json_object_object_add(ctx, "ge", json_object_new_int(1));
        exo_reqcheck_add(rc, loc, "greater_than_equal", "Input should be greater than or equal to 1", v, ctx);
        r = -1;
    }
    json_object_put(v);
    return r;
}

void h_runs(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    int64_t page = 0, size = 0;
    path_int(&rc, req->params[1], "path.page", &page);
    path_int(&rc, req->params[2], "path.size", &size);
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    if (size > RUNS_PAGE_CAP)
        size = RUNS_PAGE_CAP;
    int64_t offset = (page - 1) > INT64_MAX / size ? INT64_MAX : (page - 1) * size, total = 0;
    exo_run_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_runs_page(req->app, req->params[0], offset, size, &rows, &n, &total) != EXO_RESULT_OK) {
        exo_run_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        exo_run_row *x = &rows[i];
        int64_t *c = x->counts;
        int64_t success = c[EXO_ST_SUCCESS] + c[EXO_ST_PRUNED];
        int64_t pending = c[EXO_ST_CREATED] + c[EXO_ST_QUEUED] + c[EXO_ST_EXECUTED];
        int64_t errored = c[EXO_ST_ERRORED] + c[EXO_ST_NEXT_CREATED_ERROR];
        int64_t retried = c[EXO_ST_RETRY_CREATED];
        int64_t total_states = success + pending + errored + retried;
        const char *status = pending > 0 ? "PENDING" : (errored > 0 || total_states == 0) ? "FAILED" : "SUCCESS";
        json_object *e = json_object_new_object();
        json_object_object_add(e, "run_id", json_object_new_string(x->run_id));
        json_object_object_add(e, "graph_name", json_object_new_string(x->graph_name));
        json_object_object_add(e, "success_count", json_object_new_int64(success));
        json_object_object_add(e, "pending_count", json_object_new_int64(pending));
        json_object_object_add(e, "errored_count", json_object_new_int64(errored));
        json_object_object_add(e, "retried_count", json_object_new_int64(retried));
        json_object_object_add(e, "total_count", json_object_new_int64(total_states));
        json_object_object_add(e, "status", json_object_new_string(status));
        json_object_object_add(e, "created_at", exo_json_time(x->created_at));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "namespace", json_object_new_string(req->params[0]));
    json_object_object_add(o, "total", json_object_new_int64(total));
    json_object_object_add(o, "page", json_object_new_int64(page));
    json_object_object_add(o, "size", json_object_new_int64(size));
    json_object_object_add(o, "runs", arr);
    exo_run_rows_free(rows, n);
    exo_resp_json(resp, 200, o);
}

static json_object *node_entry(const exo_state_row *st)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "id", json_object_new_string(st->id));
    json_object_object_add(e, "node_name", json_object_new_string(st->node_name));
    json_object_object_add(e, "identifier", json_object_new_string(st->identifier));
    json_object_object_add(e, "status", json_object_new_string(exo_status_names[st->status]));
    json_object_object_add(e, "error", st->error ? json_object_new_string(st->error) : NULL);
    return e;
}

/* Id of the last entry of a parents map (the direct parent), or NULL. */
static const char *direct_parent(json_object *parents)
{
    const char *last = NULL;
    if (!parents || !json_object_is_type(parents, json_type_object))
        return NULL;
    json_object_object_foreach(parents, key, val)
    {
        (void)key;
        last = json_object_get_string(val);
    }
    return last;
}

void h_run_graph(exo_req *req, exo_resp *resp)
{
    exo_state_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_run_states(req->app, req->params[0], req->params[1], &rows, &n) != EXO_RESULT_OK) {
        exo_state_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object(), *roots = json_object_new_array(), *nodes = json_object_new_array(),
                *edges = json_object_new_array(), *summary = json_object_new_object(), *ids = json_object_new_object();
    int64_t counts[EXO_ST_COUNT] = {0};
    for (size_t i = 0; i < n; i++)
        json_object_object_add(ids, rows[i].id, NULL);
    for (size_t i = 0; i < n; i++) {
        exo_state_row *st = &rows[i];
        json_object_array_add(nodes, node_entry(st));
        counts[st->status]++;
        const char *parent = direct_parent(st->parents);
        if (!parent) {
            json_object_array_add(roots, node_entry(st));
            continue;
        }
        if (!json_object_object_get_ex(ids, parent, NULL))
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "source", json_object_new_string(parent));
        json_object_object_add(e, "target", json_object_new_string(st->id));
        json_object_array_add(edges, e);
    }
    for (int i = 0; i < EXO_ST_COUNT; i++)
        json_object_object_add(summary, exo_status_names[i], json_object_new_int64(counts[i]));
    json_object_object_add(o, "root_states", roots);
    json_object_object_add(o, "graph_name", json_object_new_string(n ? rows[0].graph_name : ""));
    json_object_object_add(o, "nodes", nodes);
    json_object_object_add(o, "edges", edges);
    json_object_object_add(o, "node_count", json_object_new_int64((int64_t)json_object_array_length(nodes)));
    json_object_object_add(o, "edge_count", json_object_new_int64((int64_t)json_object_array_length(edges)));
    json_object_object_add(o, "execution_summary", summary);
    json_object_put(ids);
    exo_state_rows_free(rows, n);
    exo_resp_json(resp, 200, o);
}

void h_node_details(exo_req *req, exo_resp *resp)
{
    const char *ns = req->params[0], *graph = req->params[1], *run_id = req->params[2], *node_id = req->params[3];
    exo_state_row st = {0};
    exo_result r = exo_engine_run_state(req->app, ns, graph, run_id, node_id, &st);
    if (r == EXO_RESULT_FAILED) {
        exo_resp_detail(resp, 500, "Internal server error while retrieving node details");
        return;
    }
    if (r != EXO_RESULT_OK) {
        exo_resp_detail(resp, 404, "Node %s not found in run %s for graph %s", node_id, run_id, graph);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(st.id));
    json_object_object_add(o, "node_name", json_object_new_string(st.node_name));
    json_object_object_add(o, "identifier", json_object_new_string(st.identifier));
    json_object_object_add(o, "graph_name", json_object_new_string(st.graph_name));
    json_object_object_add(o, "run_id", json_object_new_string(st.run_id));
    json_object_object_add(o, "status", json_object_new_string(exo_status_names[st.status]));
    json_object_object_add(o, "inputs", json_object_get(st.inputs));
    json_object_object_add(o, "outputs", json_object_get(st.outputs));
    json_object_object_add(o, "error", st.error ? json_object_new_string(st.error) : NULL);
    json_object_object_add(o, "parents", json_object_get(st.parents));
    /* ?extended=true: the prune signal's data ({} when the state was not pruned) */
    if (exo_req_extended(req))
        json_object_object_add(o, "data", json_object_get(st.data));
    json_object_object_add(o, "created_at", exo_json_time(st.created_at));
    json_object_object_add(o, "updated_at", exo_json_time(st.updated_at));
    exo_state_row_free(&st);
    exo_resp_json(resp, 200, o);
}
