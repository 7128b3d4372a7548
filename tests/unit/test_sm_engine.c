/* Unit tests of the state manager's engine layer (state-manager/engine/) over a real
 * SQLite database, without HTTP: cron catch-up and recovery of records left
 * TRIGGERING by a crash, the graph cache's references, and the engine's result
 * codes for the requests a handler maps to 404 / 400 / 409. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "background.h"
#include "clock.h"
#include "engine.h"
#include "test_app.h"

#define NS "ns"

typedef exo_test_app fixture;

static int setup(void **state)
{
    fixture *f = exo_test_app_new("engine-test");
    f->app.cfg.trigger_retention_ms = 3600 * 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    exo_test_app_free(*state);
    return 0;
}

/* Registers node A (no inputs) and stores graph g of one node A with the given
 * extra top-level members; runs one verification pass, so g is VALID. */
static void setup_graph(exo_app *app, const char *extra)
{
    json_object *nodes = json_tokener_parse(
        "[{\"name\":\"A\",\"inputs_schema\":{\"type\":\"object\",\"properties\":{}},"
        "\"outputs_schema\":{\"type\":\"object\",\"properties\":{}},\"secrets\":[]}]");
    assert_non_null(nodes);
    assert_int_equal(exo_engine_register_nodes(app, NS, "rt", nodes), EXO_RESULT_OK);
    json_object_put(nodes);
    char text[512];
    snprintf(text, sizeof text,
             "{\"secrets\":{},\"nodes\":[{\"node_name\":\"A\",\"namespace\":\"" NS "\",\"identifier\":\"a\","
             "\"inputs\":{},\"next_nodes\":[]}]%s%s}",
             extra ? "," : "", extra ? extra : "");
    json_object *body = json_tokener_parse(text);
    assert_non_null(body);
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    exo_graph *g = exo_graph_from_body(body, &rc);
    assert_non_null(g);
    assert_false(exo_reqcheck_failed(&rc));
    exo_reqcheck_free(&rc);
    char *detail = NULL;
    int64_t created, updated;
    assert_int_equal(exo_engine_upsert_graph(app, NS, "g", g, &created, &updated, &detail), EXO_RESULT_OK);
    assert_null(detail);
    exo_graph_free(g);
    json_object_put(body);
    exo_verify_pass(app, 0);
    exo_graph_row row = {0};
    assert_int_equal(exo_engine_get_graph(app, NS, "g", &row), EXO_RESULT_OK);
    assert_int_equal(row.validation_status, EXO_GRAPH_VALID);
    exo_graph_row_free(&row);
}

static int64_t run_count(exo_app *app)
{
    exo_run_row *rows = NULL;
    size_t n = 0;
    int64_t total = -1;
    assert_int_equal(exo_engine_runs_page(app, NS, 0, 100, &rows, &n, &total), EXO_RESULT_OK);
    exo_run_rows_free(rows, n);
    return total;
}

/* The server was down for an hour and died while firing: at start-up the
 * background threads put the record left TRIGGERING back to PENDING, fire it
 * exactly once however many ticks were missed, and the follow-up record lies in
 * the future. */
static void test_cron_catch_up_fires_once_and_stuck_records_recover(void **state)
{
    fixture *f = *state;
    exo_app *app = &f->app;
    const char *expr = "0 0 1 1 *";
    setup_graph(app, "\"triggers\":[{\"type\":\"CRON\",\"value\":{\"expression\":\"0 0 1 1 *\"}}]");
    int64_t now = exo_now_ms();
    exo_storage *db = app->db;
    assert_int_equal(exo_db_trigger_insert(db, expr, NS, "g", now - 3600 * 1000, now + 3600 * 1000), 0);
    exo_trigger_row tr = {0};
    assert_int_equal(exo_db_trigger_claim(db, now, &tr), 0); /* the crash: left TRIGGERING */
    assert_int_equal(tr.trigger_time, now - 3600 * 1000);
    exo_trigger_row_free(&tr);
    assert_int_equal(exo_db_trigger_claim(db, now, &tr), 1);

    /* start-up: the background threads recover the record and catch up */
    char err[256];
    exo_background *bg = exo_background_start(app, err, sizeof err);
    assert_non_null(bg);
    for (int i = 0; i < 100 && run_count(app) < 1; i++)
        exo_sleep_ms(50);
    exo_sleep_ms(1200); /* two more scheduler ticks */
    atomic_store(&app->stopping, 1);
    exo_background_stop(bg);
    assert_int_equal(run_count(app), 1);
    /* the follow-up lies in the future: nothing is due now, the next one is */
    assert_int_equal(exo_db_trigger_claim(db, exo_now_ms(), &tr), 1);
    assert_int_equal(exo_db_trigger_claim(db, INT64_MAX / 2, &tr), 0);
    assert_true(tr.trigger_time > now);
    exo_trigger_row_free(&tr);
}

