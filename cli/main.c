/* exoctl: finds the command named on the command line, parses its arguments,
 * resolves the connection settings and runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "help.h"

/* Index of the first word that is not a global option (or argc).  Words skipped
 * before it are global options and their values. */
static int skip_global_options(int argc, char **argv, int from)
{
    int i = from;
    while (i < argc) {
        int takes_value;
        if (!args_find_global(argv[i], &takes_value))
            break;
        i += 1 + takes_value;
    }
    return i < argc ? i : argc;
}

static int is_group(const char *word)
{
    for (const command *cmd = commands; cmd->name; cmd++)
        if (cmd->group && strcmp(cmd->group, word) == 0)
            return 1;
    return 0;
}

static const command *find_command(const char *group, const char *name)
{
    for (const command *cmd = commands; cmd->name; cmd++) {
        int same_group = group ? cmd->group && strcmp(cmd->group, group) == 0 : cmd->group == NULL;
        if (same_group && strcmp(cmd->name, name) == 0)
            return cmd;
    }
    return NULL;
}

/* "put, get, list" for error messages. */
static void list_subcommands(const char *group, char *buf, size_t len)
{
    buf[0] = '\0';
    for (const command *cmd = commands; cmd->name; cmd++)
        if (cmd->group && strcmp(cmd->group, group) == 0) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s%s", used ? ", " : "", cmd->name);
        }
}

static int words_contain_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* "exoctl help [GROUP [NAME]]" */
static int run_help_command(int argc, char **argv, int at)
{
    if (at >= argc) {
        help_print_general(stdout);
        return EXIT_OK;
    }
    const char *first = argv[at];
    const command *cmd = NULL;
    if (is_group(first)) {
        if (at + 1 >= argc) {
            help_print_group(stdout, first);
            return EXIT_OK;
        }
        cmd = find_command(first, argv[at + 1]);
    } else {
        cmd = find_command(NULL, first);
    }
    if (!cmd)
        return usage_error(NULL, "help: unknown command '%s%s%s'", first, at + 1 < argc ? " " : "",
                           at + 1 < argc ? argv[at + 1] : "");
    help_print_command(stdout, cmd);
    return EXIT_OK;
}

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
    if (strncmp(ctx->uri, "http://", 7) != 0 && strncmp(ctx->uri, "https://", 8) != 0)
        return usage_error(cmd, "state manager URI '%s' must start with http:// or https://",
                           ctx->uri);
    if (!ctx->api_key || !ctx->api_key[0])
        return usage_error(cmd, "no API key: pass --api-key or set EXOSPHERE_API_KEY");
    if (cmd->needs_namespace && (!ctx->namespace_name || !ctx->namespace_name[0]))
        return usage_error(cmd, "no namespace: pass --namespace/-n or set EXOSPHERE_NAMESPACE");
    return client_open(ctx) == 0 ? EXIT_OK : EXIT_FAIL;
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

static int run_command(const command *cmd, int argc, char **argv)
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
    char missing[64];
    synopsis_word(cmd, args.positional_count, missing, sizeof missing);
    if (args.positional_count < cmd->min_positional)
        rc = usage_error(cmd, "missing argument %s", missing);
    else if (args.positional_count > cmd->max_positional)
        rc = usage_error(cmd, "unexpected argument '%s'", args.positional[cmd->max_positional]);
    else
        rc = EXIT_OK;

    cli_ctx ctx = {0};
    if (rc == EXIT_OK) {
        resolve_settings(&args, &ctx);
        rc = cmd->run(cmd, &ctx, &args);
    }
    client_close(&ctx);
    args_free(&args);
    return rc;
}

int main(int argc, char **argv)
{
    int at = skip_global_options(argc, argv, 1);
    int takes_value;
    const arg_spec *last = argc > 1 ? args_find_global(argv[argc - 1], &takes_value) : NULL;
    if (at >= argc && last && takes_value)
        return usage_error(NULL, "option --%s needs a value (%s)", last->name, last->metavar);
    if (at >= argc) {
        if (words_contain_help(argc, argv)) {
            help_print_general(stdout);
            return EXIT_OK;
        }
        return usage_error(NULL, "no command given");
    }
    const char *word = argv[at];
    if (word[0] == '-' && word[1] != '\0')
        return usage_error(NULL, "unknown option '%s'", word);
    if (strcmp(word, "help") == 0)
        return run_help_command(argc, argv, at + 1);

    const command *cmd;
    int words = 1;
    if (is_group(word)) {
        char names[128];
        list_subcommands(word, names, sizeof names);
        const char *sub = at + 1 < argc ? argv[at + 1] : NULL;
        if (!sub || sub[0] == '-') {
            if (words_contain_help(argc, argv)) {
                help_print_group(stdout, word);
                return EXIT_OK;
            }
            return usage_error(NULL, "'%s' needs a subcommand: %s", word, names);
        }
        cmd = find_command(word, sub);
        if (!cmd)
            return usage_error(NULL, "unknown %s subcommand '%s' (expected one of: %s)", word, sub,
                               names);
        words = 2;
    } else {
        cmd = find_command(NULL, word);
        if (!cmd)
            return usage_error(NULL, "unknown command '%s'", word);
    }

    /* Everything but the program name and the command words goes to the parser. */
    char **rest = malloc(sizeof *rest * (size_t)argc);
    if (!rest) {
        fprintf(stderr, "exoctl: out of memory\n");
        return EXIT_FAIL;
    }
    int n = 0;
    for (int i = 1; i < argc; i++)
        if (i < at || i >= at + words)
            rest[n++] = argv[i];
    int rc = run_command(cmd, n, rest);
    free(rest);
    return rc;
}
