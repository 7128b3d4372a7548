/* Storage layer of the state manager: the one door to the database.
 *
 * Everything above this folder calls the exo_db_* wrappers at the end of this
 * header, never a backend's ops directly (as SQLite's core calls sqlite3OsRead(),
 * never pMethods->xRead): the wrappers are the one place for timing, metrics and
 * fault injection.  The ops are domain operations (no SQL above this folder).
 *
 * Backends: each one is a file here (sqlite.c) that fills an exo_storage_ops table
 * and is found by exo_storage_open() through the backend table in storage.c, by
 * the scheme of the --db value.  Every callback is required: exo_storage_open()
 * refuses a table with a NULL entry (exo_storage_ops_check).  A backend states its
 * capabilities in ops->caps:
 *   EXO_STORAGE_CONCURRENT  the handle may be used by several threads at once (the
 *                           backend serialises or pools internally); without it the
 *                           caller serialises every use (the app's db lock).
 *   EXO_STORAGE_ATOMIC_CLAIM state_claim needs no surrounding transaction.
 *
 * Transactions belong to the calling thread.  begin() opens one for this thread
 * (a pooled backend binds one connection to the thread until commit() or
 * rollback()); every op this thread calls until then runs inside it; ops called
 * by other threads meanwhile are not part of it.  Ops called outside a
 * transaction each run on their own (autocommit).  Transactions do not nest
 * (savepoints do).  A transaction may fail because it collided with another one
 * (a deadlock, a serialization failure) or because the connection was lost before
 * anything was written: tx_retryable() then says the caller may run it again
 * from the start (exo_app_tx does, a bounded number of times).
 *
 * Several processes on one database (a concurrent backend with several
 * exo-state-managers): the ops marked [locks] below take the row or advisory
 * locks that make the engine's read-check-write sequences race-free across
 * processes; on a one-process backend they are the plain reads.
 *
 * Schema: each backend keeps a schema version in the database and an ordered list
 * of migrations; opening applies the missing ones in one transaction and refuses a
 * database whose version is newer than the backend knows.
 *
 * Return convention unless stated: 0 = ok, 1 = not found / conflict (documented per
 * op), -1 = database error (already logged by the backend).
 * Rows returned through out parameters are owned by the caller (free functions below). */
#ifndef EXO_SM_STORAGE_H
#define EXO_SM_STORAGE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sm_util.h"

typedef struct exo_storage exo_storage;

/* The eight state statuses, in the reference's enum order. */
typedef enum {
    EXO_ST_CREATED, EXO_ST_QUEUED, EXO_ST_EXECUTED, EXO_ST_ERRORED, EXO_ST_NEXT_CREATED_ERROR,
    EXO_ST_SUCCESS, EXO_ST_PRUNED, EXO_ST_RETRY_CREATED, EXO_ST_COUNT
} exo_status;
extern const char *const exo_status_names[EXO_ST_COUNT];
int exo_status_from_name(const char *name); /* -1 when unknown */
/* Bit of a status in the masks of group_has_status. */
#define EXO_ST_BIT(s) (1u << (s))

/* Validation status of a stored graph template. */
typedef enum { EXO_GRAPH_PENDING, EXO_GRAPH_VALID, EXO_GRAPH_INVALID, EXO_GRAPH_STATUS_COUNT } exo_graph_status;
extern const char *const exo_graph_status_names[EXO_GRAPH_STATUS_COUNT];
int exo_graph_status_from_name(const char *name); /* -1 when unknown */

typedef struct exo_node_row {
    char id[EXO_ID_LEN + 1];
    int64_t created_at, updated_at; /* updated_at is kept on re-registration (the reference's rule) */
    int64_t registered_at;          /* last registration, by runtime_name (0: before schema 2) */
    char *name, *namespace_name, *runtime_name;
    json_object *inputs_schema, *outputs_schema, *secrets; /* secrets: array of strings */
} exo_node_row;

typedef struct exo_graph_row {
    char id[EXO_ID_LEN + 1];
    int64_t created_at, updated_at;
    char *namespace_name, *name;
    int64_t version;          /* id of the stored template version (graph_save sets it) */
    json_object *template_;   /* full stored form: nodes, secrets (ciphertext), retry_policy, store_config, triggers */
    exo_graph_status validation_status;
    json_object *validation_errors; /* array of strings */
} exo_graph_row;

