/* GET /metrics: the Prometheus text exposition (format 0.0.4) of app->metrics
 * (engine/metrics.h) and of gauges read at scrape time.  The metric names are
 * listed in docs/operations.md. */
#include <stdio.h>
#include <stdlib.h>

#include "handlers.h"
#include "metrics.h"
#include "router.h"
#include "version.h"

#define UNMATCHED_ROUTE "unmatched"

static uint64_t load(const atomic_uint_fast64_t *a)
{
    return (uint64_t)atomic_load_explicit(a, memory_order_relaxed);
}

/* One histogram's series; labels is "" or `name="value",...` without braces. */
static void write_histogram(FILE *out, const char *name, const char *labels, const exo_histogram *h)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < EXO_METRICS_BUCKETS; b++) {
        cumulative += load(&h->bucket[b]);
        if (b < EXO_METRICS_BUCKETS - 1)
            fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[b],
                    (unsigned long long)cumulative);
        else
            fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cumulative);
    }
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    fprintf(out, "%s_sum%s%s%s %.6f\n", name, open, labels, close, (double)load(&h->sum_us) / 1e6);
    fprintf(out, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)cumulative);
}

static void route_labels(size_t r, char *buf, size_t len)
{
    const exo_route *route = exo_route_at(r);
    /* route patterns and methods are constants of router.c: nothing to escape */
    snprintf(buf, len, "route=\"%s\",method=\"%s\"", route ? route->pattern : UNMATCHED_ROUTE,
             route ? route->method : "any");
}

static void write_http(FILE *out, const exo_metrics *m)
{
    size_t nroutes = exo_route_count();
    char labels[256];
    fputs("# HELP exo_http_requests_total HTTP requests answered, by route pattern, method and status code.\n"
          "# TYPE exo_http_requests_total counter\n",
          out);
    for (size_t r = 0; r < EXO_METRICS_MAX_ROUTES; r++) {
        if (r >= nroutes && r != EXO_METRICS_MAX_ROUTES - 1)
            continue;
        route_labels(r, labels, sizeof labels);
        for (size_t s = 0; exo_metrics_status_label(s); s++) {
            uint64_t n = load(&m->http_requests[r][s]);
            if (n)
                fprintf(out, "exo_http_requests_total{%s,code=\"%s\"} %llu\n", labels, exo_metrics_status_label(s),
                        (unsigned long long)n);
        }
    }
    fputs("# HELP exo_http_request_duration_seconds Time from a request's first byte to its answer, by route.\n"
          "# TYPE exo_http_request_duration_seconds histogram\n",
          out);
    for (size_t r = 0; r < EXO_METRICS_MAX_ROUTES; r++) {
        if ((r >= nroutes && r != EXO_METRICS_MAX_ROUTES - 1) || load(&m->http_latency[r].count) == 0)
            continue;
        route_labels(r, labels, sizeof labels);
        write_histogram(out, "exo_http_request_duration_seconds", labels, &m->http_latency[r]);
    }
}

static void write_db(FILE *out, const exo_metrics *m, const char *backend)
{
    fprintf(out,
            "# HELP exo_db_transactions_total Write transactions run (exo_app_tx).\n"
            "# TYPE exo_db_transactions_total counter\n"
            "exo_db_transactions_total{backend=\"%s\"} %llu\n"
            "# HELP exo_db_transaction_retries_total Attempts that ran again after a retryable collision.\n"
            "# TYPE exo_db_transaction_retries_total counter\n"
            "exo_db_transaction_retries_total{backend=\"%s\"} %llu\n"
            "# HELP exo_db_transactions_failed_total Write transactions that ended rolled back.\n"
            "# TYPE exo_db_transactions_failed_total counter\n"
            "exo_db_transactions_failed_total{backend=\"%s\"} %llu\n"
            "# HELP exo_db_transaction_duration_seconds Write transaction time, the wait for the database and every attempt included.\n"
            "# TYPE exo_db_transaction_duration_seconds histogram\n",
            backend, (unsigned long long)load(&m->tx_total), backend, (unsigned long long)load(&m->tx_retries),
            backend, (unsigned long long)load(&m->tx_failed));
    char labels[64];
    snprintf(labels, sizeof labels, "backend=\"%s\"", backend);
    write_histogram(out, "exo_db_transaction_duration_seconds", labels, &m->tx_latency);
}

