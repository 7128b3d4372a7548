/* Background verification of a graph template (spec §5.2) against the registered
 * nodes, supplied by the caller through exo_registered_lookup_fn, plus exo's cron
 * rule on required store keys.  Runs after the synchronous validation passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "template.h"

static const char *const non_string_formats[] = {"date-time", "date", "time", "uri", "uuid"};
static const char *const known_non_string_types[] = {"integer", "number", "boolean", "array", "object", "null"};

static int string_with_allowed_format(json_object *prop)
{
    json_object *format = NULL;
    if (!json_object_object_get_ex(prop, "format", &format) || !json_object_is_type(format, json_type_string))
        return 1;
    for (size_t i = 0; i < sizeof non_string_formats / sizeof *non_string_formats; i++)
        if (strcmp(json_object_get_string(format), non_string_formats[i]) == 0)
            return 0;
    return 1;
}

int exo_schema_is_string(json_object *prop, const char **err_text)
{
    *err_text = NULL;
    if (!json_object_is_type(prop, json_type_object)) {
        *err_text = "property schema is not an object";
        return -1;
    }
    const char *const combinators[] = {"enum", "const", "anyOf", "oneOf", "allOf", "$ref"};
    for (size_t i = 0; i < sizeof combinators / sizeof *combinators; i++)
        if (json_object_object_get_ex(prop, combinators[i], NULL))
            return 0;
    json_object *type = NULL;
    if (!json_object_object_get_ex(prop, "type", &type)) {
        *err_text = "'type'";
        return -1;
    }
    if (json_object_is_type(type, json_type_array)) {
        if (json_object_array_length(type) != 1)
            return 0; /* nullable or union types are not plain strings */
        type = json_object_array_get_idx(type, 0);
    }
    if (!json_object_is_type(type, json_type_string))
        return 0;
    const char *name = json_object_get_string(type);
    if (strcmp(name, "string") == 0)
        return string_with_allowed_format(prop);
    for (size_t i = 0; i < sizeof known_non_string_types / sizeof *known_non_string_types; i++)
        if (strcmp(name, known_non_string_types[i]) == 0)
            return 0;
    return 1; /* the reference maps unknown type names to str */
}

/* Registered nodes of the template's nodes, looked up once per node. */
typedef struct registry {
    json_object **node; /* per node index: registered node (owned) or NULL */
} registry;

/* First node before node i with the same (node_name, namespace), or -1. */
static int earlier_same_node(const exo_graph *g, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(g->nodes[i].node_name, g->nodes[j].node_name) == 0 &&
            strcmp(g->nodes[i].namespace_name, g->nodes[j].namespace_name) == 0)
            return (int)j;
    return -1;
}

static int registry_load(const exo_graph *g, exo_registered_lookup_fn lookup, void *ud, registry *r)
{
    r->node = calloc(g->node_count + 1, sizeof *r->node);
    if (!r->node)
        return -1;
    for (size_t i = 0; i < g->node_count; i++) {
        int j = earlier_same_node(g, i);
        if (j >= 0) /* looked up already: share it */
            r->node[i] = r->node[j] ? json_object_get(r->node[j]) : NULL;
        else
            r->node[i] = lookup(ud, g->nodes[i].node_name, g->nodes[i].namespace_name);
    }
    return 0;
}

static void registry_free(const exo_graph *g, registry *r)
{
    if (!r->node)
        return;
    for (size_t i = 0; i < g->node_count; i++)
        if (r->node[i])
            json_object_put(r->node[i]);
    free(r->node);
}

