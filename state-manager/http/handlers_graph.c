/* Graph template endpoints (§3.2 upsert, §3.3 get, §3.14 list) and trigger (§3.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "handlers.h"
#include "log.h"

/* ---- shared helpers ----------------------------------------------------------------- */

static void add_times_and_status(json_object *o, int64_t created, int64_t updated, const char *status,
                                 json_object *errors)
{
    json_object_object_add(o, "created_at", exo_json_time(created));
    json_object_object_add(o, "updated_at", exo_json_time(updated));
    json_object_object_add(o, "validation_status", json_object_new_string(status));
    json_object_object_add(o, "validation_errors", errors ? json_object_get(errors) : json_object_new_array());
}

/* ---- PUT graph ------------------------------------------------------------------------ */

/* exo extension: a secret given as `true` (how GET shows it) keeps the stored
 * value, so `graph get` output can be put back.  Returns the body to parse: body
 * itself, or a copy in which each such secret holds a placeholder string (valid
 * for the parser; the engine puts the stored ciphertext in its place), with the
 * names appended to keep.  NULL when out of memory. */
static json_object *body_with_kept_secrets(json_object *body, json_object *keep)
{
    json_object *secrets = NULL;
    if (!body || !json_object_object_get_ex(body, "secrets", &secrets) || !json_object_is_type(secrets, json_type_object))
        return json_object_get(body);
    int any = 0;
    json_object_object_foreach(secrets, name, value)
    {
        (void)name;
        any |= json_object_is_type(value, json_type_boolean) && json_object_get_boolean(value);
    }
    if (!any)
        return json_object_get(body);
    json_object *copy = NULL;
    if (json_object_deep_copy(body, &copy, NULL) != 0)
        return NULL;
    json_object *copied = json_object_object_get(copy, "secrets");
    json_object_object_foreach(copied, key, val)
    {
        if (!json_object_is_type(val, json_type_boolean) || !json_object_get_boolean(val))
            continue;
        if (json_object_array_add(keep, json_object_new_string(key)) != 0) {
            json_object_put(copy);
            return NULL;
        }
        json_object_object_add(copied, key, json_object_new_string("(kept)"));
    }
    return copy;
}

void h_graph_put(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *keep = json_object_new_array();
    json_object *given = exo_req_body_object(req, &rc);
    json_object *body = given && keep ? body_with_kept_secrets(given, keep) : NULL;
    if (given && !body) {
        json_object_put(keep);
        exo_reqcheck_free(&rc);
        exo_resp_500(resp);
        return;
    }
    exo_graph *g = body ? exo_graph_from_body(body, &rc) : NULL;
    json_object_put(body);
    if (exo_reqcheck_failed(&rc) || !g) {
        if (exo_reqcheck_failed(&rc))
            exo_resp_422(resp, &rc);
        else
            exo_resp_500(resp);
        exo_graph_free(g);
        exo_reqcheck_free(&rc);
        json_object_put(keep);
        return;
    }
    exo_reqcheck_free(&rc);
    char *ns = exo_trim_dup(req->params[0]), *name = exo_trim_dup(req->params[1]);
    /* rendered before the engine encrypts the secrets in place */
    json_object *public_form = exo_graph_to_json(g, 0);
    char *msg = NULL;
    int64_t created_at = 0, updated_at = 0;
    exo_result r = ns && name && public_form
                       ? exo_engine_upsert_graph_ex(req->app, ns, name, g, keep, &created_at, &updated_at, &msg)
                       : EXO_RESULT_FAILED;
    if (r == EXO_RESULT_OK) {
        add_times_and_status(public_form, created_at, updated_at, "PENDING", NULL);
        exo_resp_json(resp, 201, public_form);
    } else {
        json_object_put(public_form);
        exo_resp_result(resp, r, msg);
    }
    free(ns);
    free(name);
    exo_graph_free(g);
    json_object_put(keep);
}

/* ---- GET graph / list ------------------------------------------------------------------- */

