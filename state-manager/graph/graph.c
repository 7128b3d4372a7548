/* Graph templates: model, parsing, serialisation, §5.1 validation with exo's §0
 * rules, ancestor sets and §5.2 verification; see graph.h. */
#include "graph.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "strfmt.h"
#include "template.h"

/* ------------------------------------------------------------------ helpers */

/* A growable list of owned strings; remembers allocation failure. */
typedef struct strvec {
    char **items;
    size_t count, cap;
    int oom;
} strvec;

static void sv_push(strvec *v, char *owned)
{
    if (!owned) {
        v->oom = 1;
        return;
    }
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        char **items = realloc(v->items, cap * sizeof *items);
        if (!items) {
            free(owned);
            v->oom = 1;
            return;
        }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->count++] = owned;
}

static void sv_pushf(strvec *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sv_pushf(strvec *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = exo_vstrfmt(fmt, ap);
    va_end(ap);
    sv_push(v, s);
}

static int sv_contains(const strvec *v, const char *s)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->items[i], s) == 0)
            return 1;
    return 0;
}

static char *sv_join(const strvec *v, const char *sep)
{
    size_t len = 1;
    for (size_t i = 0; i < v->count; i++)
        len += strlen(v->items[i]) + strlen(sep);
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    char *p = out;
    for (size_t i = 0; i < v->count; i++) {
        if (i) {
            strcpy(p, sep);
            p += strlen(sep);
        }
        strcpy(p, v->items[i]);
        p += strlen(v->items[i]);
    }
    return out;
}

static void sv_free(strvec *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static char *dup_trimmed(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* pydantic's error for a nested model given something that is not an object. */
static void add_model_type_error(exo_reqcheck *rc, const char *loc, const char *class_name,
                                 json_object *input)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Input should be a valid dictionary or instance of %s", class_name);
    json_object *ctx = json_object_new_object();
    if (ctx)
        json_object_object_add(ctx, "class_name", json_object_new_string(class_name));
    exo_reqcheck_add(rc, loc, "model_type", msg, input, ctx);
}

static void add_enum_error(exo_reqcheck *rc, const char *loc, const char *expected, json_object *input)
{
    char msg[200];
    snprintf(msg, sizeof msg, "Input should be %s", expected);
    json_object *ctx = json_object_new_object();
    if (ctx)
        json_object_object_add(ctx, "expected", json_object_new_string(expected));
    exo_reqcheck_add(rc, loc, "enum", msg, input, ctx);
}

static void add_oom(exo_reqcheck *rc) { exo_reqcheck_add(rc, "body", "internal", "Out of memory", NULL, NULL); }

/* Value error at prefix.key; message lines joined with '\n'. */
static void add_joined_value_error(exo_reqcheck *rc, const char *prefix, const char *key,
                                   const strvec *lines, json_object *input)
{
    char *loc = exo_reqcheck_join_loc(prefix, key);
    char *msg = sv_join(lines, "\n");
    if (loc && msg)
        exo_reqcheck_value_error(rc, loc, msg, input);
    else
        add_oom(rc);
    free(loc);
    free(msg);
}

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

/* Deep copy (json-c >= 0.13); NULL input gives NULL. */
static json_object *deep_copy(json_object *src)
{
    json_object *dst = NULL;
    if (src && json_object_deep_copy(src, &dst, NULL) != 0)
        return NULL;
    return dst;
}

/* ------------------------------------------------------------------ parsing */

static void parse_next_nodes(exo_reqcheck *rc, json_object *item, const char *loc, exo_node_tpl *n)
{
    json_object *list = NULL;
    if (exo_req_string_list(rc, item, "next_nodes", loc, 0, &list) != 0)
        return; /* absent / null => [] ; invalid already recorded */
    size_t count = json_object_array_length(list);
    n->next_nodes = calloc(count ? count : 1, sizeof *n->next_nodes);
    if (!n->next_nodes) {
        add_oom(rc);
        return;
    }
    strvec problems = {0};
    for (size_t i = 0; i < count; i++) {
        char *id = dup_trimmed(json_object_get_string(json_object_array_get_idx(list, i)));
        if (!id) {
            problems.oom = 1;
            break;
        }
        if (*id == '\0') {
            sv_pushf(&problems, "Next node identifier cannot be empty");
            free(id);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < n->next_count && !dup; j++)
            dup = strcmp(n->next_nodes[j], id) == 0;
        if (dup) {
            sv_pushf(&problems, "Next node identifier %s is not unique", id);
            free(id);
            continue;
        }
        n->next_nodes[n->next_count++] = id;
    }
    if (problems.oom)
        add_oom(rc);
    else if (problems.count)
        add_joined_value_error(rc, loc, "next_nodes", &problems, list);
    sv_free(&problems);
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
        add_model_type_error(rc, uloc, "Unites", unites);
        free(uloc);
        return;
    }
    const char *target = NULL;
    if (exo_req_string(rc, unites, "identifier", uloc, 1, &target) == 0) {
        n->unites = dup_trimmed(target);
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
            add_enum_error(rc, sloc ? sloc : uloc, "'ALL_SUCCESS' or 'ALL_DONE'", strategy);
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
    char *value = dup_trimmed(raw);
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
        add_model_type_error(rc, loc, "NodeTemplate", item);
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
        n->inputs = deep_copy(inputs);
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
    char *key = dup_trimmed(raw);
    if (!key) {
        problems->oom = 1;
        return NULL;
    }
    if (*key == '\0')
        sv_pushf(problems, "Key cannot be empty or contain only whitespace");
    else if (strchr(key, '.'))
        sv_pushf(problems, "Key '%s' cannot contain '.' character", key);
    else if (sv_contains(seen, key))
        sv_pushf(problems, "Key '%s' is duplicated", key);
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
            sv_push(&keys, key);
    }
    if (keys.oom || problems.oom)
        add_oom(rc);
    else if (problems.count)
        add_joined_value_error(rc, "body.store_config", "required_keys", &problems, list);
    g->required_keys = keys.items; /* take ownership */
    g->required_count = keys.count;
    sv_free(&problems);
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
        sv_push(&keys, key);
    }
    if (keys.oom || problems.oom)
        add_oom(rc);
    else if (problems.count)
        add_joined_value_error(rc, "body.store_config", "default_values", &problems, map);
    sv_free(&keys);
    sv_free(&problems);
}

