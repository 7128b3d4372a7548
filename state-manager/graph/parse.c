/* Reading a graph template into the model (graph.h): the PUT body with its 422
 * field rules (spec §2.3.1-§2.3.4, through reqcheck), and the stored form, which
 * is a body this module wrote itself.  The pydantic error helpers here are shared
 * with retry.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "graph_internal.h"
#include "sm_util.h"
#include "strfmt.h"

void graph_add_model_type_error(exo_reqcheck *rc, const char *loc, const char *class_name, json_object *input)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Input should be a valid dictionary or instance of %s", class_name);
    json_object *ctx = json_object_new_object();
    if (ctx)
        json_object_object_add(ctx, "class_name", json_object_new_string(class_name));
    exo_reqcheck_add(rc, loc, "model_type", msg, input, ctx);
}

void graph_add_enum_error(exo_reqcheck *rc, const char *loc, const char *expected, json_object *input)
{
    char msg[600]; /* room for the 512-character member list of the retry strategies */
    snprintf(msg, sizeof msg, "Input should be %s", expected);
    json_object *ctx = json_object_new_object();
    if (ctx)
        json_object_object_add(ctx, "expected", json_object_new_string(expected));
    exo_reqcheck_add(rc, loc, "enum", msg, input, ctx);
}

static void add_oom(exo_reqcheck *rc) { exo_reqcheck_add(rc, "body", "internal", "Out of memory", NULL, NULL); }

/* The problems found in field prefix.key as one value error, message lines joined
 * with '\n' (nothing when there are none); "Out of memory" when collecting them ran out. */
static void add_problems(exo_reqcheck *rc, const char *prefix, const char *key, const strvec *problems,
                         json_object *input)
{
    if (problems->oom) {
        add_oom(rc);
        return;
    }
    if (problems->count == 0)
        return;
    char *loc = exo_reqcheck_join_loc(prefix, key);
    char *msg = strvec_join(problems, "\n");
    if (loc && msg)
        exo_reqcheck_value_error(rc, loc, msg, input);
    else
        add_oom(rc);
    free(loc);
    free(msg);
}

/* Orders indices into a list of identifiers by text, then position. */
static int by_text_then_index(const void *x, const void *y, void *ctx)
{
    char *const *ids = ctx;
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    int c = strcmp(ids[a], ids[b]);
    return c ? c : (a > b) - (a < b);
}

/* repeated[i] = 1 when ids[i] equals an earlier entry: one sort, O(k log k), so a
 * node with a huge next_nodes list cannot make the check quadratic.  -1 when out
 * of memory. */
static int mark_repeats(char *const *ids, size_t k, unsigned char *repeated)
{
    size_t *order = malloc((k ? k : 1) * sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < k; i++)
        order[i] = i;
    qsort_r(order, k, sizeof *order, by_text_then_index, (void *)ids);
    for (size_t i = 1; i < k; i++)
        if (!strcmp(ids[order[i]], ids[order[i - 1]]))
            repeated[order[i]] = 1;
    free(order);
    return 0;
}

static void parse_next_nodes(exo_reqcheck *rc, json_object *item, const char *loc, exo_node_tpl *n)
{
    json_object *list = NULL;
    if (exo_req_string_list(rc, item, "next_nodes", loc, 0, &list) != 0)
        return; /* absent / null => [] ; invalid already recorded */
    size_t count = json_object_array_length(list);
    char **ids = calloc(count ? count : 1, sizeof *ids);
    unsigned char *repeated = calloc(count ? count : 1, 1);
    n->next_nodes = calloc(count ? count : 1, sizeof *n->next_nodes);
    strvec problems = {0};
    problems.oom = !ids || !repeated || !n->next_nodes;
    size_t trimmed = 0;
    for (; !problems.oom && trimmed < count; trimmed++) {
        ids[trimmed] = exo_trim_dup(json_object_get_string(json_object_array_get_idx(list, trimmed)));
        if (!ids[trimmed])
            problems.oom = 1;
    }
    if (!problems.oom && mark_repeats(ids, count, repeated) != 0)
        problems.oom = 1;
    for (size_t i = 0; !problems.oom && i < count; i++) {
        char *id = ids[i];
        ids[i] = NULL;
        if (*id == '\0') {
            strvec_pushf(&problems, "Next node identifier cannot be empty");
            free(id);
            continue;
        }
        if (repeated[i]) {
            strvec_pushf(&problems, "Next node identifier %s is not unique", id);
            free(id);
            continue;
        }
        n->next_nodes[n->next_count++] = id;
    }
    for (size_t i = 0; ids && i < trimmed; i++)
        free(ids[i]);
    free(ids);
    free(repeated);
    add_problems(rc, loc, "next_nodes", &problems, list);
    strvec_free(&problems);
}