/* The "properties" object of a registered node's schema (NULL when none). */
static json_object *schema_properties(json_object *registered, const char *schema_key, const char **err_text)
{
    json_object *schema = NULL, *props = NULL;
    *err_text = NULL;
    if (!json_object_object_get_ex(registered, schema_key, &schema) || !json_object_is_type(schema, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(schema, "properties", &props) || props == NULL)
        return NULL;
    if (!json_object_is_type(props, json_type_object)) {
        *err_text = "'properties' is not an object";
        return NULL;
    }
    return props;
}

/* 1 when the template may leave input prop out (exo §0): the registered schema
 * gives it a default, or does not list it in "required". */
static int input_may_be_omitted(json_object *registered, const char *prop_name, json_object *prop)
{
    if (json_object_is_type(prop, json_type_object) && json_object_object_get_ex(prop, "default", NULL))
        return 1;
    json_object *schema = NULL, *required = NULL;
    if (!json_object_object_get_ex(registered, "inputs_schema", &schema) ||
        !json_object_object_get_ex(schema, "required", &required) || !json_object_is_type(required, json_type_array))
        return 1;
    for (size_t i = 0; i < json_object_array_length(required); i++) {
        json_object *name = json_object_array_get_idx(required, i);
        if (json_object_is_type(name, json_type_string) && !strcmp(json_object_get_string(name), prop_name))
            return 0;
    }
    return 1;
}

static void verify_existence(const exo_graph *g, const registry *r, strvec *errors)
{
    for (size_t i = 0; i < g->node_count; i++)
        if (!r->node[i] && earlier_same_node(g, i) < 0) /* one error per distinct node */
            strvec_pushf(errors, "Node %s in namespace %s does not exist.", g->nodes[i].node_name,
                         g->nodes[i].namespace_name);
}

static void verify_secrets(const exo_graph *g, const registry *r, strvec *errors)
{
    strvec needed = {0};
    for (size_t i = 0; i < g->node_count; i++) {
        json_object *secrets = NULL;
        if (!r->node[i] || !json_object_object_get_ex(r->node[i], "secrets", &secrets) ||
            !json_object_is_type(secrets, json_type_array))
            continue;
        for (size_t k = 0; k < json_object_array_length(secrets); k++) {
            json_object *item = json_object_array_get_idx(secrets, k);
            const char *name = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : NULL;
            if (name && !strvec_contains(&needed, name))
                strvec_push(&needed, strdup(name));
        }
    }
    for (size_t k = 0; k < needed.count; k++)
        if (!g->secrets || !json_object_object_get_ex(g->secrets, needed.items[k], NULL))
            strvec_pushf(errors, "Secret %s is required but not present in the graph template", needed.items[k]);
    if (needed.oom)
        errors->oom = 1;
    strvec_free(&needed);
}

/* Placeholder checks of one input string of node i.  Returns -1 on an unexpected failure. */
static int verify_placeholders(const exo_graph *g, const registry *r, const char *text, strvec *errors,
                               const char **unexpected)
{
    exo_template t;
    char *err = NULL;
    if (exo_template_parse(text, &t, &err) != 0) { /* already rejected by §5.1 */
        free(err);
        exo_template_free(&t);
        return 0;
    }
    strvec seen = {0};
    for (size_t k = 0; k < t.count; k++) {
        const exo_placeholder *p = &t.items[k];
        char *pair = NULL;
        if (exo_placeholder_is_store(p) || asprintf(&pair, "%s\x1f%s", p->identifier, p->field) < 0)
            continue;
        if (strvec_contains(&seen, pair)) {
            free(pair);
            continue;
        }
        strvec_push(&seen, pair);
        int x = exo_graph_find(g, p->identifier);
        if (x < 0) {
            strvec_pushf(errors, "Node %s does not exist in the graph template", p->identifier);
            continue;
        }
        const exo_node_tpl *xn = &g->nodes[x];
        if (!r->node[x]) {
            strvec_pushf(errors, "Node %s in namespace %s does not exist", xn->node_name, xn->namespace_name);
            continue;
        }
        json_object *props = schema_properties(r->node[x], "outputs_schema", unexpected), *prop = NULL;
        if (*unexpected)
            break;
        if (!props || !json_object_object_get_ex(props, p->field, &prop)) {
            strvec_pushf(errors, "Field %s in node %s in namespace %s does not exist", p->field, xn->node_name,
                         xn->namespace_name);
            continue;
        }
        int is_string = exo_schema_is_string(prop, unexpected);
        if (is_string < 0)
            break;
        if (!is_string)
            strvec_pushf(errors, "Field %s in node %s in namespace %s is not a string", p->field, xn->node_name,
                         xn->namespace_name);
    }
    strvec_free(&seen);
    exo_template_free(&t);
    return *unexpected ? -1 : 0;
}

static int verify_inputs(const exo_graph *g, const registry *r, strvec *errors, const char **unexpected)
{
    for (size_t i = 0; i < g->node_count; i++) {
        const exo_node_tpl *n = &g->nodes[i];
        if (!r->node[i]) {
            strvec_pushf(errors, "Node %s in namespace %s does not exist", n->node_name, n->namespace_name);
            continue;
        }
        json_object *props = schema_properties(r->node[i], "inputs_schema", unexpected);
        if (*unexpected)
            return -1;
        if (props) {
            json_object_object_foreach(props, prop_name, prop)
            {
                int is_string = exo_schema_is_string(prop, unexpected);
                if (is_string < 0)
                    return -1;
                if (!is_string)
                    strvec_pushf(errors, "Input %s in node %s in namespace %s is not a string", prop_name, n->node_name,
                                 n->namespace_name);
                else if ((!n->inputs || !json_object_object_get_ex(n->inputs, prop_name, NULL)) &&
                         !input_may_be_omitted(r->node[i], prop_name, prop))
                    strvec_pushf(errors, "Input %s in node %s in namespace %s is not present in the graph template",
                                 prop_name, n->node_name, n->namespace_name);
            }
        }
        if (!n->inputs)
            continue;
        json_object_object_foreach(n->inputs, key, value)
        {
            (void)key;
            if (json_object_is_type(value, json_type_string) &&
                verify_placeholders(g, r, json_object_get_string(value), errors, unexpected) != 0)
                return -1;
        }
    }
    return 0;
}

/* exo: a cron-triggered graph must be startable with an empty store. */
static void verify_cron_store(const exo_graph *g, strvec *errors)
{
    json_object *crons = exo_graph_cron_expressions(g);
    if (!crons) {
        errors->oom = 1;
        return;
    }
    if (json_object_array_length(crons) > 0)
        for (size_t i = 0; i < g->required_count; i++)
            if (!graph_has_default(g, g->required_keys[i]))
                strvec_pushf(errors,
                             "Store key '%s' is required but has no default value, so cron trigger runs cannot start",
                             g->required_keys[i]);
    json_object_put(crons);
}

json_object *exo_graph_verify(const exo_graph *g, exo_registered_lookup_fn lookup, void *ud)
{
    registry r = {0};
    strvec errors = {0};
    const char *unexpected = NULL;
    json_object *out = json_object_new_array();
    if (!out || registry_load(g, lookup, ud, &r) != 0) {
        json_object_put(out);
        registry_free(g, &r);
        return NULL;
    }
    verify_existence(g, &r, &errors);
    verify_secrets(g, &r, &errors);
    if (verify_inputs(g, &r, &errors, &unexpected) == 0)
        verify_cron_store(g, &errors);
    registry_free(g, &r);
    if (errors.oom) {
        strvec_free(&errors);
        json_object_put(out);
        return NULL;
    }
    if (unexpected) {
        json_object_array_add(out, json_object_new_string("Validation failed due to unexpected error: "));
        char *msg = NULL;
        if (asprintf(&msg, "Validation failed due to unexpected error: %s", unexpected) >= 0) {
            json_object_array_put_idx(out, 0, json_object_new_string(msg));
            free(msg);
        }
    } else {
        for (size_t i = 0; i < errors.count; i++)
            json_object_array_add(out, json_object_new_string(errors.items[i]));
    }
    strvec_free(&errors);
    return out;
}
