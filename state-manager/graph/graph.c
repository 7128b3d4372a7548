/* The graph model (graph.h): freeing, JSON serialisation and the lookups on a
 * parsed graph (identifier index, ancestors, cron expressions, store keys).
 * Parsing is in parse.c, analysis in analysis.c, the rules in validate.c and
 * verify.c. */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "template.h"

/* ------------------------------------------------------------------ model */

static void node_free(exo_node_tpl *n)
{
    free(n->node_name);
    free(n->namespace_name);
    free(n->identifier);
    if (n->inputs)
        json_object_put(n->inputs);
    for (size_t i = 0; i < n->next_count; i++)
        free(n->next_nodes[i]);
    free(n->next_nodes);
    free(n->unites);
}

void exo_graph_free(exo_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->node_count; i++)
        node_free(&g->nodes[i]);
    free(g->nodes);
    if (g->secrets)
        json_object_put(g->secrets);
    for (size_t i = 0; i < g->required_count; i++)
        free(g->required_keys[i]);
    free(g->required_keys);
    if (g->default_values)
        json_object_put(g->default_values);
    if (g->triggers)
        json_object_put(g->triggers);
    free(g->ancestors);
    free(g->ident_order);
    free(g);
}

/* ------------------------------------------------------------------ JSON helpers */

json_object *graph_json_copy(json_object *src)
{
    json_object *dst = NULL;
    if (src && json_object_deep_copy(src, &dst, NULL) != 0)
        return NULL;
    return dst;
}

/* ------------------------------------------------------------------ serialisation */

json_object *graph_string_array(char *const *items, size_t count)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; arr && i < count; i++)
        json_object_array_add(arr, json_object_new_string(items[i]));
    return arr;
}

static json_object *node_to_json(const exo_node_tpl *n)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "node_name", json_object_new_string(n->node_name));
    json_object_object_add(o, "namespace", json_object_new_string(n->namespace_name));
    json_object_object_add(o, "identifier", json_object_new_string(n->identifier));
    json_object_object_add(o, "inputs", graph_json_copy(n->inputs));
    json_object_object_add(o, "next_nodes", graph_string_array(n->next_nodes, n->next_count));
    json_object *unites = NULL;
    if (n->unites) {
        unites = json_object_new_object();
        if (unites) {
            json_object_object_add(unites, "identifier", json_object_new_string(n->unites));
            json_object_object_add(unites, "strategy",
                                   json_object_new_string(n->unites_strategy == EXO_UNITES_ALL_DONE ? "ALL_DONE" : "ALL_SUCCESS"));
        }
    }
    json_object_object_add(o, "unites", unites);
    return o;
}

json_object *exo_graph_nodes_to_json(const exo_graph *g)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; arr && i < g->node_count; i++)
        json_object_array_add(arr, node_to_json(&g->nodes[i]));
    return arr;
}

json_object *exo_graph_to_json(const exo_graph *g, int full)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "nodes", exo_graph_nodes_to_json(g));
    json_object *secrets = json_object_new_object();
    if (secrets && g->secrets) {
        json_object_object_foreach(g->secrets, name, value)
        {
            /* copies, not shared references: a cached graph may be serialised by several threads */
            json_object_object_add(secrets, name,
                                   full ? json_object_new_string(json_object_get_string(value)) : json_object_new_boolean(1));
        }
    }
    json_object_object_add(o, "secrets", secrets);
    json_object_object_add(o, "retry_policy", exo_retry_policy_to_json(&g->retry_policy));
    json_object *store = json_object_new_object();
    if (store) {
        json_object_object_add(store, "required_keys", graph_string_array(g->required_keys, g->required_count));
        json_object_object_add(store, "default_values",
                               g->default_values ? graph_json_copy(g->default_values) : json_object_new_object());
    }
    json_object_object_add(o, "store_config", store);
    json_object_object_add(o, "triggers", g->triggers ? graph_json_copy(g->triggers) : json_object_new_array());
    return o;
}

/* ------------------------------------------------------------------ lookups */

/* Orders node indices by (identifier, index); nodes without identifier sort first. */
static int ident_cmp(const void *x, const void *y, void *ctx)
{
    const exo_graph *g = ctx;
    int a = *(const int *)x, b = *(const int *)y;
    const char *ia = g->nodes[a].identifier ? g->nodes[a].identifier : "";
    const char *ib = g->nodes[b].identifier ? g->nodes[b].identifier : "";
    int c = strcmp(ia, ib);
    return c ? c : (a > b) - (a < b);
}

