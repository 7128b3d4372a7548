/* Unit tests for state-manager/json_guard.c: integer literals beyond 64 bits and
 * object keys with U+0000 are reported at their exact loc; everything else passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_guard.h"

/* Runs the guard on text; returns the compact detail text (malloc'd) or NULL. */
static char *guard(const char *text)
{
    int oom = 1;
    json_object *d = exo_json_guard(text, strlen(text), 1000, &oom);
    assert_int_equal(oom, 0);
    if (!d)
        return NULL;
    char *out = strdup(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(d);
    return out;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' not found in '%s'", needle, hay);
}

static void test_representable_bodies_pass(void **state)
{
    (void)state;
    const char *ok[] = {"{}", "[]", "null", "5", "-9223372036854775808", "18446744073709551615",
                        "{\"a\":[1,2,{\"b\":-9223372036854775808}],\"c\":18446744073709551615}",
                        "1e400", "123456789012345678901234567890.5", "-1E+30", "\"a\\u0000b\"",
                        "{\"k\":\"v\\u0000\",\"\\\\u0000\":1}", "{\"x\":\"\\\"\\u0000\"}", "[\"\\u00001\"]"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char *d = guard(ok[i]);
        if (d)
            fail_msg("%s flagged: %s", ok[i], d);
    }
}

static void test_big_integers_reported_at_their_loc(void **state)
{
    (void)state;
    char *d = guard("{\"a\":[1,{\"b\":100000000000000000000}],\"c\":-9223372036854775809,\"d\":18446744073709551616}");
    assert_non_null(d);
    assert_contains(d, "\"loc\":[\"body\",\"a\",1,\"b\"]");
    assert_contains(d, "\"input\":\"100000000000000000000\"");
    assert_contains(d, "\"loc\":[\"body\",\"c\"]");
    assert_contains(d, "\"input\":\"-9223372036854775809\"");
    assert_contains(d, "\"loc\":[\"body\",\"d\"]");
    assert_contains(d, "\"type\":\"value_error\"");
    free(d);
    d = guard("[0, 99999999999999999999999]");
    assert_non_null(d);
    assert_contains(d, "\"loc\":[\"body\",1]");
    free(d);
}

static void test_nul_keys_reported_with_their_path(void **state)
{
    (void)state;
    char *d = guard("{\"n\":{\"a\\u0000x\":1, \"b\" : {\"c\\u0000\" :2}}}");
    assert_non_null(d);
    assert_contains(d, "\"loc\":[\"body\",\"n\",\"a\\u0000x\"]");
    assert_contains(d, "\"loc\":[\"body\",\"n\",\"b\",\"c\\u0000\"]");
    assert_contains(d, "must not contain the NUL character");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_representable_bodies_pass),
        cmocka_unit_test(test_big_integers_reported_at_their_loc),
        cmocka_unit_test(test_nul_keys_reported_with_their_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
