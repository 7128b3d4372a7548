/* Graph template endpoints (§3.2 upsert, §3.3 get, §3.14 list) and trigger (§3.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "graph.h"
#include "handlers.h"
#include "log.h"
#include "secrets_crypto.h"
#include "template.h"
#include "trigger.h"

/* ---- shared helpers ----------------------------------------------------------------- */

static void add_times_and_status(json_object *o, int64_t created, int64_t updated, const char *status,
                                 json_object *errors)
{
    json_object_object_add(o, "created_at", exo_json_time(created));
    json_object_object_add(o, "updated_at", exo_json_time(updated));
    json_object_object_add(o, "validation_status", json_object_new_string(status));
    json_object_object_add(o, "validation_errors", errors ? json_object_get(errors) : json_object_new_array());
}

/* Replaces every plain-text secret of g by its ciphertext.  NULL or an error text. */
static const char *encrypt_secrets(exo_app *app, exo_graph *g, char *err, size_t errlen)
{
    if (!g->secrets || json_object_object_length(g->secrets) == 0)
        return NULL;
    if (!app->cfg.have_key)
        return app->cfg.key_error;
    json_object *enc = json_object_new_object();
    if (!enc)
        return "Out of memory";
    json_object_object_foreach(g->secrets, name, val)
    {
        char *c = exo_secret_encrypt(&app->cfg.key, json_object_get_string(val), err, errlen);
        if (!c) {
            json_object_put(enc);
            return err;
        }
        json_object_object_add(enc, name, json_object_new_string(c));
        free(c);
    }
    json_object_put(g->secrets);
    g->secrets = enc;
    return NULL;
}

/* ---- PUT graph ------------------------------------------------------------------------ */

typedef struct upsert_tx {
    const char *ns, *name;
    json_object *stored;
    int64_t now;
    int64_t created_at, updated_at;
} upsert_tx;

static int upsert_body(exo_app *app, void *arg)
{
    upsert_tx *u = arg;
    const exo_storage_ops *ops = app->db->ops;
    exo_graph_row old = {0};
    int rc = ops->graph_get(app->db, u->ns, u->name, &old);
    if (rc < 0)
        return -1;
    exo_graph_row row = {0};
    if (rc == 0) {
        memcpy(row.id, old.id, sizeof row.id);
        row.created_at = old.created_at;
        /* drop the schedule of the previous version (re-created if the new one verifies VALID) */
        char *err = NULL;
        exo_graph *prev = exo_graph_from_stored(old.template_, &err);
        if (!prev)
            log_error("stored graph %s/%s cannot be loaded (%s): its schedule is left as is", u->ns, u->name,
                      err ? err : "out of memory");
        free(err);
        json_object *exprs = prev ? exo_graph_cron_expressions(prev) : NULL;
        if (prev && !exprs)
            rc = -1; /* out of memory: a pending firing of the previous version must not survive */
        for (size_t i = 0; exprs && i < json_object_array_length(exprs); i++)
            if (ops->trigger_delete_pending(app->db, u->ns, u->name,
                                            json_object_get_string(json_object_array_get_idx(exprs, i))) != 0)
                rc = -1;
        json_object_put(exprs);
        exo_graph_free(prev);
        exo_graph_row_free(&old);
        if (rc < 0)
            return -1;
    } else {
        if (exo_id_new(row.id) != 0)
            return -1;
        row.created_at = u->now;
    }
    row.updated_at = u->now;
    row.namespace_name = (char *)u->ns;
    row.name = (char *)u->name;
    row.template_ = u->stored;
    row.validation_status = (char *)"PENDING";
    row.validation_errors = json_object_new_array();
    if (!row.validation_errors)
        return -1;
    rc = ops->graph_save(app->db, &row);
    json_object_put(row.validation_errors);
    u->created_at = row.created_at;
    u->updated_at = row.updated_at;
    return rc;
}

/* 1 when the graph is already stored (the upsert is an update), 0 when not, -1 on error.
 * Only the order of validation messages depends on it (§5.1 A5), so reading it
 * outside the upsert transaction is enough. */
static int graph_exists(exo_app *app, const char *ns, const char *name)
{
    exo_graph_row row = {0};
    exo_app_lock(app);
    int rc = app->db->ops->graph_get(app->db, ns, name, &row);
    exo_app_unlock(app);
    exo_graph_row_free(&row);
    return rc < 0 ? -1 : rc == 0;
}

