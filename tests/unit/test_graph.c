/* Unit tests for the graph layer (state-manager/graph/, graph.h): parsing (422 rules), serialisation,
 * §5.1 validation with exo's §0 rules, ancestor sets and §5.2 verification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* ---- helpers ---- */

static json_object *parse_json(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o)
        fail_msg("bad test JSON: %s", text);
    return o;
}

/* Body with the given nodes array text plus optional extra top-level members. */
static char *body_text(const char *nodes, const char *extra)
{
    char *s = NULL;
    assert_true(asprintf(&s, "{\"secrets\":{},\"nodes\":%s%s%s}", nodes, extra ? "," : "", extra ? extra : "") > 0);
    return s;
}

static exo_graph *load(const char *nodes, const char *extra)
{
    char *text = body_text(nodes, extra);
    json_object *body = parse_json(text);
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(body, &rc);
    if (!g)
        fail_msg("unexpected 422: %s", json_object_to_json_string(rc.errors));
    exo_reqcheck_free(&rc);
    json_object_put(body);
    free(text);
    return g;
}

/* Node JSON: N(id, next_nodes array text, inputs object text). */
#define N(id, next, inputs) \
    "{\"node_name\":\"n_" id "\",\"namespace\":\"ns\",\"identifier\":\"" id "\",\"inputs\":" inputs ",\"next_nodes\":" next "}"
/* Uniting node. */
#define U(id, next, inputs, target)                                                                          \
    "{\"node_name\":\"n_" id "\",\"namespace\":\"ns\",\"identifier\":\"" id "\",\"inputs\":" inputs ",\"next_nodes\":" next \
    ",\"unites\":{\"identifier\":\"" target "\"}}"

static void expect_valid(const char *nodes, const char *extra)
{
    exo_graph *g = load(nodes, extra);
    char *diag = exo_graph_validate(g, "g", "ns");
    if (diag)
        fail_msg("expected valid, got: %s", diag);
    exo_graph_free(g);
}

/* Expects a 400 diagnostic containing every given message (NULL-terminated list). */
static void expect_invalid(const char *nodes, const char *extra, ...)
{
    exo_graph *g = load(nodes, extra);
    char *diag = exo_graph_validate(g, "g", "ns");
    if (!diag)
        fail_msg("expected invalid graph: %s", nodes);
    assert_non_null(strstr(diag, "for GraphTemplate"));
    va_list ap;
    va_start(ap, extra);
    for (const char *m = va_arg(ap, const char *); m; m = va_arg(ap, const char *))
        if (!strstr(diag, m))
            fail_msg("diagnostic lacks \"%s\":\n%s", m, diag);
    va_end(ap);
    free(diag);
    exo_graph_free(g);
}

static void expect_not_in_diag(const char *nodes, const char *extra, const char *absent)
{
    exo_graph *g = load(nodes, extra);
    char *diag = exo_graph_validate(g, "g", "ns");
    assert_non_null(diag);
    if (strstr(diag, absent))
        fail_msg("diagnostic should not contain \"%s\":\n%s", absent, diag);
    free(diag);
    exo_graph_free(g);
}

/* Runs the 422 parser and returns the errors array as compact text (caller frees). */
static char *errors_for(const char *body)
{
    json_object *b = parse_json(body);
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(b, &rc);
    assert_null(g);
    assert_true(exo_reqcheck_failed(&rc));
    char *out = strdup(json_object_to_json_string_ext(rc.errors, JSON_C_TO_STRING_PLAIN));
    exo_reqcheck_free(&rc);
    json_object_put(b);
    return out;
}

static void expect_422(const char *body, const char *fragment)
{
    char *errors = errors_for(body);
    if (!strstr(errors, fragment))
        fail_msg("422 errors lack %s:\n%s", fragment, errors);
    free(errors);
}

/* ---- parsing and serialisation ---- */

