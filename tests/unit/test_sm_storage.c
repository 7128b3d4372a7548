/* Unit tests of the state manager's storage layer (storage.h; SQLite, or with
 * EXO_TEST_DB=postgres and EXO_PG_HOST the PostgreSQL backend, each test on a fresh
 * database of that cluster):
 * claims, uniqueness keys, the ancestor-instance index, conditional graph
 * validation updates, trigger records, backend selection, the completeness check
 * of an ops table, schema versions and migrations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "storage.h"
#include "test_db.h"

typedef exo_test_db fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    exo_test_db_open(f, "storage-test");
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    exo_test_db_remove(f);
    free(f);
    return 0;
}

/* A CREATED state of node `node` in namespace "ns" with the given lane. */
static void make_state(exo_state_row *st, const char *node, const char *fanout, int64_t enqueue_after)
{
    memset(st, 0, sizeof *st);
    assert_int_equal(exo_id_new(st->id), 0);
    memcpy(st->exec_group, st->id, sizeof st->exec_group);
    st->created_at = st->updated_at = 1000;
    st->node_name = strdup(node);
    st->namespace_name = strdup("ns");
    st->identifier = strdup("ident");
    st->graph_name = strdup("g");
    st->run_id = strdup("run-1");
    st->status = EXO_ST_CREATED;
    st->inputs = json_object_new_object();
    st->outputs = json_object_new_object();
    st->data = json_object_new_object();
    st->parents = json_object_new_object();
    st->enqueue_after = enqueue_after;
    st->fanout_id = strdup(fanout);
    st->manual_retry_fanout_id = strdup("");
}

static void insert(exo_storage *db, const char *node, const char *fanout, int64_t enqueue_after, char id_out[25])
{
    exo_state_row st;
    make_state(&st, node, fanout, enqueue_after);
    assert_int_equal(exo_db_state_insert(db, &st), 0);
    if (id_out)
        memcpy(id_out, st.id, 25);
    exo_state_row_free(&st);
}

static void test_claim_hands_out_each_state_once(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    char fan[8];
    for (int i = 0; i < 5; i++) {
        snprintf(fan, sizeof fan, "a%d", i);
        insert(db, "A", fan, 100, NULL);
    }
    insert(db, "B", "b0", 100, NULL);
    insert(db, "A", "late", 5000, NULL);
    const char *nodes[] = {"A"};
    exo_state_row *rows;
    size_t n;
    int64_t next_due;
    assert_int_equal(exo_db_state_claim(db, "ns", nodes, 1, 200, 1000, NULL, 3, &rows, &n, &next_due), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].status, EXO_ST_QUEUED);
        assert_int_equal(rows[i].lease_expires_at, 1200);
        exo_state_row again;
        assert_int_equal(exo_db_state_get(db, rows[i].id, &again), 0);
        assert_int_equal(again.status, EXO_ST_QUEUED);
        exo_state_row_free(&again);
    }
    exo_state_rows_free(rows, n);
    assert_int_equal(exo_db_state_claim(db, "ns", nodes, 1, 200, 1000, NULL, 10, &rows, &n, &next_due), 0);
    assert_int_equal(n, 2);
    exo_state_rows_free(rows, n);
    assert_int_equal(exo_db_state_claim(db, "ns", nodes, 1, 200, 1000, NULL, 10, &rows, &n, &next_due), 0);
    assert_int_equal(n, 0);
    assert_int_equal(next_due, 5000); /* the delayed state */
    assert_int_equal(exo_db_state_claim(db, "other", nodes, 1, 9000, 1000, NULL, 10, &rows, &n, &next_due), 0);
    assert_int_equal(n, 0);
}

/* The PostgreSQL claim takes the oldest due states first, of every node asked for:
 * a node with a long backlog does not starve another one's older state, and a node
 * named twice is claimed once.  (SQLite's claim promises no order.) */
