/* Help and usage texts of exoctl, generated from the command table. */
#ifndef EXOCTL_HELP_H
#define EXOCTL_HELP_H

#include <stdio.h>

#include "commands.h"

/* "exoctl --help": settings, global options and the list of commands. */
void help_print_general(FILE *out);
/* "exoctl graph --help": the commands of one group. */
void help_print_group(FILE *out, const char *group);
/* "exoctl graph put --help": usage, description and options of one command. */
void help_print_command(FILE *out, const command *cmd);
/* "usage: exoctl graph put NAME -f FILE [options]" */
void help_print_usage_line(FILE *out, const command *cmd);

#endif
