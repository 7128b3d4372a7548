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
    {"page", 'p', ARG_VALUE, "P", "page number, from 1 (default 1)"},
    {"size", 0, ARG_VALUE, "S", "runs per page (default 20)"},
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
    {.name = "trigger", .args = "NAME", .summary = "start a run of a graph",
     .details = "Prints the new run's id. With --wait, polls the run until no state is pending and\n"
                "prints its final status: SUCCESS (exit 0) or FAILED (exit 1).",
     .min_positional = 1, .max_positional = 1, .positional_label = "graph NAME", .needs_namespace = 1,
     .checks_options_first = 1, .options = trigger_options, .run = cmd_trigger},
    {.group = "run", .name = "list", .args = "",
     .summary = "list runs, newest first, with their status and state counts", .needs_namespace = 1,
     .checks_options_first = 1, .options = run_list_options, .run = cmd_run_list},
    {.group = "run", .name = "show", .args = "RUN_ID",
     .summary = "show every state of a run: status, inputs, outputs, error", .min_positional = 1,
     .max_positional = 1, .positional_label = "RUN_ID", .needs_namespace = 1, .run = cmd_run_show},
    {.group = "state", .name = "retry", .args = "STATE_ID",
     .summary = "retry a state by hand (a fresh copy starts with 0 retries)",
     .details = "Only ERRORED and NEXT_CREATED_ERROR states can be retried; the original becomes\n"
                "RETRY_CREATED.",
     .min_positional = 1, .max_positional = 1, .positional_label = "STATE_ID", .needs_namespace = 1,
     .run = cmd_state_retry},
    {.group = "nodes", .name = "list", .args = "", .summary = "list the nodes registered in the namespace",
     .needs_namespace = 1, .run = cmd_nodes_list},
    {.name = "namespaces", .args = "", .summary = "list the namespaces that have registered nodes",
     .run = cmd_namespaces},
    {.name = NULL},
};
