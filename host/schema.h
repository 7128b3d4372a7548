/* Registration JSON (runtime-protocol §5): JSON Schema of an all-string model and
 * the body of PUT nodes/.  Key order follows the reference (properties, required,
 * title, type; default, title, type) although JSON key order is not significant. */
#ifndef EXO_HOST_SCHEMA_H
#define EXO_HOST_SCHEMA_H

#include <json-c/json.h>

#include "plugin.h"

/* The field title of §5.2 ("user_id" -> "User Id", "page2url" -> "Page2Url").
 * Returns a malloc'd string or NULL when out of memory. */
char *host_field_title(const char *name);

/* {"properties": {...}, "required": [...] (omitted when empty), "title": title, "type": "object"} */
json_object *host_fields_schema(const host_field_list *fields, const char *title);

/* One element of "nodes": name, namespace (omitted when ns is NULL), inputs_schema,
 * outputs_schema, secrets. */
json_object *host_node_registration(const host_node *node, const char *ns);

/* The whole PUT nodes/ body. */
json_object *host_registration_body(const char *runtime_name, const char *ns,
                                    const host_node *nodes, size_t n);

#endif
