/* The list of exoctl commands with their arguments, options and help texts. */
#include <stddef.h>

#include "commands.h"

#define END_OF_OPTIONS {NULL, 0, ARG_FLAG, NULL, NULL}

static const arg_spec graph_put_options[] = {
    {"file", 'f', ARG_VALUE, "FILE", "graph JSON (the v0 upsert body); '-' reads stdin"},
    {"wait", 'w', ARG_FLAG, NULL, "wait until validation finishes; exit 1 when INVALID"},
    {"timeout", 't', ARG_VALUE, "S", "give up waiting after S seconds (default 300)"},
    END_OF_OPTIONS,
};

static const arg_spec trigger_options[] = {
    {"input", 'i', ARG_REPEAT, "K=V", "override root input K with V"},
    {"store", 's', ARG_REPEAT, "K=V", "set the run's store value K to V"},
    {"start-delay", 0, ARG_VALUE, "MS", "milliseconds before the root state may run (default 0)"},
    {"wait", 'w', ARG_FLAG, NULL, "wait until no state is pending; exit 0 only on SUCCESS"},
    {"timeout", 't', ARG_VALUE, "S", "give up waiting after S seconds (default 300)"},
    {"quiet", 'q', ARG_FLAG, NULL, "print only the run id (and nothing while waiting)"},
    END_OF_OPTIONS,
};

static const arg_spec run_list_options[] = {
    {"status", 0, ARG_VALUE, "S[,S]", "only runs with status PENDING, SUCCESS, FAILED or CANCELLED"},
    {"graph", 'g', ARG_VALUE, "G", "only runs of graph G"},
    {"since", 0, ARG_VALUE, "T", "only runs created at or after T (2026-12-01T10:00:00, Unix ms, or 2h / 30m / 7d ago)"},
    {"until", 0, ARG_VALUE, "T", "only runs created before T"},
    {"prefix", 0, ARG_VALUE, "ID", "only runs whose id starts with ID"},
    {"limit", 'l', ARG_VALUE, "N", "runs to show (default 20, at most 1000)"},
    {"after", 0, ARG_VALUE, "CURSOR", "continue after an earlier listing (the cursor it printed)"},
    {"page", 'p', ARG_VALUE, "P", "plain v0 listing: page number, from 1 (no filters)"},
    {"size", 0, ARG_VALUE, "S", "plain v0 listing: runs per page (default 20)"},
    END_OF_OPTIONS,
};

static const arg_spec run_cancel_options[] = {
    {"by", 0, ARG_VALUE, "NAME", "who cancels, recorded on the run (default: $USER@host (exoctl))"},
    END_OF_OPTIONS,
};

static const arg_spec run_watch_options[] = {
    {"timeout", 't', ARG_VALUE, "S", "give up after S seconds (exit 3; default: follow until the run ends)"},
    END_OF_OPTIONS,
};

static const arg_spec run_purge_options[] = {
    {"before", 0, ARG_VALUE, "DATE", "delete the finished runs created before DATE (2026-11-01, Unix ms, or 30d ago)"},
    {"graph", 'g', ARG_VALUE, "G", "only runs of graph G"},
    END_OF_OPTIONS,
};

static const arg_spec graph_delete_options[] = {
    {"purge", 0, ARG_FLAG, NULL, "also delete every run of the graph (finished or not)"},
    END_OF_OPTIONS,
};

static const arg_spec graph_retry_options[] = {
    {"since", 0, ARG_VALUE, "T", "only runs created at or after T"},
    {"until", 0, ARG_VALUE, "T", "only runs created before T"},
    END_OF_OPTIONS,
};

