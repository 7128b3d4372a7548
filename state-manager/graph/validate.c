/* Synchronous graph-level validation (spec §5.1, groups A then B, with exo's §0
 * rules): each rule with its message, and the pydantic-style diagnostic the
 * server answers 400 with.  The structure the rules read comes from analysis.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "sm_util.h"
#include "template.h"

/* Collected pydantic-style errors: optional field name + message. */
typedef struct diag {
    strvec fields; /* "" for model-level errors */
    strvec messages;
} diag;

static void diag_add(diag *d, const char *field, strvec *lines)
{
    if (lines->count == 0)
        return;
    strvec_push(&d->fields, strdup(field));
    strvec_push(&d->messages, strvec_join(lines, "\n"));
}

static char *diag_render(diag *d)
{
    if (d->fields.oom || d->messages.oom)
        return strdup("Out of memory");
    strvec parts = {0};
    size_t n = d->messages.count;
    strvec_pushf(&parts, "%zu validation error%s for GraphTemplate", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        if (*d->fields.items[i])
            strvec_push(&parts, strdup(d->fields.items[i]));
        strvec_pushf(&parts, "  Value error, %s [type=value_error]", d->messages.items[i]);
    }
    char *out = parts.oom ? strdup("Out of memory") : strvec_join(&parts, "\n");
    strvec_free(&parts);
    return out;
}

static void diag_free(diag *d)
{
    strvec_free(&d->fields);
    strvec_free(&d->messages);
}

/* Python repr of a node template as the root-rule message dumps it. */
static char *node_repr(const exo_node_tpl *n)
{
    char *name = exo_py_str_repr(n->node_name), *ns = exo_py_str_repr(n->namespace_name),
         *id = exo_py_str_repr(n->identifier), *inputs = exo_py_repr(n->inputs), *unites = NULL;
    json_object *next = graph_string_array(n->next_nodes, n->next_count);
    char *next_repr = next ? exo_py_repr(next) : NULL;
    json_object_put(next);
    if (n->unites) {
        char *t = exo_py_str_repr(n->unites);
        const char *s = n->unites_strategy == EXO_UNITES_ALL_DONE ? "ALL_DONE" : "ALL_SUCCESS";
        if (t && asprintf(&unites, "Unites(identifier=%s, strategy=<UnitesStrategyEnum.%s: '%s'>)", t, s, s) < 0)
            unites = NULL;
        free(t);
    } else {
        unites = strdup("None");
    }
    char *out = NULL;
    if (name && ns && id && inputs && next_repr && unites &&
        asprintf(&out, "NodeTemplate(node_name=%s, namespace=%s, identifier=%s, inputs=%s, next_nodes=%s, unites=%s)",
                 name, ns, id, inputs, next_repr, unites) < 0)
        out = NULL;
    free(name);
    free(ns);
    free(id);
    free(inputs);
    free(next_repr);
    free(unites);
    return out;
}

/* A1-A4: returns 1 when some rule failed. */
static int validate_group_a(const exo_graph *g, const char *name, const char *ns, diag *d)
{
    strvec lines = {0};
    char *tn = exo_trim_dup(name ? name : ""), *tns = exo_trim_dup(ns ? ns : "");
    if (tn && *tn == '\0')
        strvec_pushf(&lines, "Name cannot be empty");
    diag_add(d, "name", &lines);
    strvec_free(&lines);
    if (tns && *tns == '\0')
        strvec_pushf(&lines, "Namespace cannot be empty");
    diag_add(d, "namespace", &lines);
    strvec_free(&lines);
    free(tn);
    free(tns);

    /* a node is a duplicate occurrence when an earlier node has its identifier: with the
       (identifier, index) order that is every entry but the first of its run */
    unsigned char *dup = calloc(g->node_count + 1, 1);
    if (!dup)
        lines.oom = 1;
    for (size_t k = 1; dup && g->ident_order && k < g->node_count; k++)
        if (strcmp(g->nodes[g->ident_order[k]].identifier, g->nodes[g->ident_order[k - 1]].identifier) == 0)
            dup[g->ident_order[k]] = 1;
    for (size_t i = 0; dup && !g->ident_order && i < g->node_count; i++)
        for (size_t j = 0; j < i && !dup[i]; j++)
            dup[i] = strcmp(g->nodes[i].identifier, g->nodes[j].identifier) == 0;
    for (size_t i = 0; dup && i < g->node_count; i++)
        if (dup[i])
            strvec_pushf(&lines, "Node identifier %s is not unique", g->nodes[i].identifier);
    free(dup);
    if (lines.oom)
        d->messages.oom = 1;
    if (lines.count == 0)
        for (size_t i = 0; i < g->node_count; i++)
            for (size_t k = 0; k < g->nodes[i].next_count; k++)
                if (exo_graph_find(g, g->nodes[i].next_nodes[k]) < 0)
                    strvec_pushf(&lines, "Node identifier %s does not exist in the graph", g->nodes[i].next_nodes[k]);
    diag_add(d, "nodes", &lines);
    strvec_free(&lines);
    return d->messages.count > 0 || d->messages.oom;
}