typedef struct exo_state_row {
    char id[EXO_ID_LEN + 1];
    int64_t created_at, updated_at;
    char *node_name, *namespace_name, *identifier, *graph_name, *run_id;
    exo_status status;
    json_object *inputs, *outputs, *data, *parents; /* parents: ordered identifier -> id */
    char *error;               /* NULL = JSON null */
    int does_unites;
    char *unite_key;           /* NULL unless created by a unite evaluation (unique) */
    int64_t enqueue_after;
    int64_t retry_count;
    char *fanout_id, *manual_retry_fanout_id;
    char exec_group[EXO_ID_LEN + 1]; /* the instance id shared by fan-out siblings */
    int64_t lease_expires_at;  /* 0 = no lease */
    int64_t lease_ms;          /* length of the current lease (set by claim / renew only) */
    char *claimed_by;          /* runtime named by the last claim (NULL: none or unnamed); set by claim only */
    /* the state's run's graph version and namespace, read by state_lock of a backend
       that reads them with the state at no extra cost (0 / NULL otherwise, and when
       the run is gone): a report then needs no query of its own for them */
    int64_t run_version;
    char *run_namespace;
} exo_state_row;

/* One worker runtime of the registry (exo-host's heartbeats), keyed by
 * (namespace, name).  A runtime is lost when it has not been heard from for
 * EXO_RUNTIME_LOST_INTERVALS of its own heartbeat intervals (exo_runtime_alive). */
typedef struct exo_runtime_row {
    char *namespace_name, *name;
    char *version, *hostname;    /* "" when the heartbeat did not say */
    int64_t pid, slots, running;
    int64_t interval_ms;         /* the heartbeat period the runtime announced */
    int64_t first_seen, last_seen;
    json_object *nodes;          /* array of node names */
} exo_runtime_row;
#define EXO_RUNTIME_LOST_INTERVALS 3

/* One (namespace, node) of the work queue (queue_depth). */
typedef struct exo_queue_row {
    char *namespace_name;
    char *node_name;
    int64_t created;    /* CREATED states */
    int64_t due;        /* of them, with enqueue_after <= now: claimable at once */
    int64_t queued;     /* QUEUED: claimed by a worker, not yet reported */
} exo_queue_row;

typedef struct exo_run_row {
    char *run_id, *graph_name;
    char *namespace_name;         /* set by run_get and run_query */
    int64_t created_at;
    int64_t seq;                  /* insertion order: with created_at, the run listing's keyset */
    int64_t cancelled_at;         /* 0 = not cancelled */
    char *cancelled_by;           /* NULL unless cancelled */
    int64_t counts[EXO_ST_COUNT]; /* per status, in exo_status order */
} exo_run_row;

/* Status of a run, derived from its states (concepts: the run listing) and its
 * cancel mark, in this order of precedence:
 *   CANCELLED  cancelled_at > 0
 *   PENDING    some state is CREATED, QUEUED or EXECUTED
 *   FAILED     some state is ERRORED or NEXT_CREATED_ERROR, or the run has no state
 *   SUCCESS    otherwise
 * exo_run_status_of computes it from a row; run_query filters by the same rule,
 * except that its FAILED-alone filter starts from the failed states and so does not
 * list a run without any state: the engine never writes one (a run is inserted with
 * its root state in one transaction, and its states are deleted only with it). */
typedef enum { EXO_RUN_PENDING, EXO_RUN_SUCCESS, EXO_RUN_FAILED, EXO_RUN_CANCELLED, EXO_RUN_STATUS_COUNT } exo_run_status;
extern const char *const exo_run_status_names[EXO_RUN_STATUS_COUNT];
int exo_run_status_from_name(const char *name); /* -1 when unknown */
exo_run_status exo_run_status_of(const exo_run_row *r);
/* For the backends' run_query: appends to f " AND <condition>" selecting the runs of
 * `r` (the runs table's alias) whose status is in mask, by the same rule; nothing for
 * an empty mask.  The FAILED-alone form starts from the failed runs and so does not
 * list a run without any state (see above). */
void exo_run_status_condition(FILE *f, unsigned mask);
/* Runs that have ended (CANCELLED, FAILED, SUCCESS), as a run_query status mask. */
#define EXO_RUN_FINISHED_MASK ((1u << EXO_RUN_SUCCESS) | (1u << EXO_RUN_FAILED) | (1u << EXO_RUN_CANCELLED))

/* A filtered, keyset-paginated run listing (run_query).  Zero / NULL members do
 * not filter.  Order: created_at descending, then seq descending (newest first,
 * stable).  after_created_at/after_seq (after_seq > 0) continue strictly after
 * that row in this order. */
