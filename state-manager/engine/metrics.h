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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EXO_METRICS_MAX_ROUTES 64  /* the route table's size (router.c checks it fits) + "unmatched" */
#define EXO_METRICS_BUCKETS 13     /* upper bounds in exo_metrics_bucket_bounds, the last is +Inf */
#define EXO_METRICS_STATUSES 32    /* exo_metrics_status_codes + "other" */

/* A latency histogram: per-bucket (non-cumulative) counts and the sum in µs. */
typedef struct exo_histogram {
    atomic_uint_fast64_t bucket[EXO_METRICS_BUCKETS];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t count;
} exo_histogram;

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
} exo_metrics;

/* Bucket upper bounds in seconds (the +Inf bucket is implied after the last). */
extern const double exo_metrics_bucket_bounds[EXO_METRICS_BUCKETS - 1];

void exo_metrics_init(exo_metrics *m);
/* route_index: the route's index in the table, or EXO_METRICS_MAX_ROUTES - 1 when
 * the request matched no route. */
void exo_metrics_http(exo_metrics *m, size_t route_index, int status, int64_t elapsed_us);
void exo_metrics_tx(exo_metrics *m, int attempts, int ok, int64_t elapsed_us);
void exo_metrics_observe(exo_histogram *h, int64_t elapsed_us);
/* Adds n to one of the engine event counters above. */
void exo_metrics_add(atomic_uint_fast64_t *counter, uint64_t n);

/* The label of status slot i ("200" ... or "other"); NULL past the last slot. */
const char *exo_metrics_status_label(size_t i);

#endif
