/* Registered nodes (§3.5, §3.6), namespaces (§3.18) and health (§3.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

/* {"message": "OK"} (the reference's body) while the database answers; 503 with
 * "database": "unreachable" and the reason when it does not (a load balancer then
 * sends clients to another replica). */
void h_health(exo_req *req, exo_resp *resp)
{
    char why[300];
    int down = exo_app_db_health(req->app, 1, why, sizeof why) != 0;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string(down ? "database unreachable" : "OK"));
    if (down) {
        json_object_object_add(o, "database", json_object_new_string("unreachable"));
        json_object_object_add(o, "detail", json_object_new_string(why));
    }
    /* exo extension, only when something is wrong: stored secrets this key cannot read */
    if (req->app->secrets_undecryptable > 0) {
        json_object *warnings = json_object_new_array();
        json_object_array_add(warnings, json_object_new_string(req->app->secrets_warning));
        json_object_object_add(o, "secrets_undecryptable", json_object_new_int64(req->app->secrets_undecryptable));
        json_object_object_add(o, "warnings", warnings);
    }
    exo_resp_json(resp, down ? 503 : 200, o);
}

void h_nodes_put(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *nodes = NULL;
    const char *runtime_name = NULL;
    if (body) {
        exo_req_string(&rc, body, "runtime_name", "body", 1, &runtime_name);
        if (exo_req_array(&rc, body, "nodes", "body", 1, &nodes) == 0) {
            for (size_t i = 0; i < json_object_array_length(nodes); i++) {
                json_object *node = json_object_array_get_idx(nodes, i), *tmp;
                char loc[64];
                snprintf(loc, sizeof loc, "body.nodes.%zu", i);
                if (!json_object_is_type(node, json_type_object)) {
                    exo_reqcheck_add(&rc, loc, "model_type",
                                     "Input should be a valid dictionary or instance of NodeRegistrationModel", node,
                                     NULL);
                    continue;
                }
                const char *name;
                exo_req_string(&rc, node, "name", loc, 1, &name);
                exo_req_object(&rc, node, "inputs_schema", loc, 1, &tmp);
                exo_req_object(&rc, node, "outputs_schema", loc, 1, &tmp);
                exo_req_string_list(&rc, node, "secrets", loc, 1, &tmp);
            }
        }
    }
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    if (exo_engine_register_nodes(req->app, req->params[0], runtime_name, nodes) != EXO_RESULT_OK) {
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        json_object *node = json_object_array_get_idx(nodes, i), *echo = json_object_new_object();
        const char *keys[] = {"name", "inputs_schema", "outputs_schema", "secrets"};
        for (size_t k = 0; k < 4; k++)
            json_object_object_add(echo, keys[k], json_object_get(json_object_object_get(node, keys[k])));
        json_object_array_add(arr, echo);
    }
    json_object_object_add(o, "runtime_name", json_object_new_string(runtime_name));
    json_object_object_add(o, "registered_nodes", arr);
    exo_resp_json(resp, 200, o);
    /* Tells an exo worker, on the call it makes first, that the batched report call
     * exists (handlers_batch.c); a client that does not know the header ignores it. */
    if (exo_resp_header(resp, "X-Exo-Extensions", "states-report") != 0)
        exo_resp_500(resp);
}

void h_nodes_list(exo_req *req, exo_resp *resp)
{
    int extended = exo_req_extended(req);
    exo_node_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_list_nodes(req->app, req->params[0], &rows, &n) != EXO_RESULT_OK) {
        exo_node_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        exo_node_row *r = &rows[i];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "_id", json_object_new_string(r->id));
        json_object_object_add(e, "created_at", exo_json_time(r->created_at));
        json_object_object_add(e, "updated_at", exo_json_time(r->updated_at));
        json_object_object_add(e, "name", json_object_new_string(r->name));
        json_object_object_add(e, "namespace", json_object_new_string(r->namespace_name));
        json_object_object_add(e, "runtime_name", json_object_new_string(r->runtime_name));
        /* ?extended=true: when runtime_name last registered the node (null: unknown) */
        if (extended)
            json_object_object_add(e, "registered_at", r->registered_at ? exo_json_time(r->registered_at) : NULL);
        json_object_object_add(e, "runtime_namespace", json_object_new_string(r->namespace_name));
        json_object_object_add(e, "inputs_schema", json_object_get(r->inputs_schema));
        json_object_object_add(e, "outputs_schema", json_object_get(r->outputs_schema));
        json_object_object_add(e, "secrets", json_object_get(r->secrets));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "namespace", json_object_new_string(req->params[0]));
    json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(o, "nodes", arr);
    exo_node_rows_free(rows, n);
    exo_resp_json(resp, 200, o);
}

void h_namespaces(exo_req *req, exo_resp *resp)
{
    json_object *arr = NULL;
    if (exo_engine_namespaces(req->app, &arr) != EXO_RESULT_OK) {
        json_object_put(arr);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespaces", arr);
    json_object_object_add(o, "count", json_object_new_int64((int64_t)json_object_array_length(arr)));
    exo_resp_json(resp, 200, o);
}
