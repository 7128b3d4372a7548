/* Unit tests for state-manager/template.c: §4.2 parsing and §4.3 rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static void test_plain_text_has_no_placeholders(void **state)
{
    (void)state;
    const char *texts[] = {"hello", "", "{{x}}", "$ {{x.outputs.y}}", "$x}}"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        exo_template t;
        char *err = NULL;
        assert_int_equal(exo_template_parse(texts[i], &t, &err), 0);
        assert_null(err);
        assert_int_equal(t.count, 0);
        assert_string_equal(t.head, texts[i]);
        assert_false(exo_template_has_placeholders(texts[i]));
        exo_template_free(&t);
    }
}

static void test_parse_outputs_and_store(void **state)
{
    (void)state;
    exo_template t;
    char *err = NULL;
    const char *text = "report-${{ plan.outputs.job_id }}-${{store.day}}.csv}} end";
    assert_int_equal(exo_template_parse(text, &t, &err), 0);
    assert_string_equal(t.head, "report-");
    assert_int_equal(t.count, 2);
    assert_string_equal(t.items[0].identifier, "plan");
    assert_string_equal(t.items[0].field, "job_id");
    assert_string_equal(t.items[0].tail, "-");
    assert_false(exo_placeholder_is_store(&t.items[0]));
    assert_string_equal(t.items[1].identifier, "store");
    assert_string_equal(t.items[1].field, "day");
    assert_true(exo_placeholder_is_store(&t.items[1]));
    /* a stray "}}" after the first one stays in the tail verbatim */
    assert_string_equal(t.items[1].tail, ".csv}} end");
    exo_template_free(&t);
}

static void test_parse_quirks(void **state)
{
    (void)state;
    exo_template t;
    char *err = NULL;
    /* store.outputs.k is store key k */
    assert_int_equal(exo_template_parse("${{ store.outputs.k }}", &t, &err), 0);
    assert_string_equal(t.items[0].identifier, "store");
    assert_string_equal(t.items[0].field, "k");
    exo_template_free(&t);
    /* empty parts are syntactically fine */
    assert_int_equal(exo_template_parse("${{ .outputs. }}", &t, &err), 0);
    assert_string_equal(t.items[0].identifier, "");
    assert_string_equal(t.items[0].field, "");
    exo_template_free(&t);
    /* repeated placeholder */
    assert_int_equal(exo_template_parse("${{a.outputs.x}}${{a.outputs.x}}", &t, &err), 0);
    assert_int_equal(t.count, 2);
    exo_template_free(&t);
}

static void expect_parse_error(const char *text, const char *message)
{
    exo_template t;
    char *err = NULL;
    assert_int_equal(exo_template_parse(text, &t, &err), -1);
    assert_non_null(err);
    assert_string_equal(err, message);
    free(err);
    exo_template_free(&t);
}

static void test_parse_errors_exact_messages(void **state)
{
    (void)state;
    expect_parse_error("a ${{ x.outputs.y",
                       "Invalid syntax string placeholder  x.outputs.y for: a ${{ x.outputs.y '${' not closed");
    expect_parse_error("${{ x.y }}", "Invalid syntax string placeholder  x.y  for: ${{ x.y }}");
    expect_parse_error("${{ x.inputs.y }}",
                       "Invalid syntax string placeholder  x.inputs.y  for: ${{ x.inputs.y }}");
    expect_parse_error("${{ a.outputs.b.c }}",
                       "Invalid syntax string placeholder  a.outputs.b.c  for: ${{ a.outputs.b.c }}");
    expect_parse_error("${{store}}", "Invalid syntax string placeholder store for: ${{store}}");
    /* the closing }} of a later placeholder does not close an earlier one */
    expect_parse_error("${{ a.outputs.b ${{ c.outputs.d }}",
                       "Invalid syntax string placeholder  a.outputs.b  for: ${{ a.outputs.b ${{ c.outputs.d }} '${' not closed");
}

/* Lookup over a JSON object {"id.field": value}; missing keys fail. */
static int lookup_json(void *ud, const exo_placeholder *p, json_object **value, char **err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", p->identifier, p->field);
    if (!json_object_object_get_ex((json_object *)ud, key, value)) {
        if (asprintf(err, "missing %s", key) < 0)
            *err = NULL;
        return -1;
    }
    return 0;
}

static void test_render(void **state)
{
    (void)state;
    json_object *values = json_tokener_parse(
        "{\"plan.job_id\":\"J7\",\"store.day\":\"mon\",\"n.num\":5,\"n.nul\":null,\"n.obj\":{},"
        "\"n.list\":[],\"n.flag\":true,\"n.f\":1.5}");
    assert_non_null(values);
    char *err = NULL;
    char *out = exo_template_render_text("report-${{ plan.outputs.job_id }}-${{ store.day }}.csv",
                                         lookup_json, values, &err);
    assert_non_null(out);
    assert_string_equal(out, "report-J7-mon.csv");
    free(out);
    out = exo_template_render_text("no placeholders", lookup_json, values, &err);
    assert_string_equal(out, "no placeholders");
    free(out);

    struct {
        const char *text;
        const char *error;
    } failures[] = {
        {"${{ x.outputs.y }}", "missing x.y"},
        {"a${{ n.outputs.num }}", "unsupported operand type(s) for +: 'int' and 'str'"},
        {"${{ n.outputs.obj }}", "unsupported operand type(s) for +: 'dict' and 'str'"},
        {"${{ n.outputs.list }}", "unsupported operand type(s) for +: 'list' and 'str'"},
        {"${{ n.outputs.flag }}", "unsupported operand type(s) for +: 'bool' and 'str'"},
        {"${{ n.outputs.f }}", "unsupported operand type(s) for +: 'float' and 'str'"},
        {"${{ n.outputs.nul }}-x",
         "Dependent value is not set for: identifier='n' field='nul' tail='-x' value=None"},
        {"${{ bad", "Invalid syntax string placeholder  bad for: ${{ bad '${' not closed"},
    };
    for (size_t i = 0; i < sizeof failures / sizeof *failures; i++) {
        err = NULL;
        out = exo_template_render_text(failures[i].text, lookup_json, values, &err);
        assert_null(out);
        assert_non_null(err);
        assert_string_equal(err, failures[i].error);
        free(err);
    }
    json_object_put(values);
}