typedef struct exo_run_query {
    const char *ns;             /* NULL = every namespace */
    const char *graph_name;
    unsigned status_mask;       /* bit i = exo_run_status i; 0 = any */
    int64_t since, until;       /* created_at >= since (when > 0), created_at < until (when > 0) */
    const char *run_id_prefix;  /* run_id starts with it */
    int64_t after_created_at, after_seq;
    int64_t limit;              /* >= 1 */
} exo_run_query;

typedef struct exo_trigger_row {
    int64_t id;
    char *expression, *namespace_name, *graph_name;
    int64_t trigger_time;
} exo_trigger_row;

/* Capability bits of a backend (exo_storage_ops.caps). */
#define EXO_STORAGE_CONCURRENT 0x1u
/* state_claim is atomic on its own (one statement): callers need no transaction
 * around it. */
#define EXO_STORAGE_ATOMIC_CLAIM 0x2u

/* Open options (defaults: exo_storage_open). */
typedef struct exo_storage_options {
    unsigned pool_size; /* connections of a pooled backend (--db-pool; 0 = the default, 8) */
} exo_storage_options;
#define EXO_STORAGE_DEFAULT_POOL 8u
#define EXO_STORAGE_MAX_POOL 256u

/* Called by a backend's listener when another process (or this one) committed
 * states that may be claimable: ns and node name of one of them, or both NULL
 * when unknown (wake every long-poll). */
typedef void (*exo_storage_work_cb)(void *ud, const char *ns, const char *node_name);

