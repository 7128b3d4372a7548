/* Runs (engine.h): starting one (trigger endpoint and cron), and the run views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"
#include "template.h"

typedef struct root_ctx {
    const char *root_identifier;
    json_object *store, *defaults;
} root_ctx;

static int root_lookup(void *ud, const exo_placeholder *p, json_object **value, char **err)
{
    root_ctx *c = ud;
    if (!exo_placeholder_is_store(p)) {
        *err = exo_strfmt("400: Root node can have only store identifier as dependent but got %s", p->identifier);
        return -1;
    }
    if (c->store && json_object_object_get_ex(c->store, p->field, value))
        return 0;
    if (c->defaults && json_object_object_get_ex(c->defaults, p->field, value))
        return 0;
    *err = exo_strfmt("400: Dependent %s not found in store for root node %s", p->field, c->root_identifier);
    return -1;
}

/* 1 when store key k must be given at trigger and store lacks it. */
static int store_key_missing(const exo_graph *g, json_object *store, const char *k)
{
    return (!store || !json_object_object_get_ex(store, k, NULL)) && exo_graph_store_key_mandatory(g, k);
}

/* "{'k1', 'k2'}" of the mandatory store keys missing from store; NULL when none
 * (or out of memory: the run then starts and fails at the node that needs it). */
static char *missing_store_keys(const exo_graph *g, json_object *store)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    int missing = 0;
    for (size_t i = 0; i < g->required_count; i++)
        if (store_key_missing(g, store, g->required_keys[i]))
            fprintf(f, "%s'%s'", missing++ ? ", " : "{", g->required_keys[i]);
    if (missing)
        fputc('}', f);
    fclose(f);
    if (!missing) {
        free(out);
        return NULL;
    }
    return out;
}

/* Inputs of the root state: the template's, overridden by inputs, rendered from
 * the store.  NULL with REFUSED + *detail (a placeholder cannot be resolved) or FAILED. */
static json_object *root_inputs(const exo_graph *g, const exo_node_tpl *rn, json_object *store, json_object *inputs,
                                exo_result *result, char **detail)
{
    root_ctx c = {.root_identifier = rn->identifier, .store = store, .defaults = g->default_values};
    json_object *out = json_object_new_object();
    *result = EXO_RESULT_FAILED;
    if (!out)
        return NULL;
    json_object_object_foreach(rn->inputs, key, val)
    {
        json_object *override;
        if (inputs && json_object_object_get_ex(inputs, key, &override))
            val = override;
        char *why = NULL;
        size_t len;
        char *text = exo_template_render_json(val, root_lookup, &c, &why, &len);
        if (!text) {
            if (why) {
                *detail = exo_strfmt("Invalid input: %s", why);
                *result = EXO_RESULT_REFUSED;
            }
            free(why);
            json_object_put(out);
            return NULL;
        }
        json_object_object_add(out, key, json_object_new_string_len(text, (int)len));
        free(text);
    }
    *result = EXO_RESULT_OK;
    return out;
}

/* Appends a message (malloc'd text, taken) to warnings; NULL text: out of memory,
 * nothing added (a warning is advice, never a reason to fail the trigger). */
static void add_warning(json_object *warnings, char *text)
{
    json_object *item = text ? json_object_new_string(text) : NULL;
    if (item && json_object_array_add(warnings, item) != 0)
        json_object_put(item);
    free(text);
}

/* Keys of the trigger's inputs that the root node does not take, and store keys
 * that nothing in the graph reads, as messages in extra's "warnings" array (set
 * only when there is one).  They are accepted (the reference ignores them) but
 * are likely typos. */
static void unknown_key_warnings(const exo_graph *g, const exo_node_tpl *rn, json_object *store,
                                 json_object *inputs, json_object *extra)
{
    json_object *warnings = extra ? json_object_new_array() : NULL;
    if (!warnings)
        return;
    if (inputs) {
        json_object_object_foreach(inputs, key, val)
        {
            (void)val;
            if (!json_object_object_get_ex(rn->inputs, key, NULL))
                add_warning(warnings, exo_strfmt("input '%s' is not an input of root node '%s': ignored", key,
                                                 rn->identifier));
        }
    }
    if (store) {
        json_object_object_foreach(store, key, val)
        {
            (void)val;
            if (!exo_graph_uses_store_key(g, key))
                add_warning(warnings, exo_strfmt("store key '%s' is read by no node of the graph: stored, unused",
                                                 key));
        }
    }
    if (json_object_array_length(warnings) > 0)
        json_object_object_add(extra, "warnings", warnings);
    else
        json_object_put(warnings);
}

