/* Engine layer of the state manager: every state transition and every query.
 *
 * The HTTP handlers parse a request, call one function here and render its result;
 * they never touch storage.  The engine never speaks HTTP: each function returns an
 * exo_result and, for NOT_FOUND / REFUSED / CONFLICT, a message for the client in
 * *detail (malloc'd, the caller frees it; NULL when out of memory).  The handler
 * maps the code to a status.  These messages are answers, not diagnostics: they
 * quote client input of any length (a validation report lists every problem), so
 * they are allocated rather than written into a fixed err buffer.  Each call is one transaction (or
 * one read) on app->db, entered with exo_app_db_enter; a report and all of its
 * consequences (fan-out siblings, next states, unites, retries) commit together,
 * and long-polling claimers are woken after the commit.
 *
 * Rows handed out through out parameters belong to the caller (storage.h's free
 * functions).  Namespaces and names are used as given (the handlers trim them). */
#ifndef EXO_SM_ENGINE_H
#define EXO_SM_ENGINE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "graph.h"
#include "storage.h"

typedef enum exo_result {
    EXO_RESULT_FAILED = -1,   /* database or allocation failure (logged; *detail not set) */
    EXO_RESULT_OK = 0,
    EXO_RESULT_NOT_FOUND = 1, /* what the request names does not exist */
    EXO_RESULT_REFUSED = 2,   /* not allowed now (wrong status, invalid template, ...) */
    EXO_RESULT_CONFLICT = 3,  /* would duplicate what exists */
} exo_result;

/* ---- workers: claims, leases, reports ------------------------------------------------------- */

/* One claim round: up to `limit` due CREATED states of ns whose node is in nodes
 * become QUEUED with a lease of lease_ms, recorded as claimed by runtime_name
 * (NULL: the client did not name itself).  *next_due: earliest future due time of
 * such states (0 when none), for the long-poll to wake up at. */
exo_result exo_engine_claim(exo_app *app, const char *ns, const char *const *nodes, size_t nnodes, int64_t lease_ms,
                            const char *runtime_name, size_t limit, exo_state_row **rows, size_t *n,
                            int64_t *next_due);
/* Extends the leases of the QUEUED states among ids (array of strings) of ns; each
 * id is appended to renewed or lost. */
exo_result exo_engine_renew_leases(exo_app *app, const char *ns, json_object *ids, int64_t lease_ms,
                                   json_object *renewed, json_object *lost);
/* executed: outputs is the validated array of objects of strings; store (nullable)
 * the validated store writes. */
exo_result exo_engine_executed(exo_app *app, const char *ns, const char *state_id, json_object *outputs,
                               json_object *store, char **detail);
/* errored: applies the run's retry policy; *retry_created tells the outcome. */
exo_result exo_engine_errored(exo_app *app, const char *ns, const char *state_id, const char *error,
                              int *retry_created, char **detail);

/* State logs (exo's extension, state_logs.c): what the node printed, len bytes of
 * UTF-8 (NULs allowed) sent with the report; NULL: none.  The same as the two above,
 * storing the logs in the report's transaction.  More than EXO_STATE_LOGS_MAX bytes
 * keep their end, after a line saying how much was cut. */
#define EXO_STATE_LOGS_MAX (256 * 1024)
exo_result exo_engine_executed_logs(exo_app *app, const char *ns, const char *state_id, json_object *outputs,
                                    json_object *store, const char *logs, size_t logs_len, char **detail);
exo_result exo_engine_errored_logs(exo_app *app, const char *ns, const char *state_id, const char *error,
                                   const char *logs, size_t logs_len, int *retry_created, char **detail);
/* The state state_id of ns (*row) and its logs (*logs malloc'd, NULL when its host
 * reported none).  NOT_FOUND for an unknown id or another namespace's state. */
exo_result exo_engine_state_logs(exo_app *app, const char *ns, const char *state_id, exo_state_row *row,
                                 char **logs, size_t *len);
/* prune signal: *enqueue_after is the state's (unchanged) due time. */
exo_result exo_engine_prune(exo_app *app, const char *ns, const char *state_id, json_object *data,
                            int64_t *enqueue_after, char **detail);
/* re-enqueue-after signal: the state becomes CREATED again, due in delay_ms. */
exo_result exo_engine_reenqueue(exo_app *app, const char *ns, const char *state_id, int64_t delay_ms,
                                int64_t *enqueue_after, char **detail);
/* Manual retry of an ERRORED / NEXT_CREATED_ERROR state: a new CREATED state. */
exo_result exo_engine_manual_retry(exo_app *app, const char *ns, const char *state_id, const char *fanout_id,
                                   char new_id[EXO_ID_LEN + 1], char **detail);
