#include "schema.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

char *host_field_title(const char *name)
{
    size_t n = strlen(name);
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (is_letter(c)) {
            bool after_letter = i > 0 && is_letter(name[i - 1]);
            if (after_letter && c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            else if (!after_letter && c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
        } else if (c == '_') {
            c = ' ';
        }
        t[i] = c;
    }
    t[n] = '\0';
    size_t start = 0;
    while (t[start] == ' ')
        start++;
    size_t end = n;
    while (end > start && t[end - 1] == ' ')
        end--;
    memmove(t, t + start, end - start);
    t[end - start] = '\0';
    return t;
}

/* Adds key to obj; on failure frees value and returns -1. */
static int put(json_object *obj, const char *key, json_object *value)
{
    if (!value || json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static json_object *property(const host_field *f)
{
    json_object *p = json_object_new_object();
    char *title = host_field_title(f->name);
    if (!p || !title)
        goto fail;
    if (f->def && put(p, "default", json_object_new_string(f->def)) < 0)
        goto fail;
    if (put(p, "title", json_object_new_string(title)) < 0 ||
        put(p, "type", json_object_new_string("string")) < 0)
        goto fail;
    free(title);
    return p;
fail:
    free(title);
    json_object_put(p);
    return NULL;
}

json_object *host_fields_schema(const host_field_list *fields, const char *title)
{
    json_object *schema = json_object_new_object();
    json_object *props = json_object_new_object();
    json_object *required = json_object_new_array();
    if (!schema || !props || !required)
        goto fail;
    for (size_t i = 0; i < fields->count; i++) {
        const host_field *f = &fields->items[i];
        if (put(props, f->name, property(f)) < 0)
            goto fail;
        if (!f->def && json_object_array_add(required, json_object_new_string(f->name)) != 0)
            goto fail;
    }
    if (put(schema, "properties", props) < 0) {
        props = NULL;
        goto fail;
    }
    props = NULL;
    if (json_object_array_length(required) > 0) {
        json_object *r = required;
        required = NULL;
        if (put(schema, "required", r) < 0)
            goto fail;
    }
    if (put(schema, "title", json_object_new_string(title)) < 0 ||
        put(schema, "type", json_object_new_string("object")) < 0)
        goto fail;
    json_object_put(required);
    return schema;
fail:
    json_object_put(schema);
    json_object_put(props);
    json_object_put(required);
    return NULL;
}

json_object *host_node_registration(const host_node *node, const char *ns)
{
    json_object *o = json_object_new_object();
    json_object *secrets = json_object_new_array();
    if (!o || !secrets)
        goto fail;
    for (size_t i = 0; i < node->secrets.count; i++)
        if (json_object_array_add(secrets, json_object_new_string(node->secrets.items[i].name)) != 0)
            goto fail;
    if (put(o, "name", json_object_new_string(node->name)) < 0)
        goto fail;
    if (ns && put(o, "namespace", json_object_new_string(ns)) < 0)
        goto fail;
    if (put(o, "inputs_schema", host_fields_schema(&node->inputs, "Inputs")) < 0 ||
        put(o, "outputs_schema", host_fields_schema(&node->outputs, "Outputs")) < 0)
        goto fail;
    json_object *s = secrets;
    secrets = NULL;
    if (put(o, "secrets", s) < 0)
        goto fail;
    return o;
fail:
    json_object_put(o);
    json_object_put(secrets);
    return NULL;
}

json_object *host_registration_body(const char *runtime_name, const char *ns,
                                    const host_node *nodes, size_t n)
{
    json_object *body = json_object_new_object();
    json_object *list = json_object_new_array();
    if (!body || !list)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        json_object *node = host_node_registration(&nodes[i], ns);
        if (!node || json_object_array_add(list, node) != 0) {
            json_object_put(node);
            goto fail;
        }
    }
    if (put(body, "runtime_name", json_object_new_string(runtime_name)) < 0 ||
        put(body, "runtime_namespace", json_object_new_string(ns)) < 0)
        goto fail;
    json_object *l = list;
    list = NULL;
    if (put(body, "nodes", l) < 0)
        goto fail;
    return body;
fail:
    json_object_put(body);
    json_object_put(list);
    return NULL;
}
