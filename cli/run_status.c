#include "run_status.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* Progress of a wait: elapsed time and the states per outcome.  On a terminal the
 * line is rewritten in place (ended by progress_end); elsewhere a line is printed
 * only when the counts change, so a log stays short. */
typedef struct progress_line {
    run_progress mode;
    int tty, shown;
    int64_t started_ms;
    run_summary last;
} progress_line;

static void progress_print(progress_line *p, const run_summary *s)
{
    if (p->mode == RUN_PROGRESS_NONE)
        return;
    int changed = !p->shown || s->total != p->last.total || s->pending != p->last.pending ||
                  s->success != p->last.success || s->errored != p->last.errored ||
                  s->retried != p->last.retried;
    if (!p->tty && !changed)
        return;
    double elapsed = (double)(exo_mono_ms() - p->started_ms) / 1000.0;
    printf("%s  %.1f s: %lld states: %lld success, %lld pending, %lld errored, %lld retried%s",
           p->tty ? "\r" : "", elapsed, (long long)s->total, (long long)s->success,
           (long long)s->pending, (long long)s->errored, (long long)s->retried,
           p->tty ? "\033[K" : "\n");
    fflush(stdout);
    p->shown = 1;
    p->last = *s;
}

static void progress_end(progress_line *p)
{
    if (p->mode != RUN_PROGRESS_NONE && p->tty && p->shown) {
        printf("\n");
        fflush(stdout);
    }
    p->shown = 0;
}

int run_wait(cli_ctx *ctx, const char *run_id, int64_t timeout_ms, run_progress progress,
             json_object **run_graph, run_summary *summary)
{
    progress_line line = {.mode = progress, .tty = isatty(STDOUT_FILENO), .started_ms = exo_mono_ms()};
    int rc = EXIT_FAIL;
    int64_t deadline = line.started_ms + timeout_ms;
    *run_graph = NULL;
    memset(summary, 0, sizeof *summary);
    summary->status = "PENDING";
    for (;;) {
        json_object *latest;
        if (run_fetch_graph(ctx, run_id, &latest) != 0)
            break;
        json_object_put(*run_graph);
        *run_graph = latest;
        run_summarize(latest, summary);
        if (summary->total == 0) {
            progress_end(&line);
            fprintf(stderr, "exoctl: run %s has no states in namespace %s\n", run_id,
                    ctx->namespace_name);
            break;
        }
        progress_print(&line, summary);
        if (summary->pending == 0) {
            rc = EXIT_OK;
            break;
        }
        if (exo_mono_ms() >= deadline) {
            progress_end(&line);
            fprintf(stderr, "exoctl: run %s: %lld of %lld states still pending after %.1f s\n",
                    run_id, (long long)summary->pending, (long long)summary->total,
                    (double)timeout_ms / 1000.0);
            return EXIT_TIMEOUT;
        }
        exo_sleep_ms(POLL_INTERVAL_MS);
    }
    progress_end(&line);
    return rc;
}