static void test_pg_claim_takes_the_oldest_due_of_every_node(void **state)
{
    if (!exo_test_pg_host())
        skip();
    fixture *f = *state;
    exo_storage *db = f->db;
    char fan[8];
    for (int i = 4; i >= 0; i--) { /* inserted newest first: the order is enqueue_after's */
        snprintf(fan, sizeof fan, "a%d", i);
        insert(db, "A", fan, 300 + i, NULL);
    }
    insert(db, "B", "b0", 100, NULL);
    const char *both[] = {"A", "B"};
    exo_state_row *rows;
    size_t n;
    int64_t next_due;
    assert_int_equal(exo_db_state_claim(db, "ns", both, 2, 1000, 1000, NULL, 1, &rows, &n, &next_due), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].fanout_id, "b0");
    exo_state_rows_free(rows, n);
    const char *twice[] = {"A", "A", "B"};
    assert_int_equal(exo_db_state_claim(db, "ns", twice, 3, 1000, 1000, NULL, 2, &rows, &n, &next_due), 0);
    assert_int_equal(n, 2);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        seen |= !strcmp(rows[i].fanout_id, "a0") ? 1 : !strcmp(rows[i].fanout_id, "a1") ? 2 : 4;
    assert_int_equal(seen, 3);
    exo_state_rows_free(rows, n);
}

/* A transaction that runs no statement ends cleanly either way, and the one after it
 * still commits or rolls back exactly what it wrote (PostgreSQL sends a transaction's
 * BEGIN with its first statement). */
static void test_transactions_with_and_without_statements(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    assert_int_equal(exo_db_begin(db), 0);
    assert_int_equal(exo_db_commit(db), 0);
    assert_int_equal(exo_db_begin(db), 0);
    assert_int_equal(exo_db_rollback(db), 0);
    char kept[25], dropped[25];
    assert_int_equal(exo_db_begin(db), 0);
    insert(db, "A", "kept", 100, kept);
    assert_int_equal(exo_db_commit(db), 0);
    assert_int_equal(exo_db_begin(db), 0);
    insert(db, "A", "dropped", 100, dropped);
    assert_int_equal(exo_db_rollback(db), 0);
    exo_state_row row;
    assert_int_equal(exo_db_state_get(db, kept, &row), 0);
    exo_state_row_free(&row);
    assert_int_equal(exo_db_state_get(db, dropped, &row), 1);
}

/* state_lock on PostgreSQL reads the run's version and namespace with the state (a
 * report needs no query of its own for them); none when the run is gone; plain
 * state_get and SQLite leave them unset. */
static void test_state_lock_reads_the_run(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    char with_run[25], without_run[25];
    insert(db, "A", "a", 100, with_run);
    exo_state_row orphan;
    make_state(&orphan, "A", "b", 100);
    free(orphan.run_id);
    orphan.run_id = strdup("run-gone");
    assert_int_equal(exo_db_state_insert(db, &orphan), 0);
    memcpy(without_run, orphan.id, 25);
    exo_state_row_free(&orphan);
    assert_int_equal(exo_db_run_insert(db, "run-1", "runs-ns", "g", 7, 1000), 0);
    int pg = exo_test_pg_host() != NULL;
    exo_state_row row;
    assert_int_equal(exo_db_begin(db), 0);
    assert_int_equal(exo_db_state_lock(db, with_run, &row), 0);
    assert_int_equal(row.run_version, pg ? 7 : 0);
    if (pg)
        assert_string_equal(row.run_namespace, "runs-ns");
    else
        assert_null(row.run_namespace);
    exo_state_row_free(&row);
    assert_int_equal(exo_db_state_lock(db, without_run, &row), 0);
    assert_int_equal(row.run_version, 0);
    assert_null(row.run_namespace);
    exo_state_row_free(&row);
    assert_int_equal(exo_db_commit(db), 0);
    assert_int_equal(exo_db_state_get(db, with_run, &row), 0);
    assert_int_equal(row.run_version, 0);
    assert_null(row.run_namespace);
    exo_state_row_free(&row);
}

/* On PostgreSQL a statement whose caller needs only its success (a savepoint, an
 * update) travels with the next one: when it fails, that next statement and the
 * COMMIT fail, nothing of the transaction is stored, and the connection serves the
 * next transaction. */
