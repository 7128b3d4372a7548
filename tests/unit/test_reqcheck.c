/* Unit tests for state-manager/reqcheck.c: pydantic-style 422 error objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reqcheck.h"

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

/* Returns the compact JSON of error i (static buffer owned by json-c object kept alive by rc). */
static json_object *error_at(exo_reqcheck *rc, size_t i)
{
    assert_non_null(rc->errors);
    assert_true(i < json_object_array_length(rc->errors));
    return json_object_array_get_idx(rc->errors, i);
}

static const char *field(json_object *err, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(err, key, &v));
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static void test_loc_digits_become_integers(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    assert_false(exo_reqcheck_failed(&rc));
    exo_reqcheck_add(&rc, "body.nodes.3.identifier", "missing", "Field required", NULL, NULL);
    assert_true(exo_reqcheck_failed(&rc));
    json_object *e = error_at(&rc, 0);
    assert_string_equal(field(e, "loc"), "[\"body\",\"nodes\",3,\"identifier\"]");
    assert_string_equal(field(e, "type"), "\"missing\"");
    assert_string_equal(field(e, "input"), "null");
    assert_false(json_object_object_get_ex(e, "ctx", NULL));
    exo_reqcheck_free(&rc);
}

static void test_missing_reports_enclosing_object(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = parse("{\"secrets\":{}}");
    json_object *nodes = NULL;
    assert_int_equal(exo_req_array(&rc, body, "nodes", "body", 1, &nodes), -1);
    json_object *detail = exo_reqcheck_detail(&rc);
    assert_string_equal(json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN),
                        "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\",\"nodes\"],\"msg\":"
                        "\"Field required\",\"input\":{\"secrets\":{}}}]}");
    json_object_put(detail);
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