typedef struct exo_storage_ops {
    const char *backend;
    unsigned caps;
    void (*close)(exo_storage *s);
    /* 0 when the database is reachable, -1 with the reason in err.  probe = 0 answers
     * from what the last calls saw (no round trip); probe = 1 asks the server. */
    int (*health)(exo_storage *s, int probe, char *err, size_t errlen);
    /* 1 when this thread's last failed transaction may be run again from the start. */
    int (*tx_retryable)(exo_storage *s);
    /* Starts delivering cross-process work notifications to cb until close (0 ok;
     * a one-process backend returns 0 and never calls cb). */
    int (*listen_work)(exo_storage *s, exo_storage_work_cb cb, void *ud);

    /* Transactions.  begin() starts a write transaction; savepoints nest inside it. */
    int (*begin)(exo_storage *s);
    int (*commit)(exo_storage *s);
    int (*rollback)(exo_storage *s);
    int (*savepoint)(exo_storage *s, const char *name);
    int (*release)(exo_storage *s, const char *name);
    int (*rollback_to)(exo_storage *s, const char *name);

    /* Registered nodes.  node_upsert keys on (namespace, name); an existing row keeps
     * its id/created_at/updated_at. */
    int (*node_upsert)(exo_storage *s, const exo_node_row *row);
    int (*node_get)(exo_storage *s, const char *ns, const char *name, exo_node_row *out); /* 1: none */
    int (*node_list)(exo_storage *s, const char *ns, exo_node_row **out, size_t *n);
    int (*namespaces)(exo_storage *s, json_object **out_array); /* distinct, sorted, non-empty */

    /* Graph templates.  graph_save inserts or replaces by (namespace, name), stores a new
     * immutable template version and sets row->version.  graph_set_validation applies
     * only while the graph's current version is `version` and its stored verdict
     * differs (returns 1 otherwise: the verdict is recorded once per version). */
    int (*graph_get)(exo_storage *s, const char *ns, const char *name, exo_graph_row *out); /* 1: none */
    int (*graph_save)(exo_storage *s, exo_graph_row *row);
    int (*graph_set_validation)(exo_storage *s, const char *ns, const char *name, int64_t version,
                                exo_graph_status status, json_object *errors, int64_t now);
    int (*graph_list)(exo_storage *s, const char *ns /* NULL = all */, exo_graph_row **out, size_t *n);
    int (*graph_version)(exo_storage *s, int64_t version, json_object **template_out); /* 1: none */
    /* Deletes graph (ns, name), all of its cron trigger records, and the stored
     * versions of it that no remaining run references (runs keep theirs).  1: none.
     * [locks] A version that a concurrent run_insert is creating a run from is kept. */
    int (*graph_delete)(exo_storage *s, const char *ns, const char *name);

    /* Runs and the run store.  run_insert [locks] the run's graph version (when it
     * exists) against graph_delete until the transaction ends. */
    int (*run_insert)(exo_storage *s, const char *run_id, const char *ns, const char *graph,
                      int64_t version, int64_t created_at);
    /* Graph version and namespace a run was triggered with; *ns malloc'd. */
    int (*run_version)(exo_storage *s, const char *run_id, int64_t *version, char **ns); /* 1: none */
    int (*run_page)(exo_storage *s, const char *ns, int64_t offset, int64_t limit,
                    exo_run_row **out, size_t *n, int64_t *total);
    /* Store values are JSON strings kept byte-exact (U+0000 included). */
    int (*store_put)(exo_storage *s, const char *run_id, const char *ns, const char *graph,
                     const char *key, json_object *value); /* last writer wins */
    int (*store_get)(exo_storage *s, const char *run_id, const char *ns, const char *graph,
                     const char *key, json_object **value); /* 1: none; *value a new string */
    /* One run of ns with every run_row member (counts included).  1: none.
     * [locks] Inside a transaction the run stays share-locked until it ends: a
     * run_mark_cancelled of another transaction waits for it (and it for that one). */
    int (*run_get)(exo_storage *s, const char *ns, const char *run_id, exo_run_row *out);
    /* Runs matching q, at most q->limit, in q's order, every run_row member filled. */
    int (*run_query)(exo_storage *s, const exo_run_query *q, exo_run_row **out, size_t *n);
    /* Marks a run cancelled by `by` at `at` (only the mark: the caller ends its
     * states).  1: no such run, or it is already marked.  [locks] The run stays
     * locked until the transaction ends: concurrent marks of one run serialise,
     * the later one then answers 1. */
    int (*run_mark_cancelled)(exo_storage *s, const char *run_id, const char *by, int64_t at);
    /* Deletes a run with its states, their ancestor-index rows and its store.
     * 1: no such run.  With finished_only, a run that is not finished (by the rule
     * above: not cancelled and a state CREATED, QUEUED or EXECUTED, e.g. revived by a
     * retry since the caller listed it) is kept: 1.  [locks] A run another
     * transaction holds locked (being deleted, cancelled or retried elsewhere) is
     * skipped, not waited for: 1; the finished check is made once the lock is held. */
    int (*run_delete)(exo_storage *s, const char *run_id, int finished_only);

    /* States.  state_insert returns 1 on a uniqueness conflict (lane or unite key),
     * leaving nothing written. */
    int (*state_insert)(exo_storage *s, const exo_state_row *st);
    int (*state_get)(exo_storage *s, const char *id, exo_state_row *out); /* 1: none */
    /* [locks] state_get that, inside a transaction, locks the row until it ends: the
     * read of a state the transaction is about to change (it may also fill
     * run_version / run_namespace). */
    int (*state_lock)(exo_storage *s, const char *id, exo_state_row *out); /* 1: none */
    int (*state_update)(exo_storage *s, const exo_state_row *st); /* every mutable field */
    /* Claims up to `limit` CREATED states of ns whose node_name is in nodes and
     * enqueue_after <= now: sets QUEUED, lease_expires_at and claimed_by (the
     * claiming runtime's name; NULL: unnamed).  *next_due = earliest future
     * enqueue_after of such states (0 when none). */
    int (*state_claim)(exo_storage *s, const char *ns, const char *const *nodes, size_t nnodes,
                       int64_t now, int64_t lease_ms, const char *claimed_by, size_t limit,
                       exo_state_row **out, size_t *n, int64_t *next_due);
    /* Ancestor-instance index used by unite evaluation. */
    int (*ancestors_copy)(exo_storage *s, const char *from_state, const char *to_state);
    int (*ancestor_add)(exo_storage *s, const char *group, const char *state_id);
    /* 1 when some descendant of instance `group` has one of the statuses in mask
     * (bit i = exo_status i), 0 when none.  [locks] Inside a transaction, checks of
     * one group are serialised until the checking transaction ends, and each sees
     * every change committed before it: of two transactions that finish the last
     * descendants at the same time, the later one sees both finished. */
    int (*group_has_status)(exo_storage *s, const char *group, unsigned mask);
    /* 1 when a state with this unite_key exists, 0 when not. */
    int (*unite_exists)(exo_storage *s, const char *unite_key);
    int (*states_of_run)(exo_storage *s, const char *ns, const char *run_id, exo_state_row **out, size_t *n);
    /* Leases: renew returns 1 when the state is not QUEUED (or unknown). */
    int (*lease_renew)(exo_storage *s, const char *ns, const char *id, int64_t until, int64_t lease_ms);
    /* [locks] The returned states stay locked until the transaction ends; states
     * another transaction has locked are skipped. */
    int (*lease_expired)(exo_storage *s, int64_t now, size_t limit, char (**ids)[EXO_ID_LEN + 1], size_t *n);
    /* The work queue per namespace and node (GET /metrics): states CREATED (of them,
     * due by now) and QUEUED (claimed), at most limit (namespace, node) pairs, in
     * name order.  Reads only; no lock. */
    int (*queue_depth)(exo_storage *s, int64_t now, size_t limit, exo_queue_row **out, size_t *n);
    /* A state's logs (what its node printed, as the host reported it; len bytes of
     * UTF-8 that may hold U+0000).  set: 1 when no state has this id.  get: *logs
     * malloc'd and NUL-terminated, NULL when the state has none; 1 when ns has no
     * state with this id. */
    int (*state_logs_set)(exo_storage *s, const char *id, const char *logs, size_t len);
    int (*state_logs_get)(exo_storage *s, const char *ns, const char *id, char **logs, size_t *len);
    /* 0 with *created_at (the run's) when run_id exists and none of its states is
     * CREATED, QUEUED or EXECUTED; 1 otherwise.  Reads only (the run duration metric,
     * asked inside the report's transaction after its change). */
    int (*run_finished)(exo_storage *s, const char *run_id, int64_t *created_at);

    /* Worker registry.  runtime_upsert stores a heartbeat: an existing (namespace,
     * name) row keeps its first_seen and takes every other member; runtimes of the
     * namespace last seen before forget_before are deleted first.  1: the row is new
     * and the namespace already holds max_per_ns runtimes (nothing written). */
    int (*runtime_upsert)(exo_storage *s, const exo_runtime_row *row, size_t max_per_ns, int64_t forget_before);
    /* Every runtime of ns, by name. */
    int (*runtime_list)(exo_storage *s, const char *ns, exo_runtime_row **out, size_t *n);

    /* Cron trigger records.  trigger_insert ignores duplicates. */
    int (*trigger_insert)(exo_storage *s, const char *expr, const char *ns, const char *graph,
                          int64_t trigger_time, int64_t expires_at);
    int (*trigger_delete_pending)(exo_storage *s, const char *ns, const char *graph, const char *expr);
    /* [locks] A due PENDING record becomes TRIGGERING; concurrent claimers never get
     * the same record. */
    int (*trigger_claim)(exo_storage *s, int64_t now, exo_trigger_row *out); /* 1: none due */
    int (*trigger_finish)(exo_storage *s, int64_t id, const char *status, int64_t expires_at);
    /* Deletes expired fired/failed records; with at_startup, TRIGGERING -> PENDING. */
    int (*trigger_housekeeping)(exo_storage *s, int64_t now, int at_startup);
} exo_storage_ops;

