/* Storage interface of the state manager.
 *
 * Everything above this header talks to the database only through the ops table
 * below (domain operations, no SQL).  One backend exists (storage_sqlite.c); a
 * PostgreSQL backend would implement the same table.
 *
 * Threading: a storage handle is NOT thread-safe; the caller serialises all use
 * (the server holds one mutex around every transaction).
 * Return convention unless stated: 0 = ok, 1 = not found / conflict (documented per
 * op), -1 = database error (already logged by the backend).
 * Rows returned through out parameters are owned by the caller (free functions below). */
#ifndef EXO_SM_STORAGE_H
#define EXO_SM_STORAGE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_util.h"

typedef struct exo_storage exo_storage;

typedef struct exo_node_row {
    char id[EXO_ID_LEN + 1];
    int64_t created_at, updated_at;
    char *name, *namespace_name, *runtime_name;
    json_object *inputs_schema, *outputs_schema, *secrets; /* secrets: array of strings */
} exo_node_row;

typedef struct exo_graph_row {
    char id[EXO_ID_LEN + 1];
    int64_t created_at, updated_at;
    char *namespace_name, *name;
    int64_t version;          /* id of the stored template version (graph_save sets it) */
    json_object *template_;   /* full stored form: nodes, secrets (ciphertext), retry_policy, store_config, triggers */
    char *validation_status;  /* VALID / INVALID / PENDING */
    json_object *validation_errors; /* array of strings */
} exo_graph_row;

typedef struct exo_state_row {
    char id[EXO_ID_LEN + 1];
    int64_t created_at, updated_at;
    char *node_name, *namespace_name, *identifier, *graph_name, *run_id;
    char status[24];
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
} exo_state_row;

typedef struct exo_run_row {
    char *run_id, *graph_name;
    int64_t created_at;
    int64_t counts[8]; /* per status, in exo_status order */
} exo_run_row;

typedef struct exo_trigger_row {
    int64_t id;
    char *expression, *namespace_name, *graph_name;
    int64_t trigger_time;
} exo_trigger_row;

/* The eight state statuses, in the reference's enum order. */
typedef enum {
    EXO_ST_CREATED, EXO_ST_QUEUED, EXO_ST_EXECUTED, EXO_ST_ERRORED, EXO_ST_NEXT_CREATED_ERROR,
    EXO_ST_SUCCESS, EXO_ST_PRUNED, EXO_ST_RETRY_CREATED, EXO_ST_COUNT
} exo_status;
extern const char *const exo_status_names[EXO_ST_COUNT];
int exo_status_from_name(const char *name); /* -1 when unknown */

typedef struct exo_storage_ops {
    const char *backend;
    void (*close)(exo_storage *s);

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
     * only while the graph's current version is `version` (returns 1 otherwise). */
    int (*graph_get)(exo_storage *s, const char *ns, const char *name, exo_graph_row *out); /* 1: none */
    int (*graph_save)(exo_storage *s, exo_graph_row *row);
    int (*graph_set_validation)(exo_storage *s, const char *ns, const char *name, int64_t version,
                                const char *status, json_object *errors, int64_t now);
    int (*graph_list)(exo_storage *s, const char *ns /* NULL = all */, exo_graph_row **out, size_t *n);
    int (*graph_version)(exo_storage *s, int64_t version, json_object **template_out); /* 1: none */

    /* Runs and the run store. */
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

    /* States.  state_insert returns 1 on a uniqueness conflict (lane or unite key),
     * leaving nothing written. */
    int (*state_insert)(exo_storage *s, const exo_state_row *st);
    int (*state_get)(exo_storage *s, const char *id, exo_state_row *out); /* 1: none */
    int (*state_update)(exo_storage *s, const exo_state_row *st); /* every mutable field */
    /* Claims up to `limit` CREATED states of ns whose node_name is in nodes and
     * enqueue_after <= now: sets QUEUED and lease_expires_at.  *next_due = earliest
     * future enqueue_after of such states (0 when none). */
    int (*state_claim)(exo_storage *s, const char *ns, const char *const *nodes, size_t nnodes,
                       int64_t now, int64_t lease_ms, size_t limit,
                       exo_state_row **out, size_t *n, int64_t *next_due);
    /* Ancestor-instance index used by unite evaluation. */
    int (*ancestors_copy)(exo_storage *s, const char *from_state, const char *to_state);
    int (*ancestor_add)(exo_storage *s, const char *group, const char *state_id);
    /* 1 when some descendant of instance `group` has one of the statuses in mask
     * (bit i = exo_status i), 0 when none. */
    int (*group_has_status)(exo_storage *s, const char *group, unsigned mask);
    /* 1 when a state with this unite_key exists, 0 when not. */
    int (*unite_exists)(exo_storage *s, const char *unite_key);
    int (*states_of_run)(exo_storage *s, const char *ns, const char *run_id, exo_state_row **out, size_t *n);
    /* Leases: renew returns 1 when the state is not QUEUED (or unknown). */
    int (*lease_renew)(exo_storage *s, const char *ns, const char *id, int64_t until, int64_t lease_ms);
    int (*lease_expired)(exo_storage *s, int64_t now, size_t limit, char (**ids)[EXO_ID_LEN + 1], size_t *n);

    /* Cron trigger records.  trigger_insert ignores duplicates. */
    int (*trigger_insert)(exo_storage *s, const char *expr, const char *ns, const char *graph,
                          int64_t trigger_time, int64_t expires_at);
    int (*trigger_delete_pending)(exo_storage *s, const char *ns, const char *graph, const char *expr);
    int (*trigger_claim)(exo_storage *s, int64_t now, exo_trigger_row *out); /* 1: none due */
    int (*trigger_finish)(exo_storage *s, int64_t id, const char *status, int64_t expires_at);
    /* Deletes expired fired/failed records; with at_startup, TRIGGERING -> PENDING. */
    int (*trigger_housekeeping)(exo_storage *s, int64_t now, int at_startup);
} exo_storage_ops;

struct exo_storage {
    const exo_storage_ops *ops;
};

/* Opens the storage named by a --db value: a file path (SQLite) or postgres://...
 * On failure returns NULL and writes a message to err. */
exo_storage *exo_storage_open(const char *db, char *err, size_t errlen);

void exo_node_row_free(exo_node_row *r);
void exo_graph_row_free(exo_graph_row *r);
void exo_state_row_free(exo_state_row *r);
void exo_run_row_free(exo_run_row *r);
void exo_trigger_row_free(exo_trigger_row *r);
void exo_node_rows_free(exo_node_row *rows, size_t n);
void exo_graph_rows_free(exo_graph_row *rows, size_t n);
void exo_state_rows_free(exo_state_row *rows, size_t n);
void exo_run_rows_free(exo_run_row *rows, size_t n);

#endif