static void test_parse_normalises_and_serialises(void **state)
{
    (void)state;
    json_object *body = parse_json(
        "{\"secrets\":{\"api_key\":\"plain\"},\"nodes\":["
        "{\"node_name\":\" Splitter \",\"namespace\":\"ns1\",\"identifier\":\" split \",\"inputs\":{\"cursor\":\"${{ store.cursor }}\"},\"next_nodes\":[\" proc \"],\"extra\":1},"
        "{\"node_name\":\"Processor\",\"namespace\":\"ns1\",\"identifier\":\"proc\",\"inputs\":{},\"next_nodes\":null},"
        "{\"node_name\":\"Merger\",\"namespace\":\"ns1\",\"identifier\":\"merge\",\"inputs\":{},\"unites\":{\"identifier\":\" split \"}}],"
        "\"retry_policy\":{\"max_retries\":2,\"strategy\":\"LINEAR\",\"backoff_factor\":1000},"
        "\"store_config\":{\"required_keys\":[\" cursor \"],\"default_values\":{\" batch \":\"100\"}},"
        "\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"0 * * * *\",\"keep\":true}}]}");
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(body, &rc);
    assert_non_null(g);
    assert_int_equal(g->node_count, 3);
    assert_string_equal(g->nodes[0].identifier, "split");
    assert_string_equal(g->nodes[0].node_name, "Splitter");
    assert_string_equal(g->nodes[0].next_nodes[0], "proc");
    assert_string_equal(g->nodes[2].unites, "split");
    assert_int_equal(g->nodes[2].unites_strategy, EXO_UNITES_ALL_SUCCESS);
    json_object *out = exo_graph_to_json(g, 0);
    const char *expected =
        "{\"nodes\":[{\"node_name\":\"Splitter\",\"namespace\":\"ns1\",\"identifier\":\"split\",\"inputs\":{\"cursor\":\"${{ store.cursor }}\"},\"next_nodes\":[\"proc\"],\"unites\":null},"
        "{\"node_name\":\"Processor\",\"namespace\":\"ns1\",\"identifier\":\"proc\",\"inputs\":{},\"next_nodes\":[],\"unites\":null},"
        "{\"node_name\":\"Merger\",\"namespace\":\"ns1\",\"identifier\":\"merge\",\"inputs\":{},\"next_nodes\":[],\"unites\":{\"identifier\":\"split\",\"strategy\":\"ALL_SUCCESS\"}}],"
        "\"secrets\":{\"api_key\":true},"
        "\"retry_policy\":{\"max_retries\":2,\"strategy\":\"LINEAR\",\"backoff_factor\":1000,\"exponent\":2,\"max_delay\":null},"
        "\"store_config\":{\"required_keys\":[\"cursor\"],\"default_values\":{\"batch\":\"100\"}},"
        "\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"0 * * * *\",\"keep\":true}}]}";
    assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN), expected);
    json_object_put(out);

    /* full form keeps secret values and loads back to the same template */
    json_object *full = exo_graph_to_json(g, 1);
    char *err = NULL;
    exo_graph *back = exo_graph_from_stored(full, &err);
    assert_non_null(back);
    json_object *again = exo_graph_to_json(back, 1);
    assert_string_equal(json_object_to_json_string_ext(again, JSON_C_TO_STRING_PLAIN),
                        json_object_to_json_string_ext(full, JSON_C_TO_STRING_PLAIN));
    assert_non_null(strstr(json_object_to_json_string(full), "\"plain\""));
    json_object_put(again);
    json_object_put(full);
    exo_graph_free(back);
    exo_graph_free(g);
    json_object_put(body);
    exo_reqcheck_free(&rc);

    json_object *bad = parse_json("{\"nodes\":3}");
    assert_null(exo_graph_from_stored(bad, &err));
    assert_non_null(err);
    free(err);
    json_object_put(bad);
}

static void test_defaults_when_optional_sections_absent(void **state)
{
    (void)state;
    exo_graph *g = load("[" N("a", "[]", "{}") "]", NULL);
    json_object *out = exo_graph_to_json(g, 0);
    assert_non_null(strstr(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
                           "\"retry_policy\":{\"max_retries\":3,\"strategy\":\"EXPONENTIAL\",\"backoff_factor\":2000,\"exponent\":2,\"max_delay\":null},"
                           "\"store_config\":{\"required_keys\":[],\"default_values\":{}},\"triggers\":[]"));
    json_object_put(out);
    exo_graph_free(g);
}

