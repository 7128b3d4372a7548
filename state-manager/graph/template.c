/* Placeholder strings (spec §4); see template.h. */
#include "template.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strfmt.h"

#define OPEN "${{"
#define CLOSE "}}"

static char *dup_range(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* Python str.strip(): leading/trailing whitespace. */
static char *dup_trimmed(const char *s, size_t len)
{
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return dup_range(s, len);
}

void exo_template_free(exo_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++) {
        free(t->items[i].identifier);
        free(t->items[i].field);
        free(t->items[i].tail);
    }
    free(t->items);
    free(t->head);
    memset(t, 0, sizeof *t);
}

int exo_placeholder_is_store(const exo_placeholder *p) { return strcmp(p->identifier, "store") == 0; }

int exo_template_has_placeholders(const char *text) { return strstr(text, OPEN) != NULL; }

static size_t count_pieces(const char *text)
{
    size_t n = 0;
    for (const char *p = strstr(text, OPEN); p; p = strstr(p + strlen(OPEN), OPEN))
        n++;
    return n;
}

/* Splits content on '.', trims parts; fills identifier/field per §4.2 step 3.
 * Returns 0, 1 on a syntax error, -1 on OOM. */
static int parse_content(const char *content, size_t len, exo_placeholder *p)
{
    const char *parts[3];
    size_t lens[3];
    size_t nparts = 0;
    const char *start = content;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || content[i] == '.') {
            if (nparts == 3)
                return 1; /* more than 3 parts */
            parts[nparts] = start;
            lens[nparts] = (size_t)(content + i - start);
            nparts++;
            start = content + i + 1;
        }
    }
    char *trimmed[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < nparts; i++) {
        trimmed[i] = dup_trimmed(parts[i], lens[i]);
        if (!trimmed[i]) {
            for (size_t j = 0; j < i; j++)
                free(trimmed[j]);
            return -1;
        }
    }
    int rc = 1;
    if (nparts == 3 && strcmp(trimmed[1], "outputs") == 0) {
        p->identifier = trimmed[0];
        p->field = trimmed[2];
        free(trimmed[1]);
        return 0;
    }
    if (nparts == 2 && strcmp(trimmed[0], "store") == 0) {
        p->identifier = trimmed[0];
        p->field = trimmed[1];
        return 0;
    }
    for (size_t i = 0; i < nparts; i++)
        free(trimmed[i]);
    return rc;
}

int exo_template_parse(const char *text, exo_template *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    const char *first = strstr(text, OPEN);
    out->head = first ? dup_range(text, (size_t)(first - text)) : strdup(text);
    if (!out->head)
        return -1;
    if (!first)
        return 0;
    size_t pieces = count_pieces(text);
    out->items = calloc(pieces, sizeof *out->items);
    if (!out->items)
        return -1;
    const char *piece = first + strlen(OPEN);
    for (size_t i = 0; i < pieces; i++) {
        const char *next_open = strstr(piece, OPEN);
        size_t piece_len = next_open ? (size_t)(next_open - piece) : strlen(piece);
        const char *close = memmem(piece, piece_len, CLOSE, strlen(CLOSE));
        if (!close) {
            *err = exo_strfmt("Invalid syntax string placeholder %.*s for: %s '${' not closed",
                                  (int)piece_len, piece, text);
            return -1;
        }
        exo_placeholder *p = &out->items[i];
        int r = parse_content(piece, (size_t)(close - piece), p);
        if (r < 0)
            return -1;
        if (r > 0) {
            *err = exo_strfmt("Invalid syntax string placeholder %.*s for: %s",
                                  (int)(close - piece), piece, text);
            return -1;
        }
        const char *tail = close + strlen(CLOSE);
        p->tail = dup_range(tail, piece_len - (size_t)(tail - piece));
        out->count++;
        if (!p->tail)
            return -1;
        piece = next_open ? next_open + strlen(OPEN) : piece + piece_len;
    }
    return 0;
}

/* Growable output buffer. */
typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static int buf_append_n(buf *b, const char *s, size_t n)
{
    if (n > INT_MAX / 2 || b->len > INT_MAX / 2) /* JSON strings are int-sized in json-c */
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_append(buf *b, const char *s) { return buf_append_n(b, s, strlen(s)); }

/* Python type name of a JSON value, as in the reference's TypeError text. */
static const char *python_type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean: return "bool";
    case json_type_int: return "int";
    case json_type_double: return "float";
    case json_type_object: return "dict";
    case json_type_array: return "list";
    case json_type_null: return "NoneType";
    case json_type_string: return "str";
    }
    return "object";
}

