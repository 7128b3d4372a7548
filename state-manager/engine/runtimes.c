/* The worker registry (engine.h): heartbeats of the runtimes (exo-host sends one
 * every interval_ms), their listing, and which nodes have lost every runtime that
 * serves them.  A runtime is lost once it has been silent for
 * EXO_RUNTIME_LOST_INTERVALS of its own heartbeat intervals; one silent for
 * EXO_RUNTIME_FORGET_MS is deleted at the next heartbeat of its namespace. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"

typedef struct heartbeat_tx {
    const exo_runtime_row *row;
    int64_t forget_before;
} heartbeat_tx;

static int heartbeat_body(exo_app *app, void *arg)
{
    heartbeat_tx *t = arg;
    return exo_db_runtime_upsert(app->db, t->row, EXO_RUNTIMES_MAX_PER_NS, t->forget_before);
}

exo_result exo_engine_runtime_heartbeat(exo_app *app, exo_runtime_row *row, char **detail)
{
    int64_t now = exo_now_ms();
    row->first_seen = now; /* kept by the storage for a runtime it knows */
    row->last_seen = now;
    heartbeat_tx t = {.row = row, .forget_before = now - EXO_RUNTIME_FORGET_MS};
    int rc = exo_app_tx(app, heartbeat_body, &t);
    if (rc < 0)
        return EXO_RESULT_FAILED;
    if (rc == 1) {
        *detail = exo_strfmt("namespace %s already has %d runtimes: runtime_name %s is refused (runtimes "
                             "silent for 7 days are forgotten)",
                             row->namespace_name, EXO_RUNTIMES_MAX_PER_NS, row->name);
        return *detail ? EXO_RESULT_CONFLICT : EXO_RESULT_FAILED;
    }
    return EXO_RESULT_OK;
}

exo_result exo_engine_runtime_list(exo_app *app, const char *ns, exo_runtime_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_runtime_list(app->db, ns, rows, n);
    exo_app_db_leave(app);
    return rc < 0 ? EXO_RESULT_FAILED : EXO_RESULT_OK;
}

const exo_runtime_row *exo_runtimes_find(const exo_runtime_row *rows, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(rows[i].name, name))
            return &rows[i];
    return NULL;
}

int exo_runtimes_node_lost(const exo_runtime_row *rows, size_t n, const char *node, int64_t now,
                           const exo_runtime_row **last)
{
    const exo_runtime_row *seen_last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!exo_runtime_has_node(&rows[i], node))
            continue;
        if (exo_runtime_alive(&rows[i], now))
            return 0;
        if (!seen_last || rows[i].last_seen > seen_last->last_seen)
            seen_last = &rows[i];
    }
    if (last)
        *last = seen_last;
    return seen_last != NULL;
}

static int name_cmp(const void *a, const void *b)
{
    const char *x = json_object_get_string(*(json_object *const *)a);
    const char *y = json_object_get_string(*(json_object *const *)b);
    return strcmp(x ? x : "", y ? y : "");
}

static int array_has(json_object *arr, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), name))
            return 1;
    return 0;
}

json_object *exo_runtimes_lost_nodes(const exo_runtime_row *rows, size_t n, int64_t now)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0; out && i < n; i++) {
        size_t nn = json_object_array_length(rows[i].nodes);
        for (size_t j = 0; j < nn; j++) {
            const char *node = json_object_get_string(json_object_array_get_idx(rows[i].nodes, j));
            if (!node || array_has(out, node) || !exo_runtimes_node_lost(rows, n, node, now, NULL))
                continue;
            json_object *name = json_object_new_string(node);
            if (!name || json_object_array_add(out, name) != 0) {
                json_object_put(name);
                json_object_put(out);
                return NULL;
            }
        }
    }
    if (out)
        json_object_array_sort(out, name_cmp);
    return out;
}