static void parse_store_config(exo_reqcheck *rc, json_object *body, exo_graph *g)
{
    json_object *config = NULL;
    if (!json_object_object_get_ex(body, "store_config", &config) || config == NULL)
        return;
    if (!json_object_is_type(config, json_type_object)) {
        add_model_type_error(rc, "body.store_config", "StoreConfig", config);
        return;
    }
    parse_required_keys(rc, config, g);
    parse_default_values(rc, config, g);
}

static void parse_trigger(exo_reqcheck *rc, json_object *item, const char *loc)
{
    if (!json_object_is_type(item, json_type_object)) {
        add_model_type_error(rc, loc, "Trigger", item);
        return;
    }
    json_object *type = NULL;
    char *tloc = exo_reqcheck_join_loc(loc, "type");
    if (!json_object_object_get_ex(item, "type", &type))
        exo_reqcheck_add(rc, tloc ? tloc : loc, "missing", "Field required", item, NULL);
    else if (!json_object_is_type(type, json_type_string) || exo_json_string_has_nul(type) ||
             strcmp(json_object_get_string(type), "CRON") != 0)
        add_enum_error(rc, tloc ? tloc : loc, "'CRON'", type);
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
    g->triggers = deep_copy(list);
    if (!g->triggers)
        add_oom(rc);
}

static int build_ident_index(exo_graph *g);

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
        g->secrets = deep_copy(secrets);
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
    if (errors_after == errors_before && !rc->oom && build_ident_index(g) != 0)
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

/* ------------------------------------------------------------------ serialisation */

static json_object *string_array(char *const *items, size_t count)
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
    json_object_object_add(o, "inputs", deep_copy(n->inputs));
    json_object_object_add(o, "next_nodes", string_array(n->next_nodes, n->next_count));
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
        json_object_object_add(store, "required_keys", string_array(g->required_keys, g->required_count));
        json_object_object_add(store, "default_values",
                               g->default_values ? deep_copy(g->default_values) : json_object_new_object());
    }
    json_object_object_add(o, "store_config", store);
    json_object_object_add(o, "triggers", g->triggers ? deep_copy(g->triggers) : json_object_new_array());
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

/* Builds g->ident_order so that lookups are O(log n): graphs have up to
 * EXO_GRAPH_MAX_NODES nodes and up to millions of next_nodes entries. */
static int build_ident_index(exo_graph *g)
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

static int has_default(const exo_graph *g, const char *key)
{
    return g->default_values && json_object_object_get_ex(g->default_values, key, NULL);
}

static int is_required(const exo_graph *g, const char *key)
{
    for (size_t i = 0; i < g->required_count; i++)
        if (strcmp(g->required_keys[i], key) == 0)
            return 1;
    return 0;
}

int exo_graph_store_key_mandatory(const exo_graph *g, const char *key)
{
    return is_required(g, key) && !has_default(g, key);
}

/* ------------------------------------------------------------------ analysis */

/* Structure of a graph whose identifiers are unique and whose next_nodes exist. */
typedef struct analysis {
    size_t n;
    int *target;             /* unites target index, -1 none, -2 target missing */
    int **next;              /* next[i][k]: index of nodes[i].next_nodes[k] */
    int root;                /* -1 unless exactly one node has in-degree 0 */
    size_t zero_count;
    int *zero;               /* nodes with in-degree 0 */
    unsigned char *reached;  /* reachable from the root over parent edges */
    unsigned char *listed;   /* uniting node listed by a reached node */
    uint64_t *dom;           /* n rows of words bits: bit a of row m = a on every root path to m
                                (a == m included) */
    size_t words;            /* 64-bit words per dom row */
} analysis;

