#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const arg_spec global_arg_specs[] = {
    {"uri", 0, ARG_VALUE, "URI", "state manager URI (default: $EXOSPHERE_STATE_MANAGER_URI)"},
    {"api-key", 0, ARG_VALUE, "KEY", "API key (default: $EXOSPHERE_API_KEY)"},
    {"namespace", 'n', ARG_VALUE, "NS", "namespace (default: $EXOSPHERE_NAMESPACE)"},
    {"json", 0, ARG_FLAG, NULL, "print machine-readable JSON instead of tables"},
    {"help", 'h', ARG_FLAG, NULL, "show help and exit"},
    {NULL, 0, ARG_FLAG, NULL, NULL},
};

/* Looks up a long name (up to len characters) in one table. */
static const arg_spec *find_long(const arg_spec *table, const char *name, size_t len)
{
    for (; table && table->name; table++)
        if (strlen(table->name) == len && strncmp(table->name, name, len) == 0)
            return table;
    return NULL;
}

static const arg_spec *find_short(const arg_spec *table, char c)
{
    for (; table && table->name; table++)
        if (table->short_name && table->short_name == c)
            return table;
    return NULL;
}

/* A word spelled as an option: "-x..." or "--name[=value]", but not "-" or "--". */
static int looks_like_option(const char *word)
{
    return word[0] == '-' && word[1] != '\0' && strcmp(word, "--") != 0;
}

/* Resolves one option word.  *inline_value is set for "--name=value" and "-xVALUE". */
static const arg_spec *resolve(const char *word, const arg_spec *command_specs,
                               const char **inline_value)
{
    *inline_value = NULL;
    if (word[1] == '-') {
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (eq)
            *inline_value = eq + 1;
        const arg_spec *spec = find_long(global_arg_specs, name, len);
        return spec ? spec : find_long(command_specs, name, len);
    }
    if (word[2] != '\0')
        *inline_value = word + 2;
    const arg_spec *spec = find_short(global_arg_specs, word[1]);
    return spec ? spec : find_short(command_specs, word[1]);
}

const arg_spec *args_find_global(const char *word, int *takes_value)
{
    *takes_value = 0;
    if (!looks_like_option(word))
        return NULL;
    const char *inline_value;
    const arg_spec *spec = resolve(word, NULL, &inline_value);
    if (spec && spec->kind != ARG_FLAG && !inline_value)
        *takes_value = 1;
    return spec;
}

int args_parse(int argc, char **argv, const arg_spec *command_specs, parsed_args *out,
               char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    /* Every word is at most one option or one positional, so argc bounds both arrays. */
    size_t cap = argc > 0 ? (size_t)argc : 1;
    out->options = calloc(cap, sizeof *out->options);
    out->positional = calloc(cap, sizeof *out->positional);
    if (!out->options || !out->positional) {
        args_free(out);
        return -2;
    }
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        if (!only_positional && strcmp(word, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (only_positional || !looks_like_option(word)) {
            out->positional[out->positional_count++] = word;
            continue;
        }
        const char *value;
        const arg_spec *spec = resolve(word, command_specs, &value);
        if (!spec) {
            snprintf(err, err_len, "unknown option '%s'", word);
            args_free(out);
            return -1;
        }
        if (spec->kind == ARG_FLAG && value) {
            snprintf(err, err_len, "option --%s takes no value (got '%s')", spec->name, word);
            args_free(out);
            return -1;
        }
        if (spec->kind != ARG_FLAG && !value) {
            if (i + 1 >= argc) {
                snprintf(err, err_len, "option --%s needs a value (%s)", spec->name, spec->metavar);
                args_free(out);
                return -1;
            }
            value = argv[++i];
        }
        out->options[out->option_count].spec = spec;
        out->options[out->option_count].value = value;
        out->option_count++;
    }
    return 0;
}

void args_free(parsed_args *args)
{
    free(args->options);
    free(args->positional);
    memset(args, 0, sizeof *args);
}

int args_has(const parsed_args *args, const char *name)
{
    for (size_t i = 0; i < args->option_count; i++)
        if (strcmp(args->options[i].spec->name, name) == 0)
            return 1;
    return 0;
}

const char *args_value(const parsed_args *args, const char *name)
{
    const char *last = NULL;
    for (size_t i = 0; i < args->option_count; i++)
        if (strcmp(args->options[i].spec->name, name) == 0)
            last = args->options[i].value;
    return last;
}

const char *args_nth_value(const parsed_args *args, const char *name, size_t n)
{
    for (size_t i = 0; i < args->option_count; i++) {
        if (strcmp(args->options[i].spec->name, name) != 0)
            continue;
        if (n == 0)
            return args->options[i].value;
        n--;
    }
    return NULL;
}

int args_parse_int(const char *option, const char *text, int64_t min, int64_t max, int64_t *out,
                   char *err, size_t err_len)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE) {
        snprintf(err, err_len, "%s: '%s' is not a whole number", option, text);
        return -1;
    }
    if (v < min || v > max) {
        snprintf(err, err_len, "%s: %s is out of range (%lld..%lld)", option, text,
                 (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int args_parse_seconds(const char *option, const char *text, int64_t *out_ms, char *err,
                       size_t err_len)
{
    char *end;
    errno = 0;
    double s = strtod(text, &end);
    /* A week is far more than any wait a command needs; the bound keeps ms in range. */
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(s) || s <= 0
        || s > 7 * 24 * 3600.0) {
        snprintf(err, err_len, "%s: '%s' is not a positive number of seconds", option, text);
        return -1;
    }
    *out_ms = (int64_t)(s * 1000.0);
    if (*out_ms < 1)
        *out_ms = 1;
    return 0;
}

int args_split_pair(const char *option, const char *text, char **key, const char **value,
                    char *err, size_t err_len)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text) {
        snprintf(err, err_len, "%s: '%s' is not KEY=VALUE (a non-empty key, then '=')", option,
                 text);
        return -1;
    }
    *key = strndup(text, (size_t)(eq - text));
    if (!*key)
        return -2;
    *value = eq + 1;
    return 0;
}

int args_is_blank(const char *text)
{
    for (; *text; text++)
        if (!isspace((unsigned char)*text))
            return 0;
    return 1;
}