static void write_engine(FILE *out, const exo_metrics *m)
{
    fprintf(out,
            "# HELP exo_state_retries_total Retry states created by the retry policy, by cause.\n"
            "# TYPE exo_state_retries_total counter\n"
            "exo_state_retries_total{cause=\"errored\"} %llu\n"
            "exo_state_retries_total{cause=\"lease_expired\"} %llu\n"
            "# HELP exo_leases_expired_total Claimed states whose lease ran out without a report.\n"
            "# TYPE exo_leases_expired_total counter\n"
            "exo_leases_expired_total %llu\n"
            "# HELP exo_cron_firings_total Runs started by cron triggers.\n"
            "# TYPE exo_cron_firings_total counter\n"
            "exo_cron_firings_total %llu\n",
            (unsigned long long)load(&m->retries_error), (unsigned long long)load(&m->retries_lease),
            (unsigned long long)load(&m->leases_expired), (unsigned long long)load(&m->cron_firings));
}

/* A label value: backslash, double quote and newline escaped (text format 0.0.4). */
static void write_label_value(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', out);
        if (*v == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*v, out);
    }
}

static void write_pair_labels(FILE *out, const exo_node_counters *c)
{
    fputs("namespace=\"", out);
    write_label_value(out, c->ns);
    fputs("\",node=\"", out);
    write_label_value(out, c->node);
    fputc('"', out);
}

/* States created and finished by (namespace, node) pair, as counted at commit
 * (metrics.h bounds the pairs), and the two state/run histograms. */
static void write_states(FILE *out, const exo_metrics *m)
{
    static const exo_status final[] = {EXO_ST_SUCCESS, EXO_ST_ERRORED, EXO_ST_NEXT_CREATED_ERROR, EXO_ST_PRUNED,
                                       EXO_ST_RETRY_CREATED};
    size_t used = m->states ? atomic_load(&m->states->used) : 0;
    fputs("# HELP exo_states_created_total States created (roots, next states, fan-out siblings, retries), by namespace and node.\n"
          "# TYPE exo_states_created_total counter\n",
          out);
    for (size_t i = 0; i < used; i++) {
        const exo_node_counters *c = &m->states->slot[i];
        if (!c->ns)
            continue;
        fputs("exo_states_created_total{", out);
        write_pair_labels(out, c);
        fprintf(out, "} %llu\n", (unsigned long long)load(&c->created));
    }
    fputs("# HELP exo_states_finished_total States that reached a final status, by namespace, node and status.\n"
          "# TYPE exo_states_finished_total counter\n",
          out);
    for (size_t i = 0; i < used; i++) {
        const exo_node_counters *c = &m->states->slot[i];
        for (size_t f = 0; c->ns && f < sizeof final / sizeof *final; f++) {
            fputs("exo_states_finished_total{", out);
            write_pair_labels(out, c);
            fprintf(out, ",status=\"%s\"} %llu\n", exo_status_names[final[f]],
                    (unsigned long long)load(&c->finished[final[f]]));
        }
    }
    fprintf(out,
            "# HELP exo_metrics_node_label_sets (namespace, node) pairs labelling the state counters (at most %d, then _other).\n"
            "# TYPE exo_metrics_node_label_sets gauge\n"
            "exo_metrics_node_label_sets %zu\n",
            EXO_METRICS_MAX_NODES, used);
    fputs("# HELP exo_state_schedule_to_start_seconds From a state's due time to its claim by a worker.\n"
          "# TYPE exo_state_schedule_to_start_seconds histogram\n",
          out);
    write_histogram(out, "exo_state_schedule_to_start_seconds", "", &m->schedule_to_start);
    fputs("# HELP exo_run_duration_seconds From a run's trigger to the report that finished its last state.\n"
          "# TYPE exo_run_duration_seconds histogram\n",
          out);
    write_histogram(out, "exo_run_duration_seconds", "", &m->run_duration);
}