/* Lookups are O(log n) through g->ident_order: graphs have up to
 * EXO_GRAPH_MAX_NODES nodes and up to millions of next_nodes entries. */
int graph_build_ident_index(exo_graph *g)
{
    free(g->ident_order);
    g->ident_order = malloc((g->node_count + 1) * sizeof *g->ident_order);
    if (!g->ident_order)
        return -1;
    for (size_t i = 0; i < g->node_count; i++)
        g->ident_order[i] = (int)i;
    qsort_r(g->ident_order, g->node_count, sizeof *g->ident_order, ident_cmp, g);
    return 0;
}

int exo_graph_find(const exo_graph *g, const char *identifier)
{
    if (!g->ident_order) {
        for (size_t i = 0; i < g->node_count; i++)
            if (g->nodes[i].identifier && strcmp(g->nodes[i].identifier, identifier) == 0)
                return (int)i;
        return -1;
    }
    size_t lo = 0, hi = g->node_count; /* first position whose identifier >= identifier */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *id = g->nodes[g->ident_order[mid]].identifier;
        if (strcmp(id ? id : "", identifier) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < g->node_count) {
        const char *id = g->nodes[g->ident_order[lo]].identifier;
        if (id && strcmp(id, identifier) == 0)
            return g->ident_order[lo];
    }
    return -1;
}

int exo_graph_root(const exo_graph *g) { return g->root; }

int exo_graph_is_ancestor(const exo_graph *g, int node, int anc)
{
    if (!g->ancestors || node < 0 || anc < 0 || (size_t)node >= g->node_count || (size_t)anc >= g->node_count)
        return 0;
    size_t bit = (size_t)node * g->node_count + (size_t)anc;
    return (g->ancestors[bit / 8] >> (bit % 8)) & 1;
}

json_object *exo_graph_ancestors_json(const exo_graph *g, int node)
{
    json_object *arr = json_object_new_array();
    for (size_t a = 0; arr && a < g->node_count; a++)
        if (exo_graph_is_ancestor(g, node, (int)a))
            json_object_array_add(arr, json_object_new_string(g->nodes[a].identifier));
    return arr;
}

json_object *exo_graph_cron_expressions(const exo_graph *g)
{
    json_object *out = json_object_new_array();
    size_t n = g->triggers ? json_object_array_length(g->triggers) : 0;
    for (size_t i = 0; out && i < n; i++) {
        json_object *t = json_object_array_get_idx(g->triggers, i), *type, *value, *expr;
        if (!json_object_object_get_ex(t, "type", &type) || !json_object_is_type(type, json_type_string) ||
            strcmp(json_object_get_string(type), "CRON") != 0 || !json_object_object_get_ex(t, "value", &value) ||
            !json_object_object_get_ex(value, "expression", &expr) || !json_object_is_type(expr, json_type_string))
            continue;
        const char *e = json_object_get_string(expr);
        int seen = 0;
        for (size_t j = 0; j < json_object_array_length(out) && !seen; j++)
            seen = strcmp(json_object_get_string(json_object_array_get_idx(out, j)), e) == 0;
        if (!seen)
            json_object_array_add(out, json_object_new_string(e));
    }
    return out;
}

int graph_has_default(const exo_graph *g, const char *key)
{
    return g->default_values && json_object_object_get_ex(g->default_values, key, NULL);
}

int graph_is_required(const exo_graph *g, const char *key)
{
    return graph_strings_contain(g->required_keys, g->required_count, key);
}

int exo_graph_store_key_mandatory(const exo_graph *g, const char *key)
{
    return graph_is_required(g, key) && !graph_has_default(g, key);
}

/* 1 when the text of a node input reads store key `key` through a placeholder. */
static int input_reads_store_key(json_object *value, const char *key)
{
    if (!json_object_is_type(value, json_type_string) || !exo_template_has_placeholders(json_object_get_string(value)))
        return 0;
    exo_template t;
    char *err = NULL;
    int found = 0;
    if (exo_template_parse(json_object_get_string(value), &t, &err) == 0)
        for (size_t i = 0; i < t.count && !found; i++)
            found = exo_placeholder_is_store(&t.items[i]) && !strcmp(t.items[i].field, key);
    free(err);
    exo_template_free(&t);
    return found;
}

int exo_graph_uses_store_key(const exo_graph *g, const char *key)
{
    if (graph_is_required(g, key) || graph_has_default(g, key))
        return 1;
    for (size_t i = 0; i < g->node_count; i++) {
        json_object_object_foreach(g->nodes[i].inputs, name, value)
        {
            (void)name;
            if (input_reads_store_key(value, key))
                return 1;
        }
    }
    return 0;
}