static void rule_unites_targets(const exo_graph *g, strvec *lines)
{
    for (size_t i = 0; i < g->node_count; i++) {
        const exo_node_tpl *n = &g->nodes[i];
        if (!n->unites)
            continue;
        if (exo_graph_find(g, n->unites) < 0)
            strvec_pushf(lines, "Node %s has an unites target %s that does not exist", n->identifier, n->unites);
        if (strcmp(n->unites, n->identifier) == 0)
            strvec_pushf(lines, "Node %s has an unites target %s that is the same as the node itself", n->identifier,
                         n->unites);
    }
}

static void rule_root(const exo_graph *g, const analysis *a, strvec *lines)
{
    if (a->root >= 0)
        return;
    strvec reprs = {0};
    for (size_t i = 0; i < a->zero_count; i++)
        strvec_push(&reprs, node_repr(&g->nodes[a->zero[i]]));
    char *joined = strvec_join(&reprs, ", ");
    strvec_pushf(lines, "There should be exactly one root node in the graph but found %zu nodes with zero in-degree: [%s]",
                 a->zero_count, joined ? joined : "");
    free(joined);
    strvec_free(&reprs);
}

/* "Graph is disconnected at: {'T': ['U']}" when a listed uniting node's target is unreachable. */
static void rule_disconnected(const exo_graph *g, const analysis *a, strvec *lines)
{
    strvec groups = {0};
    for (size_t t = 0; t < a->n; t++) {
        if (a->reached[t])
            continue;
        strvec waiting = {0};
        for (size_t u = 0; u < a->n; u++)
            if (a->target[u] == (int)t && a->listed[u])
                strvec_push(&waiting, exo_py_str_repr(g->nodes[u].identifier));
        if (waiting.count) {
            char *list = strvec_join(&waiting, ", "), *key = exo_py_str_repr(g->nodes[t].identifier);
            strvec_pushf(&groups, "%s: [%s]", key ? key : "", list ? list : "");
            free(list);
            free(key);
        }
        strvec_free(&waiting);
    }
    if (groups.count) {
        char *joined = strvec_join(&groups, ", ");
        strvec_pushf(lines, "Error building dependency graph: Graph is disconnected at: {%s}", joined ? joined : "");
        free(joined);
    }
    strvec_free(&groups);
}

static void rule_connected(const exo_graph *g, const analysis *a, strvec *lines)
{
    for (size_t i = 0; i < a->n; i++)
        if ((int)i != a->root && !a->reached[i])
            strvec_pushf(lines, "Node %s is not connected to the root node", g->nodes[i].identifier);
}

static void rule_acyclic(const exo_graph *g, const analysis *a, strvec *lines)
{
    unsigned char *on_cycle = calloc(a->n + 1, 1);
    if (!on_cycle || graph_find_cycles(g, a, on_cycle) != 0) {
        lines->oom = 1;
    } else {
        for (size_t i = 0; i < a->n; i++)
            if (on_cycle[i])
                strvec_pushf(lines, "Node %s is not acyclic", g->nodes[i].identifier);
    }
    free(on_cycle);
}

/* exo §0: the unites target must be a strict ancestor of every node listing the uniting node. */
static void rule_unites_ancestry(const exo_graph *g, const analysis *a, strvec *lines)
{
    for (size_t x = 0; x < a->n; x++)
        for (size_t k = 0; k < g->nodes[x].next_count; k++) {
            int u = a->next[x][k];
            if (u < 0 || a->target[u] < 0 || graph_is_strict_ancestor(a, (int)x, a->target[u]))
                continue;
            strvec_pushf(lines,
                         "Node %s has an unites target %s that is not an ancestor of node %s, which lists it in next_nodes",
                         g->nodes[u].identifier, g->nodes[u].unites, g->nodes[x].identifier);
        }
}

