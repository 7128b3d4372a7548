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

static int runtime_name_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const exo_runtime_row *)row)->name);
}

const exo_runtime_row *exo_runtimes_find(const exo_runtime_row *rows, size_t n, const char *name)
{
    return name && n ? bsearch(name, rows, n, sizeof *rows, runtime_name_cmp) : NULL;
}

/* One (node, runtime) pair of the registry, for sorting by node. */
typedef struct node_pair {
    const char *node;
    const exo_runtime_row *rt;
} node_pair;

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const node_pair *)a)->node, ((const node_pair *)b)->node);
}

static int string_cmp(const void *key, const void *entry)
{
    return strcmp(key, *(const char *const *)entry);
}

/* 1 when node is among only (sorted; NULL: every node is). */
static int wanted(const char *node, const char *const *only, size_t nonly)
{
    return !only || bsearch(node, only, nonly, sizeof *only, string_cmp) != NULL;
}

/* Every (node, runtime) pair of rows whose node is wanted, sorted by node; NULL with
 * *npairs 0 when there is none. */
static node_pair *sorted_pairs(const exo_runtime_row *rows, size_t n, const char *const *only, size_t nonly,
                               size_t *npairs)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += json_object_is_type(rows[i].nodes, json_type_array) ? json_object_array_length(rows[i].nodes) : 0;
    *npairs = 0;
    node_pair *pairs = total ? malloc(total * sizeof *pairs) : NULL;
    if (total && !pairs)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t nn = json_object_is_type(rows[i].nodes, json_type_array) ? json_object_array_length(rows[i].nodes) : 0;
        for (size_t j = 0; j < nn; j++) {
            const char *node = json_object_get_string(json_object_array_get_idx(rows[i].nodes, j));
            if (node && wanted(node, only, nonly))
                pairs[(*npairs)++] = (node_pair){node, &rows[i]};
        }
    }
    if (*npairs)
        qsort(pairs, *npairs, sizeof *pairs, pair_cmp);
    return pairs;
}

int exo_node_liveness_index(const exo_runtime_row *rows, size_t n, const char *const *only, size_t nonly,
                            int64_t now, exo_node_liveness **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t np = 0;
    node_pair *pairs = sorted_pairs(rows, n, only, nonly, &np);
    if (np && !pairs)
        return -1;
    exo_node_liveness *idx = np ? calloc(np, sizeof *idx) : NULL;
    if (np && !idx) {
        free(pairs);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < np; i++) {
        if (k == 0 || strcmp(idx[k - 1].node, pairs[i].node) != 0)
            idx[k++] = (exo_node_liveness){.node = pairs[i].node};
        exo_node_liveness *e = &idx[k - 1];
        if (exo_runtime_alive(pairs[i].rt, now))
            e->alive++;
        else if (!e->last_lost || pairs[i].rt->last_seen > e->last_lost->last_seen)
            e->last_lost = pairs[i].rt;
        e->runtimes++;
    }
    free(pairs);
    *out = idx;
    *count = k;
    return 0;
}

static int liveness_cmp(const void *key, const void *entry)
{
    return strcmp(key, ((const exo_node_liveness *)entry)->node);
}

const exo_node_liveness *exo_node_liveness_find(const exo_node_liveness *idx, size_t count, const char *node)
{
    return count ? bsearch(node, idx, count, sizeof *idx, liveness_cmp) : NULL;
}

json_object *exo_node_liveness_lost(const exo_node_liveness *idx, size_t count)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0; out && i < count; i++) {
        if (idx[i].alive)
            continue;
        json_object *name = json_object_new_string(idx[i].node);
        if (!name || json_object_array_add(out, name) != 0) {
            json_object_put(name);
            json_object_put(out);
            return NULL;
        }
    }
    return out;
}
