/* host/logtail.h: the last 64 KiB of a state's output, valid UTF-8, with a line
 * naming what was cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "logtail.h"
#include "utf8.h"

static void test_nothing_printed(void **state)
{
    (void)state;
    host_logtail t = {0};
    size_t len = 1;
    assert_null(host_logtail_text(&t, &len));
    assert_int_equal(len, 0);
}

static void test_small_output_is_kept_whole(void **state)
{
    (void)state;
    host_logtail t = {0};
    host_logtail_append(&t, "one\n", 4);
    host_logtail_append(&t, "tw\0o\xff\n", 6);
    size_t len = 0;
    char *text = host_logtail_text(&t, &len);
    assert_non_null(text);
    assert_int_equal(len, 4 + 3 + 1 + 3 + 1); /* NUL kept, 0xff as U+FFFD (3 bytes) */
    assert_memory_equal(text, "one\ntw\0o\xef\xbf\xbd\n", len);
    free(text);
    host_logtail_free(&t);
}

static void test_long_output_keeps_its_end(void **state)
{
    (void)state;
    host_logtail t = {0};
    /* 1 MiB of valid UTF-8: "é" (2 bytes each) and a 1-byte "x" now and then, so
     * the ring's cut lands inside a character */
    char chunk[3000];
    for (size_t i = 0; i + 1 < sizeof chunk; i += 2)
        memcpy(chunk + i, "\xc3\xa9", 2);
    size_t total = 0;
    for (int i = 0; total < 1024 * 1024; i++) {
        host_logtail_append(&t, chunk, sizeof chunk);
        host_logtail_append(&t, "x", 1);
        total += sizeof chunk + 1;
    }
    host_logtail_append(&t, "END\n", 4);
    total += 4;
    size_t len = 0;
    char *text = host_logtail_text(&t, &len);
    assert_non_null(text);
    assert_true(exo_utf8_valid(text, len));
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    unsigned long long cut = 0;
    assert_int_equal(sscanf(text, "[exo-host: %llu earlier bytes of output not kept]", &cut), 1);
    size_t kept = len - (size_t)(nl + 1 - text);
    assert_true(kept <= HOST_LOGTAIL_MAX); /* no U+FFFD: the partial character was left out */
    assert_true(kept >= HOST_LOGTAIL_MAX - 3);
    assert_true(len >= 4 && memcmp(text + len - 4, "END\n", 4) == 0);
    assert_true(cut > total - HOST_LOGTAIL_MAX - 4);
    free(text);
    host_logtail_free(&t);
}

static void test_one_huge_write(void **state)
{
    (void)state;
    host_logtail t = {0};
    size_t n = 3 * HOST_LOGTAIL_MAX;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n - 1] = 'z';
    host_logtail_append(&t, big, n);
    size_t len = 0;
    char *text = host_logtail_text(&t, &len);
    assert_non_null(text);
    assert_int_equal(text[len - 1], 'z');
    assert_non_null(strstr(text, "131072 earlier bytes"));
    free(text);
    free(big);
    host_logtail_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_printed),
        cmocka_unit_test(test_small_output_is_kept_whole),
        cmocka_unit_test(test_long_output_keeps_its_end),
        cmocka_unit_test(test_one_huge_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
