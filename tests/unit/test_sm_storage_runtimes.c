/* Unit tests of the worker registry in the storage layer (storage.h: runtime_upsert,
 * runtime_list, the claimer recorded by state_claim, exo_runtime_alive), on SQLite
 * or with EXO_TEST_DB=postgres on a fresh PostgreSQL database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage.h"
#include "test_db.h"

static int setup(void **state)
{
    exo_test_db *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    exo_test_db_open(f, "runtimes-test");
    return 0;
}

static int teardown(void **state)
{
    exo_test_db *f = *state;
    exo_test_db_remove(f);
    free(f);
    return 0;
}

/* A heartbeat row of runtime name in ns naming node (row strings are borrowed). */
static exo_runtime_row beat(const char *ns, const char *name, const char *node, int64_t at, json_object *nodes)
{
    json_object_array_add(nodes, json_object_new_string(node));
    return (exo_runtime_row){.namespace_name = (char *)ns, .name = (char *)name, .version = "1.2.3",
                             .hostname = "box", .pid = 42, .slots = 4, .running = 1, .interval_ms = 1000,
                             .first_seen = at, .last_seen = at, .nodes = nodes};
}

static void upsert(exo_storage *db, const char *ns, const char *name, const char *node, int64_t at, size_t max,
                   int expect)
{
    json_object *nodes = json_object_new_array();
    exo_runtime_row r = beat(ns, name, node, at, nodes);
    assert_int_equal(exo_db_runtime_upsert(db, &r, max, 0), expect);
    json_object_put(nodes);
}

static void test_heartbeats_round_trip_and_keep_first_seen(void **state)
{
    exo_storage *db = ((exo_test_db *)*state)->db;
    upsert(db, "ns", "zeta", "Z", 1000, 10, 0);
    upsert(db, "ns", "alpha", "A", 1000, 10, 0);
    upsert(db, "other", "alpha", "O", 1000, 10, 0);
    json_object *nodes = json_object_new_array();
    json_object_array_add(nodes, json_object_new_string("A2"));
    exo_runtime_row again = beat("ns", "alpha", "A", 5000, nodes);
    again.running = 3;
    again.hostname = "box2";
    again.first_seen = 5000; /* a heartbeat's own; the stored one is kept */
    assert_int_equal(exo_db_runtime_upsert(db, &again, 10, 0), 0);
    json_object_put(nodes);

    exo_runtime_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(exo_db_runtime_list(db, "ns", &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].name, "alpha"); /* by name */
    assert_string_equal(rows[1].name, "zeta");
    assert_int_equal(rows[0].first_seen, 1000);
    assert_int_equal(rows[0].last_seen, 5000);
    assert_int_equal(rows[0].running, 3);
    assert_int_equal(rows[0].slots, 4);
    assert_int_equal(rows[0].pid, 42);
    assert_int_equal(rows[0].interval_ms, 1000);
    assert_string_equal(rows[0].hostname, "box2");
    assert_string_equal(rows[0].version, "1.2.3");
    assert_int_equal(json_object_array_length(rows[0].nodes), 2);
    assert_true(exo_runtime_has_node(&rows[0], "A2"));
    assert_false(exo_runtime_has_node(&rows[0], "Z"));
    assert_string_equal(rows[0].namespace_name, "ns");
    exo_runtime_rows_free(rows, n);

    assert_int_equal(exo_db_runtime_list(db, "nowhere", &rows, &n), 0);
    assert_int_equal(n, 0);
    exo_runtime_rows_free(rows, n);
}

static void test_the_namespace_cap_refuses_only_new_runtimes(void **state)
{
    exo_storage *db = ((exo_test_db *)*state)->db;
    upsert(db, "ns", "r1", "A", 1000, 2, 0);
    upsert(db, "ns", "r2", "A", 1000, 2, 0);
    upsert(db, "ns", "r3", "A", 1000, 2, 1); /* full: nothing written */
    upsert(db, "ns", "r1", "A", 2000, 2, 0); /* a known one still beats */
    upsert(db, "elsewhere", "r3", "A", 1000, 2, 0);
    exo_runtime_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(exo_db_runtime_list(db, "ns", &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].last_seen, 2000);
    exo_runtime_rows_free(rows, n);
}

