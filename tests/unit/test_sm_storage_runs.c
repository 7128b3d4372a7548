/* Unit tests of the storage operations behind the run controls (storage.h; SQLite,
 * or with EXO_TEST_DB=postgres and EXO_PG_HOST the PostgreSQL backend, each test on
 * a fresh database of that cluster: test_db.h): run_get, run_query (every filter,
 * the status rule, keyset order), run_mark_cancelled, run_delete, graph_delete,
 * and exo_run_status_of; on PostgreSQL also the locks that make them safe with
 * several state managers on one database. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage.h"
#include "test_db.h"

typedef exo_test_db fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    exo_test_db_open(f, "runs-test");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    exo_test_db_remove(f);
    free(f);
    return 0;
}

/* A run of graph `graph` in ns created at `at`, with one state per status given. */
static void add_run(exo_storage *db, const char *ns, const char *graph, const char *run_id, int64_t at,
                    const exo_status *statuses, size_t n)
{
    assert_int_equal(exo_db_run_insert(db, run_id, ns, graph, 1, at), 0);
    for (size_t i = 0; i < n; i++) {
        exo_state_row st = {0};
        assert_int_equal(exo_id_new(st.id), 0);
        memcpy(st.exec_group, st.id, sizeof st.exec_group);
        char fanout[32];
        snprintf(fanout, sizeof fanout, "f%zu", i);
        st.created_at = st.updated_at = at;
        st.node_name = strdup("N");
        st.namespace_name = strdup(ns);
        st.identifier = strdup("n");
        st.graph_name = strdup(graph);
        st.run_id = strdup(run_id);
        st.status = statuses[i];
        st.inputs = json_object_new_object();
        st.outputs = json_object_new_object();
        st.data = json_object_new_object();
        st.parents = json_object_new_object();
        st.fanout_id = strdup(fanout);
        st.manual_retry_fanout_id = strdup("");
        assert_int_equal(exo_db_state_insert(db, &st), 0);
        assert_int_equal(exo_db_ancestor_add(db, st.exec_group, st.id), 0);
        exo_state_row_free(&st);
    }
}

static const exo_status ok[] = {EXO_ST_SUCCESS}, failed[] = {EXO_ST_SUCCESS, EXO_ST_ERRORED},
                        pending[] = {EXO_ST_SUCCESS, EXO_ST_QUEUED}, not_created[] = {EXO_ST_NEXT_CREATED_ERROR};

/* Five runs of ns "ns": r1 SUCCESS (g1, t=100), r2 FAILED (g1, 200), r3 PENDING (g2, 300),
 * r4 FAILED by NEXT_CREATED_ERROR (g2, 300), r5 PENDING (g1, 400); and one of another ns. */
static void add_runs(exo_storage *db)
{
    add_run(db, "ns", "g1", "r1-aaaa", 100, ok, 1);
    add_run(db, "ns", "g1", "r2-bbbb", 200, failed, 2);
    add_run(db, "ns", "g2", "r3-cccc", 300, pending, 2);
    add_run(db, "ns", "g2", "r4-dddd", 300, not_created, 1);
    add_run(db, "ns", "g1", "r5-eeee", 400, pending, 2);
    add_run(db, "other", "g1", "x1-ffff", 250, ok, 1);
}

/* run_query's ids, joined by spaces, into buf. */
static const char *query_ids(exo_storage *db, const exo_run_query *q, char *buf, size_t len)
{
    exo_run_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(exo_db_run_query(db, q, &rows, &n), 0);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", rows[i].run_id);
    exo_run_rows_free(rows, n);
    return buf;
}

