/* Unit tests for state-manager/retry.c: policy parsing (422 rules) and §7 delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry.h"

static exo_retry_policy policy(exo_retry_strategy s, int64_t factor, int64_t exponent, int64_t max_delay)
{
    exo_retry_policy p;
    exo_retry_policy_default(&p);
    p.strategy = s;
    p.backoff_factor = factor;
    p.exponent = exponent;
    p.has_max_delay = max_delay > 0;
    p.max_delay = max_delay;
    return p;
}

static void test_defaults_and_serialisation(void **state)
{
    (void)state;
    exo_retry_policy p;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    assert_int_equal(exo_retry_policy_from_json(&rc, NULL, "body.retry_policy", &p), 0);
    json_object *j = exo_retry_policy_to_json(&p);
    assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                        "{\"max_retries\":3,\"strategy\":\"EXPONENTIAL\",\"backoff_factor\":2000,"
                        "\"exponent\":2,\"max_delay\":null}");
    json_object_put(j);
    json_object *in = json_tokener_parse("{\"max_retries\":\"2\",\"strategy\":\"LINEAR\",\"backoff_factor\":1000.0,\"max_delay\":2500}");
    assert_int_equal(exo_retry_policy_from_json(&rc, in, "body.retry_policy", &p), 0);
    j = exo_retry_policy_to_json(&p);
    assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                        "{\"max_retries\":2,\"strategy\":\"LINEAR\",\"backoff_factor\":1000,"
                        "\"exponent\":2,\"max_delay\":2500}");
    assert_false(exo_reqcheck_failed(&rc));
    json_object_put(j);
    json_object_put(in);
    exo_reqcheck_free(&rc);
}

static void test_constraints_are_422(void **state)
{
    (void)state;
    exo_retry_policy p;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *in = json_tokener_parse(
        "{\"max_retries\":-1,\"strategy\":\"linear\",\"backoff_factor\":0,\"exponent\":0,\"max_delay\":0}");
    assert_int_equal(exo_retry_policy_from_json(&rc, in, "body.retry_policy", &p), -1);
    const char *expected[][3] = {
        {"greater_than_equal", "[\"body\",\"retry_policy\",\"max_retries\"]", "{\"ge\":0}"},
        {"enum", "[\"body\",\"retry_policy\",\"strategy\"]", NULL},
        {"greater_than", "[\"body\",\"retry_policy\",\"backoff_factor\"]", "{\"gt\":0}"},
        {"greater_than", "[\"body\",\"retry_policy\",\"exponent\"]", "{\"gt\":0}"},
        {"greater_than", "[\"body\",\"retry_policy\",\"max_delay\"]", "{\"gt\":0}"},
    };
    assert_int_equal(json_object_array_length(rc.errors), 5);
    for (size_t i = 0; i < 5; i++) {
        json_object *e = json_object_array_get_idx(rc.errors, i), *v;
        json_object_object_get_ex(e, "type", &v);
        assert_string_equal(json_object_get_string(v), expected[i][0]);
        json_object_object_get_ex(e, "loc", &v);
        assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), expected[i][1]);
        if (expected[i][2]) {
            json_object_object_get_ex(e, "ctx", &v);
            assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), expected[i][2]);
        }
    }
    json_object *e = json_object_array_get_idx(rc.errors, 1), *msg;
    json_object_object_get_ex(e, "msg", &msg);
    assert_non_null(strstr(json_object_get_string(msg), "'LINEAR_EQUAL_JITTER', 'FIXED', "));
    assert_non_null(strstr(json_object_get_string(msg), "'FIXED_FULL_JITTER' or 'FIXED_EQUAL_JITTER'"));
    json_object_put(in);
    exo_reqcheck_free(&rc);

    exo_reqcheck_init(&rc);
    in = json_tokener_parse("[1]");
    assert_int_equal(exo_retry_policy_from_json(&rc, in, "body.retry_policy", &p), -1);
    assert_true(exo_reqcheck_failed(&rc));
    json_object_put(in);
    exo_reqcheck_free(&rc);
}

static void test_strategy_names_round_trip(void **state)
{
    (void)state;
    for (int s = EXO_RETRY_EXPONENTIAL; s <= EXO_RETRY_FIXED_EQUAL_JITTER; s++) {
        exo_retry_strategy out;
        assert_int_equal(exo_retry_strategy_parse(exo_retry_strategy_name((exo_retry_strategy)s), &out), 0);
        assert_int_equal(out, s);
    }
    exo_retry_strategy out;
    assert_int_equal(exo_retry_strategy_parse("exponential", &out), -1);
    assert_int_equal(exo_retry_strategy_parse("", &out), -1);
}

static void test_deterministic_delays(void **state)
{
    (void)state;
    exo_retry_policy p = policy(EXO_RETRY_EXPONENTIAL, 2000, 2, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 1, 0.3), 2000);
    assert_int_equal(exo_retry_delay_with_draw(&p, 2, 0.3), 4000);
    assert_int_equal(exo_retry_delay_with_draw(&p, 3, 0.3), 8000);
    p = policy(EXO_RETRY_LINEAR, 1000, 2, 2500);
    assert_int_equal(exo_retry_delay_with_draw(&p, 1, 0), 1000);
    assert_int_equal(exo_retry_delay_with_draw(&p, 2, 0), 2000);
    assert_int_equal(exo_retry_delay_with_draw(&p, 3, 0), 2500);
    assert_int_equal(exo_retry_delay_with_draw(&p, 4, 0), 2500);
    p = policy(EXO_RETRY_FIXED, 700, 5, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 1, 0), 700);
    assert_int_equal(exo_retry_delay_with_draw(&p, 9, 0.9), 700);
    p = policy(EXO_RETRY_EXPONENTIAL, 100, 3, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 4, 0), 2700);
}

static void test_jitter_delays(void **state)
{
    (void)state;
    exo_retry_policy p = policy(EXO_RETRY_EXPONENTIAL_FULL_JITTER, 1000, 2, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 3, 0.0), 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 3, 0.5), 2000);
    assert_int_equal(exo_retry_delay_with_draw(&p, 3, 0.99999), 3999);
    p = policy(EXO_RETRY_LINEAR_EQUAL_JITTER, 1001, 2, 0);
    /* b = 2002: 1001 + U(0,1001) */
    assert_int_equal(exo_retry_delay_with_draw(&p, 2, 0.0), 1001);
    assert_int_equal(exo_retry_delay_with_draw(&p, 2, 0.5), 1501);
    p = policy(EXO_RETRY_FIXED_EQUAL_JITTER, 3, 2, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 1, 0.0), 1); /* floor(1.5) */
    p = policy(EXO_RETRY_FIXED_FULL_JITTER, 1000, 2, 10);
    assert_int_equal(exo_retry_delay_with_draw(&p, 1, 0.5), 10);
    /* random draws stay within the documented ranges */
    p = policy(EXO_RETRY_EXPONENTIAL_EQUAL_JITTER, 1000, 2, 0);
    for (int i = 0; i < 200; i++) {
        int64_t d = exo_retry_delay_ms(&p, 2);
        assert_true(d >= 1000 && d <= 2000);
    }
}

