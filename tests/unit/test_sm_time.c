/* Unit tests of exo_parse_time (sm_util.h): the times clients give the run
 * controls, as Unix milliseconds or UTC ISO-8601, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sm_util.h"

static int64_t parsed(const char *text)
{
    int64_t ms = -42;
    assert_int_equal(exo_parse_time(text, &ms), 0);
    return ms;
}

static void test_accepted_forms(void **state)
{
    (void)state;
    assert_int_equal(parsed("0"), 0);
    assert_int_equal(parsed("1764633600000"), 1764633600000);
    assert_int_equal(parsed("2025-12-02"), 1764633600000);
    assert_int_equal(parsed("2025-12-02T00:00"), 1764633600000);
    assert_int_equal(parsed("2025-12-02T00:00:01"), 1764633601000);
    assert_int_equal(parsed("2025-12-02 00:00:01Z"), 1764633601000);
    assert_int_equal(parsed("2025-12-02T00:00:01.5+00:00"), 1764633601500);
    assert_int_equal(parsed("2025-12-02T00:00:01.123456"), 1764633601123);
    /* the API's own timestamps read back */
    char text[40];
    exo_iso_time(1764633601250, text);
    assert_int_equal(parsed(text), 1764633601250);
}

static void test_refused_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "x", "-5", "12abc", "2025-13-01", "2025-12-32", "2025-02-29", "2025-12-02T25:00",
                                      "2025-12-02T10", "2025-12-02T10:00:00+02:00", "2025-12-02T10:00:00.",
                                      "2025/12/02", "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ms = 7;
        assert_int_equal(exo_parse_time(bad[i], &ms), -1);
        assert_int_equal(ms, 7);
    }
    int64_t ms;
    assert_int_equal(exo_parse_time(NULL, &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_refused_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