static void test_run_get_and_status_rule(void **state)
{
    fixture *f = *state;
    add_runs(f->db);
    exo_run_row r = {0};
    assert_int_equal(exo_db_run_get(f->db, "ns", "r2-bbbb", &r), 0);
    assert_string_equal(r.graph_name, "g1");
    assert_string_equal(r.namespace_name, "ns");
    assert_int_equal(r.created_at, 200);
    assert_int_equal(r.counts[EXO_ST_ERRORED], 1);
    assert_int_equal(r.counts[EXO_ST_SUCCESS], 1);
    assert_int_equal(exo_run_status_of(&r), EXO_RUN_FAILED);
    assert_null(r.cancelled_by);
    exo_run_row_free(&r);
    assert_int_equal(exo_db_run_get(f->db, "other", "r2-bbbb", &r), 1); /* another namespace's */
    assert_int_equal(exo_db_run_get(f->db, "ns", "nope", &r), 1);

    exo_run_row x = {0};
    x.counts[EXO_ST_SUCCESS] = 1;
    assert_int_equal(exo_run_status_of(&x), EXO_RUN_SUCCESS);
    x.counts[EXO_ST_CREATED] = 1;
    assert_int_equal(exo_run_status_of(&x), EXO_RUN_PENDING);
    x.cancelled_at = 5;
    assert_int_equal(exo_run_status_of(&x), EXO_RUN_CANCELLED);
    memset(&x, 0, sizeof x);
    assert_int_equal(exo_run_status_of(&x), EXO_RUN_FAILED); /* no state at all */
    assert_int_equal(exo_run_status_from_name("CANCELLED"), EXO_RUN_CANCELLED);
    assert_int_equal(exo_run_status_from_name("DONE"), -1);
}

static void test_run_query_filters_and_order(void **state)
{
    fixture *f = *state;
    add_runs(f->db);
    char ids[256];
    exo_run_query q = {.ns = "ns", .limit = 10};
    /* newest first; equal created_at: the later insert first */
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r5-eeee r4-dddd r3-cccc r2-bbbb r1-aaaa");
    q.status_mask = 1u << EXO_RUN_FAILED;
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r4-dddd r2-bbbb");
    q.status_mask = 1u << EXO_RUN_PENDING; /* the query driven by the claim index */
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r5-eeee r3-cccc");
    q.after_created_at = 400;
    q.after_seq = 5;
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r3-cccc");
    q.after_created_at = q.after_seq = 0;
    q.status_mask = (1u << EXO_RUN_PENDING) | (1u << EXO_RUN_SUCCESS);
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r5-eeee r3-cccc r1-aaaa");
    q.status_mask = 0;
    q.graph_name = "g2";
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r4-dddd r3-cccc");
    q.graph_name = NULL;
    q.since = 200;
    q.until = 400;
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r4-dddd r3-cccc r2-bbbb");
    q.since = q.until = 0;
    q.run_id_prefix = "r3";
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r3-cccc");
    q.run_id_prefix = NULL;
    q.ns = NULL; /* every namespace */
    q.status_mask = EXO_RUN_FINISHED_MASK;
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r4-dddd x1-ffff r2-bbbb r1-aaaa");
}

static void test_run_query_keyset_pages(void **state)
{
    fixture *f = *state;
    add_runs(f->db);
    exo_run_query q = {.ns = "ns", .limit = 2};
    char all[256] = "";
    for (;;) {
        exo_run_row *rows = NULL;
        size_t n = 0;
        assert_int_equal(exo_db_run_query(f->db, &q, &rows, &n), 0);
        for (size_t i = 0; i < n; i++)
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? " " : "", rows[i].run_id);
        if (n > 0) {
            q.after_created_at = rows[n - 1].created_at;
            q.after_seq = rows[n - 1].seq;
        }
        exo_run_rows_free(rows, n);
        if (n < 2)
            break;
    }
    assert_string_equal(all, "r5-eeee r4-dddd r3-cccc r2-bbbb r1-aaaa");
}