/* Every callback of exo_storage_ops, for the completeness check at open. */
#define EXO_STORAGE_CALLBACKS(X)                                                                        \
    X(close) X(health) X(tx_retryable) X(listen_work) X(state_lock) X(begin) X(commit) X(rollback) X(savepoint) X(release) X(rollback_to) X(node_upsert)       \
    X(node_get) X(node_list) X(namespaces) X(graph_get) X(graph_save) X(graph_set_validation)           \
    X(graph_list) X(graph_version) X(graph_delete) X(run_insert) X(run_version) X(run_page) X(store_put) \
    X(store_get) X(run_get) X(run_query) X(run_mark_cancelled) X(run_delete)                            \
    X(state_insert) X(state_get) X(state_update) X(state_claim) X(ancestors_copy) X(ancestor_add)       \
    X(group_has_status) X(unite_exists) X(states_of_run) X(lease_renew) X(lease_expired) X(queue_depth) \
    X(runtime_upsert) X(runtime_list) \
    X(state_logs_set) X(state_logs_get) X(run_finished)                                                 \
    X(trigger_insert) X(trigger_delete_pending) X(trigger_claim) X(trigger_finish) X(trigger_housekeeping)

/* Told of every state a caller wrote through the wrappers below (state_insert,
 * state_update, state_claim), and by a backend's listener of the states another
 * process changed: the dashboard's live views (app.c) wait for these. */
typedef void (*exo_storage_change_cb)(void *ud, const char *ns, const char *run_id);

struct exo_storage {
    const exo_storage_ops *ops;
    exo_storage_change_cb on_change; /* NULL: nobody listens (set by exo_db_on_change) */
    void *on_change_ud;
};