/* Writes the run, its store and its root state. */
static exo_result insert_run(exo_app *app, const exo_graph_row *row, const exo_node_tpl *rn, json_object *store,
                             json_object *inputs, int64_t start_delay, int64_t now, const char *run_id)
{
    const char *ns = row->namespace_name, *graph_name = row->name;
    if (exo_db_run_insert(app->db, run_id, ns, graph_name, row->version, now) != 0)
        return EXO_RESULT_FAILED;
    /* should this transaction roll back, the entry names a run that never existed:
       harmless, nothing refers to it (run_cache.h) */
    exo_run_cache_put(app->runs, run_id, row->version, ns);
    if (store) {
        json_object_object_foreach(store, k, v)
        {
            if (exo_db_store_put(app->db, run_id, ns, graph_name, k, v) != 0)
                return EXO_RESULT_FAILED;
        }
    }
    exo_state_row root = {0};
    exo_result result = EXO_RESULT_FAILED;
    if (exo_state_init(&root, rn->node_name, ns, rn->identifier, graph_name, run_id, now) == 0) {
        json_object_put(root.inputs);
        root.inputs = json_object_get(inputs);
        root.enqueue_after = exo_add_saturating(now, start_delay);
        if (exo_db_state_insert(app->db, &root) == 0) {
            exo_metrics_state_created(&app->metrics, ns, root.node_name);
            exo_app_tx_note_work(app, ns, root.node_name);
            result = EXO_RESULT_OK;
        }
    }
    exo_state_row_free(&root);
    return result;
}

/* What is wrong with a graph that cannot be triggered, for the answer's extra
 * fields (the detail text stays the reference's): its status and errors. */
static void not_valid_extra(const exo_graph_row *row, json_object *extra)
{
    if (!extra)
        return;
    json_object_object_add(extra, "graph_name", json_object_new_string(row->name));
    json_object_object_add(extra, "validation_status",
                           json_object_new_string(exo_graph_status_names[row->validation_status]));
    json_object_object_add(extra, "validation_errors", json_object_get(row->validation_errors));
}

/* The mandatory store keys missing from store, as an array in extra. */
static void missing_keys_extra(const exo_graph *g, json_object *store, json_object *extra)
{
    json_object *keys = extra ? json_object_new_array() : NULL;
    if (!keys)
        return;
    for (size_t i = 0; i < g->required_count; i++)
        if (store_key_missing(g, store, g->required_keys[i]))
            json_object_array_add(keys, json_object_new_string(g->required_keys[i]));
    json_object_object_add(extra, "missing_store_keys", keys);
}

exo_result exo_run_start(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                         json_object *inputs, int64_t start_delay, int64_t now, char run_id[EXO_UUID_LEN + 1],
                         char **detail)
{
    return exo_run_start_ex(app, ns, graph_name, store, inputs, start_delay, now, run_id, NULL, detail);
}

