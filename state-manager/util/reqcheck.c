/* Pydantic-style request-body checking; see reqcheck.h for the contract. */
#include "reqcheck.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MISSING "Field required"
#define MSG_STRING "Input should be a valid string"
#define MSG_INT "Input should be a valid integer"
#define MSG_INT_PARSING "Input should be a valid integer, unable to parse string as an integer"
#define MSG_INT_FRACTION "Input should be a valid integer, got a number with a fractional part"
#define MSG_FINITE "Input should be a finite number"
#define MSG_DICT "Input should be a valid dictionary"
#define MSG_LIST "Input should be a valid list"
/* Names, identifiers and other C-string fields: a NUL would silently end the
 * string inside the server (and the database), so it is refused outright. */
#define MSG_NUL "the string must not contain the NUL character (\\u0000)"

void exo_reqcheck_init(exo_reqcheck *rc)
{
    rc->errors = NULL;
    rc->oom = 0;
}

void exo_reqcheck_free(exo_reqcheck *rc)
{
    if (rc->errors)
        json_object_put(rc->errors);
    rc->errors = NULL;
}

int exo_reqcheck_failed(const exo_reqcheck *rc)
{
    return rc->oom || (rc->errors != NULL && json_object_array_length(rc->errors) > 0);
}

static int segment_is_index(const char *s, size_t len)
{
    if (len == 0 || len > 18)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* "body.nodes.3.identifier" -> ["body","nodes",3,"identifier"]. */
static json_object *loc_from_path(const char *loc)
{
    json_object *arr = json_object_new_array();
    if (!arr)
        return NULL;
    const char *p = loc ? loc : "";
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        json_object *seg = segment_is_index(p, len)
                               ? json_object_new_int64(strtoll(p, NULL, 10))
                               : json_object_new_string_len(p, (int)len);
        if (!seg || json_object_array_add(arr, seg) != 0) {
            json_object_put(seg);
            json_object_put(arr);
            return NULL;
        }
        if (!dot)
            break;
        p = dot + 1;
    }
    return arr;
}

/* Adds an error whose loc array is already built (takes loc and ctx). */
static void add_with_loc(exo_reqcheck *rc, json_object *loc, const char *type, const char *msg,
                         json_object *input, json_object *ctx)
{
    if (!rc->errors)
        rc->errors = json_object_new_array();
    json_object *err = json_object_new_object();
    if (!rc->errors || !err || !loc) {
        /* Out of memory: the error cannot be described, but the check must still fail. */
        rc->oom = 1;
        json_object_put(err);
        json_object_put(loc);
        json_object_put(ctx);
        return;
    }
    json_object_object_add(err, "type", json_object_new_string(type));
    json_object_object_add(err, "loc", loc);
    json_object_object_add(err, "msg", json_object_new_string(msg));
    json_object_object_add(err, "input", input ? json_object_get(input) : NULL);
    if (ctx)
        json_object_object_add(err, "ctx", ctx);
    if (json_object_array_add(rc->errors, err) != 0) {
        rc->oom = 1;
        json_object_put(err);
    }
}

int exo_json_string_has_nul(json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return 0;
    const char *s = json_object_get_string(v);
    return memchr(s, '\0', (size_t)json_object_get_string_len(v)) != NULL;
}

/* {"error":{}} (the ctx of a value_error), NULL when out of memory. */
static json_object *value_error_ctx(void)
{
    json_object *ctx = json_object_new_object(), *inner = json_object_new_object();
    if (!ctx || !inner || json_object_object_add(ctx, "error", inner) != 0) {
        json_object_put(inner);
        json_object_put(ctx);
        return NULL;
    }
    return ctx;
}

/* value_error for a NUL inside a string that must be a plain C string. */
static void add_nul_error(exo_reqcheck *rc, json_object *loc, json_object *input)
{
    add_with_loc(rc, loc, "value_error", "Value error, " MSG_NUL, input, value_error_ctx());
}

void exo_reqcheck_add(exo_reqcheck *rc, const char *loc, const char *type, const char *msg,
                      json_object *input, json_object *ctx)
{
    add_with_loc(rc, loc_from_path(loc), type, msg, input, ctx);
}

void exo_reqcheck_value_error(exo_reqcheck *rc, const char *loc, const char *message,
                              json_object *input)
{
    size_t len = strlen(message) + sizeof("Value error, ");
    char *msg = malloc(len);
    json_object *ctx = json_object_new_object();
    json_object *inner = json_object_new_object();
    if (!msg || !ctx || !inner) {
        free(msg);
        json_object_put(ctx);
        json_object_put(inner);
        exo_reqcheck_add(rc, loc, "value_error", message, input, NULL);
        return;
    }
    snprintf(msg, len, "Value error, %s", message);
    json_object_object_add(ctx, "error", inner);
    exo_reqcheck_add(rc, loc, "value_error", msg, input, ctx);
    free(msg);
}