static void parse_unites(exo_reqcheck *rc, json_object *item, const char *loc, exo_node_tpl *n)
{
    json_object *unites = NULL;
    if (!json_object_object_get_ex(item, "unites", &unites) || unites == NULL)
        return;
    char *uloc = exo_reqcheck_join_loc(loc, "unites");
    if (!uloc) {
        add_oom(rc);
        return;
    }
    if (!json_object_is_type(unites, json_type_object)) {
        graph_add_model_type_error(rc, uloc, "Unites", unites);
        free(uloc);
        return;
    }
    const char *target = NULL;
    if (exo_req_string(rc, unites, "identifier", uloc, 1, &target) == 0) {
        n->unites = exo_trim_dup(target);
        if (!n->unites)
            add_oom(rc);
        else if (*n->unites == '\0')
            exo_reqcheck_value_error(rc, uloc, "Unites identifier cannot be empty", unites);
    }
    json_object *strategy = NULL;
    n->unites_strategy = EXO_UNITES_ALL_SUCCESS;
    if (json_object_object_get_ex(unites, "strategy", &strategy)) {
        /* a NUL would hide the rest of the text from strcmp: such a value matches no member */
        const char *s = json_object_is_type(strategy, json_type_string) && !exo_json_string_has_nul(strategy)
                            ? json_object_get_string(strategy)
                            : "";
        if (strcmp(s, "ALL_DONE") == 0) {
            n->unites_strategy = EXO_UNITES_ALL_DONE;
        } else if (strcmp(s, "ALL_SUCCESS") != 0) {
            char *sloc = exo_reqcheck_join_loc(uloc, "strategy");
            graph_add_enum_error(rc, sloc ? sloc : uloc, "'ALL_SUCCESS' or 'ALL_DONE'", strategy);
            free(sloc);
        }
    }
    free(uloc);
}

/* Trimmed copy of a required string field plus its non-empty rule. */
static char *parse_trimmed_field(exo_reqcheck *rc, json_object *item, const char *loc,
                                 const char *key, const char *empty_message)
{
    const char *raw = NULL;
    if (exo_req_string(rc, item, key, loc, 1, &raw) != 0)
        return NULL;
    char *value = exo_trim_dup(raw);
    if (!value) {
        add_oom(rc);
        return NULL;
    }
    if (*value == '\0' && empty_message) {
        char *floc = exo_reqcheck_join_loc(loc, key);
        json_object *input = NULL;
        json_object_object_get_ex(item, key, &input);
        exo_reqcheck_value_error(rc, floc ? floc : loc, empty_message, input);
        free(floc);
    }
    return value;
}

static void parse_node(exo_reqcheck *rc, json_object *item, const char *loc, exo_node_tpl *n)
{
    if (!json_object_is_type(item, json_type_object)) {
        graph_add_model_type_error(rc, loc, "NodeTemplate", item);
        return;
    }
    n->node_name = parse_trimmed_field(rc, item, loc, "node_name", "Node name cannot be empty");
    const char *ns = NULL;
    if (exo_req_string(rc, item, "namespace", loc, 1, &ns) == 0) {
        n->namespace_name = strdup(ns);
        if (!n->namespace_name)
            add_oom(rc);
    }
    n->identifier = parse_trimmed_field(rc, item, loc, "identifier", "Node identifier cannot be empty");
    if (n->identifier && strcmp(n->identifier, "store") == 0) {
        char *floc = exo_reqcheck_join_loc(loc, "identifier");
        json_object *input = NULL;
        json_object_object_get_ex(item, "identifier", &input);
        exo_reqcheck_value_error(rc, floc ? floc : loc, "Node identifier cannot be reserved word 'store'", input);
        free(floc);
    }
    json_object *inputs = NULL;
    if (exo_req_object(rc, item, "inputs", loc, 1, &inputs) == 0) {
        /* templates are parsed as C strings: a NUL is allowed in plain literals only */
        char *iloc = exo_reqcheck_join_loc(loc, "inputs");
        if (!iloc)
            add_oom(rc);
        else
            exo_req_reject_nul_templates(rc, inputs, iloc);
        free(iloc);
        n->inputs = graph_json_copy(inputs);
        if (!n->inputs)
            add_oom(rc);
    }
    parse_next_nodes(rc, item, loc, n);
    parse_unites(rc, item, loc, n);
}

