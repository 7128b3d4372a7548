/* Checks of data crossing the host boundary, done in the parent (the child is
 * untrusted): inputs before a state runs, secrets, and the outputs a child sent.
 * Each function returns 0 and a new object, or -1 with err naming the field. */
#ifndef EXO_HOST_VALIDATE_H
#define EXO_HOST_VALIDATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "plugin.h"

/* inputs (may be NULL) -> object with exactly the declared inputs: defaults applied,
 * extra keys dropped; "input 'x' is required" / "input 'x' must be a string". */
int host_validate_inputs(const host_node *node, json_object *inputs, json_object **out,
                         char *err, size_t errlen);

/* secrets map from the state manager (may be NULL) -> declared secrets only. */
int host_select_secrets(const host_node *node, json_object *secrets, json_object **out,
                        char *err, size_t errlen);

/* The "outputs" array of a child result -> the array to report: each element an
 * object with exactly the declared outputs (defaults applied, unknown dropped);
 * "output 'x' is not valid UTF-8" for a value the state manager could not read. */
int host_validate_outputs(const host_node *node, json_object *outputs, json_object **out,
                          char *err, size_t errlen);

/* The "store" object of a child result: string values, keys without '.', all of it
 * valid UTF-8. */
int host_validate_store(json_object *store, char *err, size_t errlen);

/* Whether every string and key below v is valid UTF-8 (a report must be JSON text). */
bool host_json_utf8_valid(json_object *v);

#endif
