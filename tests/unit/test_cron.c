/* Unit tests for state-manager/cron.c: §2.3.2 validity and next fire times (UTC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* "YYYY-MM-DDTHH:MM:SS" UTC -> Unix ms, computed independently of cron.c. */
static int64_t at(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    assert_int_equal(n, 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static void expect_next(const char *expr, const char *after, const char *expected)
{
    int64_t got = exo_cron_next_expr(expr, at(after));
    int64_t want = at(expected);
    if (got != want)
        fail_msg("'%s' after %s: got %lld, expected %s (%lld)", expr, after, (long long)got, expected, (long long)want);
}

static void test_valid_expressions(void **state)
{
    (void)state;
    const char *valid[] = {"* * * * *", "0 * * * *", "*/5 * * * *", "  */5   * * * *  ", "0,15,30,45 * * * *",
                           "0 0-12/6 * * *", "5/15 * * * *", "0 0 1 jan *", "0 0 1 JAN-MAR *", "0 0 * * MON-FRI",
                           "0 0 * * 0-7", "0 0 ? * MON", "0 0 L * *", "0 0 * * FRI#3", "0 0 * * L5", "0 0 * * mon-wed#2",
                           "* * * * * */15", "0 0 1 1 * 0 2030", "@yearly", "@annually", "@monthly", "@weekly",
                           "@daily", "@midnight", "@hourly", "@HOURLY", "0 9 * * FRI-MON", "59 23 31 12 7",
                           "0 0 5-L * *", "0 0 * * * 0 2030", "0 0 * * 6 0"};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        if (!exo_cron_valid(valid[i]))
            fail_msg("should be valid: '%s'", valid[i]);
}

static void test_invalid_expressions(void **state)
{
    (void)state;
    const char *invalid[] = {"", "   ", "* * * *", "* * * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                             "* * 32 * *", "* * * 13 *", "* * * 0 *", "* * * * 8", "*/0 * * * *", "a * * * *",
                             "1-2-3 * * * *", "@every", "@reboot", "1,,2 * * * *", ",1 * * * *", "* * * * * 60",
                             "* * * * * * 1969", "* * * * * * 2100", "? * * * *", "* * * FOO *", "* * * * MONDAY",
                             "* * * * 1#6", "* * * * 1#0", "-1 * * * *", "1/ * * * *", "* * * * * *? *",
                             "0 0 * * 5L", "0 0 * * 1,5#3", "0 0 * * 1,L5", "0 0 * * 7 0", "0 0 * * 7 0 2030",
                             " @hourly", "@hourly ", "0 0 0-5 * *", "0 0 * * L"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        if (exo_cron_valid(invalid[i]))
            fail_msg("should be invalid: '%s'", invalid[i]);
    assert_false(exo_cron_valid(NULL));
    exo_cron c;
    char err[128] = "";
    assert_int_equal(exo_cron_parse("* 25 * * *", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "hour"));
    assert_int_equal(exo_cron_parse("* * * *", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "5 to 7 fields"));
    assert_int_equal(exo_cron_next_expr("bad", 0), -1);
}

static void test_random_field_detection(void **state)
{
    (void)state;
    assert_true(exo_cron_has_random_field("R * * * *"));
    assert_true(exo_cron_has_random_field("0 r(0-5) * * *"));
    assert_true(exo_cron_has_random_field("R/15 * * * *"));
    assert_false(exo_cron_has_random_field("0 0 * * *"));
    assert_false(exo_cron_has_random_field("0 0 * * L5"));
    assert_false(exo_cron_has_random_field(""));
    assert_false(exo_cron_valid("R * * * *")); /* exo refuses random schedules */
}

static void test_next_basic(void **state)
{
    (void)state;
    const char *t = "2025-01-15T10:30:45"; /* a Wednesday */
    expect_next("* * * * *", t, "2025-01-15T10:31:00");
    expect_next("0 * * * *", t, "2025-01-15T11:00:00");
    expect_next("@hourly", t, "2025-01-15T11:00:00");
    expect_next("@daily", t, "2025-01-16T00:00:00");
    expect_next("@midnight", t, "2025-01-16T00:00:00");
    expect_next("@monthly", t, "2025-02-01T00:00:00");
    expect_next("@yearly", t, "2026-01-01T00:00:00");
    expect_next("@annually", t, "2026-01-01T00:00:00");
    expect_next("@weekly", t, "2025-01-19T00:00:00");
    expect_next("0 0-12/6 * * *", t, "2025-01-15T12:00:00");
    expect_next("*/20 * * * *", t, "2025-01-15T10:40:00");
    expect_next("0 0 1 jan *", t, "2026-01-01T00:00:00");
}

static void test_next_is_strictly_after(void **state)
{
    (void)state;
    expect_next("0 * * * *", "2025-01-15T11:00:00", "2025-01-15T12:00:00");
    int64_t just_before = at("2025-01-15T11:00:00") - 1;
    assert_int_equal(exo_cron_next_expr("0 * * * *", just_before), at("2025-01-15T11:00:00"));
    int64_t mid_second = at("2025-01-15T10:59:59") + 500;
    assert_int_equal(exo_cron_next_expr("0 * * * *", mid_second), at("2025-01-15T11:00:00"));
    expect_next("59 23 31 12 *", "2025-12-31T23:59:00", "2026-12-31T23:59:00");
}

static void test_next_weekdays(void **state)
{
    (void)state;
    const char *t = "2025-01-15T10:30:45";
    expect_next("0 0 * * 1", t, "2025-01-20T00:00:00");
    expect_next("0 0 * * 7", t, "2025-01-19T00:00:00");
    expect_next("0 0 * * 0", t, "2025-01-19T00:00:00");
    expect_next("0 0 * * sun", t, "2025-01-19T00:00:00");
    expect_next("0 9 * * MON-FRI", "2025-01-17T09:00:00", "2025-01-20T09:00:00");
    expect_next("0 9 * * FRI-MON", t, "2025-01-17T09:00:00");
    expect_next("0 9 * * FRI-MON", "2025-01-17T09:00:00", "2025-01-18T09:00:00");
    expect_next("0 9 * * FRI-MON", "2025-01-20T09:00:00", "2025-01-24T09:00:00");
    expect_next("0 0 * * FRI#3", t, "2025-01-17T00:00:00");
    expect_next("0 0 * * mon-wed#3", t, "2025-01-20T00:00:00");
    expect_next("0 0 * * 5#3", "2025-01-17T00:00:00", "2025-02-21T00:00:00");
    expect_next("0 0 * * L5", t, "2025-01-31T00:00:00");
    expect_next("0 0 * * L5", "2025-01-31T00:00:00", "2025-02-28T00:00:00");
    /* croniter quirks: "a-a" is the whole cycle; a wrapped stepped range skips like croniter */
    expect_next("5-5 * * * *", t, "2025-01-15T10:31:00");
    expect_next("50-10/15 * * * *", "2025-01-15T10:51:00", "2025-01-15T11:06:00");
}

static void test_next_days_of_month(void **state)
{
    (void)state;
    const char *t = "2025-01-15T10:30:45";
    expect_next("0 0 31 * *", t, "2025-01-31T00:00:00");
    expect_next("0 0 31 * *", "2025-01-31T00:00:00", "2025-03-31T00:00:00");
    expect_next("0 0 L * *", t, "2025-01-31T00:00:00");
    expect_next("0 0 L * *", "2025-02-01T00:00:00", "2025-02-28T00:00:00");
    expect_next("0 0 L * *", "2024-02-01T00:00:00", "2024-02-29T00:00:00");
    expect_next("0 0 29 2 *", t, "2028-02-29T00:00:00");
    /* dom and dow both restricted: OR semantics */
    expect_next("0 0 13 * FRI", t, "2025-01-17T00:00:00");
    expect_next("0 0 16 * MON", t, "2025-01-16T00:00:00");
    /* dom restricted, dow "?" / "*": dom only */
    expect_next("0 0 20 * ?", t, "2025-01-20T00:00:00");
    expect_next("0 0 ? * 1", t, "2025-01-20T00:00:00");
}

static void test_next_seconds_and_years(void **state)
{
    (void)state;
    const char *t = "2025-01-15T10:30:45";
    expect_next("* * * * * */15", t, "2025-01-15T10:31:00");
    expect_next("* * * * * 50", t, "2025-01-15T10:30:50");
    expect_next("* * * * * *", t, "2025-01-15T10:30:46");
    expect_next("0 0 1 1 * 0 2030", t, "2030-01-01T00:00:00");
    expect_next("0 0 1 1 * 0 2024-2030/3", t, "2027-01-01T00:00:00");
    assert_int_equal(exo_cron_next_expr("0 0 1 1 * 0 2020", at(t)), -1);
    /* a date that never exists */
    assert_int_equal(exo_cron_next_expr("0 0 30 2 *", at(t)), -1);
}

/* Deterministic pseudo-random expressions: parse never crashes; valid ones always
 * yield a time strictly after the start (or -1 when no date matches). */
static void test_random_expressions(void **state)
{
    (void)state;
    const char *tokens[] = {"*", "*/5", "1-5", "0", "7", "MON", "jan", "L", "5#2", "?", "1,2", "5L",
                            "x", "-", "60", "31", "2-1", "FRI-MON", "*/0", "29", "2", "12", "@daily", "2030"};
    const size_t ntokens = sizeof tokens / sizeof *tokens;
    uint32_t seed = 777;
    char text[256];
    int64_t start = at("2025-01-15T10:30:45");
    int valid = 0;
    for (int round = 0; round < 20000; round++) {
        size_t fields = 4 + (seed >> 7) % 4, used = 0;
        for (size_t f = 0; f < fields; f++) {
            seed = seed * 1103515245u + 12345u;
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", f ? " " : "",
                                     tokens[(seed >> 16) % ntokens]);
        }
        seed = seed * 1103515245u + 12345u;
        exo_cron c;
        char err[128];
        if (exo_cron_parse(text, &c, err, sizeof err) != 0)
            continue;
        valid++;
        int64_t next = exo_cron_next(&c, start);
        assert_true(next == -1 || next > start);
    }
    assert_true(valid > 0);
}

/* Independent matcher over the parsed sets, for the brute-force comparison below. */
static int brute_matches(const exo_cron *c, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900, mday = tm.tm_mday, wday = tm.tm_wday;
    int off = year - 1970;
    if (!((c->years[off / 64] >> (off % 64)) & 1) || !((c->months >> (tm.tm_mon + 1)) & 1) ||
        !((c->hours >> tm.tm_hour) & 1) || !((c->minutes >> tm.tm_min) & 1) || !((c->seconds >> tm.tm_sec) & 1))
        return 0;
    struct tm next_month = tm;
    next_month.tm_mon++;
    next_month.tm_mday = 1;
    time_t first_of_next = timegm(&next_month);
    struct tm last_tm;
    time_t last_day = first_of_next - 86400;
    gmtime_r(&last_day, &last_tm);
    int last = last_tm.tm_mday;
    int dom = ((c->dom >> mday) & 1) || (c->dom_last && mday == last);
    int dow = ((c->dow >> wday) & 1) || ((c->dow_nth[wday] >> ((mday - 1) / 7 + 1)) & 1) ||
              (((c->dow_last >> wday) & 1) && mday + 7 > last);
    if (!c->dom_any && !c->dow_any)
        return dom || dow;
    if (!c->dom_any)
        return dom;
    if (!c->dow_any)
        return dow;
    return 1;
}

/* exo_cron_next agrees with a minute-by-minute scan (5-field expressions, 40 days). */
static void test_next_matches_brute_force(void **state)
{
    (void)state;
    const char *minutes[] = {"*", "0", "*/7", "5,35", "50-10/15", "59"};
    const char *hours[] = {"*", "0", "9-17", "23", "*/5"};
    const char *doms[] = {"*", "1", "L", "13", "28-31", "?"};
    const char *months[] = {"*", "2", "jan,mar", "*/2"};
    const char *dows[] = {"*", "1", "FRI#2", "L0", "sat-mon", "?"};
    int64_t start = at("2025-01-15T10:30:45");
    int compared = 0;
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t d = 0; d < 6; d++)
                for (size_t m = 0; m < 4; m++)
                    for (size_t w = 0; w < 6; w++) {
                        if ((a * 7 + b * 5 + d * 3 + m + w) % 11 != 0)
                            continue; /* a deterministic sample of the combinations */
                        char expr[128];
                        snprintf(expr, sizeof expr, "%s %s %s %s %s", minutes[a], hours[b], doms[d], months[m], dows[w]);
                        exo_cron c;
                        char err[128];
                        if (exo_cron_parse(expr, &c, err, sizeof err) != 0)
                            continue;
                        int64_t got = exo_cron_next(&c, start);
                        time_t t = (time_t)(start / 1000 / 60 + 1) * 60;
                        int64_t want = -1;
                        for (int i = 0; i < 40 * 24 * 60; i++, t += 60)
                            if (brute_matches(&c, t)) {
                                want = (int64_t)t * 1000;
                                break;
                            }
                        if (want < 0) {
                            assert_true(got == -1 || got > (int64_t)t * 1000 - 60000);
                            continue;
                        }
                        if (got != want)
                            fail_msg("'%s': got %lld, brute force %lld", expr, (long long)got, (long long)want);
                        compared++;
                    }
    assert_true(compared > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_expressions),
        cmocka_unit_test(test_invalid_expressions),
        cmocka_unit_test(test_random_field_detection),
        cmocka_unit_test(test_next_basic),
        cmocka_unit_test(test_next_is_strictly_after),
        cmocka_unit_test(test_next_weekdays),
        cmocka_unit_test(test_next_days_of_month),
        cmocka_unit_test(test_next_seconds_and_years),
        cmocka_unit_test(test_random_expressions),
        cmocka_unit_test(test_next_matches_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