/* Decrypted secrets of the state's graph: *secrets a new object name -> value.
 * FAILED with *detail set when the key cannot decrypt them (the answer is a 500
 * naming the secret). */
exo_result exo_engine_state_secrets(exo_app *app, const char *ns, const char *state_id, json_object **secrets,
                                    char **detail);

/* ---- runs ---------------------------------------------------------------------------------------- */

/* Starts a run of a VALID graph: store/inputs validated string maps or NULL,
 * start_delay in ms. */
exo_result exo_engine_trigger(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                              json_object *inputs, int64_t start_delay, char run_id[EXO_UUID_LEN + 1], char **detail);
/* The same, filling extra (an object; NULL: none wanted) with exo's additions to
 * the answer: on OK "warnings", one message per trigger input the root node does
 * not take and per store key nothing reads (only when there is one); on REFUSED
 * what is wrong: "graph_name", "validation_status", "validation_errors" for a
 * graph that is not VALID, or "missing_store_keys". */
exo_result exo_engine_trigger_ex(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                                 json_object *inputs, int64_t start_delay, char run_id[EXO_UUID_LEN + 1],
                                 json_object *extra, char **detail);
exo_result exo_engine_runs_page(exo_app *app, const char *ns, int64_t offset, int64_t limit, exo_run_row **rows,
                                size_t *n, int64_t *total);
exo_result exo_engine_run_states(exo_app *app, const char *ns, const char *run_id, exo_state_row **rows, size_t *n);
/* The state state_id when it belongs to run_id of graph_name in ns; NOT_FOUND otherwise. */
exo_result exo_engine_run_state(exo_app *app, const char *ns, const char *graph_name, const char *run_id,
                                const char *state_id, exo_state_row *row);

/* Start-up check (registry.c): tries the key on every stored graph secret; sets
 * app->secrets_undecryptable and app->secrets_warning (and logs it) when some cannot
 * be decrypted — typically the state manager was restarted with another
 * SECRETS_ENCRYPTION_KEY.  Call before the server starts. */
exo_result exo_engine_check_secrets(exo_app *app);

/* ---- run controls (run_controls.c): exo's extensions ------------------------------------------- */

/* One run of ns with its counts and cancel mark (NOT_FOUND when unknown). */
exo_result exo_engine_run_get(exo_app *app, const char *ns, const char *run_id, exo_run_row *row);
/* The filtered, keyset-paginated listing (storage.h's exo_run_query). */
exo_result exo_engine_run_query(exo_app *app, const exo_run_query *q, exo_run_row **rows, size_t *n);
/* Why the run's unfinished states wait: *out a new object
 *   {"states": [{"state_id","identifier","node_name","status","reason","message"}...],
 *    "unites": [{"identifier","unites","message"}...]}
 * reason: "not_due" (enqueue_after in the future), "no_node" (no runtime registered
 * the node in the state's namespace), "workers_lost" (due, and every runtime whose
 * heartbeats name the node is lost, its last registrar too), "unclaimed" (due and registered, no worker has
 * claimed it), "claimed" (QUEUED: a worker holds it; "claimed_by" names the runtime
 * when it named itself, "worker_lost" is true when that runtime is lost), "executed". */
exo_result exo_engine_run_waits(exo_app *app, const char *ns, const char *run_id, json_object **out);
/* Cancels a PENDING run: every CREATED / QUEUED / EXECUTED state becomes ERRORED
 * with "Run cancelled by <by> at <time>" (so nothing more is claimed, and a worker
 * renewing the lease of a running one is told it is lost), and the run is marked
 * cancelled by `by`.  NOT_FOUND; CONFLICT when the run has already finished or was
 * cancelled.  *cancelled = number of states stopped. */
exo_result exo_engine_run_cancel(exo_app *app, const char *ns, const char *run_id, const char *by,
                                 int64_t *cancelled, char **detail);
/* Manually retries every ERRORED / NEXT_CREATED_ERROR state of a run in one
 * transaction; each new state's id is appended to new_ids (array), paired with the
 * retried one as {"state_id","new_state_id"}.  NOT_FOUND; CONFLICT for a cancelled run. */
exo_result exo_engine_run_retry(exo_app *app, const char *ns, const char *run_id, json_object *new_ids, char **detail);
/* The same for every FAILED run of graph created in [since, until) (0 = open end),
 * one run per transaction.  *runs / *states: how many were retried. */
exo_result exo_engine_graph_retry(exo_app *app, const char *ns, const char *graph, int64_t since, int64_t until,
                                  int64_t *runs, int64_t *states);