static void analysis_free(analysis *a)
{
    if (a->next)
        for (size_t i = 0; i < a->n; i++)
            free(a->next[i]);
    free(a->next);
    free(a->target);
    free(a->zero);
    free(a->reached);
    free(a->listed);
    free(a->dom);
    memset(a, 0, sizeof *a);
}

/* Indexes, in-degrees and the root (rule R1).  -1 on OOM. */
static int analysis_index(const exo_graph *g, analysis *a)
{
    size_t n = g->node_count;
    a->n = n;
    a->root = -1;
    a->target = calloc(n + 1, sizeof *a->target);
    a->next = calloc(n + 1, sizeof *a->next);
    a->zero = calloc(n + 1, sizeof *a->zero);
    int *indeg = calloc(n + 1, sizeof *indeg);
    if (!a->target || !a->next || !a->zero || !indeg) {
        free(indeg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const exo_node_tpl *node = &g->nodes[i];
        a->target[i] = node->unites ? exo_graph_find(g, node->unites) : -1;
        if (node->unites && a->target[i] < 0)
            a->target[i] = -2;
        if (node->unites)
            indeg[i]++;
        a->next[i] = calloc(node->next_count + 1, sizeof **a->next);
        if (!a->next[i]) {
            free(indeg);
            return -1;
        }
        for (size_t k = 0; k < node->next_count; k++) {
            int m = exo_graph_find(g, node->next_nodes[k]);
            a->next[i][k] = m;
            if (m >= 0)
                indeg[m]++;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            a->zero[a->zero_count++] = (int)i;
    if (a->zero_count == 1)
        a->root = a->zero[0];
    free(indeg);
    return 0;
}

/* Reachability from the root over parent edges (A->m for plain m; T->U for a uniting
 * U, active once a reached node lists U). */
static int analysis_reach(const exo_graph *g, analysis *a)
{
    size_t n = a->n;
    a->reached = calloc(n + 1, 1);
    a->listed = calloc(n + 1, 1);
    if (!a->reached || !a->listed)
        return -1;
    if (a->root < 0)
        return 0;
    /* worklist, O(n + E): a uniting node is reached when its target is reached and a
       reached node lists it, whichever happens last */
    size_t *by_target_first = calloc(n + 2, sizeof *by_target_first);
    int *by_target = malloc((n + 1) * sizeof *by_target), *queue = malloc((n + 1) * sizeof *queue);
    size_t *fill = malloc((n + 1) * sizeof *fill);
    if (!by_target_first || !by_target || !queue || !fill) {
        free(by_target_first);
        free(by_target);
        free(queue);
        free(fill);
        return -1;
    }
    for (size_t u = 0; u < n; u++)
        if (a->target[u] >= 0)
            by_target_first[a->target[u] + 1]++;
    for (size_t v = 0; v < n; v++)
        by_target_first[v + 1] += by_target_first[v];
    memcpy(fill, by_target_first, n * sizeof *fill);
    for (size_t u = 0; u < n; u++)
        if (a->target[u] >= 0)
            by_target[fill[a->target[u]]++] = (int)u;
    size_t head = 0, tail = 0;
    a->reached[a->root] = 1;
    queue[tail++] = a->root;
    while (head < tail) {
        size_t v = (size_t)queue[head++];
        for (size_t k = 0; k < g->nodes[v].next_count; k++) {
            int m = a->next[v][k];
            if (m < 0 || a->reached[m])
                continue;
            if (g->nodes[m].unites) {
                a->listed[m] = 1;
                if (a->target[m] < 0 || !a->reached[a->target[m]])
                    continue;
            }
            a->reached[m] = 1;
            queue[tail++] = m;
        }
        for (size_t k = by_target_first[v]; k < by_target_first[v + 1]; k++) {
            int u = by_target[k];
            if (a->listed[u] && !a->reached[u]) {
                a->reached[u] = 1;
                queue[tail++] = u;
            }
        }
    }
    free(by_target_first);
    free(by_target);
    free(queue);
    free(fill);
    return 0;
}

/* Parent edges as predecessor lists (CSR): for a plain node m every reached p with m
 * in p.next_nodes; for a uniting node its target.  pred_first has n+1 entries. */
static int parent_lists(const exo_graph *g, const analysis *a, size_t **pred_first, int **pred)
{
    size_t n = a->n, total = 0;
    size_t *first = calloc(n + 2, sizeof *first);
    int *last_pred = malloc((n + 1) * sizeof *last_pred); /* an edge p->m listed twice counts once */
    if (!first || !last_pred) {
        free(first);
        free(last_pred);
        return -1;
    }
    for (size_t m = 0; m < n; m++)
        last_pred[m] = -1;
    for (size_t p = 0; p < n; p++)
        for (size_t k = 0; a->reached[p] && k < g->nodes[p].next_count; k++) {
            int m = a->next[p][k];
            if (m >= 0 && a->target[m] == -1 && last_pred[m] != (int)p) {
                last_pred[m] = (int)p;
                first[m + 1]++;
            }
        }
    for (size_t m = 0; m < n; m++)
        if (a->target[m] >= 0)
            first[m + 1]++;
    for (size_t m = 0; m < n; m++)
        first[m + 1] += first[m];
    total = first[n];
    int *list = malloc((total + 1) * sizeof *list);
    size_t *fill = malloc((n + 1) * sizeof *fill);
    if (!list || !fill) {
        free(first);
        free(list);
        free(fill);
        free(last_pred);
        return -1;
    }
    memcpy(fill, first, n * sizeof *fill);
    for (size_t m = 0; m < n; m++)
        last_pred[m] = -1;
    for (size_t p = 0; p < n; p++)
        for (size_t k = 0; a->reached[p] && k < g->nodes[p].next_count; k++) {
            int m = a->next[p][k];
            if (m >= 0 && a->target[m] == -1 && last_pred[m] != (int)p) {
                last_pred[m] = (int)p;
                list[fill[m]++] = (int)p;
            }
        }
    free(last_pred);
    for (size_t m = 0; m < n; m++)
        if (a->target[m] >= 0)
            list[fill[m]++] = a->target[m];
    free(fill);
    *pred_first = first;
    *pred = list;
    return 0;
}

/* Reached nodes in reverse postorder of a depth-first walk from the root over parent
 * edges (reached nodes the walk misses, if any, follow).  order has n entries; *count set. */
static int reverse_postorder(const exo_graph *g, const analysis *a, int *order, size_t *count)
{
    size_t n = a->n, top = 0, done = 0;
    /* children of a uniting node's target include the uniting node */
    size_t *child_first = calloc(n + 2, sizeof *child_first);
    int *stack = malloc((n + 1) * sizeof *stack);
    size_t *cursor = calloc(n + 1, sizeof *cursor);
    unsigned char *seen = calloc(n + 1, 1);
    int *children = NULL, *post = malloc((n + 1) * sizeof *post);
    int ok = child_first && stack && cursor && seen && post;
    if (ok) {
        for (size_t p = 0; p < n; p++)
            for (size_t k = 0; k < g->nodes[p].next_count; k++)
                if (a->next[p][k] >= 0 && a->target[a->next[p][k]] == -1)
                    child_first[p + 1]++;
        for (size_t u = 0; u < n; u++)
            if (a->target[u] >= 0)
                child_first[a->target[u] + 1]++;
        for (size_t p = 0; p < n; p++)
            child_first[p + 1] += child_first[p];
        children = malloc((child_first[n] + 1) * sizeof *children);
        ok = children != NULL;
    }
    if (ok) {
        memcpy(cursor, child_first, n * sizeof *cursor);
        for (size_t p = 0; p < n; p++)
            for (size_t k = 0; k < g->nodes[p].next_count; k++)
                if (a->next[p][k] >= 0 && a->target[a->next[p][k]] == -1)
                    children[cursor[p]++] = a->next[p][k];
        for (size_t u = 0; u < n; u++)
            if (a->target[u] >= 0)
                children[cursor[a->target[u]]++] = (int)u;
        memcpy(cursor, child_first, n * sizeof *cursor); /* now: next child to visit */
        if (a->root >= 0) {
            stack[top++] = a->root;
            seen[a->root] = 1;
        }
        while (top > 0) {
            int v = stack[top - 1];
            if (cursor[v] < child_first[v + 1]) {
                int c = children[cursor[v]++];
                if (!seen[c] && a->reached[c]) {
                    seen[c] = 1;
                    stack[top++] = c;
                }
                continue;
            }
            post[done++] = v;
            top--;
        }
        size_t k = 0;
        for (size_t i = done; i > 0; i--)
            order[k++] = post[i - 1];
        for (size_t m = 0; m < n; m++)
            if (a->reached[m] && !seen[m])
                order[k++] = (int)m;
        *count = k;
    }
    free(child_first);
    free(stack);
    free(cursor);
    free(seen);
    free(children);
    free(post);
    return ok ? 0 : -1;
}

/* Dominators over parent edges, iterated to a fixpoint (order independent result).
 * Visiting nodes in reverse postorder with predecessor lists makes an acyclic graph
 * converge in one pass (plus one to confirm): O(n * (n + E)), not O(n^2 * E). */
static int analysis_dominators(const exo_graph *g, analysis *a)
{
    size_t n = a->n, count = 0, w = (n + 63) / 64;
    a->words = w;
    a->dom = calloc(n * w + 1, sizeof *a->dom);
    uint64_t *tmp = malloc((w + 1) * sizeof *tmp), *reached = calloc(w + 1, sizeof *reached);
    int *order = malloc((n + 1) * sizeof *order), *pred = NULL;
    size_t *pred_first = NULL;
    int ok = a->dom && tmp && reached && order && parent_lists(g, a, &pred_first, &pred) == 0 &&
             reverse_postorder(g, a, order, &count) == 0;
    if (!ok) {
        free(tmp);
        free(reached);
        free(order);
        free(pred_first);
        free(pred);
        return -1;
    }
    for (size_t x = 0; x < n; x++)
        if (a->reached[x])
            reached[x / 64] |= (uint64_t)1 << (x % 64);
    for (size_t m = 0; m < n; m++) {
        if (!a->reached[m])
            continue;
        if ((int)m == a->root)
            a->dom[m * w + m / 64] = (uint64_t)1 << (m % 64);
        else
            memcpy(a->dom + m * w, reached, w * sizeof *reached);
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < count; i++) {
            size_t m = (size_t)order[i];
            if ((int)m == a->root)
                continue;
            memset(tmp, 0xff, w * sizeof *tmp);
            for (size_t k = pred_first[m]; k < pred_first[m + 1]; k++) {
                const uint64_t *row = a->dom + (size_t)pred[k] * w;
                for (size_t x = 0; x < w; x++)
                    tmp[x] &= row[x];
            }
            for (size_t x = 0; x < w; x++) /* keep the bits past n clear */
                tmp[x] &= reached[x];
            tmp[m / 64] |= (uint64_t)1 << (m % 64);
            if (memcmp(tmp, a->dom + m * w, w * sizeof *tmp) != 0) {
                memcpy(a->dom + m * w, tmp, w * sizeof *tmp);
                changed = 1;
            }
        }
    }
    free(tmp);
    free(reached);
    free(order);
    free(pred_first);
    free(pred);
    return 0;
}

static int analysis_run(const exo_graph *g, analysis *a)
{
    memset(a, 0, sizeof *a);
    if (analysis_index(g, a) != 0 || analysis_reach(g, a) != 0 || analysis_dominators(g, a) != 0) {
        analysis_free(a);
        return -1;
    }
    return 0;
}

static int is_strict_ancestor(const analysis *a, int node, int anc)
{
    return node != anc && a->reached[node] &&
           ((a->dom[(size_t)node * a->words + (size_t)anc / 64] >> ((size_t)anc % 64)) & 1);
}

/* Stores root and ancestor matrix from a into g. */
static int store_analysis(exo_graph *g, const analysis *a)
{
    size_t n = a->n;
    /* a bitset: graphs stay cached per version (engine.c), so n*n bytes would add up */
    unsigned char *anc = calloc((n * n + 7) / 8 + 1, 1);
    if (!anc)
        return -1;
    for (size_t m = 0; m < n; m++)
        for (size_t x = 0; x < n; x++)
            if (is_strict_ancestor(a, (int)m, (int)x))
                anc[(m * n + x) / 8] |= (unsigned char)(1u << ((m * n + x) % 8));
    free(g->ancestors);
    g->ancestors = anc;
    g->root = a->root;
    return 0;
}

int exo_graph_analyze(exo_graph *g)
{
    analysis a;
    if (analysis_run(g, &a) != 0)
        return -1;
    int rc = a.root >= 0 && store_analysis(g, &a) == 0 ? 0 : -1;
    analysis_free(&a);
    return rc;
}

/* Successor lists over real edges plus T->U edges, in CSR form. */
typedef struct edges {
    size_t *first; /* n+1 offsets into to[] */
    int *to;
} edges;

static int edges_build(const exo_graph *g, const analysis *a, edges *e)
{
    size_t n = a->n, total = 0;
    for (size_t i = 0; i < n; i++)
        total += g->nodes[i].next_count + (a->target[i] >= 0);
    e->first = calloc(n + 2, sizeof *e->first);
    e->to = malloc((total + 1) * sizeof *e->to);
    if (!e->first || !e->to)
        return -1;
    size_t pos = 0;
    for (size_t v = 0; v < n; v++) {
        e->first[v] = pos;
        for (size_t k = 0; k < g->nodes[v].next_count; k++)
            if (a->next[v][k] >= 0)
                e->to[pos++] = a->next[v][k];
        for (size_t u = 0; u < n; u++) /* O(n^2) once; keeps the per-start search linear */
            if (a->target[u] == (int)v)
                e->to[pos++] = (int)u;
    }
    e->first[n] = pos;
    return 0;
}

/* 1 when start lies on a cycle: a depth-first search from its successors returns to it. */

/* ------------------------------------------------------------------ §5.1 validation */

/* Collected pydantic-style errors: optional field name + message. */
typedef struct diag {
    strvec fields; /* "" for model-level errors */
    strvec messages;
} diag;

static void diag_add(diag *d, const char *field, strvec *lines)
{
    if (lines->count == 0)
        return;
    sv_push(&d->fields, strdup(field));
    sv_push(&d->messages, sv_join(lines, "\n"));
}

static char *diag_render(diag *d)
{
    if (d->fields.oom || d->messages.oom)
        return strdup("Out of memory");
    strvec parts = {0};
    size_t n = d->messages.count;
    sv_pushf(&parts, "%zu validation error%s for GraphTemplate", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        if (*d->fields.items[i])
            sv_push(&parts, strdup(d->fields.items[i]));
        sv_pushf(&parts, "  Value error, %s [type=value_error]", d->messages.items[i]);
    }
    char *out = parts.oom ? strdup("Out of memory") : sv_join(&parts, "\n");
    sv_free(&parts);
    return out;
}

static void diag_free(diag *d)
{
    sv_free(&d->fields);
    sv_free(&d->messages);
}

/* Python repr of a node template as the root-rule message dumps it. */
static char *node_repr(const exo_node_tpl *n)
{
    char *name = exo_py_str_repr(n->node_name), *ns = exo_py_str_repr(n->namespace_name),
         *id = exo_py_str_repr(n->identifier), *inputs = exo_py_repr(n->inputs), *unites = NULL;
    json_object *next = string_array(n->next_nodes, n->next_count);
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
    char *tn = dup_trimmed(name ? name : ""), *tns = dup_trimmed(ns ? ns : "");
    if (tn && *tn == '\0')
        sv_pushf(&lines, "Name cannot be empty");
    diag_add(d, "name", &lines);
    sv_free(&lines);
    if (tns && *tns == '\0')
        sv_pushf(&lines, "Namespace cannot be empty");
    diag_add(d, "namespace", &lines);
    sv_free(&lines);
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
            sv_pushf(&lines, "Node identifier %s is not unique", g->nodes[i].identifier);
    free(dup);
    if (lines.oom)
        d->messages.oom = 1;
    if (lines.count == 0)
        for (size_t i = 0; i < g->node_count; i++)
            for (size_t k = 0; k < g->nodes[i].next_count; k++)
                if (exo_graph_find(g, g->nodes[i].next_nodes[k]) < 0)
                    sv_pushf(&lines, "Node identifier %s does not exist in the graph", g->nodes[i].next_nodes[k]);
    diag_add(d, "nodes", &lines);
    sv_free(&lines);
    return d->messages.count > 0 || d->messages.oom;
}

static void rule_unites_targets(const exo_graph *g, strvec *lines)
{
    for (size_t i = 0; i < g->node_count; i++) {
        const exo_node_tpl *n = &g->nodes[i];
        if (!n->unites)
            continue;
        if (exo_graph_find(g, n->unites) < 0)
            sv_pushf(lines, "Node %s has an unites target %s that does not exist", n->identifier, n->unites);
        if (strcmp(n->unites, n->identifier) == 0)
            sv_pushf(lines, "Node %s has an unites target %s that is the same as the node itself", n->identifier,
                     n->unites);
    }
}

static void rule_root(const exo_graph *g, const analysis *a, strvec *lines)
{
    if (a->root >= 0)
        return;
    strvec reprs = {0};
    for (size_t i = 0; i < a->zero_count; i++)
        sv_push(&reprs, node_repr(&g->nodes[a->zero[i]]));
    char *joined = sv_join(&reprs, ", ");
    sv_pushf(lines, "There should be exactly one root node in the graph but found %zu nodes with zero in-degree: [%s]",
             a->zero_count, joined ? joined : "");
    free(joined);
    sv_free(&reprs);
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
                sv_push(&waiting, exo_py_str_repr(g->nodes[u].identifier));
        if (waiting.count) {
            char *list = sv_join(&waiting, ", "), *key = exo_py_str_repr(g->nodes[t].identifier);
            sv_pushf(&groups, "%s: [%s]", key ? key : "", list ? list : "");
            free(list);
            free(key);
        }
        sv_free(&waiting);
    }
    if (groups.count) {
        char *joined = sv_join(&groups, ", ");
        sv_pushf(lines, "Error building dependency graph: Graph is disconnected at: {%s}", joined ? joined : "");
        free(joined);
    }
    sv_free(&groups);
}

static void rule_connected(const exo_graph *g, const analysis *a, strvec *lines)
{
    for (size_t i = 0; i < a->n; i++)
        if ((int)i != a->root && !a->reached[i])
            sv_pushf(lines, "Node %s is not connected to the root node", g->nodes[i].identifier);
}

/* Marks on_cycle[v] for every node on a cycle (a self-edge or a strongly connected
 * component of two or more nodes): iterative Tarjan, O(n + E). */
static int mark_cycles(const edges *e, size_t n, unsigned char *on_cycle)
{
    int *index = malloc((n + 1) * sizeof *index), *low = malloc((n + 1) * sizeof *low);
    int *stack = malloc((n + 1) * sizeof *stack), *call = malloc((n + 1) * sizeof *call);
    size_t *cursor = malloc((n + 1) * sizeof *cursor);
    unsigned char *on_stack = calloc(n + 1, 1);
    int ok = index && low && stack && call && cursor && on_stack;
    size_t top = 0, depth = 0;
    int next_index = 0;
    for (size_t v = 0; ok && v < n; v++)
        index[v] = -1;
    for (size_t root = 0; ok && root < n; root++) {
        if (index[root] >= 0)
            continue;
        call[depth++] = (int)root;
        index[root] = low[root] = next_index++;
        cursor[root] = e->first[root];
        stack[top++] = (int)root;
        on_stack[root] = 1;
        while (depth > 0) {
            size_t v = (size_t)call[depth - 1];
            if (cursor[v] < e->first[v + 1]) {
                size_t w = (size_t)e->to[cursor[v]++];
                if (w == v)
                    on_cycle[v] = 1;
                if (index[w] < 0) {
                    index[w] = low[w] = next_index++;
                    cursor[w] = e->first[w];
                    stack[top++] = (int)w;
                    on_stack[w] = 1;
                    call[depth++] = (int)w;
                } else if (on_stack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            depth--;
            if (depth > 0 && low[v] < low[call[depth - 1]])
                low[call[depth - 1]] = low[v];
            if (low[v] != index[v])
                continue;
            size_t size = 0, start = top;
            do {
                start--;
                size++;
            } while ((size_t)stack[start] != v);
            for (size_t k = start; k < top; k++) {
                on_stack[stack[k]] = 0;
                if (size > 1)
                    on_cycle[stack[k]] = 1;
            }
            top = start;
        }
    }
    free(index);
    free(low);
    free(stack);
    free(call);
    free(cursor);
    free(on_stack);
    return ok ? 0 : -1;
}

static void rule_acyclic(const exo_graph *g, const analysis *a, strvec *lines)
{
    edges e = {0};
    unsigned char *on_cycle = calloc(a->n + 1, 1);
    if (!on_cycle || edges_build(g, a, &e) != 0 || mark_cycles(&e, a->n, on_cycle) != 0) {
        lines->oom = 1;
    } else {
        for (size_t i = 0; i < a->n; i++)
            if (on_cycle[i])
                sv_pushf(lines, "Node %s is not acyclic", g->nodes[i].identifier);
    }
    free(on_cycle);
    free(e.first);
    free(e.to);
}

/* exo §0: the unites target must be a strict ancestor of every node listing the uniting node. */
static void rule_unites_ancestry(const exo_graph *g, const analysis *a, strvec *lines)
{
    for (size_t x = 0; x < a->n; x++)
        for (size_t k = 0; k < g->nodes[x].next_count; k++) {
            int u = a->next[x][k];
            if (u < 0 || a->target[u] < 0 || is_strict_ancestor(a, (int)x, a->target[u]))
                continue;
            sv_pushf(lines,
                     "Node %s has an unites target %s that is not an ancestor of node %s, which lists it in next_nodes",
                     g->nodes[u].identifier, g->nodes[u].unites, g->nodes[x].identifier);
        }
}

/* B4 for one input value of node i. */
static void check_input(const exo_graph *g, const analysis *a, size_t i, json_object *value, strvec *lines)
{
    const exo_node_tpl *n = &g->nodes[i];
    if (!json_object_is_type(value, json_type_string)) {
        char *repr = exo_py_repr(value);
        sv_pushf(lines, "Input %s is not a string", repr ? repr : "?");
        free(repr);
        return;
    }
    const char *text = json_object_get_string(value);
    exo_template t;
    char *err = NULL;
    if (exo_template_parse(text, &t, &err) != 0) {
        if (err)
            sv_pushf(lines, "Error creating dependent string for input %s check syntax string: %s", text, err);
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
            if (sv_contains(&seen_keys, p->field))
                continue;
            sv_push(&seen_keys, strdup(p->field));
            if (!is_required(g, p->field) && !has_default(g, p->field))
                sv_pushf(lines, "Input %s depends on %s but %s is not a required key or a default value", text,
                         p->field, p->field);
            continue;
        }
        if (sv_contains(&seen_ids, p->identifier))
            continue;
        sv_push(&seen_ids, strdup(p->identifier));
        int x = exo_graph_find(g, p->identifier);
        if (x < 0 || !is_strict_ancestor(a, (int)i, x))
            sv_pushf(lines, "Input %s depends on %s but %s is not a parent of %s", text, p->identifier, p->identifier,
                     n->identifier);
    }
    sv_free(&seen_ids);
    sv_free(&seen_keys);
    exo_template_free(&t);
}

static void rule_inputs(const exo_graph *g, const analysis *a, strvec *lines)
{
    for (size_t i = 0; i < g->node_count; i++) {
        if (!g->nodes[i].inputs)
            continue;
        json_object_object_foreach(g->nodes[i].inputs, key, value)
        {
            (void)key;
            check_input(g, a, i, value, lines);
        }
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
    sv_free(&lines);
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
                sv_pushf(&lines, "Secrets cannot be empty");
                break;
            }
        }
    }
    diag_add(d, "secrets", &lines);
    sv_free(&lines);
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
    } else if (analysis_run(g, &a) != 0) {
        result = strdup("Out of memory");
    } else if (validate_group_b(g, &a, &d) || validate_secrets(g, &d)) {
        result = diag_render(&d);
    } else if (store_analysis(g, &a) != 0) {
        result = strdup("Out of memory");
    }
    analysis_free(&a);
    diag_free(&d);
    return result;
}