/* positional_label names a blank positional argument; checks_options_first: see commands.h. */
const command commands[] = {
    {.group = "graph", .name = "put", .args = "NAME -f FILE", .summary = "create or replace a graph template",
     .details = "Sends FILE as the body of PUT /v0/namespace/NS/graph/NAME. Without --wait prints\n"
                "the stored graph's validation status (normally PENDING).",
     .min_positional = 1, .max_positional = 1, .positional_label = "graph NAME", .needs_namespace = 1,
     .checks_options_first = 1, .options = graph_put_options, .run = cmd_graph_put},
    {.group = "graph", .name = "get", .args = "NAME", .summary = "show a graph template and its validation status",
     .min_positional = 1, .max_positional = 1, .positional_label = "graph NAME", .needs_namespace = 1,
     .run = cmd_graph_get},
    {.group = "graph", .name = "list", .args = "", .summary = "list the graph templates of the namespace",
     .needs_namespace = 1, .run = cmd_graph_list},
    {.group = "graph", .name = "delete", .args = "NAME", .summary = "delete a graph template (--purge: and its runs)",
     .details = "Runs keep the template version they started with, unless --purge deletes them too.",
     .min_positional = 1, .max_positional = 1, .positional_label = "graph NAME", .needs_namespace = 1,
     .options = graph_delete_options, .run = cmd_graph_delete},
    {.group = "graph", .name = "retry", .args = "NAME",
     .summary = "retry every errored state of the graph's failed runs (--since/--until: a time range)",
     .min_positional = 1, .max_positional = 1, .positional_label = "graph NAME", .needs_namespace = 1,
     .checks_options_first = 1, .options = graph_retry_options, .run = cmd_graph_retry},
    {.name = "trigger", .args = "NAME", .summary = "start a run of a graph",
     .details = "Prints the new run's id. With --wait, polls the run until no state is pending and\n"
                "prints its final status: SUCCESS (exit 0) or FAILED (exit 1).",
     .min_positional = 1, .max_positional = 1, .positional_label = "graph NAME", .needs_namespace = 1,
     .checks_options_first = 1, .options = trigger_options, .run = cmd_trigger},
    {.group = "run", .name = "list", .args = "",
     .summary = "list runs, newest first, with their status and state counts", .needs_namespace = 1,
     .checks_options_first = 1, .options = run_list_options, .run = cmd_run_list},
    {.group = "run", .name = "show", .args = "RUN_ID",
     .summary = "show every state of a run: status, inputs, outputs, error, prune data, why it waits",
     .min_positional = 1, .max_positional = 1, .positional_label = "RUN_ID", .needs_namespace = 1,
     .run = cmd_run_show},
    {.group = "run", .name = "watch", .args = "RUN_ID", .summary = "follow a run live until it ends",
     .details = "Prints a line whenever a state appears or changes status, then the run's final\n"
                "status: exit 0 on SUCCESS, 1 otherwise, 3 when --timeout ran out.",
     .min_positional = 1, .max_positional = 1, .positional_label = "RUN_ID", .needs_namespace = 1,
     .checks_options_first = 1, .options = run_watch_options, .run = cmd_run_watch},
    {.group = "run", .name = "cancel", .args = "RUN_ID", .summary = "cancel a run: nothing more starts, running states are stopped",
     .details = "Pending states never start; running states are killed by their host within a few\n"
                "seconds.  A run that has already finished is refused (HTTP 409).",
     .min_positional = 1, .max_positional = 1, .positional_label = "RUN_ID", .needs_namespace = 1,
     .options = run_cancel_options, .run = cmd_run_cancel},
    {.group = "run", .name = "retry", .args = "RUN_ID", .summary = "retry every errored state of a run",
     .min_positional = 1, .max_positional = 1, .positional_label = "RUN_ID", .needs_namespace = 1,
     .run = cmd_run_retry},
    {.group = "run", .name = "purge", .args = "", .summary = "delete finished runs created before a date",
     .needs_namespace = 1, .checks_options_first = 1, .options = run_purge_options, .run = cmd_run_purge},
    {.group = "state", .name = "retry", .args = "STATE_ID",
     .summary = "retry a state by hand (a fresh copy starts with 0 retries)",
     .details = "Only ERRORED and NEXT_CREATED_ERROR states can be retried; the original becomes\n"
                "RETRY_CREATED.",
     .min_positional = 1, .max_positional = 1, .positional_label = "STATE_ID", .needs_namespace = 1,
     .run = cmd_state_retry},
    {.group = "state", .name = "logs", .args = "STATE_ID",
     .summary = "print what a state's node printed (the last 64 KiB its host kept)",
     .details = "stdout, stderr and exo_log lines of the node, as its exo-host reported them with\n"
                "the state's result.  Control characters are shown as \\xHH.  A state that has not\n"
                "finished, or whose worker reported nothing, has no logs (said on stderr).",
     .min_positional = 1, .max_positional = 1, .positional_label = "STATE_ID", .needs_namespace = 1,
     .run = cmd_state_logs},
    {.group = "nodes", .name = "list", .args = "", .summary = "list the nodes registered in the namespace",
     .needs_namespace = 1, .run = cmd_nodes_list},
    {.name = "workers", .args = "", .summary = "list the worker runtimes of the namespace: last heartbeat, alive or lost",
     .details = "A runtime is lost when it has missed three heartbeats.  Nodes whose every runtime\n"
                "is lost are named after the table: their states wait until a host that has them starts.",
     .needs_namespace = 1, .run = cmd_workers},
    {.name = "namespaces", .args = "", .summary = "list the namespaces that have registered nodes",
     .run = cmd_namespaces},
    {.name = NULL},
};