/* A backend: the --db schemes it serves ("postgres" serves postgres://...) and its
 * open function (NULL when this build does not include it).  The backend whose
 * schemes list is NULL serves plain paths (SQLite). */
typedef struct exo_storage_backend {
    const char *name;
    const char *const *schemes;
    exo_storage *(*open)(const char *db, const exo_storage_options *opt, char *err, size_t errlen);
} exo_storage_backend;

/* Opens the storage named by a --db value: a file path (SQLite) or scheme://...
 * On failure returns NULL and writes a message to err. */
exo_storage *exo_storage_open(const char *db, char *err, size_t errlen);
exo_storage *exo_storage_open_with(const char *db, const exo_storage_options *opt, char *err, size_t errlen);
/* The --db value fit for a log line: a URI's password replaced by "***". */
void exo_storage_describe(const char *db, char *out, size_t outlen);
/* 0 when every callback of ops is set; -1 with the first missing one named in err. */
int exo_storage_ops_check(const exo_storage_ops *ops, char *err, size_t errlen);

/* Backends (one file each). */
exo_storage *exo_storage_sqlite_open(const char *path, const exo_storage_options *opt, char *err, size_t errlen);
exo_storage *exo_storage_postgres_open(const char *uri, const exo_storage_options *opt, char *err, size_t errlen);

void exo_node_row_free(exo_node_row *r);
void exo_graph_row_free(exo_graph_row *r);
void exo_state_row_free(exo_state_row *r);
void exo_run_row_free(exo_run_row *r);
void exo_trigger_row_free(exo_trigger_row *r);
void exo_node_rows_free(exo_node_row *rows, size_t n);
void exo_graph_rows_free(exo_graph_row *rows, size_t n);
void exo_state_rows_free(exo_state_row *rows, size_t n);
void exo_run_rows_free(exo_run_row *rows, size_t n);
void exo_queue_rows_free(exo_queue_row *rows, size_t n);
void exo_runtime_row_free(exo_runtime_row *r);
void exo_runtime_rows_free(exo_runtime_row *rows, size_t n);
/* 1 when r was heard from within EXO_RUNTIME_LOST_INTERVALS heartbeat intervals of now. */
int exo_runtime_alive(const exo_runtime_row *r, int64_t now);
/* 1 when r's nodes include node. */
int exo_runtime_has_node(const exo_runtime_row *r, const char *node);

/* ---- the wrappers: callers use these, never s->ops directly ------------------------------------- */

/* Every database call goes through here: the one place to time, count or fail calls. */
#define EXO_DB_OP(s, op) ((s)->ops->op)

static inline unsigned exo_db_caps(const exo_storage *s) { return s->ops->caps; }
static inline const char *exo_db_backend(const exo_storage *s) { return s->ops->backend; }
static inline void exo_db_close(exo_storage *s) { EXO_DB_OP(s, close)(s); }
static inline int exo_db_health(exo_storage *s, int probe, char *err, size_t errlen)
{
    return EXO_DB_OP(s, health)(s, probe, err, errlen);
}
static inline int exo_db_tx_retryable(exo_storage *s) { return EXO_DB_OP(s, tx_retryable)(s); }
static inline int exo_db_listen_work(exo_storage *s, exo_storage_work_cb cb, void *ud)
{
    return EXO_DB_OP(s, listen_work)(s, cb, ud);
}

static inline void exo_db_on_change(exo_storage *s, exo_storage_change_cb cb, void *ud)
{
    s->on_change = cb;
    s->on_change_ud = ud;
}
static inline void exo_db_note_change(exo_storage *s, const char *ns, const char *run_id)
{
    if (s->on_change)
        s->on_change(s->on_change_ud, ns, run_id);
}

static inline int exo_db_begin(exo_storage *s) { return EXO_DB_OP(s, begin)(s); }
static inline int exo_db_commit(exo_storage *s) { return EXO_DB_OP(s, commit)(s); }
static inline int exo_db_rollback(exo_storage *s) { return EXO_DB_OP(s, rollback)(s); }
static inline int exo_db_savepoint(exo_storage *s, const char *name) { return EXO_DB_OP(s, savepoint)(s, name); }
static inline int exo_db_release(exo_storage *s, const char *name) { return EXO_DB_OP(s, release)(s, name); }
static inline int exo_db_rollback_to(exo_storage *s, const char *name) { return EXO_DB_OP(s, rollback_to)(s, name); }