static void test_pg_failure_sent_ahead_fails_the_transaction(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    if (!exo_test_pg_host())
        skip();
    char dropped[25], kept[25];
    exo_state_row row;
    assert_int_equal(exo_db_begin(db), 0);
    insert(db, "A", "dropped", 100, dropped);
    assert_int_equal(exo_db_savepoint(db, "not a name"), 0); /* sent ahead: no answer yet */
    assert_int_equal(exo_db_state_get(db, dropped, &row), -1);
    assert_int_equal(exo_db_commit(db), -1);
    assert_int_equal(exo_db_state_get(db, dropped, &row), 1);
    assert_int_equal(exo_db_begin(db), 0);
    insert(db, "A", "kept", 100, kept);
    assert_int_equal(exo_db_state_lock(db, kept, &row), 0);
    row.status = EXO_ST_SUCCESS;
    assert_int_equal(exo_db_state_update(db, &row), 0);
    exo_state_row_free(&row);
    assert_int_equal(exo_db_savepoint(db, "fine"), 0);
    assert_int_equal(exo_db_release(db, "fine"), 0);
    assert_int_equal(exo_db_commit(db), 0); /* the update and the savepoint went with it */
    assert_int_equal(exo_db_state_get(db, kept, &row), 0);
    assert_int_equal(row.status, EXO_ST_SUCCESS);
    exo_state_row_free(&row);
}

/* Prepared statements are cached per connection (direct-mapped on the SQL text):
 * many different texts (claims with node lists of every length, more than the
 * cache holds, and one too long to cache) and a statement reused after a
 * constraint error must all still give exact answers. */
static void test_statement_cache_keeps_answers_exact(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    enum { MAX_NODES = 2500 };
    const char **nodes = calloc(MAX_NODES, sizeof *nodes);
    assert_non_null(nodes);
    for (size_t i = 0; i < MAX_NODES; i++)
        nodes[i] = "Z";
    size_t sizes[] = {1, 2, 3, 300, 299, 1, 2500, 2, 2500};
    for (size_t round = 0; round < 2; round++) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            char fan[32], id[25];
            snprintf(fan, sizeof fan, "f%zu-%zu", round, k);
            insert(db, "A", fan, 100, id);
            exo_state_row dup;
            make_state(&dup, "A", fan, 100); /* same lane: refused, the statement stays usable */
            assert_int_equal(exo_db_state_insert(db, &dup), 1);
            exo_state_row_free(&dup);
            size_t nn = sizes[k];
            nodes[nn - 1] = "A";
            exo_state_row *rows;
            size_t n;
            int64_t next_due;
            assert_int_equal(exo_db_state_claim(db, "ns", nodes, nn, 200, 1000, NULL, 10, &rows, &n, &next_due), 0);
            nodes[nn - 1] = "Z";
            assert_int_equal(n, 1);
            assert_string_equal(rows[0].id, id);
            exo_state_rows_free(rows, n);
        }
        for (size_t nn = 1; nn <= 300; nn++) { /* more distinct texts than cache slots */
            exo_state_row *rows;
            size_t n;
            int64_t next_due;
            assert_int_equal(exo_db_state_claim(db, "ns", nodes, nn, 200, 1000, NULL, 10, &rows, &n, &next_due), 0);
            assert_int_equal(n, 0);
        }
    }
    free(nodes);
}

static void test_lane_and_unite_keys_are_unique(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    exo_state_row st;
    make_state(&st, "A", "lane", 1);
    assert_int_equal(exo_db_state_insert(db, &st), 0);
    assert_int_equal(exo_id_new(st.id), 0);
    assert_int_equal(exo_db_state_insert(db, &st), 1); /* same lane, same retry_count */
    st.retry_count = 1;
    assert_int_equal(exo_db_state_insert(db, &st), 0);
    exo_state_row_free(&st);

    make_state(&st, "U", "u1", 1);
    st.unite_key = strdup("run|u|group");
    assert_int_equal(exo_db_unite_exists(db, "run|u|group"), 0);
    assert_int_equal(exo_db_state_insert(db, &st), 0);
    assert_int_equal(exo_db_unite_exists(db, "run|u|group"), 1);
    assert_int_equal(exo_id_new(st.id), 0);
    free(st.fanout_id);
    st.fanout_id = strdup("u2");
    assert_int_equal(exo_db_state_insert(db, &st), 1);
    exo_state_row_free(&st);
}

