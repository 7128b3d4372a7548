/* States created and finished by namespace, node and status (metrics.h): the label
 * table and the per-transaction buffer that holds counts until the commit. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define INDEX_SLOTS (sizeof ((exo_state_counters *)0)->index / sizeof(int32_t))
#define PENDING_CAP 64

typedef struct pending_count {
    exo_node_counters *slot;
    int status; /* -1: created */
    uint64_t n;
} pending_count;

/* The counts of the transaction running on this thread, applied at its commit.
 * Thread-local: each HTTP or background thread runs its own transactions. */
static _Thread_local struct {
    int depth;
    size_t n;
    pending_count item[PENDING_CAP];
} pending;

static uint64_t pair_hash(const char *ns, const char *node)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = ns; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = node; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static exo_node_counters *take_slot(exo_state_counters *c, size_t i, const char *ns, const char *node)
{
    exo_node_counters *s = &c->slot[i];
    s->ns = strdup(ns);
    s->node = strdup(node);
    if (!s->ns || !s->node) {
        free(s->ns);
        free(s->node);
        s->ns = s->node = NULL;
        return NULL;
    }
    atomic_store(&c->used, i + 1);
    return s;
}

/* The counters of (ns, node); the overflow slot once the table is full; NULL only
 * when out of memory. */
static exo_node_counters *slot_of(exo_state_counters *c, const char *ns, const char *node)
{
    pthread_mutex_lock(&c->lock);
    exo_node_counters *found = NULL;
    size_t used = atomic_load(&c->used);
    for (size_t probe = 0, at = pair_hash(ns, node) % INDEX_SLOTS; probe < INDEX_SLOTS;
         probe++, at = (at + 1) % INDEX_SLOTS) {
        int32_t i = c->index[at];
        if (i == 0) {
            if (used < EXO_METRICS_MAX_NODES && (found = take_slot(c, used, ns, node)))
                c->index[at] = (int32_t)used + 1;
            break;
        }
        exo_node_counters *s = &c->slot[i - 1];
        if (!strcmp(s->ns, ns) && !strcmp(s->node, node)) {
            found = s;
            break;
        }
    }
    if (!found) { /* full: the overflow slot, labelled _other */
        found = &c->slot[EXO_METRICS_MAX_NODES];
        if (!found->ns && !take_slot(c, EXO_METRICS_MAX_NODES, EXO_METRICS_OTHER, EXO_METRICS_OTHER))
            found = NULL;
        else if (atomic_load(&c->used) <= EXO_METRICS_MAX_NODES)
            atomic_store(&c->used, (size_t)EXO_METRICS_MAX_NODES + 1);
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

static void apply(exo_node_counters *s, int status, uint64_t n)
{
    if (status < 0)
        atomic_fetch_add_explicit(&s->created, n, memory_order_relaxed);
    else if (status < EXO_METRICS_STATUS_SLOTS)
        atomic_fetch_add_explicit(&s->finished[status], n, memory_order_relaxed);
}

static void count(exo_metrics *m, const char *ns, const char *node, int status)
{
    if (!m->states)
        return;
    exo_node_counters *s = slot_of(m->states, ns, node);
    if (!s)
        return;
    if (pending.depth == 0) {
        apply(s, status, 1);
        return;
    }
    for (size_t i = 0; i < pending.n; i++)
        if (pending.item[i].slot == s && pending.item[i].status == status) {
            pending.item[i].n++;
            return;
        }
    if (pending.n == PENDING_CAP) { /* a very varied transaction: counted now (a rollback keeps these) */
        apply(s, status, 1);
        return;
    }
    pending.item[pending.n++] = (pending_count){s, status, 1};
}

void exo_metrics_state_created(exo_metrics *m, const char *ns, const char *node)
{
    count(m, ns, node, -1);
}

void exo_metrics_state_finished(exo_metrics *m, const char *ns, const char *node, int status)
{
    count(m, ns, node, status);
}

void exo_metrics_tx_begin(void)
{
    if (pending.depth++ == 0)
        pending.n = 0;
}

void exo_metrics_tx_discard(void)
{
    if (pending.depth == 1)
        pending.n = 0;
}

void exo_metrics_tx_end(exo_metrics *m, int committed)
{
    (void)m; /* the slots point into it already */
    if (pending.depth == 0 || --pending.depth > 0)
        return;
    for (size_t i = 0; committed && i < pending.n; i++)
        apply(pending.item[i].slot, pending.item[i].status, pending.item[i].n);
    pending.n = 0;
}