static void test_field_rules_422(void **state)
{
    (void)state;
    expect_422("{\"nodes\":[]}", "{\"type\":\"missing\",\"loc\":[\"body\",\"secrets\"]");
    expect_422("{\"secrets\":{}}", "\"loc\":[\"body\",\"nodes\"],\"msg\":\"Field required\"");
    expect_422("{\"secrets\":{\"a\":1},\"nodes\":[]}", "{\"type\":\"string_type\",\"loc\":[\"body\",\"secrets\",\"a\"]");
    expect_422("{\"secrets\":{},\"nodes\":[5]}", "{\"type\":\"model_type\",\"loc\":[\"body\",\"nodes\",0]");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\" \",\"namespace\":\"n\",\"identifier\":\"a\",\"inputs\":{}}]}",
               "\"loc\":[\"body\",\"nodes\",0,\"node_name\"],\"msg\":\"Value error, Node name cannot be empty\"");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"\",\"inputs\":{}}]}",
               "\"loc\":[\"body\",\"nodes\",0,\"identifier\"],\"msg\":\"Value error, Node identifier cannot be empty\"");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\" store \",\"inputs\":{}}]}",
               "Value error, Node identifier cannot be reserved word 'store'");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"a\"}]}",
               "{\"type\":\"missing\",\"loc\":[\"body\",\"nodes\",0,\"inputs\"]");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"identifier\":\"a\",\"inputs\":[]}]}",
               "{\"type\":\"dict_type\",\"loc\":[\"body\",\"nodes\",0,\"inputs\"]");
    char *errors = errors_for("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"identifier\":\"a\",\"inputs\":[]}]}");
    assert_non_null(strstr(errors, "\"loc\":[\"body\",\"nodes\",0,\"namespace\"]")); /* all problems reported */
    free(errors);
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"a\",\"inputs\":{},\"next_nodes\":[\"b\",\" \",\" b\"]}]}",
               "\"loc\":[\"body\",\"nodes\",0,\"next_nodes\"],\"msg\":\"Value error, Next node identifier cannot be empty\\nNext node identifier b is not unique\"");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"a\",\"inputs\":{},\"next_nodes\":[1]}]}",
               "{\"type\":\"string_type\",\"loc\":[\"body\",\"nodes\",0,\"next_nodes\",0]");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"a\",\"inputs\":{},\"unites\":{\"identifier\":\"  \"}}]}",
               "\"loc\":[\"body\",\"nodes\",0,\"unites\"],\"msg\":\"Value error, Unites identifier cannot be empty\"");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"a\",\"inputs\":{},\"unites\":{\"identifier\":\"b\",\"strategy\":\"ANY\"}}]}",
               "{\"type\":\"enum\",\"loc\":[\"body\",\"nodes\",0,\"unites\",\"strategy\"],\"msg\":\"Input should be 'ALL_SUCCESS' or 'ALL_DONE'\"");
    expect_422("{\"secrets\":{},\"nodes\":[],\"store_config\":{\"required_keys\":[\" \",\"a.b\",\"k\",\" k \"]}}",
               "\"loc\":[\"body\",\"store_config\",\"required_keys\"],\"msg\":\"Value error, Key cannot be empty or contain only whitespace\\n"
               "Key 'a.b' cannot contain '.' character\\nKey 'k' is duplicated\"");
    expect_422("{\"secrets\":{},\"nodes\":[],\"store_config\":{\"default_values\":{\"k\":\"v\",\" k\":\"w\"}}}",
               "\"loc\":[\"body\",\"store_config\",\"default_values\"],\"msg\":\"Value error, Key 'k' is duplicated\"");
    expect_422("{\"secrets\":{},\"nodes\":[],\"store_config\":{\"default_values\":{\"k\":1}}}",
               "{\"type\":\"string_type\",\"loc\":[\"body\",\"store_config\",\"default_values\",\"k\"]");
    expect_422("{\"secrets\":{},\"nodes\":[],\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"61 * * * *\"}}]}",
               "\"loc\":[\"body\",\"triggers\",0,\"value\"],\"msg\":\"Value error, Invalid cron expression\"");
    expect_422("{\"secrets\":{},\"nodes\":[],\"triggers\":[{\"type\":\"CRON\",\"value\":{}}]}", "Invalid cron expression");
    expect_422("{\"secrets\":{},\"nodes\":[],\"triggers\":[{\"type\":\"WEBHOOK\",\"value\":{\"expression\":\"* * * * *\"}}]}",
               "{\"type\":\"enum\",\"loc\":[\"body\",\"triggers\",0,\"type\"],\"msg\":\"Input should be 'CRON'\"");
    expect_422("{\"secrets\":{},\"nodes\":[],\"triggers\":[{\"type\":\"CRON\"}]}",
               "{\"type\":\"missing\",\"loc\":[\"body\",\"triggers\",0,\"value\"]");
    expect_422("{\"secrets\":{},\"nodes\":[],\"retry_policy\":{\"max_retries\":-1}}",
               "{\"type\":\"greater_than_equal\",\"loc\":[\"body\",\"retry_policy\",\"max_retries\"]");
    /* retry.c reports these through the layer's shared pydantic error helpers */
    expect_422("{\"secrets\":{},\"nodes\":[],\"retry_policy\":5}",
               "{\"type\":\"model_type\",\"loc\":[\"body\",\"retry_policy\"],\"msg\":\"Input should be a valid dictionary or "
               "instance of RetryPolicyModel\",\"input\":5,\"ctx\":{\"class_name\":\"RetryPolicyModel\"}}");
    expect_422("{\"secrets\":{},\"nodes\":[],\"retry_policy\":{\"strategy\":\"SOMETIMES\"}}",
               "{\"type\":\"enum\",\"loc\":[\"body\",\"retry_policy\",\"strategy\"],\"msg\":\"Input should be 'EXPONENTIAL', "
               "'EXPONENTIAL_FULL_JITTER', 'EXPONENTIAL_EQUAL_JITTER', 'LINEAR', 'LINEAR_FULL_JITTER', 'LINEAR_EQUAL_JITTER', "
               "'FIXED', 'FIXED_FULL_JITTER' or 'FIXED_EQUAL_JITTER'\",\"input\":\"SOMETIMES\",\"ctx\":{\"expected\":\"'EXPONENTIAL', "
               "'EXPONENTIAL_FULL_JITTER', 'EXPONENTIAL_EQUAL_JITTER', 'LINEAR', 'LINEAR_FULL_JITTER', 'LINEAR_EQUAL_JITTER', "
               "'FIXED', 'FIXED_FULL_JITTER' or 'FIXED_EQUAL_JITTER'\"}}");
    expect_422("[]", "\"loc\":[\"body\"]");
    expect_422("{\"secrets\":{\"k\":\"a\\u0000b\"},\"nodes\":[]}", "\"loc\":[\"body\",\"secrets\",\"k\"]");
    expect_422("{\"secrets\":{},\"nodes\":[{\"node_name\":\"x\",\"namespace\":\"n\",\"identifier\":\"a\",\"inputs\":{\"i\":\"a\\u0000${{ x.outputs.y }}\"}}]}", /* a template with NUL; literals keep it */
               "\"loc\":[\"body\",\"nodes\",0,\"inputs\",\"i\"]");
    expect_422("{\"secrets\":{},\"nodes\":[],\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"R * * * *\"}}]}",
               "Value error, Invalid cron expression: croniter's random 'R' fields are not supported");
}

/* ---- §5.1 group A ---- */

static void test_group_a(void **state)
{
    (void)state;
    expect_invalid("[" N("a", "[\"b\"]", "{}") "," N("b", "[]", "{}") "," N("a", "[]", "{}") "]", NULL,
                   "Node identifier a is not unique", NULL);
    /* A4 is only evaluated when A3 passes */
    expect_not_in_diag("[" N("a", "[\"zz\"]", "{}") "," N("a", "[]", "{}") "]", NULL, "does not exist in the graph");
    expect_invalid("[" N("a", "[\"zz\"]", "{}") "]", NULL, "Node identifier zz does not exist in the graph", NULL);
    exo_graph *g = load("[" N("a", "[]", "{}") "]", NULL);
    char *diag = exo_graph_validate(g, "  ", "");
    assert_non_null(diag);
    assert_non_null(strstr(diag, "2 validation errors for GraphTemplate"));
    assert_non_null(strstr(diag, "Name cannot be empty"));
    assert_non_null(strstr(diag, "Namespace cannot be empty"));
    free(diag);
    exo_graph_free(g);
}

