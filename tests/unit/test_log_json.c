/* common/log.h's JSON format: one valid JSON object per line, whatever the message
 * holds (quotes, control characters, bytes that are not UTF-8), fields included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "log.h"

/* Logs one line with stderr sent to a file; returns that line parsed. */
static json_object *log_one(const exo_log_field *fields, size_t n, const char *msg)
{
    char path[] = "/tmp/exo-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0 && dup2(fd, STDERR_FILENO) >= 0);
    exo_logf_fields(EXO_LOG_WARN, fields, n, "%s", msg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    char buf[32768];
    ssize_t len = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    assert_true(len > 0);
    buf[len] = '\0';
    assert_int_equal(buf[len - 1], '\n');
    assert_true(strchr(buf, '\n') == buf + len - 1); /* one line */
    json_object *o = json_tokener_parse(buf);
    assert_non_null(o);
    return o;
}

static const char *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_plain_line(void **state)
{
    (void)state;
    exo_log_init("exo-test");
    exo_log_set_format(EXO_LOG_JSON);
    json_object *o = log_one(NULL, 0, "hello");
    assert_string_equal(member(o, "level"), "warn");
    assert_string_equal(member(o, "program"), "exo-test");
    assert_string_equal(member(o, "msg"), "hello");
    assert_int_equal(strlen(member(o, "time")), 24); /* 2026-12-02T02:20:29.580Z */
    json_object_put(o);
}

static void test_hostile_text_and_fields(void **state)
{
    (void)state;
    exo_log_set_format(EXO_LOG_JSON);
    exo_log_field f[] = {{"state_id", "abc"}, {"run_id", NULL}, {"graph", "g\"\n"}};
    json_object *o = log_one(f, 3, "q\" b\\ nl\n esc\x1b bad\xff caf\xc3\xa9");
    assert_string_equal(member(o, "msg"), "q\" b\\ nl\n esc\x1b bad\xef\xbf\xbd caf\xc3\xa9");
    assert_string_equal(member(o, "state_id"), "abc");
    assert_null(member(o, "run_id")); /* NULL values are left out */
    assert_string_equal(member(o, "graph"), "g\"\n");
    json_object_put(o);
}

static void test_long_message_is_cut_but_valid(void **state)
{
    (void)state;
    exo_log_set_format(EXO_LOG_JSON);
    char *big = malloc(20000);
    assert_non_null(big);
    for (size_t i = 0; i + 2 < 20000; i += 2)
        memcpy(big + i, "\x01\xc3", 2); /* control characters and broken sequences */
    big[19999] = '\0';
    json_object *o = log_one(NULL, 0, big);
    assert_non_null(member(o, "msg"));
    json_object_put(o);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_line),
        cmocka_unit_test(test_hostile_text_and_fields),
        cmocka_unit_test(test_long_message_is_cut_but_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