static void test_silent_runtimes_are_forgotten(void **state)
{
    exo_storage *db = ((exo_test_db *)*state)->db;
    upsert(db, "ns", "old", "A", 1000, 10, 0);
    upsert(db, "other", "old", "A", 1000, 10, 0);
    json_object *nodes = json_object_new_array();
    exo_runtime_row r = beat("ns", "new", "A", 9000, nodes);
    assert_int_equal(exo_db_runtime_upsert(db, &r, 10, 5000), 0); /* forgets ns's before 5000 */
    json_object_put(nodes);
    exo_runtime_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(exo_db_runtime_list(db, "ns", &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].name, "new");
    exo_runtime_rows_free(rows, n);
    assert_int_equal(exo_db_runtime_list(db, "other", &rows, &n), 0);
    assert_int_equal(n, 1); /* other namespaces are left alone */
    exo_runtime_rows_free(rows, n);
}

static void test_alive_within_three_intervals(void **state)
{
    (void)state;
    exo_runtime_row r = {.interval_ms = 1000, .last_seen = 10000};
    assert_true(exo_runtime_alive(&r, 10000));
    assert_true(exo_runtime_alive(&r, 13000));
    assert_false(exo_runtime_alive(&r, 13001));
}

static void insert_state(exo_storage *db, const char *node, char id[EXO_ID_LEN + 1])
{
    exo_state_row st = {0};
    assert_int_equal(exo_id_new(st.id), 0);
    memcpy(st.exec_group, st.id, sizeof st.exec_group);
    memcpy(id, st.id, EXO_ID_LEN + 1);
    st.created_at = st.updated_at = 1000;
    st.node_name = strdup(node);
    st.namespace_name = strdup("ns");
    st.identifier = strdup("ident");
    st.graph_name = strdup("g");
    st.run_id = strdup("run-1");
    st.inputs = json_object_new_object();
    st.outputs = json_object_new_object();
    st.data = json_object_new_object();
    st.parents = json_object_new_object();
    st.enqueue_after = 100;
    st.fanout_id = strdup(id);
    st.manual_retry_fanout_id = strdup("");
    assert_int_equal(exo_db_state_insert(db, &st), 0);
    exo_state_row_free(&st);
}

static void test_claims_record_the_claimer(void **state)
{
    exo_storage *db = ((exo_test_db *)*state)->db;
    char a[EXO_ID_LEN + 1], b[EXO_ID_LEN + 1];
    insert_state(db, "A", a);
    insert_state(db, "B", b);
    const char *na[] = {"A"}, *nb[] = {"B"};
    exo_state_row *rows = NULL;
    size_t n = 0;
    int64_t next_due = 0;
    assert_int_equal(exo_db_state_claim(db, "ns", na, 1, 200, 1000, "host-a", 10, &rows, &n, &next_due), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].claimed_by, "host-a");
    exo_state_rows_free(rows, n);
    assert_int_equal(exo_db_state_claim(db, "ns", nb, 1, 200, 1000, NULL, 10, &rows, &n, &next_due), 0);
    assert_int_equal(n, 1);
    assert_null(rows[0].claimed_by);
    exo_state_rows_free(rows, n);

    exo_state_row st;
    assert_int_equal(exo_db_state_get(db, a, &st), 0);
    assert_string_equal(st.claimed_by, "host-a");
    st.status = EXO_ST_SUCCESS; /* a report's update keeps who ran it */
    assert_int_equal(exo_db_state_update(db, &st), 0);
    exo_state_row_free(&st);
    assert_int_equal(exo_db_states_of_run(db, "ns", "run-1", &rows, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(rows[i].id, a))
            assert_string_equal(rows[i].claimed_by, "host-a");
        else
            assert_null(rows[i].claimed_by);
    }
    exo_state_rows_free(rows, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heartbeats_round_trip_and_keep_first_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_namespace_cap_refuses_only_new_runtimes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_runtimes_are_forgotten, setup, teardown),
        cmocka_unit_test(test_alive_within_three_intervals),
        cmocka_unit_test_setup_teardown(test_claims_record_the_claimer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
