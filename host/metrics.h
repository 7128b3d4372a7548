/* exo-host's Prometheus metrics: the counters the loop records and their text
 * rendering (exposition format 0.0.4), served by metrics_http.c on metrics_listen.
 *
 * Contract: one host_metrics lives in the host (no global state) and is touched
 * only by the host's one thread, so the counters are plain integers.  Labels are
 * bounded by construction: outcomes by a fixed list of reasons, reports by their
 * four kinds; nothing is labelled by an id or a node name.  Gauges that the loop
 * already knows (states running, free slots, spool depth) are passed to
 * host_metrics_render at scrape time instead of being kept twice. */
#ifndef EXO_HOST_METRICS_H
#define EXO_HOST_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Why a state ended on this host (exo_host_state_outcomes_total{outcome}). */
typedef enum {
    HOST_OUTCOME_SUCCESS,         /* executed */
    HOST_OUTCOME_PRUNED,          /* exo_prune */
    HOST_OUTCOME_REQUEUED,        /* exo_requeue_after, or released at shutdown */
    HOST_OUTCOME_NODE_ERROR,      /* the node failed, or its result was not acceptable */
    HOST_OUTCOME_TIMEOUT,         /* timeout_ms */
    HOST_OUTCOME_SIGNAL,          /* killed by a signal (a crash) */
    HOST_OUTCOME_MEMORY,          /* memory_mb */
    HOST_OUTCOME_CPU,             /* cpu_seconds */
    HOST_OUTCOME_OUTPUT,          /* output_kb */
    HOST_OUTCOME_BLOCKED_SYSCALL, /* the seccomp allowlist */
    HOST_OUTCOME_LEASE_LOST,      /* the state manager ended the claim: stopped, not reported */
    HOST_OUTCOME_HOST_ERROR,      /* the host could not run it (unknown node, inputs, secrets, fork server) */
    HOST_OUTCOME_COUNT
} host_outcome_reason;

/* A histogram of durations with fixed upper bounds in seconds (+Inf implied). */
#define HOST_HISTOGRAM_MAX_BUCKETS 16
typedef struct host_histogram {
    const double *bounds; /* n_bounds ascending upper bounds */
    size_t n_bounds;
    uint64_t bucket[HOST_HISTOGRAM_MAX_BUCKETS]; /* non-cumulative; [n_bounds] is +Inf */
    uint64_t count;
    double sum_s;
} host_histogram;

typedef struct host_metrics {
    uint64_t outcomes[HOST_OUTCOME_COUNT];
    host_histogram spawn;        /* handing a state to the fork server */
    host_histogram run;          /* a state's process, start to exit */
    host_histogram claim_rtt;    /* POST states/enqueue, sent to answered (long-polls included) */
    uint64_t claims;             /* claim requests answered (any status) */
    uint64_t claims_failed;      /* of them, failed (transport error or not 200) */
    uint64_t states_claimed;     /* states received from claims */
    uint64_t reports[4];         /* reports answered for good, by host_report_kind */
    uint64_t reports_refused;    /* of them, refused with a final 4xx */
    uint64_t report_retries;     /* report attempts scheduled again after a failure */
    uint64_t scrapes;            /* /metrics answered */
} host_metrics;

/* What the loop knows at scrape time. */
typedef struct host_metrics_gauges {
    int workers;          /* slots */
    size_t running;       /* states whose process runs */
    size_t busy;          /* slots taken (running + fetching secrets) */
    size_t waiting;       /* claimed, waiting for a slot */
    size_t reports_pending; /* reports not yet answered for good */
    size_t spool_depth;   /* of them, stored in the spool */
    const char *name;     /* runtime name */
    const char *namespace_;
    int64_t started_unix_s;
} host_metrics_gauges;

void host_metrics_init(host_metrics *m);
void host_metrics_observe(host_histogram *h, double seconds);
const char *host_outcome_reason_name(host_outcome_reason reason);
/* The exposition text; 0, or -1 when out could not be written. */
int host_metrics_render(const host_metrics *m, const host_metrics_gauges *g, FILE *out);

#endif