static void write_queue_series(FILE *out, const char *name, const exo_queue_row *r, int64_t v)
{
    fprintf(out, "%s{namespace=\"", name);
    write_label_value(out, r->namespace_name);
    fputs("\",node=\"", out);
    write_label_value(out, r->node_name);
    fprintf(out, "\"} %lld\n", (long long)v);
}

/* Read from the database at scrape time: labelled by namespace and node, which are
 * bounded by what is registered (never by ids), and capped at QUEUE_PAIRS_CAP pairs. */
#define QUEUE_PAIRS_CAP 2000
static int write_queue(FILE *out, exo_app *app)
{
    exo_queue_row *rows = NULL;
    size_t n = 0;
    if (exo_engine_queue_depth(app, QUEUE_PAIRS_CAP, &rows, &n) != EXO_RESULT_OK)
        return -1;
    fputs("# HELP exo_queue_states States waiting to be claimed (CREATED), by namespace and node.\n"
          "# TYPE exo_queue_states gauge\n",
          out);
    for (size_t i = 0; i < n; i++)
        write_queue_series(out, "exo_queue_states", &rows[i], rows[i].created);
    fputs("# HELP exo_queue_states_due Of the waiting states, those claimable now (their delay has passed).\n"
          "# TYPE exo_queue_states_due gauge\n",
          out);
    for (size_t i = 0; i < n; i++)
        write_queue_series(out, "exo_queue_states_due", &rows[i], rows[i].due);
    fputs("# HELP exo_states_running States claimed by a worker and not reported yet (QUEUED), by namespace and node.\n"
          "# TYPE exo_states_running gauge\n",
          out);
    for (size_t i = 0; i < n; i++)
        write_queue_series(out, "exo_states_running", &rows[i], rows[i].queued);
    exo_queue_rows_free(rows, n);
    return 0;
}

void h_metrics(exo_req *req, exo_resp *resp)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        exo_resp_500(resp);
        return;
    }
    exo_app *app = req->app;
    fprintf(out,
            "# HELP exo_build_info The running exo-state-manager's version; always 1.\n"
            "# TYPE exo_build_info gauge\n"
            "exo_build_info{version=\"%s\",git=\"%s\"} 1\n"
            "# HELP exo_process_start_time_seconds When this process started (Unix time).\n"
            "# TYPE exo_process_start_time_seconds gauge\n"
            "exo_process_start_time_seconds %lld\n"
            "# HELP exo_longpolls_parked Long-polling lease requests waiting for work now.\n"
            "# TYPE exo_longpolls_parked gauge\n"
            "exo_longpolls_parked %zu\n",
            EXO_VERSION, EXO_GIT_DESCRIBE, (long long)app->metrics.started_unix_s, exo_app_parked_count(app));
    write_engine(out, &app->metrics);
    write_states(out, &app->metrics);
    if (write_queue(out, app) != 0) { /* the database is down: the counters still help */
        fputs("# exo_queue_states, exo_queue_states_due, exo_states_running: the database did not answer\n", out);
    }
    write_http(out, &app->metrics);
    write_db(out, &app->metrics, exo_db_backend(app->db));
    if (ferror(out)) {
        fclose(out);
        free(text);
        exo_resp_500(resp);
        return;
    }
    if (fclose(out) != 0 || !text) {
        free(text);
        exo_resp_500(resp);
        return;
    }
    exo_resp_bytes(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
