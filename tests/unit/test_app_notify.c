/* Unit tests of the long-poll wake-ups in the state manager's process context
 * (state-manager/engine/app.h, "Work notifications"): which parked waiters a
 * notification wakes, the missed-work check at park time, deadlines, shutdown, the
 * notes a transaction sends only after its commit, and notifications from many
 * threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

typedef struct probe {
    exo_work_waiter w;
    int woken;
} probe;

static void count_wake(exo_work_waiter *w)
{
    ((probe *)w->arg)->woken++;
}

static void probe_init(probe *p, const char *ns, const char *const *names, size_t n, exo_app *app)
{
    memset(p, 0, sizeof *p);
    p->w.ns = ns;
    p->w.names = names;
    p->w.nnames = n;
    p->w.seen = exo_app_work_seq(app);
    p->w.wake_at_ms = INT64_MAX;
    p->w.wake = count_wake;
    p->w.arg = p;
}

static int setup(void **state)
{
    exo_app *app = calloc(1, sizeof *app);
    assert_non_null(app);
    assert_int_equal(exo_app_init(app), 0);
    *state = app;
    return 0;
}

static int teardown(void **state)
{
    exo_app *app = *state;
    exo_app_destroy(app);
    free(app);
    return 0;
}

static void wakes_only_matching_namespace_and_node(void **state)
{
    exo_app *app = *state;
    static const char *const ab[] = {"A", "B"}, *const c[] = {"C"};
    probe p1, p2, p3;
    probe_init(&p1, "ns1", ab, 2, app);
    probe_init(&p2, "ns1", c, 1, app);
    probe_init(&p3, "ns2", ab, 2, app);
    assert_int_equal(exo_app_park(app, &p1.w), 0);
    assert_int_equal(exo_app_park(app, &p2.w), 0);
    assert_int_equal(exo_app_park(app, &p3.w), 0);
    assert_int_equal(exo_app_parked_count(app), 3);

    exo_app_notify_work(app, "ns1", "B");
    assert_int_equal(p1.woken, 1);
    assert_int_equal(p2.woken, 0);
    assert_int_equal(p3.woken, 0);
    exo_app_notify_work(app, "ns1", "B"); /* p1 is no longer parked: woken once only */
    assert_int_equal(p1.woken, 1);

    exo_app_notify_work(app, "ns2", NULL); /* any node of ns2 */
    assert_int_equal(p3.woken, 1);
    assert_int_equal(p2.woken, 0);
    exo_app_notify_work(app, NULL, NULL); /* everything */
    assert_int_equal(p2.woken, 1);
    assert_int_equal(exo_app_parked_count(app), 0);
}

static void park_refused_when_matching_work_came_after_seen(void **state)
{
    exo_app *app = *state;
    static const char *const a[] = {"A"};
    probe p;
    probe_init(&p, "ns", a, 1, app);
    exo_app_notify_work(app, "other", "A"); /* not for p: it parks */
    exo_app_notify_work(app, "ns", "Z");
    assert_int_equal(exo_app_park(app, &p.w), 0);
    assert_int_equal(exo_app_unpark(app, &p.w), 1);
    assert_int_equal(exo_app_unpark(app, &p.w), 0);

    probe_init(&p, "ns", a, 1, app);
    exo_app_notify_work(app, "ns", "A"); /* for p, between its claim and its park */
    assert_int_equal(exo_app_park(app, &p.w), 1);
    assert_int_equal(p.woken, 0);

    probe_init(&p, "ns", a, 1, app);
    for (int i = 0; i < EXO_WORK_RING + 1; i++)
        exo_app_notify_work(app, "elsewhere", "X"); /* too many to tell: claim again */
    assert_int_equal(exo_app_park(app, &p.w), 1);
}

static void deadlines_and_shutdown(void **state)
{
    exo_app *app = *state;
    static const char *const a[] = {"A"};
    probe early, late;
    probe_init(&early, "ns", a, 1, app);
    probe_init(&late, "ns", a, 1, app);
    early.w.wake_at_ms = 100;
    late.w.wake_at_ms = 500;
    assert_int_equal(exo_app_park(app, &early.w), 0);
    assert_int_equal(exo_app_park(app, &late.w), 0);
    assert_int_equal(exo_app_wake_due(app, 99), 100);
    assert_int_equal(early.woken, 0);
    assert_int_equal(exo_app_wake_due(app, 100), 500);
    assert_int_equal(early.woken, 1);
    assert_int_equal(exo_app_close_waiters(app), 1);
    assert_int_equal(late.woken, 1);
    probe_init(&early, "ns", a, 1, app);
    assert_int_equal(exo_app_park(app, &early.w), 1); /* closed: nothing parks any more */
    assert_int_equal(exo_app_wake_due(app, 1000), INT64_MAX);
}

typedef struct tx_arg {
    int fail;
} tx_arg;

static int tx_body(exo_app *app, void *arg)
{
    exo_app_tx_note_work(app, "ns", "A");
    exo_app_tx_note_work(app, "ns", "A"); /* noted once */
    return ((tx_arg *)arg)->fail ? -1 : 0;
}

static int no_tx_body(exo_app *app, void *arg)
{
    (void)app;
    (void)arg;
    return 0;
}

