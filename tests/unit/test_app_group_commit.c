/* Group commit of the state manager's transactions on SQLite (engine/app.h,
 * exo_app_tx): threads run transactions at once; each body writes one row of its
 * own, and some bodies fail after writing.  Every successful transaction's row must
 * be visible to another connection as soon as exo_app_tx returns (acknowledged only
 * after its commit), every failed one's row must never appear (atomic, undone
 * alone), and a failure must not fail the transactions grouped with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_app.h"

#define THREADS 8
#define PER_THREAD 300

typedef exo_test_app fixture;

static int setup(void **state)
{
    fixture *f = exo_test_app_new("group-test");
    assert_true(f->app.group.enabled);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    exo_test_app_free(*state);
    return 0;
}

typedef struct one_tx {
    char key[32];
    int fail;                     /* the body fails after its write */
} one_tx;

static int write_body(exo_app *app, void *arg)
{
    one_tx *t = arg;
    json_object *v = json_object_new_string("v");
    int rc = exo_db_store_put(app->db, "run", "ns", "g", t->key, v);
    json_object_put(v);
    if (rc != 0)
        return -1;
    return t->fail ? -1 : 0;
}

typedef struct worker {
    pthread_t thread;
    fixture *f;
    int id;
    int ok, failed, unexpected;   /* results; unexpected: a wrong answer or a lost/visible row */
} worker;

/* 1 when another connection sees key in the store. */
static int visible(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM store WHERE key=?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    sqlite3 *reader;
    if (sqlite3_open_v2(w->f->path, &reader, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        w->unexpected++;
        return NULL;
    }
    sqlite3_busy_timeout(reader, 5000);
    for (int i = 0; i < PER_THREAD; i++) {
        one_tx t = {.fail = (i + w->id) % 5 == 0};
        snprintf(t.key, sizeof t.key, "k%d-%d", w->id, i);
        int rc = exo_app_tx(&w->f->app, write_body, &t);
        if (t.fail ? rc != -1 : rc != 0)
            w->unexpected++;
        if (visible(reader, t.key) != !t.fail)
            w->unexpected++;
        if (rc == 0)
            w->ok++;
        else
            w->failed++;
    }
    sqlite3_close(reader);
    return NULL;
}

static void test_concurrent_transactions_each_atomic_and_acknowledged_after_commit(void **state)
{
    fixture *f = *state;
    worker w[THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < THREADS; i++) {
        w[i].f = f;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    int ok = 0, failed = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        assert_int_equal(w[i].unexpected, 0);
        ok += w[i].ok;
        failed += w[i].failed;
    }
    assert_int_equal(ok + failed, THREADS * PER_THREAD);
    assert_int_equal(failed, THREADS * PER_THREAD / 5);
    /* and after everything: exactly the successful rows are stored */
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM store", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), ok);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_false(f->app.group.open);
    /* the threads did share commits (else this tested nothing of the grouping) */
    fprintf(stderr, "%llu bodies committed in %llu groups\n", (unsigned long long)f->app.group.bodies,
            (unsigned long long)f->app.group.commits);
    assert_true(f->app.group.bodies > f->app.group.commits);
}

/* A plain use of the database (exo_app_db_enter) between transactions finds no
 * group left open: nothing uncommitted is read outside a body. */
static void test_plain_use_finds_no_open_group(void **state)
{
    fixture *f = *state;
    one_tx t = {.key = "plain"};
    assert_int_equal(exo_app_tx(&f->app, write_body, &t), 0);
    exo_app_db_enter(&f->app);
    assert_false(f->app.group.open);
    json_object *v = NULL;
    assert_int_equal(exo_db_store_get(f->app.db, "run", "ns", "g", "plain", &v), 0);
    json_object_put(v);
    exo_app_db_leave(&f->app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_transactions_each_atomic_and_acknowledged_after_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plain_use_finds_no_open_group, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
