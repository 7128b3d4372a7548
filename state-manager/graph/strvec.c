/* The graph layer's growable list of owned strings (messages, keys, identifiers
 * collected while parsing, validating and verifying); see graph_internal.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "strfmt.h"

void strvec_push(strvec *v, char *owned)
{
    if (!owned) {
        v->oom = 1;
        return;
    }
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        char **items = realloc(v->items, cap * sizeof *items);
        if (!items) {
            free(owned);
            v->oom = 1;
            return;
        }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->count++] = owned;
}

void strvec_pushf(strvec *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = exo_vstrfmt(fmt, ap);
    va_end(ap);
    strvec_push(v, s);
}

int graph_strings_contain(char *const *items, size_t count, const char *s)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(items[i], s) == 0)
            return 1;
    return 0;
}

int strvec_contains(const strvec *v, const char *s) { return graph_strings_contain(v->items, v->count, s); }

char *strvec_join(const strvec *v, const char *sep)
{
    size_t len = 1;
    for (size_t i = 0; i < v->count; i++)
        len += strlen(v->items[i]) + strlen(sep);
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    char *p = out;
    for (size_t i = 0; i < v->count; i++) {
        if (i) {
            strcpy(p, sep);
            p += strlen(sep);
        }
        strcpy(p, v->items[i]);
        p += strlen(v->items[i]);
    }
    return out;
}

void strvec_free(strvec *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}
