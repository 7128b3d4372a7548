/* Registration JSON: field titles (runtime-protocol §5.2) and the exact schema shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "schema.h"

static void expect_title(const char *name, const char *title)
{
    char *t = host_field_title(name);
    assert_non_null(t);
    if (strcmp(t, title) != 0)
        fail_msg("title of '%s' is '%s', expected '%s'", name, t, title);
    free(t);
}

static void test_titles(void **state)
{
    (void)state;
    /* The table of the spec. */
    expect_title("user_id", "User Id");
    expect_title("source_text", "Source Text");
    expect_title("summary", "Summary");
    expect_title("max_words", "Max Words");
    expect_title("HTTPStatus", "Httpstatus");
    expect_title("page2url", "Page2Url");
    expect_title("v2_model", "V2 Model");
    expect_title("name_", "Name");
    /* More corners of the same algorithm. */
    expect_title("a", "A");
    expect_title("a__b", "A  B");
    expect_title("x1y2z", "X1Y2Z");
    expect_title("already_Title", "Already Title");
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

static host_node make_node(const char *name, const exo_field_list in, const exo_field_list out,
                           const exo_field_list sec)
{
    exo_node_def def = {EXO_ABI_VERSION, sizeof(exo_node_def), name, in, out, sec};
    host_node node;
    char err[512];
    if (host_node_from_def(&def, "test.so", &node, err, sizeof err) < 0)
        fail_msg("%s", err);
    return node;
}

static void test_spec_example(void **state)
{
    (void)state;
    exo_field_list in = EXO_INPUTS("user_id", "source_text");
    exo_field_list out = EXO_OUTPUTS("summary");
    exo_field_list sec = EXO_SECRETS("llm_api_key");
    host_node node = make_node("SummarizeNode", in, out, sec);
    json_object *body = host_registration_body("exo-host-1", "demo", &node, 1);
    expect_json(body,
                "{\"runtime_name\": \"exo-host-1\", \"runtime_namespace\": \"demo\", \"nodes\": [{"
                "\"name\": \"SummarizeNode\", \"namespace\": \"demo\","
                "\"inputs_schema\": {\"properties\": {"
                "  \"user_id\": {\"title\": \"User Id\", \"type\": \"string\"},"
                "  \"source_text\": {\"title\": \"Source Text\", \"type\": \"string\"}},"
                " \"required\": [\"user_id\", \"source_text\"], \"title\": \"Inputs\", \"type\": \"object\"},"
                "\"outputs_schema\": {\"properties\": {"
                "  \"summary\": {\"title\": \"Summary\", \"type\": \"string\"}},"
                " \"required\": [\"summary\"], \"title\": \"Outputs\", \"type\": \"object\"},"
                "\"secrets\": [\"llm_api_key\"]}]}");
    /* Declaration order is kept (json-c keeps insertion order). */
    const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    assert_true(strstr(text, "\"user_id\"") < strstr(text, "\"source_text\""));
    json_object_put(body);
    host_node_free(&node);
}

static void test_default_and_empty(void **state)
{
    (void)state;
    exo_field_list in = EXO_INPUTS("user_id", EXO_DEFAULT("max_words", "100"));
    exo_field_list none = EXO_OUTPUTS();
    exo_field_list sec = EXO_SECRETS();
    host_node node = make_node("N", in, none, sec);
    json_object *inputs = host_fields_schema(&node.inputs, "Inputs");
    expect_json(inputs, "{\"properties\": {"
                        "\"user_id\": {\"title\": \"User Id\", \"type\": \"string\"},"
                        "\"max_words\": {\"default\": \"100\", \"title\": \"Max Words\", \"type\": \"string\"}},"
                        "\"required\": [\"user_id\"], \"title\": \"Inputs\", \"type\": \"object\"}");
    json_object *outputs = host_fields_schema(&node.outputs, "Outputs");
    /* "required" is omitted entirely when nothing is required. */
    expect_json(outputs, "{\"properties\": {}, \"title\": \"Outputs\", \"type\": \"object\"}");
    json_object *reg = host_node_registration(&node, NULL);
    assert_false(json_object_object_get_ex(reg, "namespace", NULL));
    json_object *secrets = json_object_object_get(reg, "secrets");
    assert_true(json_object_is_type(secrets, json_type_array));
    assert_int_equal(json_object_array_length(secrets), 0);
    json_object_put(inputs);
    json_object_put(outputs);
    json_object_put(reg);
    host_node_free(&node);
}

static void test_all_defaults_omit_required(void **state)
{
    (void)state;
    exo_field_list in = EXO_INPUTS(EXO_DEFAULT("a", "1"), EXO_DEFAULT("b", ""));
    exo_field_list none = EXO_OUTPUTS();
    host_node node = make_node("N", in, none, none);
    json_object *inputs = host_fields_schema(&node.inputs, "Inputs");
    assert_false(json_object_object_get_ex(inputs, "required", NULL));
    json_object_put(inputs);
    host_node_free(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_titles),
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_default_and_empty),
        cmocka_unit_test(test_all_defaults_omit_required),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
