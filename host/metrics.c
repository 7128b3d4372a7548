/* exo-host's metrics and their Prometheus text (metrics.h). */
#include "metrics.h"

#include <inttypes.h>
#include <string.h>

#include "version.h"

static const double spawn_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5};
static const double run_bounds[] = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800};
static const double claim_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60};

static const char *const reason_names[HOST_OUTCOME_COUNT] = {
    "success", "pruned",  "requeued",       "node_error",    "timeout", "signal",
    "memory",  "cpu",     "output_limit",   "blocked_syscall", "lease_lost", "host_error"};

static const char *const report_kinds[4] = {"executed", "errored", "prune", "re-enqueue-after"};

static void histogram_init(host_histogram *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n_bounds = n < HOST_HISTOGRAM_MAX_BUCKETS ? n : HOST_HISTOGRAM_MAX_BUCKETS - 1;
}

void host_metrics_init(host_metrics *m)
{
    memset(m, 0, sizeof *m);
    histogram_init(&m->spawn, spawn_bounds, sizeof spawn_bounds / sizeof *spawn_bounds);
    histogram_init(&m->run, run_bounds, sizeof run_bounds / sizeof *run_bounds);
    histogram_init(&m->claim_rtt, claim_bounds, sizeof claim_bounds / sizeof *claim_bounds);
}

void host_metrics_observe(host_histogram *h, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    size_t b = 0;
    while (b < h->n_bounds && seconds > h->bounds[b])
        b++;
    h->bucket[b]++;
    h->count++;
    h->sum_s += seconds;
}

const char *host_outcome_reason_name(host_outcome_reason reason)
{
    return reason < HOST_OUTCOME_COUNT ? reason_names[reason] : "host_error";
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(FILE *out, const char *name, const char *help, uint64_t value)
{
    header(out, name, "gauge", help);
    fprintf(out, "%s %" PRIu64 "\n", name, value);
}

static void counter(FILE *out, const char *name, const char *help, uint64_t value)
{
    header(out, name, "counter", help);
    fprintf(out, "%s %" PRIu64 "\n", name, value);
}

static void histogram(FILE *out, const char *name, const char *help, const host_histogram *h)
{
    header(out, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h->n_bounds; b++) {
        cumulative += h->bucket[b];
        fprintf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->bounds[b], cumulative);
    }
    cumulative += h->bucket[h->n_bounds];
    fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name, cumulative,
            name, h->sum_s, name, h->count);
}

/* A label value in the exposition format: backslash, quote and newline escaped. */
static void label_value(FILE *out, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', out);
        if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

int host_metrics_render(const host_metrics *m, const host_metrics_gauges *g, FILE *out)
{
    header(out, "exo_host_build_info", "gauge", "exo-host's version; the value is always 1.");
    fputs("exo_host_build_info{version=\"", out);
    label_value(out, exo_version_string());
    fputs("\",runtime=\"", out);
    label_value(out, g->name);
    fputs("\",namespace=\"", out);
    label_value(out, g->namespace_);
    fputs("\"} 1\n", out);
    header(out, "exo_host_start_time_seconds", "gauge", "When this exo-host started (Unix time).");
    fprintf(out, "exo_host_start_time_seconds %" PRId64 "\n", g->started_unix_s);
    gauge(out, "exo_host_slots", "States this host runs at once (workers).", (uint64_t)g->workers);
    gauge(out, "exo_host_slots_free", "Slots free for the next state.",
          g->busy >= (size_t)g->workers ? 0 : (uint64_t)g->workers - g->busy);
    gauge(out, "exo_host_states_running", "States whose sandboxed process is running.", g->running);
    gauge(out, "exo_host_states_waiting", "Claimed states waiting for a free slot.", g->waiting);
    header(out, "exo_host_state_outcomes_total", "counter", "States ended on this host, by outcome.");
    for (size_t i = 0; i < HOST_OUTCOME_COUNT; i++)
        fprintf(out, "exo_host_state_outcomes_total{outcome=\"%s\"} %" PRIu64 "\n", reason_names[i],
                m->outcomes[i]);
    histogram(out, "exo_host_sandbox_spawn_seconds",
              "Time to hand a state to the fork server: scratch directory, pipes, SPAWN message and job.",
              &m->spawn);
    histogram(out, "exo_host_state_run_seconds", "A state's process, from its start to its exit.", &m->run);
    gauge(out, "exo_host_reports_pending", "Reports not yet answered for good by the state manager.",
          g->reports_pending);
    gauge(out, "exo_host_spool_depth", "Undelivered reports stored in the spool.", g->spool_depth);
    header(out, "exo_host_reports_total", "counter", "Reports answered for good, by kind.");
    for (size_t i = 0; i < 4; i++)
        fprintf(out, "exo_host_reports_total{kind=\"%s\"} %" PRIu64 "\n", report_kinds[i], m->reports[i]);
    counter(out, "exo_host_reports_refused_total", "Reports the state manager refused for good (4xx).",
            m->reports_refused);
    counter(out, "exo_host_report_retries_total", "Report attempts that failed and were scheduled again.",
            m->report_retries);
    counter(out, "exo_host_claims_total", "Claim requests (POST states/enqueue) answered or failed.", m->claims);
    counter(out, "exo_host_claims_failed_total", "Claim requests that failed (transport error or not 200).",
            m->claims_failed);
    counter(out, "exo_host_states_claimed_total", "States received from claims.", m->states_claimed);
    histogram(out, "exo_host_claim_round_trip_seconds",
              "A claim request from sent to answered (a long-poll waits up to wait_ms).", &m->claim_rtt);
    counter(out, "exo_host_metrics_scrapes_total", "Answers of this endpoint.", m->scrapes);
    return ferror(out) ? -1 : 0;
}
