/* Consequences of a worker's report: next-state creation, fan-out, unite, retries
 * (engine_internal.h).
 *
 * Unite groups: the states reported by one `executed` call (the state and its
 * fan-out siblings) form one *instance*, identified by exec_group = the reported
 * state's id.  Every state records, in the storage's ancestor index, the instance
 * of each of its ancestors, so "all descendants of instance t of T" is one indexed
 * lookup.  A uniting state is keyed by run|identifier|instance, which makes its
 * creation idempotent under concurrent completions. */
#include "engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "retry.h"
#include "strfmt.h"
#include "template.h"

enum { MODE_EXECUTED, MODE_FINAL };

int exo_engine_run_version(exo_app *app, const char *run_id, int64_t *version, char **ns)
{
    int rc = exo_run_cache_get(app->runs, run_id, version, ns);
    if (rc <= 0)
        return rc;
    rc = exo_db_run_version(app->db, run_id, version, ns);
    if (rc == 0)
        exo_run_cache_put(app->runs, run_id, *version, *ns);
    return rc;
}

int exo_engine_state_lock(exo_app *app, const char *id, exo_state_row *st)
{
    int rc = exo_db_state_lock(app->db, id, st);
    if (rc == 0 && st->run_version > 0 && st->run_namespace)
        exo_run_cache_put(app->runs, st->run_id, st->run_version, st->run_namespace);
    return rc;
}

const exo_graph *exo_engine_run_graph(exo_app *app, const char *run_id, char **ns_out)
{
    int64_t version;
    char *ns = NULL;
    if (exo_engine_run_version(app, run_id, &version, &ns) != 0)
        return NULL;
    if (ns_out)
        *ns_out = ns;
    else
        free(ns);
    return exo_graph_cache_get(app->graphs, app->db, version);
}

int exo_state_init(exo_state_row *st, const char *node_name, const char *ns, const char *identifier,
                   const char *graph_name, const char *run_id, int64_t now)
{
    memset(st, 0, sizeof *st);
    char fanout[EXO_UUID_LEN + 1];
    exo_uuid4(fanout);
    if (exo_id_new(st->id) != 0)
        return -1;
    memcpy(st->exec_group, st->id, sizeof st->exec_group);
    st->created_at = st->updated_at = now;
    st->enqueue_after = now;
    st->status = EXO_ST_CREATED;
    st->node_name = strdup(node_name);
    st->namespace_name = strdup(ns);
    st->identifier = strdup(identifier);
    st->graph_name = strdup(graph_name);
    st->run_id = strdup(run_id);
    st->fanout_id = strdup(fanout);
    st->manual_retry_fanout_id = strdup("");
    st->inputs = json_object_new_object();
    st->outputs = json_object_new_object();
    st->data = json_object_new_object();
    st->parents = json_object_new_object();
    if (!st->node_name || !st->namespace_name || !st->identifier || !st->graph_name || !st->run_id ||
        !st->fanout_id || !st->manual_retry_fanout_id || !st->inputs || !st->outputs || !st->data || !st->parents)
        return -1;
    return 0;
}

static json_object *json_copy(json_object *src)
{
    json_object *dst = NULL;
    if (!src)
        return json_object_new_object();
    if (json_object_deep_copy(src, &dst, NULL) != 0)
        return NULL;
    return dst;
}

static int set_error(exo_state_row *st, const char *error)
{
    free(st->error);
    st->error = error ? strdup(error) : NULL;
    return error && !st->error ? -1 : 0;
}

/* ---- input resolution ------------------------------------------------------------ */

/* Ancestor states of a parents map, by identifier. */
typedef struct anc_map {
    size_t n;
    const char **idents;
    exo_state_row *rows;
} anc_map;

static void anc_free(anc_map *a)
{
    exo_state_rows_free(a->rows, a->n);
    free(a->idents);
    memset(a, 0, sizeof *a);
}

static int anc_load(exo_app *app, json_object *parents, anc_map *a)
{
    memset(a, 0, sizeof *a);
    size_t cap = parents ? (size_t)json_object_object_length(parents) : 0;
    if (!cap)
        return 0;
    a->idents = calloc(cap, sizeof *a->idents);
    a->rows = calloc(cap, sizeof *a->rows);
    if (!a->idents || !a->rows)
        return -1;
    json_object_object_foreach(parents, key, val)
    {
        const char *id = json_object_get_string(val);
        if (!id)
            continue;
        int rc = exo_db_state_get(app->db, id, &a->rows[a->n]);
        if (rc < 0)
            return -1;
        if (rc == 0)
            a->idents[a->n++] = key;
    }
    return 0;
}