json_object *exo_reqcheck_detail(const exo_reqcheck *rc)
{
    json_object *body = json_object_new_object();
    if (!body)
        return NULL;
    json_object *list = rc->errors ? json_object_get(rc->errors) : json_object_new_array();
    json_object_object_add(body, "detail", list);
    return body;
}

/* ---- field getters ---- */

static char *join_loc(const char *prefix, const char *key)
{
    size_t len = strlen(prefix) + strlen(key) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s%s", prefix, *prefix ? "." : "", key);
    return s;
}

/* Builds loc array prefix + [key] without splitting key on dots. */
static json_object *loc_with_key(const char *prefix, const char *key)
{
    json_object *loc = loc_from_path(prefix);
    if (loc && json_object_array_add(loc, json_object_new_string(key)) != 0) {
        json_object_put(loc);
        return NULL;
    }
    return loc;
}

static json_object *loc_with_key_index(const char *prefix, const char *key, size_t index)
{
    json_object *loc = loc_with_key(prefix, key);
    if (loc && json_object_array_add(loc, json_object_new_int64((int64_t)index)) != 0) {
        json_object_put(loc);
        return NULL;
    }
    return loc;
}

static json_object *loc_with_key_key(const char *prefix, const char *key, const char *sub)
{
    json_object *loc = loc_with_key(prefix, key);
    if (loc && json_object_array_add(loc, json_object_new_string(sub)) != 0) {
        json_object_put(loc);
        return NULL;
    }
    return loc;
}

/* Shared prologue: 1 = absent/allowed null, -1 = missing error, 0 = *value set. */
static int lookup_field(exo_reqcheck *rc, json_object *obj, const char *key,
                        const char *loc_prefix, int required, json_object **value)
{
    json_object *v = NULL;
    int present = obj && json_object_is_type(obj, json_type_object) &&
                  json_object_object_get_ex(obj, key, &v);
    if (!present) {
        if (!required)
            return 1;
        json_object *input = obj && json_object_is_type(obj, json_type_object) ? obj : NULL;
        add_with_loc(rc, loc_with_key(loc_prefix, key), "missing", MSG_MISSING, input, NULL);
        return -1;
    }
    if (v == NULL && !required)
        return 1;
    *value = v;
    return 0;
}

int exo_req_string(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                   int required, const char **out)
{
    json_object *v = NULL;
    int r = lookup_field(rc, obj, key, loc_prefix, required, &v);
    if (r != 0)
        return r;
    if (!json_object_is_type(v, json_type_string)) {
        add_with_loc(rc, loc_with_key(loc_prefix, key), "string_type", MSG_STRING, v, NULL);
        return -1;
    }
    if (exo_json_string_has_nul(v)) {
        add_nul_error(rc, loc_with_key(loc_prefix, key), v);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

/* pydantic-core's str_as_int: surrounding whitespace ignored, optional sign, decimal
 * digits, and an all-zero fraction ("5.0", "5.00", "5.") is accepted as well. */
static int parse_int_text(const char *text, int64_t *out)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    const char *dot = memchr(text, '.', len);
    if (dot) {
        for (const char *p = dot + 1; p < text + len; p++)
            if (*p != '0')
                return -1;
        len = (size_t)(dot - text);
    }
    char digits[32];
    if (len == 0 || len >= sizeof digits)
        return -1;
    memcpy(digits, text, len);
    digits[len] = '\0';
    const char *d = digits + (digits[0] == '+' || digits[0] == '-');
    if (*d == '\0')
        return -1;
    for (; *d; d++)
        if (!isdigit((unsigned char)*d))
            return -1;
    errno = 0;
    long long n = strtoll(digits, NULL, 10);
    if (errno != 0)
        return -1;
    *out = (int64_t)n;
    return 0;
}

int exo_lax_int(json_object *value, int64_t *out)
{
    if (json_object_is_type(value, json_type_int)) {
        *out = json_object_get_int64(value);
        return 0;
    }
    if (json_object_is_type(value, json_type_double)) {
        double d = json_object_get_double(value);
        if (!isfinite(d) || d != floor(d) || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18)
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (json_object_is_type(value, json_type_string))
        return parse_int_text(json_object_get_string(value), out);
    return -1;
}

/* Records the pydantic error type matching why value is not a lax integer. */
static void add_int_error(exo_reqcheck *rc, json_object *loc, json_object *value)
{
    if (json_object_is_type(value, json_type_string)) {
        add_with_loc(rc, loc, "int_parsing", MSG_INT_PARSING, value, NULL);
    } else if (json_object_is_type(value, json_type_double)) {
        double d = json_object_get_double(value);
        if (!isfinite(d))
            add_with_loc(rc, loc, "finite_number", MSG_FINITE, value, NULL);
        else if (d != floor(d))
            add_with_loc(rc, loc, "int_from_float", MSG_INT_FRACTION, value, NULL);
        else
            add_with_loc(rc, loc, "int_parsing_size",
                         "Unable to parse input string as an integer, exceeded maximum size", value,
                         NULL);
    } else {
        add_with_loc(rc, loc, "int_type", MSG_INT, value, NULL);
    }
}

int exo_req_int(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                int required, int64_t *out)
{
    json_object *v = NULL;
    int r = lookup_field(rc, obj, key, loc_prefix, required, &v);
    if (r != 0)
        return r;
    if (exo_lax_int(v, out) != 0) {
        add_int_error(rc, loc_with_key(loc_prefix, key), v);
        return -1;
    }
    return 0;
}

int exo_req_object(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                   int required, json_object **out)
{
    json_object *v = NULL;
    int r = lookup_field(rc, obj, key, loc_prefix, required, &v);
    if (r != 0)
        return r;
    if (!json_object_is_type(v, json_type_object)) {
        add_with_loc(rc, loc_with_key(loc_prefix, key), "dict_type", MSG_DICT, v, NULL);
        return -1;
    }
    *out = v;
    return 0;
}

int exo_req_array(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                  int required, json_object **out)
{
    json_object *v = NULL;
    int r = lookup_field(rc, obj, key, loc_prefix, required, &v);
    if (r != 0)
        return r;
    if (!json_object_is_type(v, json_type_array)) {
        add_with_loc(rc, loc_with_key(loc_prefix, key), "list_type", MSG_LIST, v, NULL);
        return -1;
    }
    *out = v;
    return 0;
}

int exo_req_string_map(exo_reqcheck *rc, json_object *obj, const char *key,
                       const char *loc_prefix, int required, json_object **out)
{
    json_object *map = NULL;
    int r = exo_req_object(rc, obj, key, loc_prefix, required, &map);
    if (r != 0)
        return r;
    int bad = 0;
    json_object_object_foreach(map, k, v)
    {
        if (!json_object_is_type(v, json_type_string)) {
            add_with_loc(rc, loc_with_key_key(loc_prefix, key, k), "string_type", MSG_STRING, v,
                         NULL);
            bad = 1;
        }
    }
    if (bad)
        return -1;
    *out = map;
    return 0;
}

int exo_req_string_list(exo_reqcheck *rc, json_object *obj, const char *key,
                        const char *loc_prefix, int required, json_object **out)
{
    json_object *list = NULL;
    int r = exo_req_array(rc, obj, key, loc_prefix, required, &list);
    if (r != 0)
        return r;
    int bad = 0;
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_string)) {
            add_with_loc(rc, loc_with_key_index(loc_prefix, key, i), "string_type", MSG_STRING, v,
                         NULL);
            bad = 1;
        } else if (exo_json_string_has_nul(v)) {
            add_nul_error(rc, loc_with_key_index(loc_prefix, key, i), v);
            bad = 1;
        }
    }
    if (bad)
        return -1;
    *out = list;
    return 0;
}

