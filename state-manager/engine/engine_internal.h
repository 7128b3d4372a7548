/* Shared inside engine/: the pieces that several transitions use.  Everything here
 * runs inside the caller's transaction on app->db (db entered). */
#ifndef EXO_SM_ENGINE_INTERNAL_H
#define EXO_SM_ENGINE_INTERNAL_H

#include "engine.h"

/* Maps a storage return (0 ok, 1 not found, -1 error) to an exo_result. */
static inline exo_result exo_result_of(int storage_rc)
{
    return storage_rc < 0 ? EXO_RESULT_FAILED : storage_rc ? EXO_RESULT_NOT_FOUND : EXO_RESULT_OK;
}

/* 1 for the statuses of a state that has not finished: CREATED, QUEUED, EXECUTED. */
static inline int exo_status_unfinished(exo_status s)
{
    return s == EXO_ST_CREATED || s == EXO_ST_QUEUED || s == EXO_ST_EXECUTED;
}

/* exo_db_state_lock, remembering the run's version and namespace when the backend
 * read them with the state (the report's next lookups of them then hit the cache). */
int exo_engine_state_lock(exo_app *app, const char *id, exo_state_row *st);
/* Graph version a run was triggered with: a cache reference to release with
 * exo_graph_cache_release(app->graphs, g).  *ns_out (optional) receives the run's
 * namespace (malloc'd).  NULL when the run or its version is unknown. */
const exo_graph *exo_engine_run_graph(exo_app *app, const char *run_id, char **ns_out);
/* A run's graph version and namespace (*ns malloc'd), from app->runs when cached,
 * else read through storage and cached.  0, 1 when the run is unknown, -1. */
int exo_engine_run_version(exo_app *app, const char *run_id, int64_t *version, char **ns);

/* Fills a fresh CREATED state (new id, fanout_id, timestamps = now); strings copied.
 * Returns 0 or -1 on allocation failure. */
int exo_state_init(exo_state_row *st, const char *node_name, const char *ns, const char *identifier,
                   const char *graph_name, const char *run_id, int64_t now);
/* Fills r as a fresh CREATED retry of st: st's node, inputs, parents and unite flag,
 * fan-out id fanout_id.  0, or -1 on allocation failure (free r either way). */
int exo_state_init_retry(exo_state_row *r, const exo_state_row *st, const char *fanout_id, int64_t now);

/* Consequences of a report on a QUEUED state st (reports.c).  0 ok, -1 failure.
 * exo_apply_errored takes the run's graph from the caller (NULL: the default retry
 * policy and no unite evaluation). */
int exo_apply_executed(exo_app *app, exo_state_row *st, json_object *outputs, json_object *store, int64_t now);
int exo_apply_errored(exo_app *app, const exo_graph *g, exo_state_row *st, const char *error, int64_t now,
                      int *retry_created);
int exo_apply_pruned(exo_app *app, exo_state_row *st, json_object *data, int64_t now);

/* Stores a report's logs with state_id (state_logs.c; NULL logs: nothing).  0 ok, -1 failure. */
int exo_state_logs_store(exo_app *app, const char *state_id, const char *logs, size_t len);

/* Manual retry of st (states.c): REFUSED unless ERRORED / NEXT_CREATED_ERROR,
 * CONFLICT when a retry with fanout_id exists; on OK st is RETRY_CREATED and the
 * new CREATED state's id is in new_id. */
exo_result exo_apply_manual_retry(exo_app *app, exo_state_row *st, const char *fanout_id, char new_id[EXO_ID_LEN + 1],
                                  char **detail);

/* Creates a run of graph_name and its root state (runs.c); nothing is written
 * unless OK is returned and the caller commits. */
exo_result exo_run_start(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                         json_object *inputs, int64_t start_delay, int64_t now, char run_id[EXO_UUID_LEN + 1],
                         char **detail);
/* The same, filling extra as exo_engine_trigger_ex describes (engine.h). */
exo_result exo_run_start_ex(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                            json_object *inputs, int64_t start_delay, int64_t now, char run_id[EXO_UUID_LEN + 1],
                            json_object *extra, char **detail);

#endif