/* Python repr of a str: single quotes unless the text contains ' and no ". */
char *exo_py_str_repr(const char *s)
{
    char quote = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
    buf b = {0};
    char q[2] = {quote, '\0'};
    if (buf_append(&b, q) < 0)
        return NULL;
    for (const char *p = s; *p; p++) {
        char tmp[8];
        unsigned char c = (unsigned char)*p;
        if (c == '\\')
            snprintf(tmp, sizeof tmp, "\\\\");
        else if (c == (unsigned char)quote)
            snprintf(tmp, sizeof tmp, "\\%c", quote);
        else if (c == '\n')
            snprintf(tmp, sizeof tmp, "\\n");
        else if (c == '\r')
            snprintf(tmp, sizeof tmp, "\\r");
        else if (c == '\t')
            snprintf(tmp, sizeof tmp, "\\t");
        else if (c < 0x20 || c == 0x7f)
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else
            snprintf(tmp, sizeof tmp, "%c", c);
        if (buf_append(&b, tmp) < 0) {
            free(b.data);
            return NULL;
        }
    }
    if (buf_append(&b, q) < 0) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

static char *unset_message(const exo_placeholder *p)
{
    char *id = exo_py_str_repr(p->identifier);
    char *field = exo_py_str_repr(p->field);
    char *tail = exo_py_str_repr(p->tail);
    char *msg = NULL;
    if (id && field && tail)
        msg = exo_strfmt("Dependent value is not set for: identifier=%s field=%s tail=%s value=None",
                             id, field, tail);
    free(id);
    free(field);
    free(tail);
    return msg;
}

char *exo_template_render(const exo_template *t, exo_template_lookup_fn lookup, void *ud,
                          char **err)
{
    size_t len;
    return exo_template_render_len(t, lookup, ud, err, &len);
}

char *exo_template_render_len(const exo_template *t, exo_template_lookup_fn lookup, void *ud,
                              char **err, size_t *out_len)
{
    *err = NULL;
    *out_len = 0;
    buf b = {0};
    if (buf_append(&b, t->head) < 0)
        return NULL;
    for (size_t i = 0; i < t->count; i++) {
        const exo_placeholder *p = &t->items[i];
        json_object *value = NULL;
        if (lookup(ud, p, &value, err) != 0) {
            free(b.data);
            return NULL;
        }
        if (value == NULL || json_object_is_type(value, json_type_null)) {
            *err = unset_message(p);
            free(b.data);
            return NULL;
        }
        if (!json_object_is_type(value, json_type_string)) {
            *err = exo_strfmt("unsupported operand type(s) for +: '%s' and 'str'",
                                  python_type_name(value));
            free(b.data);
            return NULL;
        }
        /* values may contain U+0000: copy them by length */
        if (buf_append_n(&b, json_object_get_string(value), (size_t)json_object_get_string_len(value)) < 0 ||
            buf_append(&b, p->tail) < 0) {
            free(b.data);
            return NULL;
        }
    }
    *out_len = b.len;
    return b.data;
}

char *exo_template_render_text(const char *text, exo_template_lookup_fn lookup, void *ud,
                               char **err)
{
    size_t len;
    return exo_template_render_text_len(text, lookup, ud, err, &len);
}

char *exo_template_render_text_len(const char *text, exo_template_lookup_fn lookup, void *ud,
                                   char **err, size_t *out_len)
{
    exo_template t;
    *out_len = 0;
    if (exo_template_parse(text, &t, err) != 0) {
        exo_template_free(&t);
        return NULL;
    }
    char *out = exo_template_render_len(&t, lookup, ud, err, out_len);
    exo_template_free(&t);
    return out;
}

static int append_repr(buf *b, json_object *v);

static int append_owned(buf *b, char *s)
{
    int r = s ? buf_append(b, s) : -1;
    free(s);
    return r;
}

static char *double_repr(double d)
{
    char tmp[64];
    if (isnan(d))
        return strdup("nan");
    if (isinf(d))
        return strdup(d > 0 ? "inf" : "-inf");
    for (int prec = 1; prec <= 17; prec++) { /* shortest round-trip form, like Python */
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eEn"))
        strncat(tmp, ".0", sizeof tmp - strlen(tmp) - 1);
    return strdup(tmp);
}

static int append_repr(buf *b, json_object *v)
{
    char tmp[32];
    switch (json_object_get_type(v)) {
    case json_type_null: return buf_append(b, "None");
    case json_type_boolean: return buf_append(b, json_object_get_boolean(v) ? "True" : "False");
    case json_type_int:
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_object_get_int64(v));
        return buf_append(b, tmp);
    case json_type_double: return append_owned(b, double_repr(json_object_get_double(v)));
    case json_type_string: return append_owned(b, exo_py_str_repr(json_object_get_string(v)));
    case json_type_array: {
        if (buf_append(b, "[") < 0)
            return -1;
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            if ((i && buf_append(b, ", ") < 0) || append_repr(b, json_object_array_get_idx(v, i)) < 0)
                return -1;
        return buf_append(b, "]");
    }
    case json_type_object: {
        if (buf_append(b, "{") < 0)
            return -1;
        int first = 1;
        json_object_object_foreach(v, key, val)
        {
            if ((!first && buf_append(b, ", ") < 0) || append_owned(b, exo_py_str_repr(key)) < 0 ||
                buf_append(b, ": ") < 0 || append_repr(b, val) < 0)
                return -1;
            first = 0;
        }
        return buf_append(b, "}");
    }
    }
    return -1;
}

char *exo_py_repr(json_object *v)
{
    buf b = {0};
    if (append_repr(&b, v) < 0) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

char *exo_template_render_json(json_object *text, exo_template_lookup_fn lookup, void *ud, char **err,
                               size_t *out_len)
{
    const char *s = json_object_get_string(text);
    size_t len = (size_t)json_object_get_string_len(text);
    *err = NULL;
    *out_len = 0;
    if (!memchr(s, '\0', len))
        return exo_template_render_text_len(s, lookup, ud, err, out_len);
    /* a value with U+0000: only a literal (no placeholder) can be used, byte-exact */
    if (memmem(s, len, OPEN, strlen(OPEN))) {
        *err = strdup("a template must not contain the NUL character (\\u0000)");
        return NULL;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *out_len = len;
    return copy;
}