static void test_cancel_mark_and_deletes(void **state)
{
    fixture *f = *state;
    add_runs(f->db);
    assert_int_equal(exo_db_run_mark_cancelled(f->db, "r3-cccc", "alice", 777), 0);
    assert_int_equal(exo_db_run_mark_cancelled(f->db, "r3-cccc", "bob", 778), 1); /* once */
    assert_int_equal(exo_db_run_mark_cancelled(f->db, "nope", "bob", 778), 1);
    exo_run_row r = {0};
    assert_int_equal(exo_db_run_get(f->db, "ns", "r3-cccc", &r), 0);
    assert_int_equal(r.cancelled_at, 777);
    assert_string_equal(r.cancelled_by, "alice");
    assert_int_equal(exo_run_status_of(&r), EXO_RUN_CANCELLED);
    exo_run_row_free(&r);
    char ids[256];
    exo_run_query q = {.ns = "ns", .status_mask = 1u << EXO_RUN_CANCELLED, .limit = 10};
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r3-cccc");
    q.status_mask = 1u << EXO_RUN_PENDING; /* cancelled wins over its QUEUED state */
    assert_string_equal(query_ids(f->db, &q, ids, sizeof ids), "r5-eeee");

    exo_state_row *states = NULL;
    size_t n = 0;
    assert_int_equal(exo_db_states_of_run(f->db, "ns", "r2-bbbb", &states, &n), 0);
    assert_int_equal(n, 2);
    char group[EXO_ID_LEN + 1];
    memcpy(group, states[0].exec_group, sizeof group);
    exo_state_rows_free(states, n);
    assert_int_equal(exo_db_group_has_status(f->db, group, EXO_ST_BIT(EXO_ST_SUCCESS) | EXO_ST_BIT(EXO_ST_ERRORED)), 1);
    json_object *v = json_object_new_string("v");
    assert_int_equal(exo_db_store_put(f->db, "r2-bbbb", "ns", "g1", "k", v), 0);
    json_object_put(v);
    assert_int_equal(exo_db_run_delete(f->db, "r5-eeee", 1), 1); /* PENDING: a purge keeps it */
    assert_int_equal(exo_db_run_get(f->db, "ns", "r5-eeee", &r), 0);
    exo_run_row_free(&r);
    assert_int_equal(exo_db_run_delete(f->db, "r3-cccc", 1), 0); /* cancelled counts as finished */
    assert_int_equal(exo_db_run_delete(f->db, "r2-bbbb", 1), 0);
    assert_int_equal(exo_db_run_delete(f->db, "r2-bbbb", 0), 1);
    assert_int_equal(exo_db_run_get(f->db, "ns", "r2-bbbb", &r), 1);
    assert_int_equal(exo_db_states_of_run(f->db, "ns", "r2-bbbb", &states, &n), 0);
    assert_int_equal(n, 0);
    free(states);
    assert_int_equal(exo_db_group_has_status(f->db, group, 0xffu), 0); /* the ancestor index too */
    json_object *got = NULL;
    assert_int_equal(exo_db_store_get(f->db, "r2-bbbb", "ns", "g1", "k", &got), 1);
}

static void test_graph_delete_keeps_versions_runs_use(void **state)
{
    fixture *f = *state;
    exo_graph_row g = {0};
    assert_int_equal(exo_id_new(g.id), 0);
    g.namespace_name = "ns";
    g.name = "g";
    g.template_ = json_object_new_object();
    g.validation_errors = json_object_new_array();
    assert_int_equal(exo_db_graph_save(f->db, &g), 0);
    int64_t used = g.version;
    assert_int_equal(exo_db_graph_save(f->db, &g), 0); /* a second version no run uses */
    int64_t unused = g.version;
    assert_int_equal(exo_db_run_insert(f->db, "run", "ns", "g", used, 1), 0);
    assert_int_equal(exo_db_trigger_insert(f->db, "* * * * *", "ns", "g", 1000, 0), 0);
    assert_int_equal(exo_db_graph_delete(f->db, "ns", "g"), 0);
    assert_int_equal(exo_db_graph_delete(f->db, "ns", "g"), 1);
    exo_graph_row got = {0};
    assert_int_equal(exo_db_graph_get(f->db, "ns", "g", &got), 1);
    json_object *tpl = NULL;
    assert_int_equal(exo_db_graph_version(f->db, used, &tpl), 0);
    json_object_put(tpl);
    assert_int_equal(exo_db_graph_version(f->db, unused, &tpl), 1);
    exo_trigger_row t = {0};
    assert_int_equal(exo_db_trigger_claim(f->db, 2000, &t), 1); /* its cron records are gone */
    json_object_put(g.template_);
    json_object_put(g.validation_errors);
}

/* ---- several processes on one database (PostgreSQL only) ------------------------------------------- */

/* One op run by another thread: outside the main thread's transaction, as another
 * replica's would be. */
typedef struct other_op {
    exo_storage *db;
    const char *what; /* "mark", "delete", "graph_delete" */
    int rc;
    atomic_int done;
} other_op;

static void *other_main(void *arg)
{
    other_op *o = arg;
    if (!strcmp(o->what, "mark"))
        o->rc = exo_db_run_mark_cancelled(o->db, "r3-cccc", "bob", 900);
    else if (!strcmp(o->what, "delete"))
        o->rc = exo_db_run_delete(o->db, "r2-bbbb", 0);
    else
        o->rc = exo_db_graph_delete(o->db, "ns", "g");
    atomic_store(&o->done, 1);
    return NULL;
}