static void test_ancestor_index_mirrors_status(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    char parent[25], child[25], grandchild[25];
    insert(db, "A", "p", 1, parent);
    insert(db, "B", "c", 1, child);
    insert(db, "C", "gc", 1, grandchild);
    assert_int_equal(exo_db_ancestor_add(db, parent, child), 0);
    assert_int_equal(exo_db_ancestors_copy(db, child, grandchild), 0);
    assert_int_equal(exo_db_ancestor_add(db, child, grandchild), 0);
    unsigned pending = EXO_ST_BIT(EXO_ST_CREATED) | EXO_ST_BIT(EXO_ST_QUEUED) | EXO_ST_BIT(EXO_ST_EXECUTED);
    assert_int_equal(exo_db_group_has_status(db, parent, pending), 1);
    exo_state_row st;
    const char *ids[] = {child, grandchild};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(exo_db_state_get(db, ids[i], &st), 0);
        st.status = EXO_ST_SUCCESS;
        assert_int_equal(exo_db_state_update(db, &st), 0);
        exo_state_row_free(&st);
        assert_int_equal(exo_db_group_has_status(db, parent, pending), i == 0);
    }
    assert_int_equal(exo_db_group_has_status(db, parent, EXO_ST_BIT(EXO_ST_SUCCESS)), 1);
    assert_int_equal(exo_db_group_has_status(db, "nosuchgroup", pending), 0);
}

static void test_graph_versions_and_conditional_validation(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    exo_graph_row row = {0};
    assert_int_equal(exo_id_new(row.id), 0);
    row.created_at = row.updated_at = 10;
    row.namespace_name = (char *)"ns";
    row.name = (char *)"g";
    row.template_ = json_tokener_parse("{\"nodes\":[],\"v\":1}");
    row.validation_status = EXO_GRAPH_PENDING;
    row.validation_errors = json_object_new_array();
    assert_int_equal(exo_db_graph_save(db, &row), 0);
    int64_t v1 = row.version;
    json_object_put(row.template_);
    row.template_ = json_tokener_parse("{\"nodes\":[],\"v\":2}");
    row.updated_at = 20;
    assert_int_equal(exo_db_graph_save(db, &row), 0);
    int64_t v2 = row.version;
    assert_true(v2 > v1);
    /* a verification of the old version must not overwrite the new one */
    assert_int_equal(exo_db_graph_set_validation(db, "ns", "g", v1, EXO_GRAPH_VALID, row.validation_errors, 30), 1);
    assert_int_equal(exo_db_graph_set_validation(db, "ns", "g", v2, EXO_GRAPH_INVALID, row.validation_errors, 30), 0);
    exo_graph_row got = {0};
    assert_int_equal(exo_db_graph_get(db, "ns", "g", &got), 0);
    assert_int_equal(got.validation_status, EXO_GRAPH_INVALID);
    assert_int_equal(got.created_at, 10);
    assert_int_equal(json_object_get_int(json_object_object_get(got.template_, "v")), 2);
    exo_graph_row_free(&got);
    json_object *old = NULL;
    assert_int_equal(exo_db_graph_version(db, v1, &old), 0);
    assert_int_equal(json_object_get_int(json_object_object_get(old, "v")), 1);
    json_object_put(old);
    json_object_put(row.template_);
    json_object_put(row.validation_errors);
    assert_int_equal(exo_db_graph_get(db, "ns", "missing", &got), 1);
}

static void test_trigger_records(void **state)
{
    fixture *f = *state;
    exo_storage *db = f->db;
    assert_int_equal(exo_db_trigger_insert(db, "* * * * *", "ns", "g", 60000, 99999), 0);
    assert_int_equal(exo_db_trigger_insert(db, "* * * * *", "ns", "g", 60000, 99999), 0); /* duplicate ignored */
    exo_trigger_row tr = {0};
    assert_int_equal(exo_db_trigger_claim(db, 59999, &tr), 1); /* not due yet */
    assert_int_equal(exo_db_trigger_claim(db, 60000, &tr), 0);
    assert_string_equal(tr.graph_name, "g");
    int64_t id = tr.id;
    exo_trigger_row_free(&tr);
    assert_int_equal(exo_db_trigger_claim(db, 70000, &tr), 1); /* claimed once */
    /* a record left TRIGGERING by a crash is released at start-up */
    assert_int_equal(exo_db_trigger_housekeeping(db, 70000, 1), 0);
    assert_int_equal(exo_db_trigger_claim(db, 70000, &tr), 0);
    exo_trigger_row_free(&tr);
    assert_int_equal(exo_db_trigger_finish(db, id, "TRIGGERED", 80000), 0);
    assert_int_equal(exo_db_trigger_housekeeping(db, 90000, 0), 0); /* expired: deleted */
    assert_int_equal(exo_db_trigger_insert(db, "* * * * *", "ns", "g", 60000, 99999), 0);
    assert_int_equal(exo_db_trigger_claim(db, 60000, &tr), 0); /* the unique slot is free again */
    exo_trigger_row_free(&tr);
}

