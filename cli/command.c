/* The prologue every exoctl command shares, from its words on the command line to
 * a connected context: option parsing, --help, the positional arguments (count, not
 * blank), the connection settings (flags, then environment) and the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "help.h"
#include "output.h"

/* Fills uri, api key, namespace and --json from flags, then the environment.
 * Checking them waits for command_connect, so argument errors are reported first. */
static void resolve_settings(const parsed_args *args, cli_ctx *ctx)
{
    ctx->uri = args_value(args, "uri");
    if (!ctx->uri)
        ctx->uri = getenv("EXOSPHERE_STATE_MANAGER_URI");
    ctx->api_key = args_value(args, "api-key");
    if (!ctx->api_key)
        ctx->api_key = getenv("EXOSPHERE_API_KEY");
    ctx->namespace_name = args_value(args, "namespace");
    if (!ctx->namespace_name)
        ctx->namespace_name = getenv("EXOSPHERE_NAMESPACE");
    ctx->json = args_has(args, "json");
}

int command_connect(const command *cmd, cli_ctx *ctx)
{
    if (!ctx->uri || !ctx->uri[0])
        return usage_error(cmd, "no state manager URI: pass --uri or set EXOSPHERE_STATE_MANAGER_URI");
    char why[512];
    if (client_split_uris(ctx, why, sizeof why) != 0)
        return usage_error(cmd, "%s", why);
    if (!ctx->api_key || !ctx->api_key[0])
        return usage_error(cmd, "no API key: pass --api-key or set EXOSPHERE_API_KEY");
    if (cmd->needs_namespace && (!ctx->namespace_name || !ctx->namespace_name[0]))
        return usage_error(cmd, "no namespace: pass --namespace/-n or set EXOSPHERE_NAMESPACE");
    return client_open(ctx) == 0 ? EXIT_OK : EXIT_FAIL;
}

int command_wait_options(const command *cmd, const parsed_args *args, int *wait, int64_t *timeout_ms)
{
    *wait = args_has(args, "wait");
    *timeout_ms = DEFAULT_WAIT_MS;
    const char *timeout = args_value(args, "timeout");
    if (timeout && !*wait)
        return usage_error(cmd, "--timeout only makes sense with --wait");
    char err[256];
    if (timeout && args_parse_seconds("--timeout", timeout, timeout_ms, err, sizeof err) != 0)
        return usage_error(cmd, "%s", err);
    return EXIT_OK;
}

int command_print_answer(json_object *answer)
{
    print_json(stdout, answer);
    json_object_put(answer);
    return EXIT_OK;
}

/* The n-th (0-based) word of the command's argument synopsis, e.g. "NAME". */
static void synopsis_word(const command *cmd, size_t n, char *buf, size_t len)
{
    const char *p = cmd->args;
    for (;;) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (n == 0 || w == 0) {
            snprintf(buf, len, "%.*s", (int)w, p);
            return;
        }
        p += w;
        n--;
    }
}

/* Count of the positional arguments, and none of them blank (the server would trim
 * a name to nothing). */
static int check_positional(const command *cmd, const parsed_args *args)
{
    char missing[64];
    synopsis_word(cmd, args->positional_count, missing, sizeof missing);
    if (args->positional_count < cmd->min_positional)
        return usage_error(cmd, "missing argument %s", missing);
    if (args->positional_count > cmd->max_positional)
        return usage_error(cmd, "unexpected argument '%s'", args->positional[cmd->max_positional]);
    for (size_t i = 0; i < args->positional_count; i++)
        if (args_is_blank(args->positional[i]))
            return usage_error(cmd, "%s must not be empty", cmd->positional_label);
    return EXIT_OK;
}

int command_execute(const command *cmd, int argc, char **argv)
{
    parsed_args args;
    char err[512];
    int rc = args_parse(argc, argv, cmd->options, &args, err, sizeof err);
    if (rc == -2) {
        fprintf(stderr, "exoctl: out of memory\n");
        return EXIT_FAIL;
    }
    if (rc != 0)
        return usage_error(cmd, "%s", err);
    if (args_has(&args, "help")) {
        help_print_command(stdout, cmd);
        args_free(&args);
        return EXIT_OK;
    }
    cli_ctx ctx = {0};
    rc = check_positional(cmd, &args);
    if (rc == EXIT_OK) {
        resolve_settings(&args, &ctx);
        if (!cmd->checks_options_first)
            rc = command_connect(cmd, &ctx);
    }
    if (rc == EXIT_OK)
        rc = cmd->run(cmd, &ctx, &args);
    client_close(&ctx);
    args_free(&args);
    return rc;
}