typedef struct render_ctx {
    exo_app *app;
    const exo_graph *g;
    const char *self_ident;      /* the finished node I (or the unites target T) */
    json_object *self_outputs;
    anc_map *anc;
    const char *run_id, *store_ns, *graph_name, *target; /* target: J, for messages */
    json_object *keep;           /* values fetched from the store, kept alive for rendering */
} render_ctx;

static int lookup_value(void *ud, const exo_placeholder *p, json_object **value, char **err)
{
    render_ctx *c = ud;
    if (exo_placeholder_is_store(p)) {
        json_object *s = NULL;
        int rc = exo_db_store_get(c->app->db, c->run_id, c->store_ns, c->graph_name, p->field, &s);
        if (rc == 0) {
            if (json_object_array_add(c->keep, s) != 0) {
                json_object_put(s);
                *err = NULL;
                return -1;
            }
            *value = s;
            return 0;
        }
        json_object *def;
        if (rc == 1 && c->g->default_values && json_object_object_get_ex(c->g->default_values, p->field, &def)) {
            *value = def;
            return 0;
        }
        *err = exo_strfmt("Store value not found for field '%s' in namespace '%s' and graph '%s'", p->field, c->store_ns,
                       c->graph_name);
        return -1;
    }
    if (!strcmp(p->identifier, c->self_ident)) {
        if (json_object_object_get_ex(c->self_outputs, p->field, value))
            return 0;
        *err = exo_strfmt("Output field '%s' not found on current state '%s' for template '%s'", p->field, p->identifier,
                       c->target);
        return -1;
    }
    for (size_t i = 0; i < c->anc->n; i++) {
        if (strcmp(c->anc->idents[i], p->identifier) != 0)
            continue;
        if (json_object_object_get_ex(c->anc->rows[i].outputs, p->field, value))
            return 0;
        *err = exo_strfmt("Output field '%s' not found on state '%s' for template '%s'", p->field, p->identifier,
                       c->target);
        return -1;
    }
    *err = exo_strfmt("Identifier '%s' not found in parents for template '%s'", p->identifier, c->target);
    return -1;
}

/* Inputs of a new state of template node j: the registered inputs_schema's
 * properties, each rendered from the template.  NULL with *err on failure
 * (*err NULL = allocation failure). */
static json_object *build_inputs(render_ctx *c, const exo_node_tpl *j, json_object *inputs_schema, char **err)
{
    *err = NULL;
    json_object *out = json_object_new_object(), *props = NULL;
    c->keep = json_object_new_array();
    if (!out || !c->keep)
        goto fail;
    if (!inputs_schema || !json_object_object_get_ex(inputs_schema, "properties", &props) ||
        !json_object_is_type(props, json_type_object))
        props = NULL;
    if (props) {
        json_object_object_foreach(props, prop, unused)
        {
            (void)unused;
            json_object *tpl;
            if (!json_object_object_get_ex(j->inputs, prop, &tpl)) {
                *err = exo_strfmt("Field '%s' not found in inputs for template '%s'", prop, j->identifier);
                goto fail;
            }
            if (!json_object_is_type(tpl, json_type_string)) {
                *err = exo_strfmt("Input '%s' of template '%s' is not a string", prop, j->identifier);
                goto fail;
            }
            size_t len;
            char *text = exo_template_render_json(tpl, lookup_value, c, err, &len);
            if (!text)
                goto fail;
            json_object_object_add(out, prop, json_object_new_string_len(text, (int)len));
            free(text);
        }
    }
    json_object_put(c->keep);
    c->keep = NULL;
    return out;
fail:
    json_object_put(c->keep);
    c->keep = NULL;
    json_object_put(out);
    if (!*err)
        *err = strdup("Out of memory while building inputs");
    return NULL;
}

/* Registered inputs_schema of a template node; 1 + *err when not registered. */
static int registered_schema(exo_app *app, const exo_node_tpl *j, json_object **schema, char **err)
{
    exo_node_row reg = {0};
    int rc = exo_db_node_get(app->db, j->namespace_name, j->node_name, &reg);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *err = exo_strfmt("Registered node not found for node name: %s and namespace: %s", j->node_name,
                       j->namespace_name);
        return 1;
    }
    *schema = json_object_get(reg.inputs_schema);
    exo_node_row_free(&reg);
    return 0;
}

