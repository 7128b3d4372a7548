/* A plugin's node descriptor (exo_node) crossing from the process that loaded the
 * plugin to the one that did not.
 *
 * exo-host never maps node code: the probe (probe.h) loads the plugin in a sandboxed
 * process, checks that the descriptor and every string and list it points to lie
 * inside the plugin's own mapped segments (a descriptor whose pointers lead
 * elsewhere is refused with a message, never followed), validates it
 * (host_node_from_def) and writes a JSON copy to its pipe:
 *   {"abi_version": N, "struct_size": N, "name": "...",
 *    "inputs": ["a", "b=default"], "outputs": [...], "secrets": [...]}
 * The host reads that copy as untrusted input (the plugin's constructors ran in the
 * probe and may have written anything) and validates it again with the same
 * host_node_from_def. */
#ifndef EXO_HOST_DESCRIPTOR_H
#define EXO_HOST_DESCRIPTOR_H

#include <json-c/json.h>
#include <stddef.h>

#include <exo/node.h>

#include "plugin.h"

/* Checks that def (exported by the object dl) and everything it points to lies in
 * that object's mapped, readable segments.  0 or -1 with err naming the field. */
int host_descriptor_check_bounds(void *dl, const exo_node_def *def, char *err, size_t errlen);

/* The JSON copy of a validated node's descriptor (NULL when out of memory). */
json_object *host_descriptor_to_json(const host_node *node);

/* Parses and validates a copy made by host_descriptor_to_json; origin names the
 * plugin in messages.  0 or -1 with err. */
int host_descriptor_from_json(json_object *o, const char *origin, host_node *out, char *err,
                              size_t errlen);

#endif
