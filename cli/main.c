/* exoctl: finds the command named on the command line and hands it, without its
 * words, to command_execute (command.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "help.h"
#include "version.h"

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

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        exo_version_print(stdout, "exoctl");
        return EXIT_OK;
    }
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
    int rc = command_execute(cmd, n, rest);
    free(rest);
    return rc;
}
