#include "run_status.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "commands.h"
#include "output.h"

static int64_t count_of(json_object *summary, const char *status)
{
    json_object *value = json_member(summary, status);
    return value ? json_object_get_int64(value) : 0;
}

void run_summarize(json_object *run_graph, run_summary *out)
{
    json_object *counts = json_member(run_graph, "execution_summary");
    out->pending = count_of(counts, "CREATED") + count_of(counts, "QUEUED")
                   + count_of(counts, "EXECUTED");
    out->success = count_of(counts, "SUCCESS") + count_of(counts, "PRUNED");
    out->errored = count_of(counts, "ERRORED") + count_of(counts, "NEXT_CREATED_ERROR");
    out->retried = count_of(counts, "RETRY_CREATED");
    out->total = out->pending + out->success + out->errored + out->retried;
    if (out->pending > 0)
        out->status = "PENDING";
    else if (out->errored > 0 || out->total == 0)
        out->status = "FAILED";
    else
        out->status = "SUCCESS";
}

int run_fetch_graph(cli_ctx *ctx, const char *run_id, json_object **out)
{
    return client_ns_call(ctx, "reading the run", "GET", NULL, out, "states", "run", run_id,
                          "graph", NULL);
}

int run_wait(cli_ctx *ctx, const char *run_id, int64_t timeout_ms, json_object **run_graph,
             run_summary *summary)
{
    int64_t deadline = exo_mono_ms() + timeout_ms;
    *run_graph = NULL;
    for (;;) {
        json_object *latest;
        if (run_fetch_graph(ctx, run_id, &latest) != 0)
            return EXIT_FAIL;
        json_object_put(*run_graph);
        *run_graph = latest;
        run_summarize(latest, summary);
        if (summary->total == 0) {
            fprintf(stderr, "exoctl: run %s has no states in namespace %s\n", run_id,
                    ctx->namespace_name);
            return EXIT_FAIL;
        }
        if (summary->pending == 0)
            return EXIT_OK;
        if (exo_mono_ms() >= deadline) {
            fprintf(stderr, "exoctl: run %s: %lld of %lld states still pending after %.1f s\n",
                    run_id, (long long)summary->pending, (long long)summary->total,
                    (double)timeout_ms / 1000.0);
            return EXIT_TIMEOUT;
        }
        exo_sleep_ms(POLL_INTERVAL_MS);
    }
}
