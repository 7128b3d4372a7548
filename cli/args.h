/* Command-line parsing for exoctl: option tables, the parsed result and value checks.
 *
 * Options are described by NULL-name-terminated arg_spec arrays.  A command's own
 * options are merged with the global ones (--uri, --api-key, --namespace, --json,
 * --help), so global options may appear before or after the command words.
 * Accepted spellings: --name VALUE, --name=VALUE, -x VALUE, -xVALUE; "--" ends options.
 * Parsed values point into argv (nothing is copied). */
#ifndef EXOCTL_ARGS_H
#define EXOCTL_ARGS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ARG_FLAG,   /* present or not */
    ARG_VALUE,  /* takes one value; the last occurrence wins */
    ARG_REPEAT, /* takes one value; every occurrence is kept in order */
} arg_kind;

typedef struct arg_spec {
    const char *name;    /* long name without "--"; NULL ends a table */
    char short_name;     /* 0 when there is none */
    arg_kind kind;
    const char *metavar; /* shown in help for options with a value */
    const char *help;
} arg_spec;

typedef struct parsed_option {
    const arg_spec *spec;
    const char *value; /* NULL for flags */
} parsed_option;

typedef struct parsed_args {
    parsed_option *options; /* in command-line order */
    size_t option_count;
    const char **positional;
    size_t positional_count;
} parsed_args;

/* The options every command accepts. */
extern const arg_spec global_arg_specs[];

/* Parses argv[0..argc-1] (no program name) against global_arg_specs plus
 * command_specs (may be NULL).  On a bad option writes a message naming it into
 * err (size err_len) and returns -1; returns -2 on allocation failure; 0 on success. */
int args_parse(int argc, char **argv, const arg_spec *command_specs, parsed_args *out,
               char *err, size_t err_len);
void args_free(parsed_args *args);

/* Finds a global option spec by its spelling ("--json", "-n", "--uri=x"); NULL when
 * the word is not a global option.  *takes_value is set when the value is the next word. */
const arg_spec *args_find_global(const char *word, int *takes_value);

/* True when text is empty or only white space (names the server would trim away). */
int args_is_blank(const char *text);

int args_has(const parsed_args *args, const char *name);
/* Last value given for a value option, or NULL. */
const char *args_value(const parsed_args *args, const char *name);
/* The n-th (0-based) value of a repeatable option, or NULL past the end. */
const char *args_nth_value(const parsed_args *args, const char *name, size_t n);

/* Value checks: return 0 and store the result, or write a message naming the
 * option into err and return -1. */
int args_parse_int(const char *option, const char *text, int64_t min, int64_t max, int64_t *out,
                   char *err, size_t err_len);
/* Seconds as a positive decimal number ("30", "0.5"), returned in milliseconds. */
int args_parse_seconds(const char *option, const char *text, int64_t *out_ms, char *err,
                       size_t err_len);
/* Splits "key=value" (key non-empty, value may be empty) into *key (malloc'd) and
 * *value (points into text).  Returns -1 with a message, -2 on allocation failure. */
int args_split_pair(const char *option, const char *text, char **key, const char **value,
                    char *err, size_t err_len);

#endif