void h_graph_put(exo_req *req, exo_resp *resp)
{
    exo_app *app = req->app;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    exo_graph *g = body ? exo_graph_from_body(body, &rc) : NULL;
    if (exo_reqcheck_failed(&rc) || !g) {
        if (exo_reqcheck_failed(&rc))
            exo_resp_422(resp, &rc);
        else
            exo_resp_500(resp);
        exo_graph_free(g);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    char *ns = exo_trim_dup(req->params[0]), *name = exo_trim_dup(req->params[1]);
    char *diag = NULL;
    char crypt_err[256];
    const char *key_err = NULL;
    int exists = ns && name ? graph_exists(app, ns, name) : -1;
    if (exists < 0) {
        exo_resp_500(resp);
        goto out;
    }
    diag = exo_graph_validate_ex(g, name, ns, exists);
    if (diag) {
        exo_resp_detail(resp, 400, "Error validating graph template: %s", diag);
        goto out;
    }
    json_object *public_form = exo_graph_to_json(g, 0);
    key_err = encrypt_secrets(app, g, crypt_err, sizeof crypt_err);
    if (key_err) {
        json_object_put(public_form);
        exo_resp_detail(resp, 400, "Error validating graph template: %s", key_err);
        goto out;
    }
    upsert_tx u = {.ns = ns, .name = name, .stored = exo_graph_to_json(g, 1), .now = exo_now_ms()};
    if (!public_form || !u.stored || exo_app_tx(app, upsert_body, &u) < 0) {
        json_object_put(public_form);
        json_object_put(u.stored);
        exo_resp_500(resp);
        goto out;
    }
    json_object_put(u.stored);
    add_times_and_status(public_form, u.created_at, u.updated_at, "PENDING", NULL);
    exo_app_request_verify(app, 0);
    log_info("graph %s/%s upserted (%zu nodes), verification scheduled", ns, name, g->node_count);
    exo_resp_json(resp, 201, public_form);
out:
    free(diag);
    free(ns);
    free(name);
    exo_graph_free(g);
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
        add_times_and_status(tpl, row->created_at, row->updated_at, row->validation_status, row->validation_errors);
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
    json_object_object_add(o, "validation_status", json_object_new_string(row->validation_status));
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
    exo_app *app = req->app;
    char *ns = exo_trim_dup(req->params[0]), *name = exo_trim_dup(req->params[1]);
    exo_graph_row row = {0};
    int rc = -1;
    if (ns && name) {
        exo_app_lock(app);
        rc = app->db->ops->graph_get(app->db, ns, name, &row);
        exo_app_unlock(app);
    }
    if (rc == 1) {
        exo_resp_detail(resp, 404, "Graph template %s not found in namespace %s", req->params[1], req->params[0]);
    } else if (rc == 0) {
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
    exo_app *app = req->app;
    exo_graph_row *rows = NULL;
    size_t n = 0;
    exo_app_lock(app);
    int rc = app->db->ops->graph_list(app->db, req->params[0], &rows, &n);
    exo_app_unlock(app);
    if (rc != 0) {
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

typedef struct root_ctx {
    const char *root_identifier;
    json_object *store, *defaults;
} root_ctx;

static int root_lookup(void *ud, const exo_placeholder *p, json_object **value, char **err)
{
    root_ctx *c = ud;
    if (!exo_placeholder_is_store(p)) {
        if (asprintf(err, "400: Root node can have only store identifier as dependent but got %s", p->identifier) < 0)
            *err = NULL;
        return -1;
    }
    if (c->store && json_object_object_get_ex(c->store, p->field, value))
        return 0;
    if (c->defaults && json_object_object_get_ex(c->defaults, p->field, value))
        return 0;
    if (asprintf(err, "400: Dependent %s not found in store for root node %s", p->field, c->root_identifier) < 0)
        *err = NULL;
    return -1;
}

/* "{'k1', 'k2'}" of the mandatory store keys missing from store; NULL when none. */
static char *missing_store_keys(const exo_graph *g, json_object *store)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    int missing = 0;
    for (size_t i = 0; i < g->required_count; i++) {
        const char *k = g->required_keys[i];
        if ((store && json_object_object_get_ex(store, k, NULL)) || !exo_graph_store_key_mandatory(g, k))
            continue;
        fprintf(f, "%s'%s'", missing++ ? ", " : "{", k);
    }
    if (missing)
        fputc('}', f);
    fclose(f);
    if (!missing) {
        free(out);
        return NULL;
    }
    return out;
}

int exo_trigger_start(exo_app *app, const char *ns, const char *graph_name, json_object *store, json_object *inputs,
                      int64_t start_delay, int64_t now, char run_id[EXO_UUID_LEN + 1], int *status, char **message)
{
    const exo_storage_ops *ops = app->db->ops;
    exo_uuid4(run_id);
    *message = NULL;
    exo_graph_row row = {0};
    int rc = ops->graph_get(app->db, ns, graph_name, &row);
    if (rc != 0) {
        *status = rc < 0 ? 500 : 404;
        if (rc == 1 && asprintf(message, "Graph template not found for namespace %s and graph %s", ns, graph_name) < 0)
            *message = NULL;
        return rc < 0 ? -1 : 1;
    }
    int ret = 1;
    exo_state_row root = {0};
    json_object *root_inputs = NULL;
    if (strcmp(row.validation_status, "VALID") != 0) {
        *status = 400;
        *message = strdup("Graph template is not valid");
        goto out;
    }
    const exo_graph *g = exo_engine_version_graph(app, row.version);
    int r = g ? exo_graph_root(g) : -1;
    if (r < 0) {
        *status = 500;
        ret = -1;
        goto out;
    }
    const exo_node_tpl *rn = &g->nodes[r];
    root_ctx c = {.root_identifier = rn->identifier, .store = store, .defaults = g->default_values};
    root_inputs = json_object_new_object();
    json_object_object_foreach(rn->inputs, key, val)
    {
        json_object *override;
        if (inputs && json_object_object_get_ex(inputs, key, &override))
            val = override;
        char *err = NULL;
        size_t len;
        char *text = exo_template_render_json(val, root_lookup, &c, &err, &len);
        if (!text) {
            *status = err ? 400 : 500;
            if (err && asprintf(message, "Invalid input: %s", err) < 0)
                *message = NULL;
            free(err);
            ret = err ? 1 : -1;
            goto out;
        }
        json_object_object_add(root_inputs, key, json_object_new_string_len(text, (int)len));
        free(text);
    }
    char *missing = missing_store_keys(g, store);
    if (missing) {
        *status = 400;
        if (asprintf(message, "Missing store keys: %s", missing) < 0)
            *message = NULL;
        free(missing);
        goto out;
    }
    *status = 500;
    ret = -1;
    if (ops->run_insert(app->db, run_id, ns, graph_name, row.version, now) != 0)
        goto out;
    if (store) {
        json_object_object_foreach(store, k, v)
        {
            if (ops->store_put(app->db, run_id, ns, graph_name, k, v) != 0)
                goto out;
        }
    }
    if (exo_state_init(&root, rn->node_name, ns, rn->identifier, graph_name, run_id, now) != 0)
        goto out;
    json_object_put(root.inputs);
    root.inputs = root_inputs;
    root_inputs = NULL;
    root.enqueue_after = exo_add_saturating(now, start_delay);
    if (ops->state_insert(app->db, &root) != 0)
        goto out;
    *status = 200;
    ret = 0;
out:
    json_object_put(root_inputs);
    exo_state_row_free(&root);
    exo_graph_row_free(&row);
    return ret;
}

typedef struct trigger_tx {
    const char *ns, *graph;
    json_object *store, *inputs;
    int64_t start_delay;
    char run_id[EXO_UUID_LEN + 1];
    int status;
    char *message;
} trigger_tx;

static int trigger_body(exo_app *app, void *arg)
{
    trigger_tx *t = arg;
    int rc = exo_trigger_start(app, t->ns, t->graph, t->store, t->inputs, t->start_delay, exo_now_ms(), t->run_id,
                               &t->status, &t->message);
    return rc == 0 ? 0 : -1; /* anything but success writes nothing */
}

void h_trigger(exo_req *req, exo_resp *resp)
{
    exo_app *app = req->app;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc);
    trigger_tx t = {.start_delay = 0};
    if (body) {
        exo_req_string_map(&rc, body, "store", "body", 0, &t.store);
        if (exo_req_string_map(&rc, body, "inputs", "body", 0, &t.inputs) == 0)
            exo_req_reject_nul_templates(&rc, t.inputs, "body.inputs");
        if (exo_req_int(&rc, body, "start_delay", "body", 0, &t.start_delay) == 0 && t.start_delay < 0) {
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
    t.ns = ns;
    t.graph = graph;
    t.status = 500;
    if (exo_app_tx(app, trigger_body, &t) < 0 && t.status == 200)
        t.status = 500; /* the commit failed: the run does not exist */
    if (t.status == 200) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("CREATED"));
        json_object_object_add(o, "run_id", json_object_new_string(t.run_id));
        exo_resp_json(resp, 200, o);
        exo_app_notify_work(app);
        log_info("graph %s/%s triggered: run %s", ns, graph, t.run_id);
    } else if (t.message) {
        exo_resp_detail(resp, t.status, "%s", t.message);
    } else {
        exo_resp_500(resp);
    }
    free(t.message);
    free(ns);
    free(graph);
}