static void test_secrets_names(void **state)
{
    (void)state;
    char *text = NULL;
    assert_true(asprintf(&text, "{\"secrets\":{\"\":\"v\"},\"nodes\":[" N("a", "[]", "{}") "]}") > 0);
    json_object *body = parse_json(text);
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(body, &rc);
    char *diag = exo_graph_validate(g, "g", "ns");
    assert_non_null(diag);
    assert_non_null(strstr(diag, "Secrets cannot be empty"));
    free(diag);
    exo_graph_free(g);
    json_object_put(body);
    free(text);
    /* empty secret values are fine (plain text) */
    assert_true(asprintf(&text, "{\"secrets\":{\"k\":\"\"},\"nodes\":[" N("a", "[]", "{}") "]}") > 0);
    body = parse_json(text);
    g = exo_graph_from_body(body, &rc);
    diag = exo_graph_validate(g, "g", "ns");
    assert_null(diag);
    exo_graph_free(g);
    json_object_put(body);
    free(text);
    exo_reqcheck_free(&rc);
}

/* On update (reference behaviour), A5 joins group A and stops group B. */
static void test_secrets_rule_order_on_update(void **state)
{
    (void)state;
    char *text = NULL;
    assert_true(asprintf(&text, "{\"secrets\":{\"\":\"v\"},\"nodes\":[" N("a", "[\"b\"]", "{}") "," U("b", "[]", "{}", "zz") "]}") > 0);
    json_object *body = parse_json(text);
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(body, &rc);
    assert_non_null(g);
    char *create = exo_graph_validate_ex(g, "g", "ns", 0);
    char *update = exo_graph_validate_ex(g, "g", "ns", 1);
    assert_non_null(strstr(create, "unites target zz that does not exist"));
    assert_null(strstr(create, "Secrets cannot be empty"));
    assert_non_null(strstr(update, "Secrets cannot be empty"));
    assert_null(strstr(update, "unites target zz"));
    free(create);
    free(update);
    exo_graph_free(g);
    json_object_put(body);
    free(text);
    exo_reqcheck_free(&rc);
}

/* ---- §5.1 group B ---- */

static void test_unites_targets(void **state)
{
    (void)state;
    expect_invalid("[" N("r", "[\"u\"]", "{}") "," U("u", "[]", "{}", "nope") "]", NULL,
                   "Node u has an unites target nope that does not exist", NULL);
    expect_invalid("[" N("r", "[\"u\"]", "{}") "," U("u", "[]", "{}", "u") "]", NULL,
                   "Node u has an unites target u that is the same as the node itself", NULL);
}

static void test_root_rule(void **state)
{
    (void)state;
    expect_invalid("[" N("a", "[]", "{}") "," N("b", "[]", "{\"x\":\"1\"}") "]", NULL,
                   "There should be exactly one root node in the graph but found 2 nodes with zero in-degree: "
                   "[NodeTemplate(node_name='n_a', namespace='ns', identifier='a', inputs={}, next_nodes=[], unites=None), "
                   "NodeTemplate(node_name='n_b', namespace='ns', identifier='b', inputs={'x': '1'}, next_nodes=[], unites=None)]",
                   NULL);
    expect_invalid("[]", NULL, "found 0 nodes with zero in-degree: []", NULL);
    /* pure cycle and self-loop root: no root */
    expect_invalid("[" N("a", "[\"b\"]", "{}") "," N("b", "[\"a\"]", "{}") "]", NULL, "found 0 nodes", NULL);
    expect_invalid("[" N("a", "[\"a\"]", "{}") "]", NULL, "found 0 nodes", NULL);
    /* a node with unites is never a root */
    expect_invalid("[" U("u", "[]", "{}", "r") "," N("r", "[]", "{}") "," N("s", "[]", "{}") "]", NULL,
                   "found 2 nodes", NULL);
}

static void test_connectivity(void **state)
{
    (void)state;
    expect_invalid("[" N("r", "[]", "{}") "," N("a", "[\"b\"]", "{}") "," N("b", "[\"a\"]", "{}") "]", NULL,
                   "Node a is not connected to the root node\nNode b is not connected to the root node", NULL);
    /* a uniting node nobody lists is not connected */
    expect_invalid("[" N("r", "[\"a\"]", "{}") "," N("a", "[]", "{}") "," U("u", "[]", "{}", "r") "]", NULL,
                   "Node u is not connected to the root node", NULL);
    /* a listed uniting node whose target is unreachable */
    expect_invalid("[" N("r", "[\"x\"]", "{}") "," N("x", "[\"u\"]", "{}") "," U("u", "[]", "{}", "t") ","
                   N("t", "[\"s\"]", "{}") "," N("s", "[\"t\"]", "{}") "]",
                   NULL, "Error building dependency graph: Graph is disconnected at: {'t': ['u']}", NULL);
}

static void test_cycles(void **state)
{
    (void)state;
    expect_invalid("[" N("r", "[\"a\"]", "{}") "," N("a", "[\"b\"]", "{}") "," N("b", "[\"a\"]", "{}") "]", NULL,
                   "Node a is not acyclic\nNode b is not acyclic", NULL);
    expect_not_in_diag("[" N("r", "[\"a\"]", "{}") "," N("a", "[\"b\"]", "{}") "," N("b", "[\"a\"]", "{}") "]", NULL,
                       "Node r is not acyclic");
    /* self-loop on a non-root node */
    expect_invalid("[" N("r", "[\"a\"]", "{}") "," N("a", "[\"a\"]", "{}") "]", NULL, "Node a is not acyclic", NULL);
}