static void start_other(other_op *o, pthread_t *t, exo_storage *db, const char *what)
{
    o->db = db;
    o->what = what;
    o->rc = -2;
    atomic_init(&o->done, 0);
    assert_int_equal(pthread_create(t, NULL, other_main, o), 0);
}

/* 1 when o finished within ms. */
static int finished_within(other_op *o, int ms)
{
    for (int i = 0; i < ms / 10 && !atomic_load(&o->done); i++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    return atomic_load(&o->done);
}

static void test_pg_cancel_marks_serialise(void **state)
{
    fixture *f = *state;
    if (!exo_test_pg_host())
        skip();
    add_runs(f->db);
    assert_int_equal(exo_db_begin(f->db), 0);
    assert_int_equal(exo_db_run_mark_cancelled(f->db, "r3-cccc", "alice", 800), 0);
    other_op o;
    pthread_t t;
    start_other(&o, &t, f->db, "mark");
    assert_false(finished_within(&o, 300)); /* waits for the first mark's transaction */
    assert_int_equal(exo_db_commit(f->db), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(o.rc, 1); /* then finds the run marked */
    exo_run_row r = {0};
    assert_int_equal(exo_db_run_get(f->db, "ns", "r3-cccc", &r), 0);
    assert_string_equal(r.cancelled_by, "alice");
    exo_run_row_free(&r);
}

static void test_pg_retry_check_holds_off_a_cancel(void **state)
{
    fixture *f = *state;
    if (!exo_test_pg_host())
        skip();
    add_runs(f->db);
    assert_int_equal(exo_db_begin(f->db), 0);
    exo_run_row r = {0};
    assert_int_equal(exo_db_run_get(f->db, "ns", "r3-cccc", &r), 0); /* a retry checking the mark */
    exo_run_row_free(&r);
    other_op o;
    pthread_t t;
    start_other(&o, &t, f->db, "mark");
    assert_false(finished_within(&o, 300));
    assert_int_equal(exo_db_commit(f->db), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(o.rc, 0);
}

static void test_pg_run_delete_skips_a_locked_run(void **state)
{
    fixture *f = *state;
    if (!exo_test_pg_host())
        skip();
    add_runs(f->db);
    assert_int_equal(exo_db_begin(f->db), 0);
    exo_run_row r = {0};
    assert_int_equal(exo_db_run_get(f->db, "ns", "r2-bbbb", &r), 0);
    exo_run_row_free(&r);
    other_op o;
    pthread_t t;
    start_other(&o, &t, f->db, "delete");
    assert_true(finished_within(&o, 5000)); /* skipped, not waited for */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(o.rc, 1);
    assert_int_equal(exo_db_commit(f->db), 0);
    assert_int_equal(exo_db_run_delete(f->db, "r2-bbbb", 0), 0); /* unlocked: deleted */
}

static void test_pg_graph_delete_keeps_a_version_a_run_is_created_from(void **state)
{
    fixture *f = *state;
    if (!exo_test_pg_host())
        skip();
    exo_graph_row g = {0};
    assert_int_equal(exo_id_new(g.id), 0);
    g.namespace_name = "ns";
    g.name = "g";
    g.template_ = json_object_new_object();
    g.validation_errors = json_object_new_array();
    assert_int_equal(exo_db_graph_save(f->db, &g), 0);
    assert_int_equal(exo_db_begin(f->db), 0);
    assert_int_equal(exo_db_run_insert(f->db, "run", "ns", "g", g.version, 1), 0); /* not yet committed */
    other_op o;
    pthread_t t;
    start_other(&o, &t, f->db, "graph_delete");
    assert_false(finished_within(&o, 300)); /* waits for the run's transaction */
    assert_int_equal(exo_db_commit(f->db), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(o.rc, 0);
    json_object *tpl = NULL;
    assert_int_equal(exo_db_graph_version(f->db, g.version, &tpl), 0); /* kept for the run */
    json_object_put(tpl);
    json_object_put(g.template_);
    json_object_put(g.validation_errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_get_and_status_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_query_filters_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_query_keyset_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_mark_and_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_delete_keeps_versions_runs_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_cancel_marks_serialise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_retry_check_holds_off_a_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_run_delete_skips_a_locked_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_graph_delete_keeps_a_version_a_run_is_created_from, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
