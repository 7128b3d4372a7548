#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

static const char *type_name(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

/* Builds {declared field: string} from src per the rules of the header. */
static int select_fields(const host_field_list *fields, json_object *src, const char *kind,
                         const char *where, json_object **out, char *err, size_t errlen)
{
    json_object *dst = json_object_new_object();
    if (!dst) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < fields->count; i++) {
        const host_field *f = &fields->items[i];
        json_object *v = NULL;
        bool present = src && json_object_object_get_ex(src, f->name, &v) && v != NULL;
        const char *value = NULL;
        size_t len = 0;
        if (present) {
            if (!json_object_is_type(v, json_type_string)) {
                snprintf(err, errlen, "%s '%s'%s must be a string, got %s", kind, f->name, where,
                         type_name(v));
                goto fail;
            }
            value = json_object_get_string(v);
            len = (size_t)json_object_get_string_len(v);
            /* The report is JSON text: the state manager would refuse it whole. */
            if (!exo_utf8_valid(value, len)) {
                snprintf(err, errlen, "%s '%s'%s is not valid UTF-8", kind, f->name, where);
                goto fail;
            }
        } else if (f->def) {
            value = f->def;
            len = strlen(value);
        } else {
            snprintf(err, errlen, "%s '%s'%s is required", kind, f->name, where);
            goto fail;
        }
        json_object *s = json_object_new_string_len(value, (int)len);
        if (!s || json_object_object_add(dst, f->name, s) != 0) {
            json_object_put(s);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    *out = dst;
    return 0;
fail:
    json_object_put(dst);
    return -1;
}

int host_validate_inputs(const host_node *node, json_object *inputs, json_object **out,
                         char *err, size_t errlen)
{
    if (inputs && !json_object_is_type(inputs, json_type_object)) {
        snprintf(err, errlen, "inputs must be an object, got %s", type_name(inputs));
        return -1;
    }
    return select_fields(&node->inputs, inputs, "input", "", out, err, errlen);
}

int host_select_secrets(const host_node *node, json_object *secrets, json_object **out,
                        char *err, size_t errlen)
{
    if (secrets && !json_object_is_type(secrets, json_type_object))
        secrets = NULL;
    return select_fields(&node->secrets, secrets, "secret", "", out, err, errlen);
}

int host_validate_outputs(const host_node *node, json_object *outputs, json_object **out,
                          char *err, size_t errlen)
{
    if (!outputs || !json_object_is_type(outputs, json_type_array)) {
        snprintf(err, errlen, "the node's result has no list of outputs");
        return -1;
    }
    json_object *list = json_object_new_array();
    if (!list) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = json_object_array_length(outputs);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(outputs, i);
        char where[64] = "";
        if (n > 1)
            snprintf(where, sizeof where, " (output object %zu of %zu)", i + 1, n);
        if (!o || !json_object_is_type(o, json_type_object)) {
            snprintf(err, errlen, "output object %zu is not an object", i + 1);
            goto fail;
        }
        json_object *clean = NULL;
        if (select_fields(&node->outputs, o, "output", where, &clean, err, errlen) < 0)
            goto fail;
        if (json_object_array_add(list, clean) != 0) {
            json_object_put(clean);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    *out = list;
    return 0;
fail:
    json_object_put(list);
    return -1;
}

int host_validate_store(json_object *store, char *err, size_t errlen)
{
    if (!json_object_is_type(store, json_type_object)) {
        snprintf(err, errlen, "store must be an object");
        return -1;
    }
    json_object_object_foreach(store, key, value)
    {
        if (!key[0] || strchr(key, '.')) {
            snprintf(err, errlen, "store key '%s' is empty or contains '.'", key);
            return -1;
        }
        if (!json_object_is_type(value, json_type_string)) {
            snprintf(err, errlen, "store value of '%s' must be a string", key);
            return -1;
        }
        if (!exo_utf8_valid(key, strlen(key))) {
            snprintf(err, errlen, "a store key is not valid UTF-8");
            return -1;
        }
        if (!exo_utf8_valid(json_object_get_string(value),
                            (size_t)json_object_get_string_len(value))) {
            snprintf(err, errlen, "store value of '%s' is not valid UTF-8", key);
            return -1;
        }
    }
    return 0;
}

bool host_json_utf8_valid(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        return exo_utf8_valid(json_object_get_string(v), (size_t)json_object_get_string_len(v));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!host_json_utf8_valid(json_object_array_get_idx(v, i)))
                return false;
        return true;
    case json_type_object: {
        json_object_object_foreach(v, key, value)
        {
            if (!exo_utf8_valid(key, strlen(key)) || !host_json_utf8_valid(value))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}