/* Substituted values may contain U+0000: the _len variants keep every byte. */
static void test_render_len_keeps_nul_bytes(void **state)
{
    (void)state;
    json_object *values = json_object_new_object();
    json_object_object_add(values, "a.v", json_object_new_string_len("x\0y", 3));
    char *err = NULL;
    size_t len = 0;
    char *out = exo_template_render_text_len("<${{ a.outputs.v }}>", lookup_json, values, &err, &len);
    assert_non_null(out);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "<x\0y>", 6); /* NUL-terminated after len bytes */
    free(out);
    out = exo_template_render_text_len("${{ b.outputs.v }}", lookup_json, values, &err, &len);
    assert_null(out);
    assert_string_equal(err, "missing b.v");
    free(err);
    json_object_put(values);
}

/* A JSON value with U+0000 is usable as a literal (byte-exact) but never as a template. */
static void test_render_json_nul_literals(void **state)
{
    (void)state;
    json_object *values = json_tokener_parse("{\"a.v\":\"V\"}");
    json_object *literal = json_object_new_string_len("l\0t", 3), *tpl = json_object_new_string_len("\0${{ a.outputs.v }}", 19),
                *plain = json_object_new_string("<${{ a.outputs.v }}>");
    char *err = NULL;
    size_t len = 0;
    char *out = exo_template_render_json(literal, lookup_json, values, &err, &len);
    assert_non_null(out);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "l\0t", 4);
    free(out);
    out = exo_template_render_json(tpl, lookup_json, values, &err, &len);
    assert_null(out);
    assert_non_null(err);
    assert_non_null(strstr(err, "NUL"));
    free(err);
    out = exo_template_render_json(plain, lookup_json, values, &err, &len);
    assert_string_equal(out, "<V>");
    assert_int_equal(len, 3);
    free(out);
    json_object_put(literal);
    json_object_put(tpl);
    json_object_put(plain);
    json_object_put(values);
}

static void expect_repr(const char *json, const char *repr)
{
    json_object *v = json_tokener_parse(json);
    char *got = exo_py_repr(v);
    assert_non_null(got);
    assert_string_equal(got, repr);
    free(got);
    json_object_put(v);
}

static void test_python_repr(void **state)
{
    (void)state;
    expect_repr("123", "123");
    expect_repr("-5", "-5");
    expect_repr("1.5", "1.5");
    expect_repr("5.0", "5.0");
    expect_repr("0.1", "0.1");
    expect_repr("true", "True");
    expect_repr("false", "False");
    expect_repr("null", "None");
    expect_repr("\"a\"", "'a'");
    expect_repr("\"it's\"", "\"it's\"");
    expect_repr("\"both ' and \\\"\"", "'both \\' and \"'");
    expect_repr("\"tab\\there\"", "'tab\\there'");
    expect_repr("\"line\\nbreak\"", "'line\\nbreak'");
    expect_repr("[\"a\",1,[],{}]", "['a', 1, [], {}]");
    expect_repr("{\"k\":1,\"j\":{\"x\":null}}", "{'k': 1, 'j': {'x': None}}");
    char *s = exo_py_str_repr("\xc3\xbc");
    assert_string_equal(s, "'\xc3\xbc'"); /* printable non-ASCII stays literal */
    free(s);
}

/* Deterministic pseudo-random strings over the placeholder alphabet: parsing and
 * rendering must never crash, and either succeed or explain why. */
static void test_parse_random_inputs(void **state)
{
    (void)state;
    const char alphabet[] = "${}. abcstoreoutputs";
    uint32_t seed = 12345;
    char text[40];
    for (int round = 0; round < 20000; round++) {
        size_t len = (seed >> 3) % (sizeof text - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        text[len] = '\0';
        seed = seed * 1103515245u + 12345u;
        exo_template t;
        char *err = NULL;
        int rc = exo_template_parse(text, &t, &err);
        if (rc == 0) {
            assert_null(err);
            assert_int_equal(t.count != 0, exo_template_has_placeholders(text));
        } else {
            assert_non_null(err);
            assert_non_null(strstr(err, "Invalid syntax string placeholder"));
            free(err);
        }
        exo_template_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_has_no_placeholders),
        cmocka_unit_test(test_parse_outputs_and_store),
        cmocka_unit_test(test_parse_quirks),
        cmocka_unit_test(test_parse_errors_exact_messages),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_python_repr),
        cmocka_unit_test(test_render_len_keeps_nul_bytes),
        cmocka_unit_test(test_render_json_nul_literals),
        cmocka_unit_test(test_parse_random_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
