/* Unit tests of the worker registry's engine helpers (engine.h): the per-node
 * liveness index (alive counts, the lost runtime seen last, the lost nodes) and
 * finding a runtime by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

/* A runtime heard from at last_seen (interval 1000 ms) that names the nodes of csv. */
static exo_runtime_row rt(const char *name, int64_t last_seen, const char *csv)
{
    exo_runtime_row r = {.name = (char *)name, .interval_ms = 1000, .last_seen = last_seen,
                         .nodes = json_object_new_array()};
    char *copy = strdup(csv), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_object_array_add(r.nodes, json_object_new_string(t));
    free(copy);
    return r;
}

static void test_liveness_index(void **state)
{
    (void)state;
    const int64_t now = 100000;
    exo_runtime_row rows[] = {rt("a", now - 500, "Fetch,Parse"), rt("b", now - 9000, "Fetch,Store"),
                              rt("c", now - 5000, "Store,Zip"), rt("d", now - 7000, "Zip")};
    exo_node_liveness *idx = NULL;
    size_t n = 0;
    assert_int_equal(exo_node_liveness_index(rows, 4, NULL, 0, now, &idx, &n), 0);
    assert_int_equal(n, 4); /* Fetch, Parse, Store, Zip */
    const exo_node_liveness *fetch = exo_node_liveness_find(idx, n, "Fetch");
    assert_non_null(fetch);
    assert_int_equal(fetch->runtimes, 2);
    assert_int_equal(fetch->alive, 1);
    const exo_node_liveness *store = exo_node_liveness_find(idx, n, "Store");
    assert_int_equal(store->alive, 0);
    assert_string_equal(store->last_lost->name, "c"); /* heard from after b */
    assert_string_equal(exo_node_liveness_find(idx, n, "Zip")->last_lost->name, "c");
    assert_null(exo_node_liveness_find(idx, n, "Nothing"));
    json_object *lost = exo_node_liveness_lost(idx, n);
    assert_string_equal(json_object_to_json_string_ext(lost, JSON_C_TO_STRING_PLAIN), "[\"Store\",\"Zip\"]");
    json_object_put(lost);
    free(idx);

    const char *only[] = {"Parse", "Zip"};
    assert_int_equal(exo_node_liveness_index(rows, 4, only, 2, now, &idx, &n), 0);
    assert_int_equal(n, 2);
    assert_null(exo_node_liveness_find(idx, n, "Fetch"));
    assert_int_equal(exo_node_liveness_find(idx, n, "Parse")->alive, 1);
    assert_int_equal(exo_node_liveness_find(idx, n, "Zip")->alive, 0);
    free(idx);

    assert_ptr_equal(exo_runtimes_find(rows, 4, "c"), &rows[2]);
    assert_null(exo_runtimes_find(rows, 4, "e"));
    assert_null(exo_runtimes_find(rows, 4, NULL));
    for (size_t i = 0; i < 4; i++)
        json_object_put(rows[i].nodes);
}

static void test_an_empty_registry(void **state)
{
    (void)state;
    exo_node_liveness *idx = (exo_node_liveness *)1;
    size_t n = 7;
    assert_int_equal(exo_node_liveness_index(NULL, 0, NULL, 0, 1000, &idx, &n), 0);
    assert_null(idx);
    assert_int_equal(n, 0);
    assert_null(exo_node_liveness_find(idx, n, "A"));
    json_object *lost = exo_node_liveness_lost(idx, n);
    assert_int_equal(json_object_array_length(lost), 0);
    json_object_put(lost);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_liveness_index),
        cmocka_unit_test(test_an_empty_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
