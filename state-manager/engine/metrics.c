#include "metrics.h"

#include <stdlib.h>
#include <time.h>

const double exo_metrics_latency_bounds[EXO_METRICS_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                   0.1,   0.25,   0.5,   1,    2.5,   10};
const double exo_metrics_duration_bounds[EXO_METRICS_BUCKETS - 1] = {0.01, 0.05, 0.1, 0.5, 1,   5,
                                                                    10,   30,   60,  300, 900, 3600};

static void histogram_init(exo_histogram *h, const double *bounds)
{
    h->bounds = bounds;
    for (size_t b = 0; b < EXO_METRICS_BUCKETS; b++)
        atomic_init(&h->bucket[b], 0);
    atomic_init(&h->sum_us, 0);
    atomic_init(&h->count, 0);
}

/* The status codes the server answers with: a slot each, the rest share "other". */
static const char *const status_labels[] = {"200", "201", "204", "301", "302", "303", "304", "307",
                                            "308", "400", "401", "403", "404", "405", "406", "408",
                                            "409", "410", "411", "413", "414", "415", "422", "429",
                                            "431", "500", "501", "503", "504", "505"};
#define NCODES (sizeof status_labels / sizeof *status_labels)
_Static_assert(NCODES < EXO_METRICS_STATUSES, "a slot must remain for \"other\"");

void exo_metrics_init(exo_metrics *m)
{
    for (size_t r = 0; r < EXO_METRICS_MAX_ROUTES; r++) {
        for (size_t s = 0; s < EXO_METRICS_STATUSES; s++)
            atomic_init(&m->http_requests[r][s], 0);
        histogram_init(&m->http_latency[r], exo_metrics_latency_bounds);
    }
    histogram_init(&m->tx_latency, exo_metrics_latency_bounds);
    histogram_init(&m->schedule_to_start, exo_metrics_duration_bounds);
    histogram_init(&m->run_duration, exo_metrics_duration_bounds);
    atomic_init(&m->tx_total, 0);
    atomic_init(&m->tx_retries, 0);
    atomic_init(&m->tx_failed, 0);
    atomic_init(&m->retries_error, 0);
    atomic_init(&m->retries_lease, 0);
    atomic_init(&m->leases_expired, 0);
    atomic_init(&m->cron_firings, 0);
    m->states = calloc(1, sizeof *m->states);
    if (m->states) {
        pthread_mutex_init(&m->states->lock, NULL);
        atomic_init(&m->states->used, 0);
        for (size_t i = 0; i <= EXO_METRICS_MAX_NODES; i++) {
            atomic_init(&m->states->slot[i].created, 0);
            for (size_t s = 0; s < EXO_METRICS_STATUS_SLOTS; s++)
                atomic_init(&m->states->slot[i].finished[s], 0);
        }
    }
    m->started_unix_s = (int64_t)time(NULL);
}

void exo_metrics_free(exo_metrics *m)
{
    if (!m->states)
        return;
    for (size_t i = 0; i <= EXO_METRICS_MAX_NODES; i++) {
        free(m->states->slot[i].ns);
        free(m->states->slot[i].node);
    }
    pthread_mutex_destroy(&m->states->lock);
    free(m->states);
    m->states = NULL;
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NCODES; i++)
        if (atoi(status_labels[i]) == status)
            return i;
    return NCODES;
}

const char *exo_metrics_status_label(size_t i)
{
    if (i < NCODES)
        return status_labels[i];
    return i == NCODES ? "other" : NULL;
}

void exo_metrics_observe(exo_histogram *h, int64_t elapsed_us)
{
    if (elapsed_us < 0)
        elapsed_us = 0;
    double s = (double)elapsed_us / 1e6;
    size_t b = 0;
    while (b < EXO_METRICS_BUCKETS - 1 && s > h->bounds[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)elapsed_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void exo_metrics_http(exo_metrics *m, size_t route_index, int status, int64_t elapsed_us)
{
    if (route_index >= EXO_METRICS_MAX_ROUTES)
        route_index = EXO_METRICS_MAX_ROUTES - 1;
    atomic_fetch_add_explicit(&m->http_requests[route_index][status_slot(status)], 1, memory_order_relaxed);
    exo_metrics_observe(&m->http_latency[route_index], elapsed_us);
}

void exo_metrics_tx(exo_metrics *m, int attempts, int ok, int64_t elapsed_us)
{
    atomic_fetch_add_explicit(&m->tx_total, 1, memory_order_relaxed);
    if (attempts > 1)
        atomic_fetch_add_explicit(&m->tx_retries, (uint_fast64_t)(attempts - 1), memory_order_relaxed);
    if (!ok)
        atomic_fetch_add_explicit(&m->tx_failed, 1, memory_order_relaxed);
    exo_metrics_observe(&m->tx_latency, elapsed_us);
}

void exo_metrics_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, (uint_fast64_t)n, memory_order_relaxed);
}