/* Public form of a stored graph row (secrets name -> true), with_ids adds _id/name/namespace. */
static json_object *graph_public(const exo_graph_row *row, int list_form)
{
    char *err = NULL;
    exo_graph *g = exo_graph_from_stored(row->template_, &err);
    if (!g) {
        log_error("stored graph %s/%s cannot be loaded: %s", row->namespace_name, row->name, err ? err : "?");
        free(err);
        return NULL;
    }
    json_object *tpl = exo_graph_to_json(g, 0);
    exo_graph_free(g);
    if (!tpl)
        return NULL;
    if (!list_form) {
        add_times_and_status(tpl, row->created_at, row->updated_at, exo_graph_status_names[row->validation_status],
                             row->validation_errors);
        return tpl;
    }
    json_object *o = json_object_new_object(), *v;
    json_object_object_add(o, "_id", json_object_new_string(row->id));
    json_object_object_add(o, "created_at", exo_json_time(row->created_at));
    json_object_object_add(o, "updated_at", exo_json_time(row->updated_at));
    json_object_object_add(o, "name", json_object_new_string(row->name));
    json_object_object_add(o, "namespace", json_object_new_string(row->namespace_name));
    const char *keys[] = {"nodes", NULL};
    for (int i = 0; keys[i]; i++)
        if (json_object_object_get_ex(tpl, keys[i], &v))
            json_object_object_add(o, keys[i], json_object_get(v));
    json_object_object_add(o, "validation_status",
                           json_object_new_string(exo_graph_status_names[row->validation_status]));
    json_object_object_add(o, "validation_errors", json_object_get(row->validation_errors));
    const char *rest[] = {"secrets", "triggers", "retry_policy", "store_config", NULL};
    for (int i = 0; rest[i]; i++)
        if (json_object_object_get_ex(tpl, rest[i], &v))
            json_object_object_add(o, rest[i], json_object_get(v));
    json_object_put(tpl);
    return o;
}

void h_graph_get(exo_req *req, exo_resp *resp)
{
    char *ns = exo_trim_dup(req->params[0]), *name = exo_trim_dup(req->params[1]);
    exo_graph_row row = {0};
    exo_result r = ns && name ? exo_engine_get_graph(req->app, ns, name, &row) : EXO_RESULT_FAILED;
    if (r == EXO_RESULT_NOT_FOUND) {
        exo_resp_detail(resp, 404, "Graph template %s not found in namespace %s", req->params[1], req->params[0]);
    } else if (r == EXO_RESULT_OK) {
        json_object *o = graph_public(&row, 0);
        if (o)
            exo_resp_json(resp, 200, o);
        else
            exo_resp_500(resp);
    } else {
        exo_resp_500(resp);
    }
    exo_graph_row_free(&row);
    free(ns);
    free(name);
}

void h_graphs_list(exo_req *req, exo_resp *resp)
{
    exo_graph_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_list_graphs(req->app, req->params[0], &rows, &n) != EXO_RESULT_OK) {
        exo_graph_rows_free(rows, n);
        exo_resp_500(resp);
        return;
    }
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *t = graph_public(&rows[i], 1);
        if (t)
            json_object_array_add(arr, t);
    }
    json_object_object_add(o, "namespace", json_object_new_string(req->params[0]));
    json_object_object_add(o, "count", json_object_new_int64((int64_t)json_object_array_length(arr)));
    json_object_object_add(o, "templates", arr);
    exo_graph_rows_free(rows, n);
    exo_resp_json(resp, 200, o);
}

/* ---- trigger ------------------------------------------------------------------------- */

void h_trigger(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *store = NULL, *inputs = NULL;
    int64_t start_delay = 0;
    if (body) {
        exo_req_string_map(&rc, body, "store", "body", 0, &store);
        if (exo_req_string_map(&rc, body, "inputs", "body", 0, &inputs) == 0)
            exo_req_reject_nul_templates(&rc, inputs, "body.inputs");
        if (exo_req_int(&rc, body, "start_delay", "body", 0, &start_delay) == 0 && start_delay < 0) {
            json_object *in = json_object_object_get(body, "start_delay"), *ctx = json_object_new_object();
            json_object_object_add(ctx, "ge", json_object_new_int(0));
            exo_reqcheck_add(&rc, "body.start_delay", "greater_than_equal", "Input should be greater than or equal to 0",
                             in, ctx);
        }
    }
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    char *ns = exo_trim_dup(req->params[0]), *graph = exo_trim_dup(req->params[1]);
    if (!ns || !graph) {
        free(ns);
        free(graph);
        exo_resp_500(resp);
        return;
    }
    char *msg = NULL, run_id[EXO_UUID_LEN + 1];
    /* ?extended=true: "warnings" on success, what is wrong on a refusal */
    int extended = exo_req_extended(req);
    json_object *extra = extended ? json_object_new_object() : NULL;
    exo_result r = extra || !extended
                       ? exo_engine_trigger_ex(req->app, ns, graph, store, inputs, start_delay, run_id, extra, &msg)
                       : EXO_RESULT_FAILED;
    if (r == EXO_RESULT_OK) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("CREATED"));
        json_object_object_add(o, "run_id", json_object_new_string(run_id));
        exo_resp_add_extra(o, extra); /* "warnings": keys accepted that nothing uses */
        exo_resp_json(resp, 200, o);
    } else {
        exo_resp_result_extra(resp, r, msg, extra);
    }
    json_object_put(extra);
    free(ns);
    free(graph);
}