/* B4 for one input value of node i. */
static void check_input(const exo_graph *g, const analysis *a, size_t i, const char *name, json_object *value,
                        strvec *lines)
{
    const exo_node_tpl *n = &g->nodes[i];
    if (!json_object_is_type(value, json_type_string)) {
        char *repr = exo_py_repr(value);
        /* the reference's text first (clients match on it), then where it is */
        strvec_pushf(lines, "Input %s is not a string (input '%s' of node '%s')", repr ? repr : "?", name,
                     n->identifier);
        free(repr);
        return;
    }
    const char *text = json_object_get_string(value);
    exo_template t;
    char *err = NULL;
    if (exo_template_parse(text, &t, &err) != 0) {
        if (err)
            strvec_pushf(lines, "Error creating dependent string for input %s check syntax string: %s", text, err);
        else
            lines->oom = 1;
        free(err);
        exo_template_free(&t);
        return;
    }
    strvec seen_ids = {0}, seen_keys = {0};
    for (size_t k = 0; k < t.count; k++) {
        const exo_placeholder *p = &t.items[k];
        if (exo_placeholder_is_store(p)) {
            if (strvec_contains(&seen_keys, p->field))
                continue;
            strvec_push(&seen_keys, strdup(p->field));
            if (!graph_is_required(g, p->field) && !graph_has_default(g, p->field))
                strvec_pushf(lines, "Input %s depends on %s but %s is not a required key or a default value", text,
                             p->field, p->field);
            continue;
        }
        if (strvec_contains(&seen_ids, p->identifier))
            continue;
        strvec_push(&seen_ids, strdup(p->identifier));
        int x = exo_graph_find(g, p->identifier);
        if (x < 0 || !graph_is_strict_ancestor(a, (int)i, x))
            strvec_pushf(lines, "Input %s depends on %s but %s is not a parent of %s", text, p->identifier, p->identifier,
                         n->identifier);
    }
    strvec_free(&seen_ids);
    strvec_free(&seen_keys);
    exo_template_free(&t);
}

static void rule_inputs(const exo_graph *g, const analysis *a, strvec *lines)
{
    for (size_t i = 0; i < g->node_count; i++) {
        if (!g->nodes[i].inputs)
            continue;
        json_object_object_foreach(g->nodes[i].inputs, key, value)
            check_input(g, a, i, key, value, lines);
    }
}

/* Group B in order; stops at the first failing rule.  Returns 1 when one failed. */
static int validate_group_b(const exo_graph *g, const analysis *a, diag *d)
{
    typedef void (*rule_fn)(const exo_graph *, const analysis *, strvec *);
    const rule_fn rules[] = {rule_root, rule_disconnected, rule_connected, rule_acyclic, rule_unites_ancestry,
                             rule_inputs};
    strvec lines = {0};
    rule_unites_targets(g, &lines);
    for (size_t r = 0; r < sizeof rules / sizeof *rules && lines.count == 0 && !lines.oom; r++)
        rules[r](g, a, &lines);
    if (lines.oom)
        d->messages.oom = 1;
    diag_add(d, "", &lines);
    strvec_free(&lines);
    return d->messages.count > 0 || d->messages.oom;
}

static int validate_secrets(const exo_graph *g, diag *d)
{
    strvec lines = {0};
    if (g->secrets) {
        json_object_object_foreach(g->secrets, secret_name, secret_value)
        {
            (void)secret_value;
            if (*secret_name == '\0') {
                strvec_pushf(&lines, "Secrets cannot be empty");
                break;
            }
        }
    }
    diag_add(d, "secrets", &lines);
    strvec_free(&lines);
    return d->messages.count > 0;
}

char *exo_graph_validate(exo_graph *g, const char *name, const char *ns)
{
    return exo_graph_validate_ex(g, name, ns, 0);
}

char *exo_graph_validate_ex(exo_graph *g, const char *name, const char *ns, int is_update)
{
    diag d = {0};
    analysis a;
    memset(&a, 0, sizeof a);
    char *result = NULL;
    /* on update the reference validates the secrets field together with the other
     * fields (group A); on create only after everything else passed */
    int group_a_failed = validate_group_a(g, name, ns, &d);
    if (is_update)
        group_a_failed = validate_secrets(g, &d) || group_a_failed;
    if (group_a_failed) {
        result = diag_render(&d);
    } else if (graph_analysis_run(g, &a) != 0) {
        result = strdup("Out of memory");
    } else if (validate_group_b(g, &a, &d) || validate_secrets(g, &d)) {
        result = diag_render(&d);
    } else if (graph_store_analysis(g, &a) != 0) {
        result = strdup("Out of memory");
    }
    graph_analysis_free(&a);
    diag_free(&d);
    return result;
}
