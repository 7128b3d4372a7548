/* Checks on a request body's JSON text for what json-c's parsed tree can no
 * longer show, so that nothing is silently stored differently from what was sent:
 *  - integer literals outside [-2^63, 2^64-1]: json-c clamps them to the nearest
 *    64-bit value (100000000000000000000 would become 18446744073709551615);
 *  - object keys containing U+0000: json-c keeps keys as C strings and cuts them
 *    at the NUL ("a\u0000x" and "a\u0000y" would both become "a").
 * Both are refused with a 422 naming the field (loc ["body", key/index...]).
 * Pure function, thread-safe. */
#ifndef EXO_SM_JSON_GUARD_H
#define EXO_SM_JSON_GUARD_H

#include <json-c/json.h>
#include <stddef.h>

/* text: syntactically valid JSON (already accepted by json-c, nesting <= max_depth).
 * Returns NULL when the body is representable, else a new 422 body
 * {"detail":[{"type":"value_error","loc":[...],"msg":"Value error, ...","input":...,"ctx":{"error":{}}}]}
 * listing every offending value/key.  *oom is set when memory ran out (the
 * check then fails closed: NULL is never returned for a bad body silently). */
json_object *exo_json_guard(const char *text, size_t len, int max_depth, int *oom);

#endif