/* Inserts a child state and indexes its ancestor instances. 0 ok, 1 conflict, -1 error. */
static int insert_with_ancestors(exo_app *app, exo_state_row *st, const char *copy_from, const char *add_group)
{
    int rc = exo_db_state_insert(app->db, st);
    if (rc != 0)
        return rc;
    exo_metrics_state_created(&app->metrics, st->namespace_name, st->node_name);
    if (!exo_status_unfinished(st->status)) /* a united state that could not be built */
        exo_metrics_state_finished(&app->metrics, st->namespace_name, st->node_name, (int)st->status);
    if (st->status == EXO_ST_CREATED)
        exo_app_tx_note_work(app, st->namespace_name, st->node_name);
    if (copy_from && exo_db_ancestors_copy(app->db, copy_from, st->id) != 0)
        return -1;
    if (add_group && exo_db_ancestor_add(app->db, add_group, st->id) != 0)
        return -1;
    return 0;
}

/* ---- unite ---------------------------------------------------------------------------- */

static int unite_ready(exo_app *app, const exo_node_tpl *u, const char *group)
{
    unsigned pending = EXO_ST_BIT(EXO_ST_CREATED) | EXO_ST_BIT(EXO_ST_QUEUED) | EXO_ST_BIT(EXO_ST_EXECUTED);
    unsigned mask = u->unites_strategy == EXO_UNITES_ALL_SUCCESS
                        ? pending | EXO_ST_BIT(EXO_ST_ERRORED) | EXO_ST_BIT(EXO_ST_NEXT_CREATED_ERROR)
                        : pending;
    int rc = exo_db_group_has_status(app->db, group, mask);
    return rc < 0 ? -1 : !rc;
}

/* Builds and inserts the uniting state of u for instance `group`.  In
 * MODE_EXECUTED a build failure returns 1 with *err; in MODE_FINAL the state is
 * created ERRORED with the build error instead. */
static int unite_create(exo_app *app, const exo_graph *g, const exo_node_tpl *u, const char *group, int mode,
                        int64_t now, char **err)
{
    exo_state_row t = {0}, st = {0};
    anc_map anc = {0};
    json_object *schema = NULL, *inputs = NULL;
    char *build_err = NULL, *store_ns = NULL;
    int ret = -1;
    int rc = exo_db_state_get(app->db, group, &t);
    if (rc != 0) {
        ret = rc < 0 ? -1 : 0;
        goto out;
    }
    int64_t version;
    if (exo_engine_run_version(app, t.run_id, &version, &store_ns) != 0)
        goto out;
    rc = registered_schema(app, u, &schema, &build_err);
    if (rc < 0)
        goto out;
    if (rc == 0) {
        if (anc_load(app, t.parents, &anc) != 0)
            goto out;
        render_ctx c = {.app = app, .g = g, .self_ident = t.identifier, .self_outputs = t.outputs, .anc = &anc,
                        .run_id = t.run_id, .store_ns = store_ns, .graph_name = t.graph_name, .target = u->identifier};
        inputs = build_inputs(&c, u, schema, &build_err);
    }
    if (!inputs && mode == MODE_EXECUTED) {
        *err = build_err;
        build_err = NULL;
        ret = 1;
        goto out;
    }
    if (exo_state_init(&st, u->node_name, u->namespace_name, u->identifier, t.graph_name, t.run_id, now) != 0)
        goto out;
    if (inputs) {
        json_object_put(st.inputs);
        st.inputs = inputs;
        inputs = NULL;
    } else {
        st.status = EXO_ST_ERRORED;
        if (set_error(&st, build_err) != 0)
            goto out;
    }
    json_object_put(st.parents);
    st.parents = json_copy(t.parents);
    if (!st.parents)
        goto out;
    json_object_object_add(st.parents, t.identifier, json_object_new_string(t.id));
    st.does_unites = 1;
    st.unite_key = exo_strfmt("%s|%s|%s", t.run_id, u->identifier, group);
    if (!st.unite_key)
        goto out;
    rc = insert_with_ancestors(app, &st, t.id, group);
    if (rc < 0)
        goto out;
    if (rc == 0)
        log_debug("run %s: united state %s created for %s", t.run_id, st.id, u->identifier);
    ret = 0;
out:
    free(build_err);
    free(store_ns);
    json_object_put(inputs);
    json_object_put(schema);
    anc_free(&anc);
    exo_state_row_free(&t);
    exo_state_row_free(&st);
    return ret;
}