static void test_overflow_saturates(void **state)
{
    (void)state;
    exo_retry_policy p = policy(EXO_RETRY_EXPONENTIAL, INT64_MAX / 2, 10, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, 1000000, 0), INT64_MAX);
    p = policy(EXO_RETRY_LINEAR, INT64_MAX, 2, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, INT64_MAX, 0), INT64_MAX);
    p = policy(EXO_RETRY_EXPONENTIAL_FULL_JITTER, INT64_MAX, 2, 0);
    int64_t d = exo_retry_delay_with_draw(&p, 70, 0.999999);
    assert_true(d > 0);
    p = policy(EXO_RETRY_EXPONENTIAL, 2000, 2, 60000);
    assert_int_equal(exo_retry_delay_with_draw(&p, 200, 0), 60000);
    p = policy(EXO_RETRY_EXPONENTIAL, 5, 1, 0);
    assert_int_equal(exo_retry_delay_with_draw(&p, INT64_MAX, 0), 5);
    assert_int_equal(exo_add_saturating(INT64_MAX - 5, 10), INT64_MAX);
    assert_int_equal(exo_add_saturating(INT64_MIN + 5, -10), INT64_MIN);
    assert_int_equal(exo_add_saturating(40, 2), 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_serialisation),
        cmocka_unit_test(test_constraints_are_422),
        cmocka_unit_test(test_strategy_names_round_trip),
        cmocka_unit_test(test_deterministic_delays),
        cmocka_unit_test(test_jitter_delays),
        cmocka_unit_test(test_overflow_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