exo_result exo_run_start_ex(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                            json_object *inputs, int64_t start_delay, int64_t now, char run_id[EXO_UUID_LEN + 1],
                            json_object *extra, char **detail)
{
    /* random, not time-ordered like state ids: people find runs by the first
       characters of their id (the dashboard's run id prefix filter) */
    exo_uuid4(run_id);
    exo_graph_row row = {0};
    int rc = exo_db_graph_get(app->db, ns, graph_name, &row);
    if (rc != 0) {
        if (rc == 1)
            *detail = exo_strfmt("Graph template not found for namespace %s and graph %s", ns, graph_name);
        return exo_result_of(rc);
    }
    exo_result result = EXO_RESULT_REFUSED;
    const exo_graph *g = NULL;
    json_object *rendered = NULL;
    if (row.validation_status != EXO_GRAPH_VALID) {
        *detail = exo_strfmt("Graph template is not valid");
        not_valid_extra(&row, extra);
        goto out;
    }
    result = EXO_RESULT_FAILED;
    g = exo_graph_cache_get(app->graphs, app->db, row.version);
    int r = g ? exo_graph_root(g) : -1;
    if (r < 0)
        goto out;
    rendered = root_inputs(g, &g->nodes[r], store, inputs, &result, detail);
    if (!rendered)
        goto out;
    char *missing = missing_store_keys(g, store);
    if (missing) {
        *detail = exo_strfmt("Missing store keys: %s", missing);
        missing_keys_extra(g, store, extra);
        free(missing);
        result = EXO_RESULT_REFUSED;
        goto out;
    }
    unknown_key_warnings(g, &g->nodes[r], store, inputs, extra);
    result = insert_run(app, &row, &g->nodes[r], store, rendered, start_delay, now, run_id);
out:
    json_object_put(rendered);
    exo_graph_cache_release(app->graphs, g);
    exo_graph_row_free(&row);
    return result;
}

typedef struct trigger_tx {
    const char *ns, *graph;
    json_object *store, *inputs;
    int64_t start_delay;
    char *run_id;
    json_object *extra;
    char **detail;
    exo_result result;
} trigger_tx;

static int trigger_body(exo_app *app, void *arg)
{
    trigger_tx *t = arg;
    free(*t->detail); /* set by an attempt that was then retried */
    *t->detail = NULL;
    t->result = exo_run_start_ex(app, t->ns, t->graph, t->store, t->inputs, t->start_delay, exo_now_ms(), t->run_id,
                                 t->extra, t->detail);
    return t->result == EXO_RESULT_OK ? 0 : -1; /* anything but success writes nothing */
}

exo_result exo_engine_trigger(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                              json_object *inputs, int64_t start_delay, char run_id[EXO_UUID_LEN + 1], char **detail)
{
    return exo_engine_trigger_ex(app, ns, graph_name, store, inputs, start_delay, run_id, NULL, detail);
}

exo_result exo_engine_trigger_ex(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                                 json_object *inputs, int64_t start_delay, char run_id[EXO_UUID_LEN + 1],
                                 json_object *extra, char **detail)
{
    trigger_tx t = {.ns = ns, .graph = graph_name, .store = store, .inputs = inputs, .start_delay = start_delay,
                    .run_id = run_id, .extra = extra, .detail = detail, .result = EXO_RESULT_FAILED};
    if (exo_app_tx(app, trigger_body, &t) < 0 && t.result == EXO_RESULT_OK)
        t.result = EXO_RESULT_FAILED; /* the commit failed: the run does not exist */
    if (t.result != EXO_RESULT_OK)
        return t.result;
    log_info("graph %s/%s triggered: run %s", ns, graph_name, run_id);
    return EXO_RESULT_OK;
}

/* ---- views ------------------------------------------------------------------------------------------ */

exo_result exo_engine_runs_page(exo_app *app, const char *ns, int64_t offset, int64_t limit, exo_run_row **rows,
                                size_t *n, int64_t *total)
{
    exo_app_db_enter(app);
    int rc = exo_db_run_page(app->db, ns, offset, limit, rows, n, total);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_run_states(exo_app *app, const char *ns, const char *run_id, exo_state_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_states_of_run(app->db, ns, run_id, rows, n);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_run_state(exo_app *app, const char *ns, const char *graph_name, const char *run_id,
                                const char *state_id, exo_state_row *row)
{
    char norm[EXO_ID_LEN + 1];
    if (exo_id_canonical(state_id, norm) != 0)
        return EXO_RESULT_NOT_FOUND;
    exo_app_db_enter(app);
    int rc = exo_db_state_get(app->db, norm, row);
    exo_app_db_leave(app);
    if (rc != 0)
        return exo_result_of(rc);
    if (strcmp(row->run_id, run_id) || strcmp(row->graph_name, graph_name) || strcmp(row->namespace_name, ns)) {
        exo_state_row_free(row);
        return EXO_RESULT_NOT_FOUND;
    }
    return EXO_RESULT_OK;
}
