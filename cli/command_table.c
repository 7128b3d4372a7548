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

const command commands[] = {
    {"graph", "put", "NAME -f FILE", "create or replace a graph template",
     "Sends FILE as the body of PUT /v0/namespace/NS/graph/NAME. Without --wait prints\n"
     "the stored graph's validation status (normally PENDING).",
     1, 1, 1, graph_put_options, cmd_graph_put},
    {"graph", "get", "NAME", "show a graph template and its validation status", NULL, 1, 1, 1,
     NULL, cmd_graph_get},
    {"graph", "list", "", "list the graph templates of the namespace", NULL, 0, 0, 1, NULL,
     cmd_graph_list},
    {NULL, "trigger", "NAME", "start a run of a graph",
     "Prints the new run's id. With --wait, polls the run until no state is pending and\n"
     "prints its final status: SUCCESS (exit 0) or FAILED (exit 1).",
     1, 1, 1, trigger_options, cmd_trigger},
    {"run", "list", "", "list runs, newest first, with their status and state counts", NULL, 0, 0,
     1, run_list_options, cmd_run_list},
    {"run", "show", "RUN_ID", "show every state of a run: status, inputs, outputs, error", NULL,
     1, 1, 1, NULL, cmd_run_show},
    {"state", "retry", "STATE_ID", "retry a state by hand (a fresh copy starts with 0 retries)",
     "Only ERRORED and NEXT_CREATED_ERROR states can be retried; the original becomes\n"
     "RETRY_CREATED.",
     1, 1, 1, NULL, cmd_state_retry},
    {"nodes", "list", "", "list the nodes registered in the namespace", NULL, 0, 0, 1, NULL,
     cmd_nodes_list},
    {NULL, "namespaces", "", "list the namespaces that have registered nodes", NULL, 0, 0, 0,
     NULL, cmd_namespaces},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};