static inline int exo_db_node_upsert(exo_storage *s, const exo_node_row *row) { return EXO_DB_OP(s, node_upsert)(s, row); }
static inline int exo_db_node_get(exo_storage *s, const char *ns, const char *name, exo_node_row *out)
{
    return EXO_DB_OP(s, node_get)(s, ns, name, out);
}
static inline int exo_db_node_list(exo_storage *s, const char *ns, exo_node_row **out, size_t *n)
{
    return EXO_DB_OP(s, node_list)(s, ns, out, n);
}
static inline int exo_db_namespaces(exo_storage *s, json_object **out_array) { return EXO_DB_OP(s, namespaces)(s, out_array); }

static inline int exo_db_graph_get(exo_storage *s, const char *ns, const char *name, exo_graph_row *out)
{
    return EXO_DB_OP(s, graph_get)(s, ns, name, out);
}
static inline int exo_db_graph_save(exo_storage *s, exo_graph_row *row) { return EXO_DB_OP(s, graph_save)(s, row); }
static inline int exo_db_graph_set_validation(exo_storage *s, const char *ns, const char *name, int64_t version,
                                              exo_graph_status status, json_object *errors, int64_t now)
{
    return EXO_DB_OP(s, graph_set_validation)(s, ns, name, version, status, errors, now);
}
static inline int exo_db_graph_list(exo_storage *s, const char *ns, exo_graph_row **out, size_t *n)
{
    return EXO_DB_OP(s, graph_list)(s, ns, out, n);
}
static inline int exo_db_graph_version(exo_storage *s, int64_t version, json_object **template_out)
{
    return EXO_DB_OP(s, graph_version)(s, version, template_out);
}

static inline int exo_db_graph_delete(exo_storage *s, const char *ns, const char *name)
{
    return EXO_DB_OP(s, graph_delete)(s, ns, name);
}

static inline int exo_db_run_insert(exo_storage *s, const char *run_id, const char *ns, const char *graph,
                                    int64_t version, int64_t created_at)
{
    return EXO_DB_OP(s, run_insert)(s, run_id, ns, graph, version, created_at);
}
static inline int exo_db_run_version(exo_storage *s, const char *run_id, int64_t *version, char **ns)
{
    return EXO_DB_OP(s, run_version)(s, run_id, version, ns);
}
static inline int exo_db_run_page(exo_storage *s, const char *ns, int64_t offset, int64_t limit, exo_run_row **out,
                                  size_t *n, int64_t *total)
{
    return EXO_DB_OP(s, run_page)(s, ns, offset, limit, out, n, total);
}
static inline int exo_db_store_put(exo_storage *s, const char *run_id, const char *ns, const char *graph,
                                   const char *key, json_object *value)
{
    return EXO_DB_OP(s, store_put)(s, run_id, ns, graph, key, value);
}
static inline int exo_db_store_get(exo_storage *s, const char *run_id, const char *ns, const char *graph,
                                   const char *key, json_object **value)
{
    return EXO_DB_OP(s, store_get)(s, run_id, ns, graph, key, value);
}

static inline int exo_db_run_get(exo_storage *s, const char *ns, const char *run_id, exo_run_row *out)
{
    return EXO_DB_OP(s, run_get)(s, ns, run_id, out);
}
static inline int exo_db_run_query(exo_storage *s, const exo_run_query *q, exo_run_row **out, size_t *n)
{
    return EXO_DB_OP(s, run_query)(s, q, out, n);
}
static inline int exo_db_run_mark_cancelled(exo_storage *s, const char *run_id, const char *by, int64_t at)
{
    return EXO_DB_OP(s, run_mark_cancelled)(s, run_id, by, at);
}
static inline int exo_db_run_delete(exo_storage *s, const char *run_id, int finished_only)
{
    return EXO_DB_OP(s, run_delete)(s, run_id, finished_only);
}