/* A state of the run reached a final status: evaluate every uniting node whose
 * target is an ancestor of it (exo §0).  Returns 0, 1 (+*err, MODE_EXECUTED), -1. */
static int on_final(exo_app *app, const exo_graph *g, const exo_state_row *st, int mode, int64_t now, char **err)
{
    for (size_t i = 0; i < g->node_count; i++) {
        const exo_node_tpl *u = &g->nodes[i];
        json_object *tid;
        if (!u->unites || !json_object_object_get_ex(st->parents, u->unites, &tid))
            continue;
        exo_state_row tstate = {0};
        int rc = exo_db_state_get(app->db, json_object_get_string(tid), &tstate);
        if (rc < 0)
            return -1;
        if (rc == 1)
            continue;
        char group[EXO_ID_LEN + 1];
        memcpy(group, tstate.exec_group, sizeof group);
        char *key = exo_strfmt("%s|%s|%s", tstate.run_id, u->identifier, group);
        exo_state_row_free(&tstate);
        if (!key)
            return -1;
        rc = exo_db_unite_exists(app->db, key);
        free(key);
        if (rc < 0)
            return -1;
        if (rc == 1)
            continue; /* already united */
        rc = unite_ready(app, u, group);
        if (rc < 0)
            return -1;
        if (!rc)
            continue;
        rc = unite_create(app, g, u, group, mode, now, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- executed ------------------------------------------------------------------------- */

/* Creates the ordinary next states of the executed set S.  0 ok, 1 build error, -1. */
static int create_children(exo_app *app, const exo_graph *g, exo_state_row *S, size_t n, const char *store_ns,
                           int64_t now, char **err)
{
    const char *I = S[0].identifier;
    int i = exo_graph_find(g, I);
    if (i < 0) {
        *err = exo_strfmt("Current state node template not found for identifier: %s", I);
        return 1;
    }
    const exo_node_tpl *node = &g->nodes[i];
    if (node->next_count == 0)
        return 0;
    anc_map anc;
    if (anc_load(app, S[0].parents, &anc) != 0) {
        anc_free(&anc);
        return -1;
    }
    int ret = 0;
    for (size_t k = 0; k < node->next_count && ret == 0; k++) {
        int j = exo_graph_find(g, node->next_nodes[k]);
        if (j < 0) {
            *err = exo_strfmt("Next state node template not found for identifier: %s", node->next_nodes[k]);
            ret = 1;
            break;
        }
        const exo_node_tpl *J = &g->nodes[j];
        if (J->unites)
            continue;
        json_object *schema = NULL;
        ret = registered_schema(app, J, &schema, err);
        for (size_t s = 0; s < n && ret == 0; s++) {
            render_ctx c = {.app = app, .g = g, .self_ident = I, .self_outputs = S[s].outputs, .anc = &anc,
                            .run_id = S[s].run_id, .store_ns = store_ns, .graph_name = S[s].graph_name,
                            .target = J->identifier};
            json_object *inputs = build_inputs(&c, J, schema, err);
            if (!inputs) {
                ret = 1;
                break;
            }
            exo_state_row child;
            if (exo_state_init(&child, J->node_name, J->namespace_name, J->identifier, S[s].graph_name, S[s].run_id,
                               now) != 0) {
                json_object_put(inputs);
                exo_state_row_free(&child);
                ret = -1;
                break;
            }
            json_object_put(child.inputs);
            child.inputs = inputs;
            json_object_put(child.parents);
            child.parents = json_copy(S[s].parents);
            if (!child.parents) {
                exo_state_row_free(&child);
                ret = -1;
                break;
            }
            json_object_object_add(child.parents, I, json_object_new_string(S[s].id));
            if (insert_with_ancestors(app, &child, S[s].id, S[s].exec_group) != 0)
                ret = -1;
            exo_state_row_free(&child);
        }
        json_object_put(schema);
    }
    anc_free(&anc);
    return ret;
}

static int mark_all(exo_app *app, exo_state_row *S, size_t n, exo_status status, const char *error)
{
    for (size_t i = 0; i < n; i++) {
        S[i].status = status;
        if (set_error(&S[i], error) != 0 || exo_db_state_update(app->db, &S[i]) != 0)
            return -1;
        if (!exo_status_unfinished(status))
            exo_metrics_state_finished(&app->metrics, S[i].namespace_name, S[i].node_name, (int)status);
    }
    return 0;
}

/* The executed set: the reported state (outputs[0]) plus one EXECUTED sibling per
 * further output.  S[0] is a shallow copy of *st (st keeps ownership), changed in
 * memory only: every path after this writes it with mark_all (one row write per
 * report) or rolls the whole transaction back. */
static int make_executed_set(exo_app *app, exo_state_row *st, json_object *outputs, int64_t now, exo_state_row **S_out,
                             size_t *n_out)
{
    size_t n = json_object_array_length(outputs);
    size_t count = n ? n : 1;
    exo_state_row *S = calloc(count, sizeof *S);
    if (!S)
        return -1;
    *S_out = S;
    *n_out = 0;
    json_object_put(st->outputs);
    st->outputs = n ? json_object_get(json_object_array_get_idx(outputs, 0)) : json_object_new_object();
    st->status = EXO_ST_EXECUTED;
    st->updated_at = now;
    st->lease_expires_at = 0;
    memcpy(st->exec_group, st->id, sizeof st->exec_group);
    /* Not written yet: the caller's mark_all writes the row once with its final
       status (nothing reads it from the database before that). */
    S[0] = *st;
    *n_out = 1;
    for (size_t i = 1; i < n; i++) {
        exo_state_row *sib = &S[i];
        *n_out = i + 1; /* freed by the caller even when half built */
        if (exo_state_init(sib, st->node_name, st->namespace_name, st->identifier, st->graph_name, st->run_id, now) !=
            0)
            return -1;
        json_object_put(sib->inputs);
        sib->inputs = json_copy(st->inputs);
        json_object_put(sib->parents);
        sib->parents = json_copy(st->parents);
        json_object_put(sib->outputs);
        sib->outputs = json_object_get(json_object_array_get_idx(outputs, i));
        if (!sib->inputs || !sib->parents)
            return -1;
        sib->status = EXO_ST_EXECUTED;
        memcpy(sib->exec_group, st->id, sizeof sib->exec_group);
        if (insert_with_ancestors(app, sib, st->id, NULL) != 0)
            return -1;
    }
    return 0;
}

/* 1 when creating the next states of st may write rows before it fails with a
 * build error: st's node has next nodes, or a uniting node targets one of st's
 * ancestors (on_final may create its state).  Otherwise the only write is st's
 * own mark, which a build error replaces anyway. */
static int next_states_may_write(const exo_graph *g, const exo_state_row *st)
{
    int i = exo_graph_find(g, st->identifier);
    if (i >= 0 && g->nodes[i].next_count > 0)
        return 1;
    for (size_t k = 0; k < g->node_count; k++)
        if (g->nodes[k].unites && json_object_object_get_ex(st->parents, g->nodes[k].unites, NULL))
            return 1;
    return 0;
}

static void free_executed_set(exo_state_row *S, size_t n)
{
    /* S[0] is a shallow copy of the caller's row */
    for (size_t i = 1; i < n; i++)
        exo_state_row_free(&S[i]);
    free(S);
}

int exo_apply_executed(exo_app *app, exo_state_row *st, json_object *outputs, json_object *store, int64_t now)
{
    char *store_ns = NULL, *err = NULL;
    const exo_graph *g = exo_engine_run_graph(app, st->run_id, &store_ns);
    exo_state_row *S = NULL;
    size_t n = 0;
    int ret = -1;
    if (store) {
        json_object_object_foreach(store, key, val)
        {
            if (exo_db_store_put(app->db, st->run_id, store_ns ? store_ns : st->namespace_name, st->graph_name, key,
                                 val) != 0)
                goto out;
        }
    }
    if (make_executed_set(app, st, outputs, now, &S, &n) != 0)
        goto out;
    if (!g) {
        err = exo_strfmt("Graph template not found for namespace: %s and graph name: %s", st->namespace_name,
                      st->graph_name);
        ret = err && mark_all(app, S, n, EXO_ST_NEXT_CREATED_ERROR, err) == 0 ? 0 : -1;
        goto out;
    }
    /* a savepoint only when a build error could have to undo written next states
       (two round trips on PostgreSQL per report otherwise) */
    int guarded = next_states_may_write(g, &S[0]);
    if (guarded && exo_db_savepoint(app->db, "next_states") != 0)
        goto out;
    int rc = create_children(app, g, S, n, store_ns, now, &err);
    if (rc == 0)
        rc = mark_all(app, S, n, EXO_ST_SUCCESS, NULL);
    if (rc == 0)
        rc = on_final(app, g, &S[0], MODE_EXECUTED, now, &err);
    if (rc < 0) {
        if (guarded)
            exo_db_rollback_to(app->db, "next_states");
        goto out;
    }
    if (rc == 1) {
        if (guarded &&
            (exo_db_rollback_to(app->db, "next_states") != 0 || exo_db_release(app->db, "next_states") != 0))
            goto out;
        log_info("run %s: next-state creation after %s failed: %s", st->run_id, st->identifier, err);
        if (mark_all(app, S, n, EXO_ST_NEXT_CREATED_ERROR, err) != 0 ||
            on_final(app, g, &S[0], MODE_FINAL, now, NULL) != 0)
            goto out;
        ret = 0;
        goto out;
    }
    ret = !guarded || exo_db_release(app->db, "next_states") == 0 ? 0 : -1;
out:
    if (S && n) {
        /* hand the (possibly updated) first row back to the caller */
        *st = S[0];
    }
    if (S)
        free_executed_set(S, n);
    free(err);
    free(store_ns);
    exo_graph_cache_release(app->graphs, g);
    return ret;
}

/* ---- errored / pruned ----------------------------------------------------------------- */

int exo_state_init_retry(exo_state_row *r, const exo_state_row *st, const char *fanout_id, int64_t now)
{
    if (exo_state_init(r, st->node_name, st->namespace_name, st->identifier, st->graph_name, st->run_id, now) != 0)
        return -1;
    json_object_put(r->inputs);
    r->inputs = json_copy(st->inputs);
    json_object_put(r->parents);
    r->parents = json_copy(st->parents);
    free(r->fanout_id);
    r->fanout_id = strdup(fanout_id);
    if (!r->inputs || !r->parents || !r->fanout_id)
        return -1;
    r->does_unites = st->does_unites;
    return 0;
}

static int insert_retry(exo_app *app, const exo_state_row *st, const exo_retry_policy *policy, int64_t now)
{
    exo_state_row r;
    int ret = -1;
    if (exo_state_init_retry(&r, st, st->fanout_id, now) != 0)
        goto out;
    r.retry_count = st->retry_count + 1;
    r.enqueue_after = exo_add_saturating(now, exo_retry_delay_ms(policy, r.retry_count));
    int rc = insert_with_ancestors(app, &r, st->id, NULL);
    ret = rc < 0 ? -1 : 0; /* a duplicate retry counts as created (§3.9) */
out:
    exo_state_row_free(&r);
    return ret;
}

int exo_apply_errored(exo_app *app, const exo_graph *g, exo_state_row *st, const char *error, int64_t now,
                      int *retry_created)
{
    exo_retry_policy policy;
    if (g)
        policy = g->retry_policy;
    else
        exo_retry_policy_default(&policy);
    *retry_created = st->retry_count < policy.max_retries;
    if (*retry_created && insert_retry(app, st, &policy, now) != 0)
        return -1;
    st->status = *retry_created ? EXO_ST_RETRY_CREATED : EXO_ST_ERRORED;
    if (set_error(st, error) != 0)
        return -1;
    st->updated_at = now;
    st->lease_expires_at = 0;
    if (exo_db_state_update(app->db, st) != 0)
        return -1;
    exo_metrics_state_finished(&app->metrics, st->namespace_name, st->node_name, (int)st->status);
    if (*retry_created || !g)
        return 0;
    return on_final(app, g, st, MODE_FINAL, now, NULL) < 0 ? -1 : 0;
}

int exo_apply_pruned(exo_app *app, exo_state_row *st, json_object *data, int64_t now)
{
    st->status = EXO_ST_PRUNED;
    json_object_put(st->data);
    st->data = json_object_get(data);
    st->updated_at = now;
    st->lease_expires_at = 0;
    if (exo_db_state_update(app->db, st) != 0)
        return -1;
    exo_metrics_state_finished(&app->metrics, st->namespace_name, st->node_name, (int)st->status);
    const exo_graph *g = exo_engine_run_graph(app, st->run_id, NULL);
    int rc = !g ? 0 : on_final(app, g, st, MODE_FINAL, now, NULL) < 0 ? -1 : 0;
    exo_graph_cache_release(app->graphs, g);
    return rc;
}