static void test_unites_target_must_be_strict_ancestor(void **state)
{
    (void)state;
    /* quirk 16: A -> B with B unites A is rejected in exo */
    expect_invalid("[" N("a", "[\"b\"]", "{}") "," U("b", "[]", "{}", "a") "]", NULL,
                   "Node b has an unites target a that is not an ancestor of node a", NULL);
    /* target on a parallel branch only */
    expect_invalid("[" N("r", "[\"t\",\"x\"]", "{}") "," N("t", "[]", "{}") "," N("x", "[\"u\"]", "{}") ","
                   U("u", "[]", "{}", "t") "]",
                   NULL, "Node u has an unites target t that is not an ancestor of node x", NULL);
    /* canonical shape T -> F -> X -> U unites T */
    expect_valid("[" N("t", "[\"f\"]", "{}") "," N("f", "[\"x\"]", "{}") "," N("x", "[\"u\"]", "{}") ","
                 U("u", "[]", "{}", "t") "]",
                 NULL);
    /* uniting on the fanning node itself */
    expect_valid("[" N("t", "[\"f\"]", "{}") "," N("f", "[\"x\"]", "{}") "," N("x", "[\"u\"]", "{}") ","
                 U("u", "[]", "{}", "f") "]",
                 NULL);
}

static void test_input_dependencies(void **state)
{
    (void)state;
    const char *cfg = "\"store_config\":{\"required_keys\":[\"req\"],\"default_values\":{\"def\":\"1\"}}";
    expect_valid("[" N("r", "[\"a\"]", "{\"x\":\"${{ store.req }}-${{store.def}}\"}") ","
                 N("a", "[]", "{\"y\":\"${{ r.outputs.v }}\",\"z\":\"plain\"}") "]",
                 cfg);
    expect_invalid("[" N("r", "[\"a\"]", "{\"x\":123,\"l\":[\"a\"],\"b\":true,\"n\":null,\"d\":{\"k\":1}}") ","
                   N("a", "[]", "{}") "]",
                   cfg, "Input 123 is not a string", "Input ['a'] is not a string", "Input True is not a string",
                   "Input None is not a string", "Input {'k': 1} is not a string", NULL);
    expect_invalid("[" N("r", "[\"a\"]", "{}") "," N("a", "[]", "{\"y\":\"${{ r.outputs.v \"}") "]", cfg,
                   "Error creating dependent string for input ${{ r.outputs.v  check syntax string: Invalid syntax string "
                   "placeholder  r.outputs.v  for: ${{ r.outputs.v  '${' not closed",
                   NULL);
    expect_invalid("[" N("r", "[\"a\"]", "{\"x\":\"${{ a.outputs.v }}\"}") "," N("a", "[]", "{}") "]", cfg,
                   "Input ${{ a.outputs.v }} depends on a but a is not a parent of r", NULL);
    expect_invalid("[" N("r", "[\"a\"]", "{}") "," N("a", "[]", "{\"y\":\"${{ ghost.outputs.v }}\"}") "]", cfg,
                   "Input ${{ ghost.outputs.v }} depends on ghost but ghost is not a parent of a", NULL);
    expect_invalid("[" N("r", "[]", "{\"x\":\"${{ store.nope }}\"}") "]", cfg,
                   "Input ${{ store.nope }} depends on nope but nope is not a required key or a default value", NULL);
    /* every failing line of every node is reported */
    expect_invalid("[" N("r", "[\"a\"]", "{\"x\":\"${{ store.k1 }}\"}") "," N("a", "[]", "{\"y\":\"${{ store.k2 }}\"}") "]",
                   NULL, "depends on k1 but k1", "depends on k2 but k2", NULL);
}

/* Quirk 9 fixed: ancestors do not depend on next_nodes order. */
static void test_ancestors_order_independent(void **state)
{
    (void)state;
    const char *orders[] = {"[\"a\",\"b\"]", "[\"b\",\"a\"]"};
    for (int i = 0; i < 2; i++) {
        char nodes[1024];
        snprintf(nodes, sizeof nodes,
                 "[{\"node_name\":\"n\",\"namespace\":\"ns\",\"identifier\":\"r\",\"inputs\":{},\"next_nodes\":%s},"
                 N("a", "[\"j\"]", "{}") "," N("b", "[\"j\"]", "{}") "," N("j", "[\"k\"]", "{}") ","
                 N("k", "[]", "{\"v\":\"${{ j.outputs.o }}${{ r.outputs.o }}\"}") "]",
                 orders[i]);
        expect_valid(nodes, NULL);
        snprintf(nodes, sizeof nodes,
                 "[{\"node_name\":\"n\",\"namespace\":\"ns\",\"identifier\":\"r\",\"inputs\":{},\"next_nodes\":%s},"
                 N("a", "[\"j\"]", "{}") "," N("b", "[\"j\"]", "{}") "," N("j", "[\"k\"]", "{}") ","
                 N("k", "[]", "{\"v\":\"${{ a.outputs.o }}\"}") "]",
                 orders[i]);
        expect_invalid(nodes, NULL, "depends on a but a is not a parent of k", NULL);
    }
}

static void test_unite_ancestors(void **state)
{
    (void)state;
    /* U may reference T and T's ancestors, not the branch nodes; U's successors may reference U. */
    expect_valid("[" N("r", "[\"t\"]", "{}") "," N("t", "[\"x\"]", "{}") "," N("x", "[\"u\"]", "{}") ","
                 U("u", "[\"v\"]", "{\"a\":\"${{ t.outputs.o }}${{ r.outputs.o }}\"}", "t") ","
                 N("v", "[]", "{\"b\":\"${{ u.outputs.o }}${{ t.outputs.o }}\"}") "]",
                 NULL);
    expect_invalid("[" N("r", "[\"t\"]", "{}") "," N("t", "[\"x\"]", "{}") "," N("x", "[\"u\"]", "{}") ","
                   U("u", "[\"v\"]", "{\"a\":\"${{ x.outputs.o }}\"}", "t") "," N("v", "[]", "{\"b\":\"${{ x.outputs.o }}\"}") "]",
                   NULL, "depends on x but x is not a parent of u", "depends on x but x is not a parent of v", NULL);
}