static void notes_sent_after_commit_only(void **state)
{
    exo_app *app = *state;
    char err[256];
    exo_storage *db = exo_storage_open(":memory:", err, sizeof err);
    assert_non_null(db);
    exo_app_set_storage(app, db);
    static const char *const a[] = {"A"};
    probe p;
    probe_init(&p, "ns", a, 1, app);
    assert_int_equal(exo_app_park(app, &p.w), 0);
    tx_arg fail = {.fail = 1}, ok = {.fail = 0};
    uint64_t seq = exo_app_work_seq(app);
    assert_true(exo_app_tx(app, tx_body, &fail) < 0);
    assert_int_equal(p.woken, 0); /* rolled back: nothing was created */
    assert_int_equal(exo_app_work_seq(app), seq);
    assert_int_equal(exo_app_tx(app, no_tx_body, NULL), 0);
    assert_int_equal(p.woken, 0);
    assert_int_equal(exo_app_tx(app, tx_body, &ok), 0);
    assert_int_equal(p.woken, 1);
    assert_int_equal(exo_app_work_seq(app), seq + 1);
}

/* ---- many threads notifying while waiters park and leave ---------------------------- */

typedef struct race {
    exo_app *app;
    int rounds;
} race;

static void *notifier(void *arg)
{
    race *r = arg;
    for (int i = 0; i < r->rounds; i++)
        exo_app_notify_work(r->app, (i & 1) ? "ns" : "other", (i & 2) ? "A" : NULL);
    return NULL;
}

static void *parker(void *arg)
{
    race *r = arg;
    static const char *const a[] = {"A"};
    for (int i = 0; i < r->rounds; i++) {
        probe p;
        probe_init(&p, "ns", a, 1, r->app);
        if (exo_app_park(r->app, &p.w) == 0 && !exo_app_unpark(r->app, &p.w))
            assert_int_equal(p.woken, 1); /* taken off the list only by a wake-up */
    }
    return NULL;
}

static void concurrent_notify_and_park(void **state)
{
    exo_app *app = *state;
    race r = {.app = app, .rounds = 20000};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, i < 2 ? notifier : parker, &r), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(exo_app_parked_count(app), 0);
}


/* Change waiters (the dashboard's live views): woken by a change of their run (or
 * of any run of their namespace when they name none), never by work notifications;
 * a change after `seen` refuses the park; a NULL namespace wakes them all. */
static void change_waiters_follow_their_runs_only(void **state)
{
    exo_app *app = *state;
    static const char *const run1[] = {"run-1"};
    probe one, any, worker;
    probe_init(&one, "ns1", run1, 1, app);
    probe_init(&any, "ns1", NULL, 0, app);
    probe_init(&worker, "ns1", run1, 1, app); /* a work waiter whose node happens to be named run-1 */
    one.w.kind = any.w.kind = EXO_WAIT_CHANGES;
    one.w.seen = any.w.seen = exo_app_change_seq(app);
    assert_int_equal(exo_app_park(app, &one.w), 0);
    assert_int_equal(exo_app_park(app, &any.w), 0);
    assert_int_equal(exo_app_park(app, &worker.w), 0);

    exo_app_notify_work(app, "ns1", "run-1");
    assert_int_equal(one.woken + any.woken, 0);
    assert_int_equal(worker.woken, 1);
    exo_app_notify_change(app, "ns2", "run-1");
    exo_app_notify_change(app, "ns1", "run-2");
    assert_int_equal(one.woken, 0);
    assert_int_equal(any.woken, 1);
    exo_app_notify_change(app, "ns1", "run-1");
    assert_int_equal(one.woken, 1);

    /* a change of ns1 since `seen`: the park is refused (read again) */
    probe late;
    probe_init(&late, "ns1", run1, 1, app);
    late.w.kind = EXO_WAIT_CHANGES;
    late.w.seen = exo_app_change_seq(app);
    exo_app_notify_change(app, "ns1", "run-9");
    assert_int_equal(exo_app_park(app, &late.w), 1);
    late.w.seen = exo_app_change_seq(app);
    exo_app_notify_change(app, "ns2", "run-9"); /* another namespace does not count */
    assert_int_equal(exo_app_park(app, &late.w), 0);
    exo_app_notify_change(app, NULL, NULL); /* e.g. a session ended */
    assert_int_equal(late.woken, 1);
    assert_int_equal(exo_app_parked_count(app), 0);
}

/* Inside a transaction the changes are sent after the commit, once per run. */
static int change_twice(exo_app *app, void *arg)
{
    (void)arg;
    exo_app_tx_note_change(app, "ns1", "run-1");
    exo_app_tx_note_change(app, "ns1", "run-1");
    return 0;
}

static int change_then_fail(exo_app *app, void *arg)
{
    (void)arg;
    exo_app_tx_note_change(app, "ns1", "run-1");
    return -1;
}

static void changes_sent_after_commit(void **state)
{
    exo_app *app = *state;
    char err[256];
    exo_storage *db = exo_storage_open(":memory:", err, sizeof err);
    assert_non_null(db);
    assert_int_equal(exo_app_set_storage(app, db), 0);
    uint64_t before = exo_app_change_seq(app);
    assert_int_equal(exo_app_tx(app, change_twice, NULL), 0);
    assert_int_equal(exo_app_change_seq(app) - before, 1);
    assert_true(exo_app_tx(app, change_then_fail, NULL) < 0);
    assert_int_equal(exo_app_change_seq(app) - before, 1); /* rolled back: nothing sent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wakes_only_matching_namespace_and_node, setup, teardown),
        cmocka_unit_test_setup_teardown(park_refused_when_matching_work_came_after_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(deadlines_and_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(notes_sent_after_commit_only, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_notify_and_park, setup, teardown),
        cmocka_unit_test_setup_teardown(change_waiters_follow_their_runs_only, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_sent_after_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