/* The detail of a non-OK result; checked and freed. */
static void expect_detail(char **detail, const char *contains)
{
    assert_non_null(*detail);
    if (!strstr(*detail, contains))
        fail_msg("detail '%s' lacks '%s'", *detail, contains);
    free(*detail);
    *detail = NULL;
}

/* Result codes that handlers map to statuses, with their messages. */
static void test_result_codes_and_messages(void **state)
{
    fixture *f = *state;
    exo_app *app = &f->app;
    setup_graph(app, NULL);
    char *detail = NULL, run_id[EXO_UUID_LEN + 1];
    assert_int_equal(exo_engine_trigger(app, NS, "nosuch", NULL, NULL, 0, run_id, &detail), EXO_RESULT_NOT_FOUND);
    expect_detail(&detail, "Graph template not found");
    assert_int_equal(exo_engine_trigger(app, NS, "g", NULL, NULL, 0, run_id, &detail), EXO_RESULT_OK);
    assert_null(detail);

    const char *nodes[] = {"A"};
    exo_state_row *rows = NULL;
    size_t n = 0;
    int64_t next_due;
    assert_int_equal(exo_engine_claim(app, NS, nodes, 1, 60000, NULL, 10, &rows, &n, &next_due), EXO_RESULT_OK);
    assert_int_equal(n, 1);
    char id[EXO_ID_LEN + 1];
    memcpy(id, rows[0].id, sizeof id);
    exo_state_rows_free(rows, n);

    assert_int_equal(exo_engine_executed(app, "other", id, NULL, NULL, &detail), EXO_RESULT_NOT_FOUND);
    expect_detail(&detail, "State not found");
    assert_int_equal(exo_engine_executed(app, NS, "not-an-id", NULL, NULL, &detail), EXO_RESULT_NOT_FOUND);
    expect_detail(&detail, "State not found");
    int retry = -1;
    assert_int_equal(exo_engine_errored(app, NS, id, "boom", &retry, &detail), EXO_RESULT_OK);
    assert_int_equal(retry, 1); /* default policy: 3 retries */
    int64_t after;
    assert_int_equal(exo_engine_prune(app, NS, id, NULL, &after, &detail), EXO_RESULT_REFUSED);
    expect_detail(&detail, "State is not queued");
    char new_id[EXO_ID_LEN + 1];
    assert_int_equal(exo_engine_manual_retry(app, NS, id, "f1", new_id, &detail), EXO_RESULT_REFUSED);
    expect_detail(&detail, "only ERRORED or NEXT_CREATED_ERROR");
}

/* References outlive eviction: a held graph stays valid while 40 other versions
 * pass through the cache; a second get of the same version is the same object. */
static void test_graph_cache_references(void **state)
{
    fixture *f = *state;
    exo_app *app = &f->app;
    int64_t first = 0;
    for (int i = 0; i < 41; i++) {
        setup_graph(app, NULL);
        exo_graph_row row = {0};
        assert_int_equal(exo_engine_get_graph(app, NS, "g", &row), EXO_RESULT_OK);
        if (i == 0)
            first = row.version;
        exo_graph_row_free(&row);
    }
    exo_app_db_enter(app);
    const exo_graph *held = exo_graph_cache_get(app->graphs, app->db, first);
    assert_non_null(held);
    assert_ptr_equal(exo_graph_cache_get(app->graphs, app->db, first), held);
    exo_graph_cache_release(app->graphs, held);
    for (int64_t v = first + 1; v <= first + 40; v++) {
        const exo_graph *g = exo_graph_cache_get(app->graphs, app->db, v);
        assert_non_null(g);
        exo_graph_cache_release(app->graphs, g);
    }
    assert_int_equal(exo_graph_find(held, "a"), 0); /* still readable */
    exo_graph_cache_release(app->graphs, held);
    assert_null(exo_graph_cache_get(app->graphs, app->db, first + 1000)); /* unknown version */
    exo_app_db_leave(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cron_catch_up_fires_once_and_stuck_records_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_codes_and_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_cache_references, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