void exo_reqcheck_add_key(exo_reqcheck *rc, const char *loc_prefix, const char *key, const char *type,
                          const char *msg, json_object *input)
{
    add_with_loc(rc, loc_with_key(loc_prefix, key), type, msg, input, NULL);
}

/* 1 when the JSON string v contains needle (over its whole length, NULs included). */
static int string_contains(json_object *v, const char *needle)
{
    return memmem(json_object_get_string(v), (size_t)json_object_get_string_len(v), needle, strlen(needle)) != NULL;
}

static int reject_nul_values(exo_reqcheck *rc, json_object *map, const char *loc, int templates_only)
{
    int bad = 0;
    if (!json_object_is_type(map, json_type_object))
        return 0;
    json_object_object_foreach(map, k, v)
    {
        if (!exo_json_string_has_nul(v) || (templates_only && !string_contains(v, "${{")))
            continue;
        if (templates_only)
            add_with_loc(rc, loc_with_key(loc, k), "value_error",
                         "Value error, a template (a value with '${{') must not contain the NUL character (\\u0000)", v,
                         value_error_ctx());
        else
            add_nul_error(rc, loc_with_key(loc, k), v);
        bad = 1;
    }
    return bad ? -1 : 0;
}

int exo_req_reject_nul_values(exo_reqcheck *rc, json_object *map, const char *loc)
{
    return reject_nul_values(rc, map, loc, 0);
}

int exo_req_reject_nul_templates(exo_reqcheck *rc, json_object *map, const char *loc)
{
    return reject_nul_values(rc, map, loc, 1);
}

int exo_req_value_string(exo_reqcheck *rc, json_object *value, const char *loc, const char **out)
{
    if (!json_object_is_type(value, json_type_string)) {
        exo_reqcheck_add(rc, loc, "string_type", MSG_STRING, value, NULL);
        return -1;
    }
    if (exo_json_string_has_nul(value)) {
        add_nul_error(rc, loc_from_path(loc), value);
        return -1;
    }
    *out = json_object_get_string(value);
    return 0;
}

int exo_req_value_int(exo_reqcheck *rc, json_object *value, const char *loc, int64_t *out)
{
    if (exo_lax_int(value, out) != 0) {
        add_int_error(rc, loc_from_path(loc), value);
        return -1;
    }
    return 0;
}

char *exo_reqcheck_join_loc(const char *prefix, const char *key) { return join_loc(prefix, key); }