/* Deletes the finished runs of ns (NULL: every namespace; graph NULL: any graph)
 * created before `before`, with their states and store, in transactions of at most
 * EXO_PURGE_BATCH runs (other requests run between them).  *deleted: how many. */
#define EXO_PURGE_BATCH 100
exo_result exo_engine_runs_purge(exo_app *app, const char *ns, const char *graph, int64_t before, int64_t *deleted);
/* Deletes graph template ns/name (its cron records too; runs keep their version).
 * With purge, first deletes every run of it, finished or not.  NOT_FOUND. */
exo_result exo_engine_delete_graph(exo_app *app, const char *ns, const char *name, int purge, int64_t *runs_deleted,
                                   char **detail);
/* One step of run retention (cfg.retention_*): deletes at most one batch of expired
 * finished runs per rule.  cursor (zeroed before the first step) carries the
 * global rule's position from step to step.  Returns 1 when more may be waiting,
 * 0 when done, -1 on error. */
typedef struct exo_retention_cursor {
    int64_t created_at, seq;
} exo_retention_cursor;
int exo_engine_retention_step(exo_app *app, exo_retention_cursor *cursor);

/* ---- registry: nodes, graph templates, namespaces ------------------------------------------ */

/* Upserts the validated node registrations (array of objects) of a runtime and
 * schedules re-verification of every graph. */
exo_result exo_engine_register_nodes(exo_app *app, const char *ns, const char *runtime_name, json_object *nodes);
exo_result exo_engine_list_nodes(exo_app *app, const char *ns, exo_node_row **rows, size_t *n);
exo_result exo_engine_namespaces(exo_app *app, json_object **names);

/* Validates g as graph `name` of ns (REFUSED with the reason), encrypts its secrets
 * in place and stores it as a new PENDING version; verification is scheduled. */
exo_result exo_engine_upsert_graph(exo_app *app, const char *ns, const char *name, exo_graph *g,
                                   int64_t *created_at, int64_t *updated_at, char **detail);
/* The same, where the secrets named in keep (array of strings; NULL = none) take
 * the stored graph's current ciphertext instead of their value in g (REFUSED when
 * the graph or that secret is not stored). */
exo_result exo_engine_upsert_graph_ex(exo_app *app, const char *ns, const char *name, exo_graph *g, json_object *keep,
                                      int64_t *created_at, int64_t *updated_at, char **detail);
exo_result exo_engine_get_graph(exo_app *app, const char *ns, const char *name, exo_graph_row *row);
exo_result exo_engine_list_graphs(exo_app *app, const char *ns, exo_graph_row **rows, size_t *n);

/* ---- worker registry (runtimes.c): exo's extension ------------------------------------------ */

#define EXO_RUNTIMES_MAX_PER_NS 1000          /* a new runtime beyond it is refused (CONFLICT) */
#define EXO_RUNTIME_FORGET_MS (7LL * 86400000) /* runtimes unheard of this long are deleted */
/* Stores one heartbeat (row's first_seen / last_seen are set here). */
exo_result exo_engine_runtime_heartbeat(exo_app *app, exo_runtime_row *row, char **detail);
exo_result exo_engine_runtime_list(exo_app *app, const char *ns, exo_runtime_row **rows, size_t *n);
/* Per node named by some runtime's heartbeats: how many runtimes name it, how many
 * of them are alive, and (when some are lost) the lost one seen last.  An index
 * sorted by node, built in O(P log P) for P (node, runtime) pairs; node and
 * last_lost point into the rows, which must outlive it (free() the index). */
typedef struct exo_node_liveness {
    const char *node;
    size_t runtimes, alive;
    const exo_runtime_row *last_lost;
} exo_node_liveness;
int exo_node_liveness_index(const exo_runtime_row *rows, size_t n, const char *const *only, size_t nonly,
                            int64_t now, exo_node_liveness **out, size_t *count); /* 0, or -1 out of memory */
/* only (sorted by strcmp, NULL: every node) limits the index to those nodes. */
const exo_node_liveness *exo_node_liveness_find(const exo_node_liveness *idx, size_t count, const char *node);
/* The nodes whose every runtime is lost, sorted: a new array (NULL out of memory). */
json_object *exo_node_liveness_lost(const exo_node_liveness *idx, size_t count);
/* The runtime called name among rows (sorted by name, as runtime_list returns them), or NULL. */
const exo_runtime_row *exo_runtimes_find(const exo_runtime_row *rows, size_t n, const char *name);

/* The work queue per namespace and node, for GET /metrics (at most limit pairs). */
exo_result exo_engine_queue_depth(exo_app *app, size_t limit, exo_queue_row **rows, size_t *n);

#endif