/* ------------------------------------------------------------------ §5.2 verification */

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

static int registry_load(const exo_graph *g, exo_registered_lookup_fn lookup, void *ud, registry *r)
{
    r->node = calloc(g->node_count + 1, sizeof *r->node);
    if (!r->node)
        return -1;
    for (size_t i = 0; i < g->node_count; i++) {
        for (size_t j = 0; j < i; j++) /* same (name, namespace) as an earlier node: share it */
            if (strcmp(g->nodes[i].node_name, g->nodes[j].node_name) == 0 &&
                strcmp(g->nodes[i].namespace_name, g->nodes[j].namespace_name) == 0) {
                r->node[i] = r->node[j] ? json_object_get(r->node[j]) : NULL;
                goto next;
            }
        r->node[i] = lookup(ud, g->nodes[i].node_name, g->nodes[i].namespace_name);
    next:;
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

static void verify_existence(const exo_graph *g, const registry *r, strvec *errors)
{
    for (size_t i = 0; i < g->node_count; i++) {
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = !(strcmp(g->nodes[i].node_name, g->nodes[j].node_name) == 0 &&
                      strcmp(g->nodes[i].namespace_name, g->nodes[j].namespace_name) == 0);
        if (first && !r->node[i])
            sv_pushf(errors, "Node %s in namespace %s does not exist.", g->nodes[i].node_name,
                     g->nodes[i].namespace_name);
    }
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
            if (name && !sv_contains(&needed, name))
                sv_push(&needed, strdup(name));
        }
    }
    for (size_t k = 0; k < needed.count; k++)
        if (!g->secrets || !json_object_object_get_ex(g->secrets, needed.items[k], NULL))
            sv_pushf(errors, "Secret %s is required but not present in the graph template", needed.items[k]);
    if (needed.oom)
        errors->oom = 1;
    sv_free(&needed);
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
        if (sv_contains(&seen, pair)) {
            free(pair);
            continue;
        }
        sv_push(&seen, pair);
        int x = exo_graph_find(g, p->identifier);
        if (x < 0) {
            sv_pushf(errors, "Node %s does not exist in the graph template", p->identifier);
            continue;
        }
        const exo_node_tpl *xn = &g->nodes[x];
        if (!r->node[x]) {
            sv_pushf(errors, "Node %s in namespace %s does not exist", xn->node_name, xn->namespace_name);
            continue;
        }
        json_object *props = schema_properties(r->node[x], "outputs_schema", unexpected), *prop = NULL;
        if (*unexpected)
            break;
        if (!props || !json_object_object_get_ex(props, p->field, &prop)) {
            sv_pushf(errors, "Field %s in node %s in namespace %s does not exist", p->field, xn->node_name,
                     xn->namespace_name);
            continue;
        }
        int is_string = exo_schema_is_string(prop, unexpected);
        if (is_string < 0)
            break;
        if (!is_string)
            sv_pushf(errors, "Field %s in node %s in namespace %s is not a string", p->field, xn->node_name,
                     xn->namespace_name);
    }
    sv_free(&seen);
    exo_template_free(&t);
    return *unexpected ? -1 : 0;
}

static int verify_inputs(const exo_graph *g, const registry *r, strvec *errors, const char **unexpected)
{
    for (size_t i = 0; i < g->node_count; i++) {
        const exo_node_tpl *n = &g->nodes[i];
        if (!r->node[i]) {
            sv_pushf(errors, "Node %s in namespace %s does not exist", n->node_name, n->namespace_name);
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
                    sv_pushf(errors, "Input %s in node %s in namespace %s is not a string", prop_name, n->node_name,
                             n->namespace_name);
                else if (!n->inputs || !json_object_object_get_ex(n->inputs, prop_name, NULL))
                    sv_pushf(errors, "Input %s in node %s in namespace %s is not present in the graph template",
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
            if (!has_default(g, g->required_keys[i]))
                sv_pushf(errors,
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
        sv_free(&errors);
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
    sv_free(&errors);
    return out;
}
