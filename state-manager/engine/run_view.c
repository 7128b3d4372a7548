/* Run views of exo's extensions (engine.h): one run with its cancel mark, the
 * filtered keyset listing, why a run's unfinished states wait, and the work queue
 * per node (/metrics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"

exo_result exo_engine_run_get(exo_app *app, const char *ns, const char *run_id, exo_run_row *row)
{
    exo_app_db_enter(app);
    int rc = exo_db_run_get(app->db, ns, run_id, row);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_run_query(exo_app *app, const exo_run_query *q, exo_run_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_run_query(app->db, q, rows, n);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_queue_depth(exo_app *app, size_t limit, exo_queue_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_queue_depth(app->db, exo_now_ms(), limit, rows, n);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

/* ---- why states wait -------------------------------------------------------------------------------- */

/* The runtimes of the run's namespace, read once per run view. */
typedef struct wait_ctx {
    exo_app *app;
    int64_t now;
    exo_runtime_row *runtimes;
    size_t nruntimes;
    exo_node_liveness *nodes; /* over runtimes: one lookup per waiting state */
    size_t nnodes;
} wait_ctx;

/* What a QUEUED state's entry says about the runtime that claimed it. */
static char *claimed_message(const wait_ctx *c, const exo_state_row *st, const exo_runtime_row *rt)
{
    char when[40], seen[40];
    exo_iso_time(st->lease_expires_at, when);
    if (!st->claimed_by)
        return st->lease_expires_at > 0
                   ? exo_strfmt("claimed by a worker, which is running it (lease until %s)", when)
                   : exo_strfmt("claimed by a worker, which is running it");
    if (rt && !exo_runtime_alive(rt, c->now)) {
        exo_iso_time(rt->last_seen, seen);
        return exo_strfmt("claimed by runtime %s, which is lost (last heartbeat %s); the state is given up "
                          "when its lease ends at %s",
                          st->claimed_by, seen, when);
    }
    return st->lease_expires_at > 0
               ? exo_strfmt("claimed by runtime %s, which is running it (lease until %s)", st->claimed_by, when)
               : exo_strfmt("claimed by runtime %s, which is running it", st->claimed_by);
}

/* 1 with reason "workers_lost" when every runtime whose heartbeats name the node
 * is lost, and so is the one that registered it last (a runtime that sends no
 * heartbeats, as against the reference, may still serve it: then 0). */
static int workers_lost(const wait_ctx *c, const exo_state_row *st, const exo_node_row *node, const char **reason,
                        char **message)
{
    const exo_node_liveness *live = exo_node_liveness_find(c->nodes, c->nnodes, st->node_name);
    const exo_runtime_row *registrar = exo_runtimes_find(c->runtimes, c->nruntimes, node->runtime_name);
    if (!live || live->alive || !registrar || exo_runtime_alive(registrar, c->now))
        return 0;
    const exo_runtime_row *last = live->last_lost;
    char when[40];
    exo_iso_time(last->last_seen, when);
    *reason = "workers_lost";
    *message = exo_strfmt("every runtime serving node %s is lost: the last one, %s on %s, sent its last heartbeat "
                          "at %s; start a host that has the node",
                          st->node_name, last->name, *last->hostname ? last->hostname : "an unknown host", when);
    return 1;
}

/* reason and message for one unfinished state (see engine.h); the node registry
 * is read for CREATED states.  0, or -1 on a database error. */
static int state_wait(const wait_ctx *c, const exo_state_row *st, const char **reason, char **message)
{
    char when[40];
    if (st->status == EXO_ST_QUEUED) {
        *reason = "claimed";
        *message = claimed_message(c, st, exo_runtimes_find(c->runtimes, c->nruntimes, st->claimed_by));
        return 0;
    }
    if (st->status == EXO_ST_EXECUTED) {
        *reason = "executed";
        *message = exo_strfmt("executed; its next states are being created");
        return 0;
    }
    if (st->enqueue_after > c->now) {
        *reason = "not_due";
        exo_iso_time(st->enqueue_after, when);
        *message = exo_strfmt("not yet due: may start at %s (in %.1f s)", when,
                              (double)(st->enqueue_after - c->now) / 1000.0);
        return 0;
    }
    exo_node_row node = {0};
    exo_app_db_enter(c->app);
    int rc = exo_db_node_get(c->app->db, st->namespace_name, st->node_name, &node);
    exo_app_db_leave(c->app);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *reason = "no_node";
        *message = exo_strfmt("no runtime has registered node %s in namespace %s: start a host that has it",
                              st->node_name, st->namespace_name);
        return 0;
    }
    if (workers_lost(c, st, &node, reason, message)) {
        exo_node_row_free(&node);
        return 0;
    }
    *reason = "unclaimed";
    exo_iso_time(node.registered_at ? node.registered_at : node.updated_at, when);
    *message = exo_strfmt("due, not claimed yet: node %s was last registered by runtime %s at %s; is that host "
                          "still running it?",
                          st->node_name, node.runtime_name, when);
    exo_node_row_free(&node);
    return 0;
}

