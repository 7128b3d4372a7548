/* See json_guard.h.  A small lexer over already validated JSON that keeps the
 * path (object keys / array indexes) of the value being read. */
#include "json_guard.h"

#include <stdlib.h>
#include <string.h>

typedef struct frame {
    int is_object;
    int expect_key;         /* object: the next string is a key */
    size_t index;           /* array: index of the current item */
    const char *key;        /* object: raw key token (with quotes) of the current member */
    size_t key_len;
} frame;

typedef struct guard {
    const char *text;
    size_t len, pos;
    frame *stack;
    size_t depth, max_depth;
    json_object *errors;    /* array, created on the first problem */
    int oom;
} guard;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Decoded value of a raw JSON string token (quotes included), kept byte-exact. */
static json_object *decode_string(const char *raw, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, raw, len);
    copy[len] = '\0';
    json_object *s = json_tokener_parse(copy);
    free(copy);
    return s;
}

/* ["body", key/index, ..., (last)] for the value at the current position. */
static json_object *current_loc(guard *g, json_object *last)
{
    json_object *loc = json_object_new_array();
    if (!loc || json_object_array_add(loc, json_object_new_string("body")) != 0)
        goto fail;
    for (size_t i = 0; i < g->depth; i++) {
        const frame *f = &g->stack[i];
        json_object *seg = f->is_object ? (f->key ? decode_string(f->key, f->key_len) : NULL)
                                        : json_object_new_int64((int64_t)f->index);
        if (!seg || json_object_array_add(loc, seg) != 0) {
            json_object_put(seg);
            goto fail;
        }
    }
    if (last && json_object_array_add(loc, last) != 0)
        goto fail;
    return loc;
fail:
    json_object_put(last);
    json_object_put(loc);
    return NULL;
}

static void add_problem(guard *g, json_object *loc, const char *msg, json_object *input)
{
    json_object *err = json_object_new_object(), *ctx = json_object_new_object(), *inner = json_object_new_object();
    if (!g->errors)
        g->errors = json_object_new_array();
    if (!loc || !err || !ctx || !inner || !g->errors) {
        g->oom = 1;
        json_object_put(loc);
        json_object_put(err);
        json_object_put(ctx);
        json_object_put(inner);
        json_object_put(input);
        return;
    }
    json_object_object_add(err, "type", json_object_new_string("value_error"));
    json_object_object_add(err, "loc", loc);
    json_object_object_add(err, "msg", json_object_new_string(msg));
    json_object_object_add(err, "input", input);
    json_object_object_add(ctx, "error", inner);
    json_object_object_add(err, "ctx", ctx);
    if (json_object_array_add(g->errors, err) != 0) {
        g->oom = 1;
        json_object_put(err);
    }
}

/* 1 when the integer literal (optional '-', digits) lies outside [-2^63, 2^64-1]. */
static int integer_out_of_range(const char *s, size_t len)
{
    int negative = len > 0 && s[0] == '-';
    const char *digits = s + negative;
    size_t n = len - (size_t)negative;
    const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
    size_t limit_len = strlen(limit);
    if (n != limit_len)
        return n > limit_len;
    return memcmp(digits, limit, n) > 0;
}

/* Reads a string token starting at g->pos ('"'); returns 1 when it contains \u0000. */
static int read_string(guard *g, size_t *start, size_t *end)
{
    size_t j = g->pos + 1;
    int nul = 0;
    while (j < g->len && g->text[j] != '"') {
        if (g->text[j] != '\\') {
            j++;
            continue;
        }
        int unicode = j + 1 < g->len && g->text[j + 1] == 'u';
        if (unicode && j + 5 < g->len && !memcmp(g->text + j + 2, "0000", 4))
            nul = 1;
        j += unicode ? 6 : 2;
    }
    *start = g->pos;
    *end = j < g->len ? j + 1 : g->len;
    g->pos = *end;
    return nul;
}

static void on_string(guard *g)
{
    size_t start, end;
    int nul = read_string(g, &start, &end);
    frame *top = g->depth ? &g->stack[g->depth - 1] : NULL;
    if (!top || !top->is_object || !top->expect_key)
        return; /* a string value: kept with its length, NUL included */
    top->expect_key = 0;
    top->key = g->text + start;
    top->key_len = end - start;
    if (nul)
        add_problem(g, current_loc(g, NULL),
                    "Value error, object keys must not contain the NUL character (\\u0000)",
                    decode_string(g->text + start, end - start));
}

static void on_number(guard *g)
{
    size_t start = g->pos, j = g->pos;
    int integer = 1;
    while (j < g->len && g->text[j] && strchr("+-0123456789.eE", g->text[j])) {
        if (g->text[j] == '.' || g->text[j] == 'e' || g->text[j] == 'E')
            integer = 0;
        j++;
    }
    g->pos = j;
    if (!integer || !integer_out_of_range(g->text + start, j - start))
        return;
    json_object *input = json_object_new_string_len(g->text + start, (int)(j - start));
    add_problem(g, current_loc(g, NULL),
                "Value error, integer outside the supported range -9223372036854775808..18446744073709551615",
                input);
}

static void step(guard *g)
{
    char c = g->text[g->pos];
    frame *top = g->depth ? &g->stack[g->depth - 1] : NULL;
    switch (c) {
    case '{':
    case '[':
        if (g->depth >= g->max_depth) { /* cannot happen after json-c's depth check */
            g->oom = 1;
            g->pos = g->len;
            return;
        }
        g->stack[g->depth++] = (frame){.is_object = c == '{', .expect_key = c == '{'};
        g->pos++;
        return;
    case '}':
    case ']':
        if (g->depth)
            g->depth--;
        g->pos++;
        return;
    case ',':
        if (top && top->is_object)
            top->expect_key = 1;
        else if (top)
            top->index++;
        g->pos++;
        return;
    case '"':
        on_string(g);
        return;
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            on_number(g);
        else
            g->pos++; /* ':', whitespace, letters of true/false/null/NaN */
        return;
    }
}

json_object *exo_json_guard(const char *text, size_t len, int max_depth, int *oom)
{
    *oom = 0;
    guard g = {.text = text, .len = len, .max_depth = max_depth > 0 ? (size_t)max_depth : 1};
    g.stack = malloc(g.max_depth * sizeof *g.stack);
    if (!g.stack) {
        *oom = 1;
        return NULL;
    }
    while (g.pos < g.len && !g.oom) {
        if (is_ws(text[g.pos]))
            g.pos++;
        else
            step(&g);
    }
    free(g.stack);
    if (g.oom) {
        *oom = 1;
        json_object_put(g.errors);
        return NULL;
    }
    if (!g.errors)
        return NULL;
    json_object *body = json_object_new_object();
    if (!body || json_object_object_add(body, "detail", g.errors) != 0) {
        json_object_put(body);
        json_object_put(g.errors);
        *oom = 1;
        return NULL;
    }
    return body;
}