static void test_optional_absent_and_null(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = parse("{\"a\":null}");
    const char *s = "untouched";
    int64_t n = 77;
    assert_int_equal(exo_req_string(&rc, body, "a", "body", 0, &s), 1);
    assert_int_equal(exo_req_int(&rc, body, "b", "body", 0, &n), 1);
    assert_string_equal(s, "untouched");
    assert_int_equal(n, 77);
    assert_false(exo_reqcheck_failed(&rc));
    /* required null is a type error, not "missing" */
    assert_int_equal(exo_req_string(&rc, body, "a", "body", 1, &s), -1);
    assert_string_equal(field(error_at(&rc, 0), "type"), "\"string_type\"");
    /* NULL / non-object container: every field is missing */
    assert_int_equal(exo_req_string(&rc, NULL, "x", "body", 1, &s), -1);
    assert_string_equal(field(error_at(&rc, 1), "type"), "\"missing\"");
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

static void test_string_rejects_non_strings(void **state)
{
    (void)state;
    const char *bodies[] = {"{\"k\":1}", "{\"k\":true}", "{\"k\":[\"a\"]}", "{\"k\":{}}", "{\"k\":1.5}"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        exo_reqcheck rc;
        exo_reqcheck_init(&rc);
        json_object *body = parse(bodies[i]);
        const char *s = NULL;
        assert_int_equal(exo_req_string(&rc, body, "k", "body.x.0", 1, &s), -1);
        json_object *e = error_at(&rc, 0);
        assert_string_equal(field(e, "type"), "\"string_type\"");
        assert_string_equal(field(e, "msg"), "\"Input should be a valid string\"");
        assert_string_equal(field(e, "loc"), "[\"body\",\"x\",0,\"k\"]");
        json_object_put(body);
        exo_reqcheck_free(&rc);
    }
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = parse("{\"k\":\"v\"}");
    const char *s = NULL;
    assert_int_equal(exo_req_string(&rc, body, "k", "body", 1, &s), 0);
    assert_string_equal(s, "v");
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

static void expect_int(const char *body_text, int rc_expected, int64_t value, const char *type)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = parse(body_text);
    int64_t n = -12345;
    assert_int_equal(exo_req_int(&rc, body, "n", "body", 1, &n), rc_expected);
    if (rc_expected == 0) {
        assert_int_equal(n, value);
        assert_false(exo_reqcheck_failed(&rc));
    } else {
        assert_int_equal(n, -12345);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", type);
        assert_string_equal(field(error_at(&rc, 0), "type"), quoted);
        assert_string_equal(field(error_at(&rc, 0), "loc"), "[\"body\",\"n\"]");
    }
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

static void test_lax_integers(void **state)
{
    (void)state;
    expect_int("{\"n\":5}", 0, 5, NULL);
    expect_int("{\"n\":-7}", 0, -7, NULL);
    expect_int("{\"n\":5.0}", 0, 5, NULL);
    expect_int("{\"n\":\"5\"}", 0, 5, NULL);
    expect_int("{\"n\":\" 42 \"}", 0, 42, NULL);
    expect_int("{\"n\":\"+5\"}", 0, 5, NULL);
    expect_int("{\"n\":\"5.0\"}", 0, 5, NULL);
    expect_int("{\"n\":\"5.00\"}", 0, 5, NULL);
    expect_int("{\"n\":\"5.\"}", 0, 5, NULL);
    expect_int("{\"n\":\" -7.0 \"}", 0, -7, NULL);
    expect_int("{\"n\":1e3}", 0, 1000, NULL);
    expect_int("{\"n\":\"5.5\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"5.01\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\".0\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"-\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"+ 5\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"5 5\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"0x10\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"5x\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"99999999999999999999\"}", -1, 0, "int_parsing");
    expect_int("{\"n\":\"9223372036854775807\"}", 0, INT64_MAX, NULL);
    expect_int("{\"n\":5.5}", -1, 0, "int_from_float");
    expect_int("{\"n\":true}", -1, 0, "int_type");
    expect_int("{\"n\":null}", -1, 0, "int_type");
    expect_int("{\"n\":[1]}", -1, 0, "int_type");
    expect_int("{}", -1, 0, "missing");
}

static void test_object_and_array_types(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = parse("{\"o\":[1],\"a\":{\"x\":1}}");
    json_object *out = NULL;
    assert_int_equal(exo_req_object(&rc, body, "o", "body", 1, &out), -1);
    assert_int_equal(exo_req_array(&rc, body, "a", "body", 1, &out), -1);
    assert_null(out);
    assert_string_equal(field(error_at(&rc, 0), "type"), "\"dict_type\"");
    assert_string_equal(field(error_at(&rc, 0), "input"), "[1]");
    assert_string_equal(field(error_at(&rc, 1), "type"), "\"list_type\"");
    assert_int_equal(json_object_array_length(rc.errors), 2);
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

static void test_string_map_and_list_report_each_bad_entry(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = parse("{\"m\":{\"ok\":\"v\",\"a.b\":1,\"c\":null},\"l\":[\"x\",2,\"y\",false]}");
    json_object *out = NULL;
    assert_int_equal(exo_req_string_map(&rc, body, "m", "body", 1, &out), -1);
    assert_int_equal(exo_req_string_list(&rc, body, "l", "body", 1, &out), -1);
    assert_int_equal(json_object_array_length(rc.errors), 4);
    /* a key containing a dot stays one loc segment */
    assert_string_equal(field(error_at(&rc, 0), "loc"), "[\"body\",\"m\",\"a.b\"]");
    assert_string_equal(field(error_at(&rc, 1), "loc"), "[\"body\",\"m\",\"c\"]");
    assert_string_equal(field(error_at(&rc, 2), "loc"), "[\"body\",\"l\",1]");
    assert_string_equal(field(error_at(&rc, 3), "loc"), "[\"body\",\"l\",3]");
    exo_reqcheck_free(&rc);

    exo_reqcheck_init(&rc);
    json_object *good = parse("{\"m\":{\"k\":\"v\"},\"l\":[\"x\"]}");
    assert_int_equal(exo_req_string_map(&rc, good, "m", "body", 1, &out), 0);
    assert_int_equal(json_object_object_length(out), 1);
    assert_int_equal(exo_req_string_list(&rc, good, "l", "body", 1, &out), 0);
    assert_int_equal(json_object_array_length(out), 1);
    assert_false(exo_reqcheck_failed(&rc));
    json_object_put(good);
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

static void test_value_error_format(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *input = json_object_new_string("");
    exo_reqcheck_value_error(&rc, "body.nodes.0.identifier", "Node identifier cannot be empty", input);
    json_object_put(input);
    json_object *e = error_at(&rc, 0);
    assert_string_equal(field(e, "type"), "\"value_error\"");
    assert_string_equal(field(e, "msg"), "\"Value error, Node identifier cannot be empty\"");
    assert_string_equal(field(e, "ctx"), "{\"error\":{}}");
    assert_string_equal(field(e, "input"), "\"\"");
    exo_reqcheck_free(&rc);
}

static void test_detail_without_errors_is_empty_list(void **state)
{
    (void)state;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *d = exo_reqcheck_detail(&rc);
    assert_string_equal(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN), "{\"detail\":[]}");
    json_object_put(d);
    char *loc = exo_reqcheck_join_loc("body", "x");
    assert_string_equal(loc, "body.x");
    free(loc);
    loc = exo_reqcheck_join_loc("", "x");
    assert_string_equal(loc, "x");
    free(loc);
    exo_reqcheck_free(&rc);
}

/* Strings with U+0000 would be cut when used as C strings: refused at their loc. */
static void test_nul_characters_are_refused(void **state)
{
    (void)state;
    json_object *body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string_len("a\0b", 3));
    json_object_object_add(body, "ok", json_object_new_string("plain"));
    json_object *list = json_object_new_array();
    json_object_array_add(list, json_object_new_string("x"));
    json_object_array_add(list, json_object_new_string_len("y\0", 2));
    json_object_object_add(body, "list", list);
    json_object *map = json_object_new_object();
    json_object_object_add(map, "good", json_object_new_string("v"));
    json_object_object_add(map, "bad", json_object_new_string_len("\0", 1));
    json_object_object_add(body, "map", map);

    assert_true(exo_json_string_has_nul(json_object_object_get(body, "name")));
    assert_false(exo_json_string_has_nul(json_object_object_get(body, "ok")));
    assert_false(exo_json_string_has_nul(list));

    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    const char *s = NULL;
    json_object *out = NULL;
    assert_int_equal(exo_req_string(&rc, body, "ok", "body", 1, &s), 0);
    assert_int_equal(exo_req_string(&rc, body, "name", "body", 1, &s), -1);
    assert_int_equal(exo_req_string_list(&rc, body, "list", "body", 1, &out), -1);
    assert_int_equal(exo_req_reject_nul_values(&rc, map, "body.map"), -1);
    assert_int_equal(exo_req_value_string(&rc, json_object_object_get(body, "name"), "path.name", &s), -1);
    assert_int_equal(json_object_array_length(rc.errors), 4);
    const char *locs[] = {"[\"body\",\"name\"]", "[\"body\",\"list\",1]", "[\"body\",\"map\",\"bad\"]",
                          "[\"path\",\"name\"]"};
    for (size_t i = 0; i < 4; i++) {
        json_object *e = error_at(&rc, i);
        assert_string_equal(field(e, "type"), "\"value_error\"");
        assert_string_equal(field(e, "loc"), locs[i]);
        assert_non_null(strstr(field(e, "msg"), "NUL"));
    }
    assert_int_equal(exo_req_reject_nul_values(&rc, json_object_object_get(body, "ok"), "body"), 0);
    json_object_put(body);
    exo_reqcheck_free(&rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loc_digits_become_integers),
        cmocka_unit_test(test_missing_reports_enclosing_object),
        cmocka_unit_test(test_optional_absent_and_null),
        cmocka_unit_test(test_string_rejects_non_strings),
        cmocka_unit_test(test_lax_integers),
        cmocka_unit_test(test_object_and_array_types),
        cmocka_unit_test(test_string_map_and_list_report_each_bad_entry),
        cmocka_unit_test(test_value_error_format),
        cmocka_unit_test(test_detail_without_errors_is_empty_list),
        cmocka_unit_test(test_nul_characters_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