/* An unreachable server is named in the error, its password is not. */
static void test_unreachable_postgres_is_refused(void **state)
{
    (void)state;
    char err[512];
    assert_null(exo_storage_open("postgresql://user:hunter2@127.0.0.1:1/db", err, sizeof err));
    assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
    assert_null(strstr(err, "hunter2"));
    char shown[128];
    exo_storage_describe("postgres://user:hunter2@db.example:5432/exo", shown, sizeof shown);
    assert_string_equal(shown, "postgres://user:***@db.example:5432/exo");
    exo_storage_describe("/var/lib/exo.db", shown, sizeof shown);
    assert_string_equal(shown, "/var/lib/exo.db");
    assert_null(exo_storage_open("/nonexistent-dir/x.db", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

static void test_unknown_scheme_is_refused(void **state)
{
    (void)state;
    char err[256];
    assert_null(exo_storage_open("mysql://u@h/db", err, sizeof err));
    assert_non_null(strstr(err, "mysql://"));
    assert_non_null(strstr(err, "unknown storage scheme"));
}

/* An ops table with a missing callback is refused, naming the callback. */
static void test_ops_check_names_the_missing_callback(void **state)
{
    fixture *f = *state;
    char err[256];
    assert_int_equal(exo_storage_ops_check(f->db->ops, err, sizeof err), 0);
    exo_storage_ops broken = *f->db->ops;
    broken.lease_renew = NULL;
    assert_int_equal(exo_storage_ops_check(&broken, err, sizeof err), -1);
    assert_non_null(strstr(err, "lease_renew"));
    broken = *f->db->ops;
    broken.trigger_housekeeping = NULL;
    assert_int_equal(exo_storage_ops_check(&broken, err, sizeof err), -1);
    assert_non_null(strstr(err, "trigger_housekeeping"));
}

static int read_user_version(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void set_user_version(const char *path, int v)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A new database records its schema version; a database written by a newer
 * exo-state-manager is refused with a message saying so, and left as it was; an
 * unversioned one (from before versions were recorded) is adopted with its rows. */
static void test_schema_version_recorded_and_newer_refused(void **state)
{
    fixture *f = *state;
    exo_state_row st;
    make_state(&st, "A", "lane", 0);
    assert_int_equal(exo_db_state_insert(f->db, &st), 0);
    exo_db_close(f->db);
    f->db = NULL;
    int known = read_user_version(f->path);
    assert_true(known >= 1);

    set_user_version(f->path, known + 1);
    char err[512];
    assert_null(exo_storage_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "newer than this exo-state-manager knows"));
    assert_int_equal(read_user_version(f->path), known + 1);

    set_user_version(f->path, 0);
    f->db = exo_storage_open(f->path, err, sizeof err);
    assert_non_null(f->db);
    assert_int_equal(read_user_version(f->path), known);
    exo_state_row got;
    assert_int_equal(exo_db_state_get(f->db, st.id, &got), 0);
    assert_int_equal(got.status, EXO_ST_CREATED);
    exo_state_row_free(&got);
    exo_state_row_free(&st);
}

/* PostgreSQL: the version lives in table exo_schema; a newer one is refused with a
 * message saying so and left as it was. */
static void test_pg_schema_version_recorded_and_newer_refused(void **state)
{
    fixture *f = *state;
    exo_state_row st;
    make_state(&st, "A", "lane", 0);
    assert_int_equal(exo_db_state_insert(f->db, &st), 0);
    exo_db_close(f->db);
    f->db = NULL;
    char v[32];
    exo_test_pg_exec(f->pg_name, "SELECT max(version) FROM exo_schema", v, sizeof v);
    int known = atoi(v);
    assert_true(known >= 1);
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE exo_schema SET version=%d", known + 1);
    exo_test_pg_exec(f->pg_name, sql, NULL, 0);
    char err[512];
    assert_null(exo_storage_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "newer than this exo-state-manager knows"));
    exo_test_pg_exec(f->pg_name, "SELECT max(version) FROM exo_schema", v, sizeof v);
    assert_int_equal(atoi(v), known + 1);
    snprintf(sql, sizeof sql, "UPDATE exo_schema SET version=%d", known);
    exo_test_pg_exec(f->pg_name, sql, NULL, 0);
    f->db = exo_storage_open(f->path, err, sizeof err);
    assert_non_null(f->db);
    exo_state_row got;
    assert_int_equal(exo_db_state_get(f->db, st.id, &got), 0);
    assert_int_equal(got.status, EXO_ST_CREATED);
    exo_state_row_free(&got);
    exo_state_row_free(&st);
}

/* State logs are kept byte-exact (NULs included), per namespace, and replaced by a
 * later set; run_finished answers 0 only when no state of the run is unfinished. */
static void test_state_logs_and_run_finished(void **state)
{
    fixture *f = *state;
    char id[25];
    insert(f->db, "A", "lane", 0, id);
    char *logs = (char *)1;
    size_t len = 9;
    assert_int_equal(exo_db_state_logs_get(f->db, "ns", id, &logs, &len), 0);
    assert_null(logs); /* none reported */
    assert_int_equal(len, 0);
    assert_int_equal(exo_db_state_logs_get(f->db, "other", id, &logs, &len), 1);
    assert_int_equal(exo_db_state_logs_get(f->db, "ns", "0123456789abcdef01234567", &logs, &len), 1);
    assert_int_equal(exo_db_state_logs_set(f->db, "0123456789abcdef01234567", "x", 1), 1);
    assert_int_equal(exo_db_state_logs_set(f->db, id, "a\0b\xc3\xa9\n", 6), 0);
    assert_int_equal(exo_db_state_logs_get(f->db, "ns", id, &logs, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(logs, "a\0b\xc3\xa9\n", 6);
    assert_int_equal(logs[6], '\0');
    free(logs);
    assert_int_equal(exo_db_state_logs_set(f->db, id, "new", 3), 0);
    assert_int_equal(exo_db_state_logs_get(f->db, "ns", id, &logs, &len), 0);
    assert_string_equal(logs, "new");
    free(logs);

    int64_t created = 0;
    assert_int_equal(exo_db_run_finished(f->db, "run-1", &created), 1); /* no run row yet */
    assert_int_equal(exo_db_run_insert(f->db, "run-1", "ns", "g", 0, 4242), 0);
    assert_int_equal(exo_db_run_finished(f->db, "run-1", &created), 1); /* A is CREATED */
    exo_state_row st;
    assert_int_equal(exo_db_state_get(f->db, id, &st), 0);
    st.status = EXO_ST_SUCCESS;
    assert_int_equal(exo_db_state_update(f->db, &st), 0);
    exo_state_row_free(&st);
    assert_int_equal(exo_db_run_finished(f->db, "run-1", &created), 0);
    assert_int_equal(created, 4242);
}

/* Each backend keeps its version its own way. */
static void test_schema_version_of_the_backend(void **state)
{
    if (exo_test_pg_host())
        test_pg_schema_version_recorded_and_newer_refused(state);
    else
        test_schema_version_recorded_and_newer_refused(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_hands_out_each_state_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_claim_takes_the_oldest_due_of_every_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_with_and_without_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_lock_reads_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_failure_sent_ahead_fails_the_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache_keeps_answers_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lane_and_unite_keys_are_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ancestor_index_mirrors_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_versions_and_conditional_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_records, setup, teardown),
        cmocka_unit_test(test_unreachable_postgres_is_refused),
        cmocka_unit_test(test_unknown_scheme_is_refused),
        cmocka_unit_test_setup_teardown(test_ops_check_names_the_missing_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version_of_the_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_logs_and_run_finished, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