static void test_ancestor_api(void **state)
{
    (void)state;
    exo_graph *g = load("[" N("t", "[\"f\"]", "{}") "," N("f", "[\"x\",\"y\"]", "{}") "," N("x", "[\"u\"]", "{}") ","
                        N("y", "[\"u\"]", "{}") "," U("u", "[\"v\"]", "{}", "t") "," N("v", "[]", "{}") "]",
                        NULL);
    assert_int_equal(exo_graph_root(g), -1);
    char *diag = exo_graph_validate(g, "g", "ns");
    assert_null(diag);
    assert_int_equal(exo_graph_root(g), 0);
    int u = exo_graph_find(g, "u"), v = exo_graph_find(g, "v"), x = exo_graph_find(g, "x");
    assert_int_equal(u, 4);
    assert_int_equal(exo_graph_find(g, "missing"), -1);
    json_object *anc = exo_graph_ancestors_json(g, u);
    assert_string_equal(json_object_to_json_string_ext(anc, JSON_C_TO_STRING_PLAIN), "[\"t\"]");
    json_object_put(anc);
    anc = exo_graph_ancestors_json(g, v);
    assert_string_equal(json_object_to_json_string_ext(anc, JSON_C_TO_STRING_PLAIN), "[\"t\",\"u\"]");
    json_object_put(anc);
    anc = exo_graph_ancestors_json(g, x);
    assert_string_equal(json_object_to_json_string_ext(anc, JSON_C_TO_STRING_PLAIN), "[\"t\",\"f\"]");
    json_object_put(anc);
    assert_true(exo_graph_is_ancestor(g, x, 0));
    assert_false(exo_graph_is_ancestor(g, 0, 0));
    assert_false(exo_graph_is_ancestor(g, u, x));
    assert_false(exo_graph_is_ancestor(g, 99, 0));
    exo_graph_free(g);

    /* exo_graph_analyze on a stored (already validated) graph gives the same answers */
    g = load("[" N("a", "[\"b\"]", "{}") "," N("b", "[]", "{}") "]", NULL);
    assert_int_equal(exo_graph_analyze(g), 0);
    assert_int_equal(exo_graph_root(g), 0);
    assert_true(exo_graph_is_ancestor(g, 1, 0));
    exo_graph_free(g);
    g = load("[" N("a", "[]", "{}") "," N("b", "[]", "{}") "]", NULL);
    assert_int_equal(exo_graph_analyze(g), -1);
    exo_graph_free(g);
}

static void test_store_and_cron_helpers(void **state)
{
    (void)state;
    exo_graph *g = load("[" N("a", "[]", "{}") "]",
                        "\"store_config\":{\"required_keys\":[\"r1\",\"both\"],\"default_values\":{\"both\":\"x\",\"d\":\"y\"}},"
                        "\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"0 * * * *\"}},"
                        "{\"type\":\"CRON\",\"value\":{\"expression\":\"@daily\"}},"
                        "{\"type\":\"CRON\",\"value\":{\"expression\":\"0 * * * *\"}}]");
    assert_true(exo_graph_store_key_mandatory(g, "r1"));
    assert_false(exo_graph_store_key_mandatory(g, "both"));
    assert_false(exo_graph_store_key_mandatory(g, "d"));
    assert_false(exo_graph_store_key_mandatory(g, "other"));
    json_object *crons = exo_graph_cron_expressions(g);
    assert_string_equal(json_object_to_json_string_ext(crons, JSON_C_TO_STRING_PLAIN), "[\"0 * * * *\",\"@daily\"]");
    json_object_put(crons);
    exo_graph_free(g);
}

/* ---- §5.2 verification ---- */

static json_object *registry_lookup(void *ud, const char *name, const char *ns)
{
    json_object *reg = ud, *node = NULL;
    char key[256];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    if (!json_object_object_get_ex(reg, key, &node))
        return NULL;
    return json_object_get(node);
}

static char *verify(const char *nodes, const char *extra, const char *registry_text)
{
    exo_graph *g = load(nodes, extra);
    char *diag = exo_graph_validate(g, "g", "ns");
    if (diag)
        fail_msg("graph should pass §5.1: %s", diag);
    json_object *reg = parse_json(registry_text);
    json_object *errors = exo_graph_verify(g, registry_lookup, reg);
    assert_non_null(errors);
    char *out = strdup(json_object_to_json_string_ext(errors, JSON_C_TO_STRING_PLAIN));
    json_object_put(errors);
    json_object_put(reg);
    exo_graph_free(g);
    return out;
}

static void expect_verify(const char *nodes, const char *extra, const char *registry_text, const char *expected)
{
    char *got = verify(nodes, extra, registry_text);
    if (strcmp(got, expected) != 0)
        fail_msg("verify:\n got      %s\n expected %s", got, expected);
    free(got);
}

#define REG(name, in, out, secrets) \
    "\"ns/n_" name "\":{\"inputs_schema\":" in ",\"outputs_schema\":" out ",\"secrets\":" secrets "}"
#define STR "{\"type\":\"string\"}"

