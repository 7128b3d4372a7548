/* Unit tests of exo_id_new (sm_util.h): state ids are 24 lower-case hex characters,
 * time-ordered like ObjectIds (creation second first), strictly increasing within a
 * process, including from several threads at once (no duplicates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sm_util.h"

static void test_format_and_time_prefix(void **state)
{
    (void)state;
    time_t before = time(NULL);
    char id[EXO_ID_LEN + 1];
    assert_int_equal(exo_id_new(id), 0);
    time_t after = time(NULL);
    assert_int_equal(strlen(id), EXO_ID_LEN);
    char canonical[EXO_ID_LEN + 1];
    assert_int_equal(exo_id_canonical(id, canonical), 0);
    assert_string_equal(canonical, id); /* already lower case */
    char head[9];
    memcpy(head, id, 8);
    head[8] = '\0';
    long secs = strtol(head, NULL, 16);
    assert_true(secs >= (long)before && secs <= (long)after);
}

static void test_later_ids_sort_later(void **state)
{
    (void)state;
    char prev[EXO_ID_LEN + 1], id[EXO_ID_LEN + 1];
    assert_int_equal(exo_id_new(prev), 0);
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(exo_id_new(id), 0);
        /* the 3-byte counter may wrap once from its random start: then the second
           must have moved on for the order to hold, which it does not within this
           loop, so allow exactly one wrap */
        if (strcmp(id, prev) <= 0) {
            assert_memory_equal(id, prev, 18); /* same second, same process part */
            assert_string_equal(id + 18, "000000");
        }
        memcpy(prev, id, sizeof prev);
    }
}

#define THREADS 4
#define PER_THREAD 20000
static char ids[THREADS * PER_THREAD][EXO_ID_LEN + 1];

static void *make_ids(void *arg)
{
    size_t base = (size_t)(intptr_t)arg * PER_THREAD;
    for (size_t i = 0; i < PER_THREAD; i++)
        if (exo_id_new(ids[base + i]) != 0)
            return arg;
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_no_duplicates_across_threads(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, make_ids, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failed = (void *)1;
        assert_int_equal(pthread_join(t[i], &failed), 0);
        assert_null(failed);
    }
    qsort(ids, THREADS * PER_THREAD, sizeof ids[0], cmp_id);
    for (size_t i = 1; i < THREADS * PER_THREAD; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_time_prefix),
        cmocka_unit_test(test_later_ids_sort_later),
        cmocka_unit_test(test_no_duplicates_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