static void parse_nodes(exo_reqcheck *rc, json_object *body, exo_graph *g)
{
    json_object *nodes = NULL;
    if (exo_req_array(rc, body, "nodes", "body", 1, &nodes) != 0)
        return;
    size_t count = json_object_array_length(nodes);
    if (count > EXO_GRAPH_MAX_NODES) {
        /* validation holds node_count^2 bytes while it runs: refuse what would not fit */
        char msg[96];
        snprintf(msg, sizeof msg, "A graph template can have at most %d nodes, got %zu", EXO_GRAPH_MAX_NODES, count);
        json_object *input = json_object_new_int64((int64_t)count);
        exo_reqcheck_value_error(rc, "body.nodes", msg, input);
        json_object_put(input);
        return;
    }
    size_t edges = 0;
    for (size_t i = 0; i < count; i++) {
        json_object *next = json_object_object_get(json_object_array_get_idx(nodes, i), "next_nodes");
        if (json_object_is_type(next, json_type_array))
            edges += json_object_array_length(next);
    }
    if (edges > EXO_GRAPH_MAX_EDGES) {
        /* bounds validation and the first trigger's load of the version (docs/dev/HARDENING.md) */
        char msg[128];
        snprintf(msg, sizeof msg, "A graph template can have at most %d next_nodes entries in all, got %zu",
                 EXO_GRAPH_MAX_EDGES, edges);
        json_object *input = json_object_new_int64((int64_t)edges);
        exo_reqcheck_value_error(rc, "body.nodes", msg, input);
        json_object_put(input);
        return;
    }
    g->nodes = calloc(count ? count : 1, sizeof *g->nodes);
    if (!g->nodes) {
        add_oom(rc);
        return;
    }
    g->node_count = count;
    for (size_t i = 0; i < count; i++) {
        char *loc = exo_strfmt("body.nodes.%zu", i);
        if (!loc) {
            add_oom(rc);
            return;
        }
        parse_node(rc, json_object_array_get_idx(nodes, i), loc, &g->nodes[i]);
        free(loc);
    }
}

/* Store key rules (§2.3.4): trimmed, non-empty, no '.', unique.  Returns the
 * trimmed key or NULL when it breaks a rule (message added to problems). */
static char *check_store_key(const char *raw, const strvec *seen, strvec *problems)
{
    char *key = exo_trim_dup(raw);
    if (!key) {
        problems->oom = 1;
        return NULL;
    }
    if (*key == '\0')
        strvec_pushf(problems, "Key cannot be empty or contain only whitespace");
    else if (strchr(key, '.'))
        strvec_pushf(problems, "Key '%s' cannot contain '.' character", key);
    else if (strvec_contains(seen, key))
        strvec_pushf(problems, "Key '%s' is duplicated", key);
    else
        return key;
    free(key);
    return NULL;
}

static void parse_required_keys(exo_reqcheck *rc, json_object *config, exo_graph *g)
{
    json_object *list = NULL;
    if (exo_req_string_list(rc, config, "required_keys", "body.store_config", 0, &list) != 0)
        return;
    size_t count = json_object_array_length(list);
    strvec keys = {0}, problems = {0};
    for (size_t i = 0; i < count; i++) {
        char *key = check_store_key(json_object_get_string(json_object_array_get_idx(list, i)), &keys, &problems);
        if (key)
            strvec_push(&keys, key);
    }
    problems.oom |= keys.oom;
    add_problems(rc, "body.store_config", "required_keys", &problems, list);
    g->required_keys = keys.items; /* take ownership */
    g->required_count = keys.count;
    strvec_free(&problems);
}

static void parse_default_values(exo_reqcheck *rc, json_object *config, exo_graph *g)
{
    json_object *map = NULL;
    if (exo_req_string_map(rc, config, "default_values", "body.store_config", 0, &map) != 0)
        return;
    strvec keys = {0}, problems = {0};
    json_object_object_foreach(map, raw_key, value)
    {
        char *key = check_store_key(raw_key, &keys, &problems);
        if (!key)
            continue;
        json_object_object_add(g->default_values, key, json_object_get(value));
        strvec_push(&keys, key);
    }
    problems.oom |= keys.oom;
    add_problems(rc, "body.store_config", "default_values", &problems, map);
    strvec_free(&keys);
    strvec_free(&problems);
}

static void parse_store_config(exo_reqcheck *rc, json_object *body, exo_graph *g)
{
    json_object *config = NULL;
    if (!json_object_object_get_ex(body, "store_config", &config) || config == NULL)
        return;
    if (!json_object_is_type(config, json_type_object)) {
        graph_add_model_type_error(rc, "body.store_config", "StoreConfig", config);
        return;
    }
    parse_required_keys(rc, config, g);
    parse_default_values(rc, config, g);
}