static void test_verify_valid(void **state)
{
    (void)state;
    expect_verify("[" N("a", "[\"b\"]", "{\"x\":\"${{ store.k }}\",\"extra\":\"e\"}") ","
                  N("b", "[]", "{\"y\":\"pre-${{ a.outputs.o }}\"}") "]",
                  "\"secrets\":{\"s\":\"v\"},\"store_config\":{\"default_values\":{\"k\":\"1\"}}",
                  "{" REG("a", "{\"properties\":{\"x\":" STR "}}", "{\"properties\":{\"o\":" STR "}}", "[\"s\"]") ","
                  REG("b", "{\"properties\":{\"y\":{\"type\":\"string\",\"format\":\"email\"}}}", "{}", "[]") "}",
                  "[]");
}

static void test_verify_errors_in_order(void **state)
{
    (void)state;
    expect_verify(
        "[" N("a", "[\"b\",\"c\"]", "{\"x\":\"1\"}") "," N("b", "[]", "{\"y\":\"${{ a.outputs.o }}${{ a.outputs.num }}${{ a.outputs.gone }}\"}") ","
        N("c", "[]", "{}") "]",
        NULL,
        "{" REG("a", "{\"properties\":{\"x\":" STR ",\"n\":{\"type\":\"integer\"},\"miss\":" STR "},\"required\":[\"miss\"]}",
                "{\"properties\":{\"o\":" STR ",\"num\":{\"type\":\"number\"}}}", "[\"s1\",\"s2\"]") ","
        REG("b", "{}", "{}", "[\"s1\"]") "}",
        "[\"Node n_c in namespace ns does not exist.\","
        "\"Secret s1 is required but not present in the graph template\","
        "\"Secret s2 is required but not present in the graph template\","
        "\"Input n in node n_a in namespace ns is not a string\","
        "\"Input miss in node n_a in namespace ns is not present in the graph template\","
        "\"Field num in node n_a in namespace ns is not a string\","
        "\"Field gone in node n_a in namespace ns does not exist\","
        "\"Node n_c in namespace ns does not exist\"]");
}

static void test_verify_placeholder_to_unregistered_node(void **state)
{
    (void)state;
    expect_verify("[" N("a", "[\"b\"]", "{}") "," N("b", "[]", "{\"y\":\"${{ a.outputs.o }}\"}") "]", NULL,
                  "{" REG("b", "{}", "{}", "[]") "}",
                  "[\"Node n_a in namespace ns does not exist.\",\"Node n_a in namespace ns does not exist\","
                  "\"Node n_a in namespace ns does not exist\"]");
}

static void test_verify_unexpected_and_cron_rule(void **state)
{
    (void)state;
    expect_verify("[" N("a", "[]", "{}") "]", NULL, "{" REG("a", "{\"properties\":{\"x\":{\"title\":\"X\"}}}", "{}", "[]") "}",
                  "[\"Validation failed due to unexpected error: 'type'\"]");
    expect_verify("[" N("a", "[]", "{}") "]",
                  "\"store_config\":{\"required_keys\":[\"k\",\"d\"],\"default_values\":{\"d\":\"1\"}},"
                  "\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"* * * * *\"}}]",
                  "{" REG("a", "{}", "{}", "[]") "}",
                  "[\"Store key 'k' is required but has no default value, so cron trigger runs cannot start\"]");
    /* without a cron trigger the same store config is fine */
    expect_verify("[" N("a", "[]", "{}") "]", "\"store_config\":{\"required_keys\":[\"k\"]}",
                  "{" REG("a", "{}", "{}", "[]") "}", "[]");
}

static void expect_string_type(const char *schema, int expected)
{
    json_object *p = parse_json(schema);
    const char *err = NULL;
    int got = exo_schema_is_string(p, &err);
    if (got != expected)
        fail_msg("%s: got %d expected %d", schema, got, expected);
    if (expected < 0)
        assert_non_null(err);
    json_object_put(p);
}

static void test_string_type_rule(void **state)
{
    (void)state;
    expect_string_type("{\"type\":\"string\"}", 1);
    expect_string_type("{\"type\":[\"string\"]}", 1);
    expect_string_type("{\"type\":\"string\",\"format\":\"email\"}", 1);
    expect_string_type("{\"type\":\"string\",\"format\":\"date-time\"}", 0);
    expect_string_type("{\"type\":\"string\",\"format\":\"date\"}", 0);
    expect_string_type("{\"type\":\"string\",\"format\":\"time\"}", 0);
    expect_string_type("{\"type\":\"string\",\"format\":\"uri\"}", 0);
    expect_string_type("{\"type\":\"string\",\"format\":\"uuid\"}", 0);
    expect_string_type("{\"type\":\"string\",\"enum\":[\"a\"]}", 0);
    expect_string_type("{\"const\":\"a\",\"type\":\"string\"}", 0);
    expect_string_type("{\"anyOf\":[{\"type\":\"string\"}]}", 0);
    expect_string_type("{\"oneOf\":[{\"type\":\"string\"}]}", 0);
    expect_string_type("{\"allOf\":[{\"type\":\"string\"}]}", 0);
    expect_string_type("{\"type\":[\"string\",\"null\"]}", 0);
    expect_string_type("{\"type\":\"integer\"}", 0);
    expect_string_type("{\"type\":\"number\"}", 0);
    expect_string_type("{\"type\":\"boolean\"}", 0);
    expect_string_type("{\"type\":\"array\"}", 0);
    expect_string_type("{\"type\":\"object\"}", 0);
    expect_string_type("{\"type\":\"weird\"}", 1);
    expect_string_type("{\"title\":\"no type\"}", -1);
}

