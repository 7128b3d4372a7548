/* A run's progress as exoctl sees it: fetched from states/run/{id}/graph and
 * summarised with the same rules as the run listing (concepts.md §4). */
#ifndef EXOCTL_RUN_STATUS_H
#define EXOCTL_RUN_STATUS_H

#include <stdint.h>

#include "client.h"

typedef struct run_summary {
    int64_t total;
    int64_t pending; /* CREATED, QUEUED, EXECUTED */
    int64_t success; /* SUCCESS, PRUNED */
    int64_t errored; /* ERRORED, NEXT_CREATED_ERROR */
    int64_t retried; /* RETRY_CREATED */
    const char *status; /* "PENDING", "FAILED" or "SUCCESS" (static text) */
} run_summary;

/* Summarises a states/run/{id}/graph answer from its execution_summary. */
void run_summarize(json_object *run_graph, run_summary *out);

/* GET states/run/{run_id}/graph.  Returns 0 or -1 after printing why. */
int run_fetch_graph(cli_ctx *ctx, const char *run_id, json_object **out);

/* What run_wait prints while it waits. */
typedef enum {
    RUN_PROGRESS_NONE,  /* nothing (--json, --quiet) */
    RUN_PROGRESS_SHOW,  /* on a terminal one line rewritten in place; otherwise a plain line
                           whenever the counts change */
} run_progress;

/* Polls until no state is pending.  On return *run_graph holds the last answer
 * (caller puts it; NULL when no answer came) and *summary its summary.  Returns
 * EXIT_OK when the run finished (whatever its status), EXIT_FAIL when a request
 * failed or the run has no states, EXIT_TIMEOUT after timeout_ms. */
int run_wait(cli_ctx *ctx, const char *run_id, int64_t timeout_ms, run_progress progress,
             json_object **run_graph, run_summary *summary);

#endif
