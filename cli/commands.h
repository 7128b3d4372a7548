/* exoctl's command table and the command implementations.
 *
 * A command is one or two words ("trigger", "graph put").  Each declares its
 * positional arguments and options; main.c finds it and command.c runs the
 * prologue (options, positional arguments, settings, connection) before run().
 *
 * Exit codes of run(): EXIT_OK on success, EXIT_FAIL when the server refused or
 * the outcome is a failure (graph INVALID, run FAILED), EXIT_USAGE for bad
 * arguments, EXIT_TIMEOUT when a --wait ran out of time. */
#ifndef EXOCTL_COMMANDS_H
#define EXOCTL_COMMANDS_H

#include "args.h"
#include "client.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

typedef struct command {
    const char *group;   /* first word for two-word commands, NULL otherwise */
    const char *name;    /* the (last) command word */
    const char *args;    /* positional arguments as shown in usage, e.g. "NAME" */
    const char *summary; /* one line for the command list */
    const char *details; /* extra help text, may be NULL */
    size_t min_positional;
    size_t max_positional;
    const char *positional_label; /* names a blank positional: "<label> must not be empty" */
    int needs_namespace;
    /* 0: connected before run().  1: run() checks its own options (and reads its
     * input) first, then calls command_connect, so that those errors come first. */
    int checks_options_first;
    const arg_spec *options; /* NULL-name-terminated; may be NULL */
    int (*run)(const struct command *cmd, cli_ctx *ctx, const parsed_args *args);
} command;

/* NULL-name-terminated table of every command. */
extern const command commands[];

/* Prints a usage error naming the problem plus the command's usage line, and
 * returns EXIT_USAGE.  cmd may be NULL for errors before a command is known. */
int usage_error(const command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs a command on its arguments (argv without the program name and the command
 * words): parses the options, answers --help, checks the positional arguments,
 * resolves the settings, connects (see checks_options_first) and calls run().
 * Returns the exit code. */
int command_execute(const command *cmd, int argc, char **argv);

/* Checks the connection settings (URI, API key, namespace when the command needs
 * one) and opens the connection.  Returns EXIT_OK or the exit code to return
 * (after printing why). */
int command_connect(const command *cmd, cli_ctx *ctx);

/* --wait and --timeout S (only with --wait; default DEFAULT_WAIT_MS).  Returns
 * EXIT_OK or EXIT_USAGE after printing why. */
int command_wait_options(const command *cmd, const parsed_args *args, int *wait, int64_t *timeout_ms);

/* --json: prints the server's answer as it came, puts it and returns EXIT_OK. */
int command_print_answer(json_object *answer);

/* Default wait for --wait without --timeout. */
#define DEFAULT_WAIT_MS (300 * 1000)
/* Pause between two polls of a --wait loop. */
#define POLL_INTERVAL_MS 200

int cmd_graph_put(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_graph_get(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_graph_list(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_trigger(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_run_list(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_run_show(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_state_retry(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_state_logs(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_run_cancel(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_run_retry(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_run_watch(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_run_purge(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_graph_delete(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_graph_retry(const command *cmd, cli_ctx *ctx, const parsed_args *args);
/* run list through the filtered listing (GET runs); *fallback set (nothing printed)
 * when the state manager lacks it and no filter was asked for: use the v0 pages. */
int cmd_run_list_filtered(const command *cmd, cli_ctx *ctx, const parsed_args *args, int *fallback);
int cmd_nodes_list(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_namespaces(const command *cmd, cli_ctx *ctx, const parsed_args *args);
int cmd_workers(const command *cmd, cli_ctx *ctx, const parsed_args *args);
/* cmd_workers.c: the registry answer (GET runtimes), NULL from a state manager
 * without one (or on error); the status ("alive"/"lost") of one runtime in it. */
json_object *workers_fetch(cli_ctx *ctx);
const char *workers_status_of(json_object *registry, const char *runtime_name);

#endif
