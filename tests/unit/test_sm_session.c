/* Dashboard sessions (state-manager/http/session.c): tokens, lookup, sign-out,
 * expiry, the bounded table, and the verdicts of a request without a transport
 * (no cookie: anonymous). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "session.h"
#include "signin_throttle.h"

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(exo_secret_equal("abc", "abc"));
    assert_false(exo_secret_equal("abc", "abd"));
    assert_false(exo_secret_equal("abc", "abcd"));
    assert_false(exo_secret_equal("", "abc"));
    assert_false(exo_secret_equal(NULL, "abc"));
    assert_false(exo_secret_equal("abc", NULL));
}

static void test_create_lookup_end(void **state)
{
    (void)state;
    char id[EXO_SESSION_TOKEN_LEN + 1], csrf[EXO_SESSION_TOKEN_LEN + 1], got[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at, got_expires;
    int64_t before = exo_now_ms();
    assert_int_equal(exo_session_create(id, csrf, &expires_at), 0);
    assert_int_equal(strlen(id), EXO_SESSION_TOKEN_LEN);
    assert_int_equal(strspn(id, "0123456789abcdef"), EXO_SESSION_TOKEN_LEN);
    assert_string_not_equal(id, csrf);
    assert_true(expires_at >= before + 8 * 3600 * 1000LL - 1000);
    assert_true(exo_session_lookup(id, got, &got_expires));
    assert_string_equal(got, csrf);
    assert_int_equal(got_expires, expires_at);
    assert_false(exo_session_lookup(csrf, got, &got_expires)); /* the token is not an id */
    assert_false(exo_session_lookup("short", got, &got_expires));
    assert_false(exo_session_lookup(NULL, got, &got_expires));
    exo_session_end(id);
    assert_false(exo_session_lookup(id, got, &got_expires));
    exo_session_end(id); /* again: no-op */
}

static void test_ttl_from_environment(void **state)
{
    (void)state;
    char id[EXO_SESSION_TOKEN_LEN + 1], csrf[EXO_SESSION_TOKEN_LEN + 1], got[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at;
    assert_int_equal(setenv("EXO_SESSION_TTL_S", "1", 1), 0);
    assert_int_equal(exo_session_create(id, csrf, &expires_at), 0);
    assert_true(expires_at <= exo_now_ms() + 1000);
    assert_true(exo_session_lookup(id, got, &expires_at));
    exo_sleep_ms(1100);
    assert_false(exo_session_lookup(id, got, &expires_at));
    assert_int_equal(setenv("EXO_SESSION_TTL_S", "nonsense", 1), 0); /* warned, default used */
    assert_int_equal(exo_session_create(id, csrf, &expires_at), 0);
    assert_true(expires_at > exo_now_ms() + 3600 * 1000LL);
    assert_int_equal(unsetenv("EXO_SESSION_TTL_S"), 0);
}

/* A full table drops the session closest to its end, never a newer one. */
static void test_table_is_bounded(void **state)
{
    (void)state;
    char first[EXO_SESSION_TOKEN_LEN + 1], last[EXO_SESSION_TOKEN_LEN + 1], csrf[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at;
    assert_int_equal(exo_session_create(first, csrf, &expires_at), 0);
    for (int i = 0; i < EXO_SESSION_MAX; i++)
        assert_int_equal(exo_session_create(last, csrf, &expires_at), 0);
    assert_false(exo_session_lookup(first, csrf, &expires_at));
    assert_true(exo_session_lookup(last, csrf, &expires_at));
}

static void test_request_without_cookie_is_anonymous(void **state)
{
    (void)state;
    exo_req req = {.method = "POST"};
    assert_int_equal(exo_session_authorize(&req), EXO_SESSION_NONE);
    assert_true(exo_session_same_origin(&req)); /* no Origin: not a cross-origin browser request */
    assert_false(exo_session_tls(&req));
    assert_string_equal(exo_session_verdict_message(EXO_SESSION_NONE), "Invalid API key");
    assert_non_null(strstr(exo_session_verdict_message(EXO_SESSION_NO_CSRF), "X-CSRF-Token"));
    assert_non_null(strstr(exo_session_verdict_message(EXO_SESSION_EXPIRED), "sign in again"));
}


/* Sign-in throttling: free failures, then doubling waits up to the cap; an IPv6
 * address counts by its /64; a right key starts again; the table stays bounded. */
static void test_signin_throttle(void **state)
{
    (void)state;
    exo_signin_reset();
    int64_t now = 1000000;
    int failures;
    for (int i = 1; i <= EXO_SIGNIN_FREE_FAILURES; i++) {
        assert_int_equal(exo_signin_failed("10.0.0.1", now, &failures), 0);
        assert_int_equal(failures, i);
    }
    assert_int_equal(exo_signin_wait_ms("10.0.0.1", now), 0);
    assert_int_equal(exo_signin_failed("10.0.0.1", now, &failures), 1000);
    assert_int_equal(exo_signin_wait_ms("10.0.0.1", now + 400), 600);
    assert_int_equal(exo_signin_wait_ms("10.0.0.2", now), 0); /* another address */
    assert_int_equal(exo_signin_failed("10.0.0.1", now + 1000, &failures), 2000);
    int64_t wait = 0;
    for (int i = 0; i < 20; i++)
        wait = exo_signin_failed("10.0.0.1", now + 2000, &failures);
    assert_int_equal(wait, (int64_t)EXO_SIGNIN_MAX_WAIT_S * 1000);
    exo_signin_succeeded("10.0.0.1");
    assert_int_equal(exo_signin_wait_ms("10.0.0.1", now + 2000), 0);

    /* 2001:db8:1:2::/64 is one client, 2001:db8:1:3::/64 another */
    for (int i = 0; i <= EXO_SIGNIN_FREE_FAILURES; i++)
        exo_signin_failed(i % 2 ? "2001:db8:1:2::1" : "2001:db8:1:2:ffff::9", now, &failures);
    assert_true(exo_signin_wait_ms("2001:db8:1:2::77", now) > 0);
    assert_int_equal(exo_signin_wait_ms("2001:db8:1:3::1", now), 0);

    /* a table full of other addresses makes room: the oldest failure goes first */
    char addr[32];
    for (int i = 0; i < EXO_SIGNIN_ADDRESSES + 10; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
        exo_signin_failed(addr, now + 10 + i, &failures);
    }
    assert_int_equal(exo_signin_wait_ms("2001:db8:1:2::77", now), 0);
    exo_signin_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_signin_throttle),
        cmocka_unit_test(test_create_lookup_end),
        cmocka_unit_test(test_ttl_from_environment),
        cmocka_unit_test(test_table_is_bounded),
        cmocka_unit_test(test_request_without_cookie_is_anonymous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