static int add_state_wait(const wait_ctx *c, const exo_state_row *st, json_object *list)
{
    const char *reason = NULL;
    char *message = NULL;
    if (state_wait(c, st, &reason, &message) != 0)
        return -1;
    json_object *e = json_object_new_object();
    if (!e || !message) {
        json_object_put(e);
        free(message);
        return -1;
    }
    json_object_object_add(e, "state_id", json_object_new_string(st->id));
    json_object_object_add(e, "identifier", json_object_new_string(st->identifier));
    json_object_object_add(e, "node_name", json_object_new_string(st->node_name));
    json_object_object_add(e, "status", json_object_new_string(exo_status_names[st->status]));
    json_object_object_add(e, "reason", json_object_new_string(reason));
    json_object_object_add(e, "message", json_object_new_string(message));
    if (st->status == EXO_ST_QUEUED && st->claimed_by) {
        const exo_runtime_row *rt = exo_runtimes_find(c->runtimes, c->nruntimes, st->claimed_by);
        json_object_object_add(e, "claimed_by", json_object_new_string(st->claimed_by));
        json_object_object_add(e, "worker_lost", json_object_new_boolean(rt && !exo_runtime_alive(rt, c->now)));
    }
    free(message);
    return json_object_array_add(list, e);
}

static int identifier_has_state(const exo_state_row *rows, size_t n, const char *identifier)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].identifier, identifier))
            return 1;
    return 0;
}

/* Uniting nodes of the run's graph that have no state yet while their target
 * has one and the run still has unfinished states: they wait for the branches. */
static int add_unite_waits(exo_app *app, const exo_state_row *rows, size_t n, size_t pending, json_object *list)
{
    if (n == 0 || pending == 0)
        return 0;
    const exo_graph *g = exo_engine_run_graph(app, rows[0].run_id, NULL);
    if (!g)
        return 0; /* the run's version is gone: nothing to say about unites */
    int rc = 0;
    for (size_t i = 0; i < g->node_count && rc == 0; i++) {
        const exo_node_tpl *u = &g->nodes[i];
        if (!u->unites || identifier_has_state(rows, n, u->identifier) || !identifier_has_state(rows, n, u->unites))
            continue;
        json_object *e = json_object_new_object();
        char *message = exo_strfmt("waiting on a unite: starts when the states descending from %s have finished "
                                   "(%zu state(s) of the run are unfinished)",
                                   u->unites, pending);
        if (!e || !message) {
            json_object_put(e);
            free(message);
            rc = -1;
            break;
        }
        json_object_object_add(e, "identifier", json_object_new_string(u->identifier));
        json_object_object_add(e, "unites", json_object_new_string(u->unites));
        json_object_object_add(e, "message", json_object_new_string(message));
        free(message);
        rc = json_object_array_add(list, e);
    }
    exo_graph_cache_release(app->graphs, g);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The registry of ns for the run view, when one of the run's states needs it (a
 * QUEUED state with a named claimer, a due CREATED one), with the liveness of the
 * nodes of the due CREATED states only.  0, or -1 on an error. */
static int load_registry(wait_ctx *c, const char *ns, const exo_state_row *rows, size_t n)
{
    const char **due = n ? malloc(n * sizeof *due) : NULL;
    size_t ndue = 0, claimed = 0;
    if (n && !due)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status == EXO_ST_CREATED && rows[i].enqueue_after <= c->now)
            due[ndue++] = rows[i].node_name;
        claimed += rows[i].status == EXO_ST_QUEUED && rows[i].claimed_by;
    }
    int rc = 0;
    if (ndue || claimed) {
        qsort(due, ndue, sizeof *due, name_cmp);
        rc = exo_engine_runtime_list(c->app, ns, &c->runtimes, &c->nruntimes) == EXO_RESULT_OK &&
                     exo_node_liveness_index(c->runtimes, c->nruntimes, due, ndue, c->now, &c->nodes, &c->nnodes) == 0
                 ? 0
                 : -1;
    }
    free(due);
    return rc;
}

exo_result exo_engine_run_waits(exo_app *app, const char *ns, const char *run_id, json_object **out)
{
    exo_state_row *rows = NULL;
    size_t n = 0;
    *out = NULL;
    exo_result r = exo_engine_run_states(app, ns, run_id, &rows, &n);
    if (r != EXO_RESULT_OK)
        return r;
    json_object *o = json_object_new_object(), *states = json_object_new_array(), *unites = json_object_new_array();
    int rc = o && states && unites ? 0 : -1;
    wait_ctx c = {.app = app, .now = exo_now_ms()};
    if (rc == 0)
        rc = load_registry(&c, ns, rows, n);
    size_t pending = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!exo_status_unfinished(rows[i].status))
            continue;
        pending++;
        rc = add_state_wait(&c, &rows[i], states);
    }
    if (rc == 0)
        rc = add_unite_waits(app, rows, n, pending, unites);
    exo_state_rows_free(rows, n);
    free(c.nodes);
    exo_runtime_rows_free(c.runtimes, c.nruntimes);
    if (rc != 0) {
        json_object_put(o);
        json_object_put(states);
        json_object_put(unites);
        return EXO_RESULT_FAILED;
    }
    json_object_object_add(o, "states", states);
    json_object_object_add(o, "unites", unites);
    *out = o;
    return EXO_RESULT_OK;
}