static void parse_trigger(exo_reqcheck *rc, json_object *item, const char *loc)
{
    if (!json_object_is_type(item, json_type_object)) {
        graph_add_model_type_error(rc, loc, "Trigger", item);
        return;
    }
    json_object *type = NULL;
    char *tloc = exo_reqcheck_join_loc(loc, "type");
    if (!json_object_object_get_ex(item, "type", &type))
        exo_reqcheck_add(rc, tloc ? tloc : loc, "missing", "Field required", item, NULL);
    else if (!json_object_is_type(type, json_type_string) || exo_json_string_has_nul(type) ||
             strcmp(json_object_get_string(type), "CRON") != 0)
        graph_add_enum_error(rc, tloc ? tloc : loc, "'CRON'", type);
    free(tloc);
    json_object *value = NULL;
    if (exo_req_object(rc, item, "value", loc, 1, &value) != 0)
        return;
    json_object *expr = NULL;
    if (!json_object_object_get_ex(value, "expression", &expr) || !json_object_is_type(expr, json_type_string) ||
        exo_json_string_has_nul(expr) || !exo_cron_valid(json_object_get_string(expr))) {
        char *vloc = exo_reqcheck_join_loc(loc, "value");
        const char *text = expr && json_object_is_type(expr, json_type_string) ? json_object_get_string(expr) : "";
        exo_reqcheck_value_error(rc, vloc ? vloc : loc,
                                 exo_cron_has_random_field(text)
                                     ? "Invalid cron expression: croniter's random 'R' fields are not supported "
                                       "by exo; use a fixed value"
                                     : "Invalid cron expression",
                                 value);
        free(vloc);
    }
}

static void parse_triggers(exo_reqcheck *rc, json_object *body, exo_graph *g)
{
    json_object *list = NULL;
    if (exo_req_array(rc, body, "triggers", "body", 0, &list) != 0)
        return;
    size_t count = json_object_array_length(list);
    for (size_t i = 0; i < count; i++) {
        char *loc = exo_strfmt("body.triggers.%zu", i);
        if (!loc) {
            add_oom(rc);
            return;
        }
        parse_trigger(rc, json_object_array_get_idx(list, i), loc);
        free(loc);
    }
    json_object_put(g->triggers);
    g->triggers = graph_json_copy(list);
    if (!g->triggers)
        add_oom(rc);
}

exo_graph *exo_graph_from_body(json_object *body, exo_reqcheck *rc)
{
    size_t errors_before = rc->errors ? json_object_array_length(rc->errors) : 0;
    if (!json_object_is_type(body, json_type_object)) {
        exo_reqcheck_add(rc, "body", "model_attributes_type",
                         "Input should be a valid dictionary or object to extract fields from", body, NULL);
        return NULL;
    }
    exo_graph *g = calloc(1, sizeof *g);
    if (!g) {
        add_oom(rc);
        return NULL;
    }
    g->root = -1;
    exo_retry_policy_default(&g->retry_policy);
    g->default_values = json_object_new_object();
    g->triggers = json_object_new_array();
    if (!g->default_values || !g->triggers)
        add_oom(rc);
    json_object *secrets = NULL;
    if (exo_req_string_map(rc, body, "secrets", "body", 1, &secrets) == 0 &&
        exo_req_reject_nul_values(rc, secrets, "body.secrets") == 0) {
        g->secrets = graph_json_copy(secrets);
        if (!g->secrets)
            add_oom(rc);
    }
    parse_nodes(rc, body, g);
    json_object *retry = NULL;
    json_object_object_get_ex(body, "retry_policy", &retry);
    exo_retry_policy_from_json(rc, retry, "body.retry_policy", &g->retry_policy);
    parse_store_config(rc, body, g);
    parse_triggers(rc, body, g);
    size_t errors_after = rc->errors ? json_object_array_length(rc->errors) : 0;
    if (errors_after == errors_before && !rc->oom && graph_build_ident_index(g) != 0)
        add_oom(rc);
    errors_after = rc->errors ? json_object_array_length(rc->errors) : 0;
    if (errors_after != errors_before || rc->oom) {
        exo_graph_free(g);
        return NULL;
    }
    return g;
}

exo_graph *exo_graph_from_stored(json_object *stored, char **err)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(stored, &rc);
    *err = NULL;
    if (!g) {
        const char *text = rc.errors ? json_object_to_json_string_ext(rc.errors, JSON_C_TO_STRING_PLAIN)
                                     : "out of memory";
        if (asprintf(err, "stored graph template is malformed: %s", text) < 0)
            *err = NULL;
    }
    exo_reqcheck_free(&rc);
    return g;
}
