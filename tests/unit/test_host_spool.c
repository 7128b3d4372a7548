/* The spool of undelivered reports: atomic files, replayed in write order; and the
 * retry backoff (never shorter than the base, capped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "spool.h"

static char dir[] = "/tmp/exo-test-spool-XXXXXX";

typedef struct seen {
    int n;
    char ids[8][32];
    char files[8][512];
} seen;

static void collect(void *arg, const char *file, json_object *entry)
{
    seen *s = arg;
    if (s->n >= 8)
        return;
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s",
             json_object_get_string(json_object_object_get(entry, "state_id")));
    snprintf(s->files[s->n], sizeof s->files[0], "%s", file);
    s->n++;
}

static void test_write_replay_remove(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/a/b/spool", dir);
    char err[256];
    host_spool sp = {0};
    assert_int_equal(host_spool_init(&sp, sub, err, sizeof err), 0);
    const char *ids[] = {"66b1f0c2a9e4d3b2c1a09f87", "66b1f0c2a9e4d3b2c1a09f88", "66b1f0c2a9e4d3b2c1a09f89"};
    char *files[3];
    for (int i = 0; i < 3; i++) {
        json_object *body = json_tokener_parse("{\"outputs\": [{\"text\": \"x\"}]}");
        files[i] = host_spool_write(&sp, ids[i], "EchoNode", "/v0/namespace/ns/state/x/executed", body);
        json_object_put(body);
        assert_non_null(files[i]);
    }
    seen s = {0};
    assert_int_equal(host_spool_replay(&sp, collect, &s), 3);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(s.ids[i], ids[i]); /* write order */
        assert_string_equal(s.files[i], files[i]);
    }
    json_object *entry = json_object_from_file(files[1]);
    assert_string_equal(json_object_get_string(json_object_object_get(entry, "path")),
                        "/v0/namespace/ns/state/x/executed");
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_array_get_idx(json_object_object_get(
                                json_object_object_get(entry, "body"), "outputs"), 0), "text")),
                        "x");
    json_object_put(entry);
    assert_int_equal(host_spool_remove(&sp, files[1]), 0);
    assert_int_equal(host_spool_remove(&sp, files[1]), 0); /* already gone is fine */
    seen again = {0};
    assert_int_equal(host_spool_replay(&sp, collect, &again), 2);
    assert_string_equal(again.ids[0], ids[0]);
    assert_string_equal(again.ids[1], ids[2]);
    for (int i = 0; i < 3; i++)
        free(files[i]);
    host_spool_release(&sp);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A delivered entry's file is kept aside and written again for a later entry: the
 * later entry reads back exactly, even when it is shorter, and replay never sees
 * the kept files. */
static void test_reused_file_reads_back_exactly(void **state)
{
    (void)state;
    char root[] = "/tmp/exo-test-spool-reuse-XXXXXX";
    assert_non_null(mkdtemp(root));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/spool", root);
    char err[256];
    host_spool sp = {0};
    assert_int_equal(host_spool_init(&sp, sub, err, sizeof err), 0);
    json_object *big = json_tokener_parse("{\"outputs\": [{\"text\": \"a long value that makes "
                                          "the first entry clearly longer than the second\"}]}");
    char *first = host_spool_write(&sp, "66b1f0c2a9e4d3b2c1a09f90", "EchoNode", "/p/executed", big);
    json_object_put(big);
    assert_non_null(first);
    assert_int_equal(host_spool_remove(&sp, first), 0); /* delivered: kept aside */
    json_object *small = json_tokener_parse("{\"outputs\": [{\"text\": \"y\"}]}");
    char *second = host_spool_write(&sp, "66b1f0c2a9e4d3b2c1a09f91", "EchoNode", "/p/errored", small);
    json_object_put(small);
    assert_non_null(second);
    seen s = {0};
    assert_int_equal(host_spool_replay(&sp, collect, &s), 1);
    assert_string_equal(s.ids[0], "66b1f0c2a9e4d3b2c1a09f91");
    json_object *entry = json_object_from_file(second);
    assert_non_null(entry);
    assert_string_equal(json_object_get_string(json_object_object_get(entry, "path")), "/p/errored");
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(entry, "body"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "{\"outputs\":[{\"text\":\"y\"}]}");
    json_object_put(entry);
    assert_int_equal(host_spool_remove(&sp, second), 0);
    seen none = {0};
    assert_int_equal(host_spool_replay(&sp, collect, &none), 0);
    host_spool_release(&sp);
    free(first);
    free(second);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s/spool')$(ls -A '%s/spool.spare')\" && rm -rf '%s'",
             root, root, root);
    assert_int_equal(system(cmd), 0); /* nothing left behind by the kept files */
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    for (int attempt = 1; attempt <= 12; attempt++) {
        int64_t want = 500;
        for (int i = 1; i < attempt && want < 30000; i++)
            want *= 2;
        if (want > 30000)
            want = 30000;
        for (int k = 0; k < 50; k++) {
            int64_t d = host_backoff_ms(attempt, 500, 30000);
            assert_true(d >= want);
            assert_true(d <= want + want / 4);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replay_remove),
        cmocka_unit_test(test_reused_file_reads_back_exactly),
        cmocka_unit_test(test_backoff_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