/* §5.1 A5 (BUGS.md C8): on update the empty-secret rule is part of group A. */
static void test_a5_secret_rule_order_create_vs_update(void **state)
{
    (void)state;
    const char *secrets = "\"secrets\":{\"\":\"x\"}";
    struct {
        const char *nodes;
    } cases[] = {{"[" N("a", "[]", "{}") "," N("a", "[]", "{}") "]"},
                 {"[" N("a", "[\"b\"]", "{}") "," U("b", "[]", "{}", "zz") "]"}};
    for (int update = 0; update <= 1; update++)
        for (size_t i = 0; i < 2; i++) {
            exo_graph *g = load(cases[i].nodes, secrets);
            char *diag = exo_graph_validate_ex(g, "g", "ns", update);
            assert_non_null(diag);
            int has_secret = strstr(diag, "Secrets cannot be empty") != NULL;
            int has_dup = strstr(diag, "Node identifier a is not unique") != NULL;
            int has_unites = strstr(diag, "unites target zz") != NULL;
            if (i == 0) {
                assert_true(has_dup);
                assert_int_equal(has_secret, update); /* create: A5 only after everything passed */
            } else {
                assert_int_equal(has_unites, !update); /* update: A5 fails group A, group B is skipped */
                assert_int_equal(has_secret, update);
            }
            free(diag);
            exo_graph_free(g);
        }
    exo_graph *g = load("[" N("a", "[]", "{}") "]", secrets);
    char *diag = exo_graph_validate_ex(g, "g", "ns", 0);
    assert_non_null(diag); /* create: a graph that is otherwise valid still reports A5 */
    assert_non_null(strstr(diag, "Secrets cannot be empty"));
    free(diag);
    exo_graph_free(g);
}

/* Ancestor sets do not depend on node order, and a long chain listed leaf-first (the
 * order that made the old fixpoint iteration cubic) is analysed in one pass: with the
 * ctest timeout this also guards against that complexity coming back. */
static void test_long_chain_listed_leaf_first(void **state)
{
    (void)state;
    enum { N = 3000 };
    json_object *nodes = json_object_new_array();
    for (int i = 0; i < N; i++) {
        char id[32], next[32];
        snprintf(id, sizeof id, "n%d", i);
        snprintf(next, sizeof next, "n%d", i - 1);
        json_object *node = json_object_new_object(), *list = json_object_new_array();
        json_object_object_add(node, "node_name", json_object_new_string("A"));
        json_object_object_add(node, "namespace", json_object_new_string("ns"));
        json_object_object_add(node, "identifier", json_object_new_string(id));
        json_object_object_add(node, "inputs", json_object_new_object());
        if (i > 0)
            json_object_array_add(list, json_object_new_string(next));
        json_object_object_add(node, "next_nodes", list);
        json_object_array_add(nodes, node);
    }
    json_object *body = json_object_new_object();
    json_object_object_add(body, "secrets", json_object_new_object());
    json_object_object_add(body, "nodes", nodes);
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(body, &rc);
    assert_non_null(g);
    exo_reqcheck_free(&rc);
    char *diag = exo_graph_validate(g, "g", "ns");
    if (diag)
        fail_msg("unexpected: %.300s", diag);
    assert_int_equal(exo_graph_root(g), N - 1);
    assert_true(exo_graph_is_ancestor(g, 0, N - 1));
    assert_true(exo_graph_is_ancestor(g, 0, 1));
    assert_true(exo_graph_is_ancestor(g, N / 2, N / 2 + 1));
    assert_false(exo_graph_is_ancestor(g, N / 2, N / 2 - 1));
    assert_false(exo_graph_is_ancestor(g, 5, 5));
    exo_graph_free(g);
    json_object_put(body);
}

/* Exactly the nodes on a cycle (an SCC of 2+ nodes or a self-loop) are reported. */
static void test_acyclic_reports_exactly_cycle_nodes(void **state)
{
    (void)state;
    const char *nodes = "[" N("a", "[\"b\",\"d\",\"f\"]", "{}") "," N("b", "[\"c\"]", "{}") "," N("c", "[\"b\",\"f\"]", "{}") ","
                        N("d", "[\"e\"]", "{}") "," N("e", "[\"e\"]", "{}") "," N("f", "[]", "{}") "]";
    expect_invalid(nodes, NULL, "Node b is not acyclic", "Node c is not acyclic", "Node e is not acyclic", NULL);
    expect_not_in_diag(nodes, NULL, "Node d is not acyclic");
    expect_not_in_diag(nodes, NULL, "Node f is not acyclic");
    expect_not_in_diag(nodes, NULL, "Node a is not acyclic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_normalises_and_serialises),
        cmocka_unit_test(test_defaults_when_optional_sections_absent),
        cmocka_unit_test(test_field_rules_422),
        cmocka_unit_test(test_group_a),
        cmocka_unit_test(test_secrets_names),
        cmocka_unit_test(test_secrets_rule_order_on_update),
        cmocka_unit_test(test_unites_targets),
        cmocka_unit_test(test_root_rule),
        cmocka_unit_test(test_connectivity),
        cmocka_unit_test(test_cycles),
        cmocka_unit_test(test_unites_target_must_be_strict_ancestor),
        cmocka_unit_test(test_input_dependencies),
        cmocka_unit_test(test_ancestors_order_independent),
        cmocka_unit_test(test_unite_ancestors),
        cmocka_unit_test(test_ancestor_api),
        cmocka_unit_test(test_store_and_cron_helpers),
        cmocka_unit_test(test_verify_valid),
        cmocka_unit_test(test_verify_errors_in_order),
        cmocka_unit_test(test_verify_placeholder_to_unregistered_node),
        cmocka_unit_test(test_verify_unexpected_and_cron_rule),
        cmocka_unit_test(test_string_type_rule),
        cmocka_unit_test(test_a5_secret_rule_order_create_vs_update),
        cmocka_unit_test(test_long_chain_listed_leaf_first),
        cmocka_unit_test(test_acyclic_reports_exactly_cycle_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
