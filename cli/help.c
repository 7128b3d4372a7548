#include "help.h"

#include <stdarg.h>
#include <string.h>

static void print_command_words(FILE *out, const command *cmd)
{
    if (cmd->group)
        fprintf(out, "%s ", cmd->group);
    fputs(cmd->name, out);
}

void help_print_usage_line(FILE *out, const command *cmd)
{
    fputs("usage: exoctl ", out);
    print_command_words(out, cmd);
    if (cmd->args && cmd->args[0])
        fprintf(out, " %s", cmd->args);
    fputs(" [options]\n", out);
}

/* "  -n, --namespace NS   help" with the help column aligned at 26. */
static void print_options(FILE *out, const arg_spec *specs)
{
    for (; specs && specs->name; specs++) {
        char left[64];
        const char *sep = specs->kind == ARG_FLAG ? "" : " ";
        const char *value = specs->kind == ARG_FLAG ? "" : specs->metavar;
        int n;
        if (specs->short_name)
            n = snprintf(left, sizeof left, "-%c, --%s%s%s", specs->short_name, specs->name, sep,
                         value);
        else
            n = snprintf(left, sizeof left, "    --%s%s%s", specs->name, sep, value);
        fprintf(out, "  %s%*s%s%s\n", left, n < 26 ? 26 - n : 1, "", specs->help,
                specs->kind == ARG_REPEAT ? " (repeatable)" : "");
    }
}

static void print_command_list(FILE *out, const char *only_group)
{
    for (const command *cmd = commands; cmd->name; cmd++) {
        if (only_group && (!cmd->group || strcmp(cmd->group, only_group) != 0))
            continue;
        char words[96];
        int n = snprintf(words, sizeof words, "%s%s%s%s%s", cmd->group ? cmd->group : "",
                         cmd->group ? " " : "", cmd->name, cmd->args && cmd->args[0] ? " " : "",
                         cmd->args ? cmd->args : "");
        fprintf(out, "  %s%*s%s\n", words, n < 34 ? 34 - n : 1, "", cmd->summary);
    }
}

void help_print_general(FILE *out)
{
    fputs("exoctl - command-line client of the exo state manager\n"
          "\n"
          "usage: exoctl [global options] COMMAND [arguments] [options]\n"
          "       exoctl --version\n"
          "\n"
          "commands:\n",
          out);
    print_command_list(out, NULL);
    fputs("\nglobal options (accepted before or after the command):\n", out);
    print_options(out, global_arg_specs);
    fputs("\n"
          "environment:\n"
          "  EXOSPHERE_STATE_MANAGER_URI   state manager base URI, e.g. http://127.0.0.1:8000\n"
          "  EXOSPHERE_API_KEY             API key sent as x-api-key\n"
          "  EXOSPHERE_NAMESPACE           default namespace\n"
          "\n"
          "exit status: 0 success; 1 the server refused, a graph is INVALID or a run did not\n"
          "succeed; 2 bad arguments; 3 a --wait timed out.\n"
          "Run 'exoctl COMMAND --help' for the options of a command.\n",
          out);
}

void help_print_group(FILE *out, const char *group)
{
    fprintf(out, "usage: exoctl %s SUBCOMMAND [arguments] [options]\n\nsubcommands:\n", group);
    print_command_list(out, group);
    fprintf(out, "\nRun 'exoctl %s SUBCOMMAND --help' for details.\n", group);
}

void help_print_command(FILE *out, const command *cmd)
{
    help_print_usage_line(out, cmd);
    fprintf(out, "\n%s\n", cmd->summary);
    if (cmd->details)
        fprintf(out, "\n%s\n", cmd->details);
    if (cmd->options && cmd->options->name) {
        fputs("\noptions:\n", out);
        print_options(out, cmd->options);
    }
    fputs("\nglobal options:\n", out);
    print_options(out, global_arg_specs);
}

int usage_error(const command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("exoctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (cmd) {
        help_print_usage_line(stderr, cmd);
        fputs("Run 'exoctl ", stderr);
        print_command_words(stderr, cmd);
        fputs(" --help' for details.\n", stderr);
    } else {
        fputs("usage: exoctl [global options] COMMAND [arguments] [options]\n"
              "Run 'exoctl --help' for the list of commands.\n",
              stderr);
    }
    return EXIT_USAGE;
}
