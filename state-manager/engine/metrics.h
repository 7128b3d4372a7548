/* The state manager's Prometheus counters (served as text by GET /metrics,
 * state-manager/http/handlers_metrics.c).
 *
 * Contract: one exo_metrics lives in exo_app (app->metrics), so there is no global
 * state.  Every recording function is lock-free (C11 relaxed atomics on fixed
 * arrays) and may be called from any thread; rendering reads the same atomics, so
 * a scrape sees each counter exact but the set of them not as one snapshot (what
 * Prometheus expects of any exporter).  Labels are bounded by construction: HTTP
 * requests are counted per route of the route table (its pattern, never a URL)
 * and per status code from a fixed list (anything else is "other"); nothing is
 * labelled by an id. */
#ifndef EXO_SM_METRICS_H
#define EXO_SM_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EXO_METRICS_MAX_ROUTES 64  /* the route table's size (router.c checks it fits) + "unmatched" */
#define EXO_METRICS_BUCKETS 13     /* a histogram's bounds, then +Inf */
#define EXO_METRICS_STATUSES 32    /* exo_metrics_status_codes + "other" */

/* A latency histogram: per-bucket (non-cumulative) counts and the sum in µs. */
typedef struct exo_histogram {
    const double *bounds; /* EXO_METRICS_BUCKETS - 1 upper bounds in seconds (set by exo_metrics_init) */
    atomic_uint_fast64_t bucket[EXO_METRICS_BUCKETS];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t count;
} exo_histogram;

/* States by (namespace, node): the label pairs a process has seen, at most
 * EXO_METRICS_MAX_NODES of them; the states of every later pair are counted under
 * namespace="_other", node="_other" (so a client inventing node names cannot grow
 * the exposition without bound).  Statuses are the eight of storage.h. */
#define EXO_METRICS_MAX_NODES 500
#define EXO_METRICS_STATUS_SLOTS 8
#define EXO_METRICS_OTHER "_other"
typedef struct exo_node_counters {
    char *ns, *node; /* set once when the slot is taken, then read-only */
    atomic_uint_fast64_t created;
    atomic_uint_fast64_t finished[EXO_METRICS_STATUS_SLOTS];
} exo_node_counters;

typedef struct exo_state_counters {
    pthread_mutex_t lock; /* taking a slot (finding one is under it too: a short hash probe) */
    atomic_size_t used;   /* slots taken, in order; the overflow slot is the last */
    exo_node_counters slot[EXO_METRICS_MAX_NODES + 1];
    int32_t index[2048];  /* open addressing on (ns, node): slot + 1, 0 = empty */
} exo_state_counters;

typedef struct exo_metrics {
    int64_t started_unix_s; /* process start (set once by exo_metrics_init) */
    atomic_uint_fast64_t http_requests[EXO_METRICS_MAX_ROUTES][EXO_METRICS_STATUSES];
    exo_histogram http_latency[EXO_METRICS_MAX_ROUTES];
    exo_histogram tx_latency;            /* exo_app_tx, every attempt included */
    atomic_uint_fast64_t tx_total;       /* exo_app_tx calls */
    atomic_uint_fast64_t tx_retries;     /* attempts after the first (retryable collisions) */
    atomic_uint_fast64_t tx_failed;      /* exo_app_tx calls that ended rolled back */
    /* engine events, counted after their transaction committed */
    atomic_uint_fast64_t retries_error;  /* retry states created by an errored report */
    atomic_uint_fast64_t retries_lease;  /* retry states created for an expired lease */
    atomic_uint_fast64_t leases_expired; /* claimed states whose lease ran out */
    atomic_uint_fast64_t cron_firings;   /* runs started by cron triggers */
    /* states created and finished, counted when their transaction committed */
    exo_state_counters *states;          /* malloc'd by exo_metrics_init (large) */
    exo_histogram schedule_to_start;     /* a state's due time (enqueue_after) to its claim */
    exo_histogram run_duration;          /* a run's trigger to the report that finished its last state */
} exo_metrics;

/* Bucket upper bounds in seconds (the +Inf bucket is implied after the last): requests
 * and transactions (1 ms to 10 s), and what waits for workers and nodes, a state's
 * schedule-to-start and a run's duration (10 ms to 1 h). */
extern const double exo_metrics_latency_bounds[EXO_METRICS_BUCKETS - 1];
extern const double exo_metrics_duration_bounds[EXO_METRICS_BUCKETS - 1];

void exo_metrics_init(exo_metrics *m); /* also allocates m->states (NULL if out of memory: not counted) */
void exo_metrics_free(exo_metrics *m);
/* route_index: the route's index in the table, or EXO_METRICS_MAX_ROUTES - 1 when
 * the request matched no route. */
void exo_metrics_http(exo_metrics *m, size_t route_index, int status, int64_t elapsed_us);
void exo_metrics_tx(exo_metrics *m, int attempts, int ok, int64_t elapsed_us);
void exo_metrics_observe(exo_histogram *h, int64_t elapsed_us);
/* Adds n to one of the engine event counters above. */
void exo_metrics_add(atomic_uint_fast64_t *counter, uint64_t n);

/* A state was inserted with / a state was saved in status (a final one: SUCCESS,
 * ERRORED, ...; callers pass only those).  Inside exo_app_tx the counts wait for
 * the commit (a rolled-back attempt counts nothing); outside they count at once. */
void exo_metrics_state_created(exo_metrics *m, const char *ns, const char *node);
void exo_metrics_state_finished(exo_metrics *m, const char *ns, const char *node, int status);
/* exo_app_tx's hooks: an attempt starts, an attempt failed (forget its counts),
 * the transaction ended (committed: apply them). */
void exo_metrics_tx_begin(void);
void exo_metrics_tx_discard(void);
void exo_metrics_tx_end(exo_metrics *m, int committed);

/* The label of status slot i ("200" ... or "other"); NULL past the last slot. */
const char *exo_metrics_status_label(size_t i);

#endif