static inline int exo_db_state_insert(exo_storage *s, const exo_state_row *st)
{
    int rc = EXO_DB_OP(s, state_insert)(s, st);
    if (rc == 0)
        exo_db_note_change(s, st->namespace_name, st->run_id);
    return rc;
}
static inline int exo_db_state_get(exo_storage *s, const char *id, exo_state_row *out)
{
    return EXO_DB_OP(s, state_get)(s, id, out);
}
static inline int exo_db_state_lock(exo_storage *s, const char *id, exo_state_row *out)
{
    return EXO_DB_OP(s, state_lock)(s, id, out);
}
static inline int exo_db_state_update(exo_storage *s, const exo_state_row *st)
{
    int rc = EXO_DB_OP(s, state_update)(s, st);
    if (rc == 0)
        exo_db_note_change(s, st->namespace_name, st->run_id);
    return rc;
}
static inline int exo_db_state_claim(exo_storage *s, const char *ns, const char *const *nodes, size_t nnodes,
                                     int64_t now, int64_t lease_ms, const char *claimed_by, size_t limit,
                                     exo_state_row **out, size_t *n, int64_t *next_due)
{
    int rc = EXO_DB_OP(s, state_claim)(s, ns, nodes, nnodes, now, lease_ms, claimed_by, limit, out, n, next_due);
    for (size_t i = 0; rc == 0 && i < *n; i++)
        exo_db_note_change(s, ns, (*out)[i].run_id);
    return rc;
}
static inline int exo_db_ancestors_copy(exo_storage *s, const char *from_state, const char *to_state)
{
    return EXO_DB_OP(s, ancestors_copy)(s, from_state, to_state);
}
static inline int exo_db_ancestor_add(exo_storage *s, const char *group, const char *state_id)
{
    return EXO_DB_OP(s, ancestor_add)(s, group, state_id);
}
static inline int exo_db_group_has_status(exo_storage *s, const char *group, unsigned mask)
{
    return EXO_DB_OP(s, group_has_status)(s, group, mask);
}
static inline int exo_db_unite_exists(exo_storage *s, const char *unite_key) { return EXO_DB_OP(s, unite_exists)(s, unite_key); }
static inline int exo_db_states_of_run(exo_storage *s, const char *ns, const char *run_id, exo_state_row **out,
                                       size_t *n)
{
    return EXO_DB_OP(s, states_of_run)(s, ns, run_id, out, n);
}
static inline int exo_db_lease_renew(exo_storage *s, const char *ns, const char *id, int64_t until, int64_t lease_ms)
{
    return EXO_DB_OP(s, lease_renew)(s, ns, id, until, lease_ms);
}
static inline int exo_db_lease_expired(exo_storage *s, int64_t now, size_t limit, char (**ids)[EXO_ID_LEN + 1],
                                       size_t *n)
{
    return EXO_DB_OP(s, lease_expired)(s, now, limit, ids, n);
}

static inline int exo_db_queue_depth(exo_storage *s, int64_t now, size_t limit, exo_queue_row **out, size_t *n)
{
    return EXO_DB_OP(s, queue_depth)(s, now, limit, out, n);
}

static inline int exo_db_runtime_upsert(exo_storage *s, const exo_runtime_row *row, size_t max_per_ns,
                                        int64_t forget_before)
{
    return EXO_DB_OP(s, runtime_upsert)(s, row, max_per_ns, forget_before);
}
static inline int exo_db_runtime_list(exo_storage *s, const char *ns, exo_runtime_row **out, size_t *n)
{
    return EXO_DB_OP(s, runtime_list)(s, ns, out, n);
}

static inline int exo_db_state_logs_set(exo_storage *s, const char *id, const char *logs, size_t len)
{
    return EXO_DB_OP(s, state_logs_set)(s, id, logs, len);
}
static inline int exo_db_state_logs_get(exo_storage *s, const char *ns, const char *id, char **logs, size_t *len)
{
    return EXO_DB_OP(s, state_logs_get)(s, ns, id, logs, len);
}

static inline int exo_db_run_finished(exo_storage *s, const char *run_id, int64_t *created_at)
{
    return EXO_DB_OP(s, run_finished)(s, run_id, created_at);
}

static inline int exo_db_trigger_insert(exo_storage *s, const char *expr, const char *ns, const char *graph,
                                        int64_t trigger_time, int64_t expires_at)
{
    return EXO_DB_OP(s, trigger_insert)(s, expr, ns, graph, trigger_time, expires_at);
}
static inline int exo_db_trigger_delete_pending(exo_storage *s, const char *ns, const char *graph, const char *expr)
{
    return EXO_DB_OP(s, trigger_delete_pending)(s, ns, graph, expr);
}
static inline int exo_db_trigger_claim(exo_storage *s, int64_t now, exo_trigger_row *out)
{
    return EXO_DB_OP(s, trigger_claim)(s, now, out);
}
static inline int exo_db_trigger_finish(exo_storage *s, int64_t id, const char *status, int64_t expires_at)
{
    return EXO_DB_OP(s, trigger_finish)(s, id, status, expires_at);
}
static inline int exo_db_trigger_housekeeping(exo_storage *s, int64_t now, int at_startup)
{
    return EXO_DB_OP(s, trigger_housekeeping)(s, now, at_startup);
}

#endif
