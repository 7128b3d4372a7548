/* The host side of a state without fork: input/secret/output checks and the result
 * object that the SDK routines build (fan-out, fail, prune, re-enqueue, store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "validate.h"

static host_node make_node(const exo_field_list in, const exo_field_list out,
                           const exo_field_list sec, int (*execute)(exo_ctx *))
{
    exo_node_def def = {EXO_ABI_VERSION, sizeof(exo_node_def), "TestNode", in, out, sec};
    host_node node;
    char err[512];
    if (host_node_from_def(&def, "test.so", &node, err, sizeof err) < 0)
        fail_msg("%s", err);
    node.execute = execute;
    return node;
}

static void expect_json(json_object *got, const char *want_text)
{
    json_object *want = json_tokener_parse(want_text);
    assert_non_null(want);
    assert_non_null(got);
    if (!json_object_equal(got, want))
        fail_msg("got %s\nwant %s", json_object_to_json_string(got), json_object_to_json_string(want));
    json_object_put(want);
}

static void test_inputs(void **state)
{
    (void)state;
    exo_field_list in = EXO_INPUTS("user_id", EXO_DEFAULT("max_words", "100"));
    exo_field_list none = EXO_OUTPUTS();
    host_node node = make_node(in, none, none, NULL);
    json_object *out = NULL;
    char err[256];
    json_object *given = json_tokener_parse("{\"user_id\": \"u\", \"extra\": \"dropped\"}");
    assert_int_equal(host_validate_inputs(&node, given, &out, err, sizeof err), 0);
    expect_json(out, "{\"user_id\": \"u\", \"max_words\": \"100\"}");
    json_object_put(out);
    json_object_put(given);

    given = json_tokener_parse("{\"max_words\": \"5\"}");
    assert_int_equal(host_validate_inputs(&node, given, &out, err, sizeof err), -1);
    assert_string_equal(err, "input 'user_id' is required");
    json_object_put(given);

    given = json_tokener_parse("{\"user_id\": 42}");
    assert_int_equal(host_validate_inputs(&node, given, &out, err, sizeof err), -1);
    assert_string_equal(err, "input 'user_id' must be a string, got int");
    json_object_put(given);

    assert_int_equal(host_validate_inputs(&node, NULL, &out, err, sizeof err), -1);
    host_node_free(&node);
}

static void test_secrets_selection(void **state)
{
    (void)state;
    exo_field_list none = EXO_INPUTS();
    exo_field_list sec = EXO_SECRETS("token");
    host_node node = make_node(none, none, sec, NULL);
    json_object *out = NULL;
    char err[256];
    json_object *all = json_tokener_parse("{\"token\": \"t\", \"other_graph_secret\": \"x\"}");
    assert_int_equal(host_select_secrets(&node, all, &out, err, sizeof err), 0);
    expect_json(out, "{\"token\": \"t\"}");
    json_object_put(out);
    json_object_put(all);
    assert_int_equal(host_select_secrets(&node, NULL, &out, err, sizeof err), -1);
    assert_string_equal(err, "secret 'token' is required");
    host_node_free(&node);
}

static void test_outputs(void **state)
{
    (void)state;
    exo_field_list none = EXO_INPUTS();
    exo_field_list outs = EXO_OUTPUTS("a", EXO_DEFAULT("b", "dflt"));
    host_node node = make_node(none, outs, none, NULL);
    json_object *clean = NULL;
    char err[256];
    json_object *given = json_tokener_parse("[{\"a\": \"1\", \"zzz\": \"x\"}, {\"a\": \"2\", \"b\": \"3\"}]");
    assert_int_equal(host_validate_outputs(&node, given, &clean, err, sizeof err), 0);
    expect_json(clean, "[{\"a\": \"1\", \"b\": \"dflt\"}, {\"a\": \"2\", \"b\": \"3\"}]");
    json_object_put(clean);
    json_object_put(given);
    given = json_tokener_parse("[{\"a\": \"1\"}, {\"b\": \"3\"}]");
    assert_int_equal(host_validate_outputs(&node, given, &clean, err, sizeof err), -1);
    assert_string_equal(err, "output 'a' (output object 2 of 2) is required");
    json_object_put(given);
    given = json_tokener_parse("[{\"a\": 1}]");
    assert_int_equal(host_validate_outputs(&node, given, &clean, err, sizeof err), -1);
    assert_string_equal(err, "output 'a' must be a string, got int");
    json_object_put(given);
    host_node_free(&node);
}

static int fan_out(exo_ctx *ctx)
{
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            exo_next_output(ctx);
        exo_outputf(ctx, "chunk", "part-%d", i + 1);
    }
    assert_string_equal(exo_input(ctx, "text"), "hello");
    assert_null(exo_input(ctx, "undeclared"));
    assert_string_equal(exo_state_id(ctx), "s1");
    return exo_store_set(ctx, "k", "v");
}

static int outputs_undeclared(exo_ctx *ctx)
{
    exo_output(ctx, "chunk", "ok");
    assert_int_equal(exo_output(ctx, "undeclared", "x"), EXO_ERROR);
    return EXO_OK;
}

static int fails(exo_ctx *ctx)
{
    return exo_fail(ctx, "upstream answered %d", 503);
}

static int fails_silently(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_ERROR;
}

static int prunes(exo_ctx *ctx)
{
    return exo_prune(ctx, "{\"reason\": \"duplicate\"}");
}

static int prunes_badly(exo_ctx *ctx)
{
    exo_prune(ctx, "[1, 2]");
    return EXO_OK;
}

static int requeues(exo_ctx *ctx)
{
    return exo_requeue_after(ctx, 30000);
}

static int requeues_zero(exo_ctx *ctx)
{
    exo_requeue_after(ctx, 0);
    return EXO_OK;
}

static int nothing(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}

static json_object *run(int (*execute)(exo_ctx *))
{
    exo_field_list in = EXO_INPUTS("text");
    exo_field_list out = EXO_OUTPUTS("chunk");
    exo_field_list none = EXO_SECRETS();
    host_node node = make_node(in, out, none, execute);
    json_object *inputs = json_tokener_parse("{\"text\": \"hello\"}");
    host_job job = {&node, "s1", "step", inputs, NULL};
    json_object *r = host_child_execute(&job);
    json_object_put(inputs);
    host_node_free(&node);
    return r;
}

static void test_results(void **state)
{
    (void)state;
    json_object *r;
    expect_json(r = run(fan_out), "{\"kind\": \"outputs\", \"outputs\": [{\"chunk\": \"part-1\"},"
                                  "{\"chunk\": \"part-2\"}, {\"chunk\": \"part-3\"}], \"store\": {\"k\": \"v\"}}");
    json_object_put(r);
    expect_json(r = run(outputs_undeclared),
                "{\"kind\": \"error\", \"error\": \"exo_output: 'undeclared' is not a declared output "
                "of TestNode (declared: chunk)\"}");
    json_object_put(r);
    expect_json(r = run(fails), "{\"kind\": \"error\", \"error\": \"upstream answered 503\"}");
    json_object_put(r);
    r = run(fails_silently);
    assert_string_equal(json_object_get_string(json_object_object_get(r, "kind")), "error");
    assert_non_null(strstr(json_object_get_string(json_object_object_get(r, "error")), "returned -1"));
    json_object_put(r);
    expect_json(r = run(prunes), "{\"kind\": \"prune\", \"data\": {\"reason\": \"duplicate\"}}");
    json_object_put(r);
    expect_json(r = run(prunes_badly), "{\"kind\": \"error\", \"error\": \"exo_prune: the data is not a JSON object\"}");
    json_object_put(r);
    expect_json(r = run(requeues), "{\"kind\": \"requeue\", \"delay_ms\": 30000}");
    json_object_put(r);
    r = run(requeues_zero);
    assert_non_null(strstr(json_object_get_string(json_object_object_get(r, "error")), "Delay must be greater than 0"));
    json_object_put(r);
    expect_json(r = run(nothing), "{\"kind\": \"outputs\", \"outputs\": []}");
    json_object_put(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_secrets_selection),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
