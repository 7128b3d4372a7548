/* Pydantic-style request-body checking, shared by every state-manager endpoint.
 *
 * A checker collects every problem found in a body (the reference reports all of
 * them together, §1.4/§1.5); the handler answers 422 with exo_reqcheck_detail()
 * when exo_reqcheck_failed().  Each error is an object
 *   {"type": ..., "loc": [...], "msg": ..., "input": ..., ["ctx": ...]}
 * with the pydantic v2 type names and messages:
 *   missing        "Field required"
 *   string_type    "Input should be a valid string"
 *   int_type       "Input should be a valid integer"
 *   int_parsing    "Input should be a valid integer, unable to parse string as an integer"
 *   int_from_float "Input should be a valid integer, got a number with a fractional part"
 *   dict_type      "Input should be a valid dictionary"
 *   list_type      "Input should be a valid list"
 * Not thread-safe per checker; independent checkers may be used from any thread. */
#ifndef EXO_SM_REQCHECK_H
#define EXO_SM_REQCHECK_H

#include <json-c/json.h>
#include <stdint.h>

typedef struct exo_reqcheck {
    json_object *errors; /* NULL until the first error, then a JSON array */
    int oom;             /* an error could not be recorded (out of memory): still "failed" */
} exo_reqcheck;

void exo_reqcheck_init(exo_reqcheck *rc);
void exo_reqcheck_free(exo_reqcheck *rc);
int exo_reqcheck_failed(const exo_reqcheck *rc);

/* loc is a dot path like "body.nodes.3.identifier": segments made only of digits
 * become JSON integers.  input is borrowed (stored with a new reference; NULL is
 * stored as JSON null); ctx is owned (may be NULL = no "ctx" member). */
void exo_reqcheck_add(exo_reqcheck *rc, const char *loc, const char *type, const char *msg,
                      json_object *input, json_object *ctx);

/* Same as exo_reqcheck_add at loc_prefix + [key], key kept whole (an object key may
 * contain dots or be all digits). */
void exo_reqcheck_add_key(exo_reqcheck *rc, const char *loc_prefix, const char *key, const char *type,
                          const char *msg, json_object *input);

/* Records a custom-rule failure: type "value_error", msg "Value error, " + message,
 * ctx {"error":{}} (§1.5). */
void exo_reqcheck_value_error(exo_reqcheck *rc, const char *loc, const char *message,
                              json_object *input);

/* 1 when v is a JSON string containing U+0000. */
int exo_json_string_has_nul(json_object *v);
/* Records a value_error at loc.<key> for every string value of the object map that
 * contains U+0000 (values that end up as C strings, e.g. secret values); -1 when
 * one did, else 0. */
int exo_req_reject_nul_values(exo_reqcheck *rc, json_object *map, const char *loc);
/* The same for template maps (node inputs, trigger inputs): only values that contain
 * both U+0000 and "${{" are refused (templates are parsed as C strings); a plain
 * value is used as a literal and keeps its NULs. */
int exo_req_reject_nul_templates(exo_reqcheck *rc, json_object *map, const char *loc);

/* Field getters.  obj is the enclosing JSON object (NULL or a non-object => every
 * field is "missing"), loc_prefix the loc of obj ("body", "body.nodes.0").
 * Return 0 = present and valid (*out set; borrowed from obj),
 *        1 = absent, or JSON null when not required (*out untouched, caller applies default),
 *       -1 = invalid (error recorded: missing / string_type / int_parsing /
 *            value_error for a string (not a map value) containing U+0000 /
 *            int_from_float / dict_type / list_type ...).
 * A required field that is JSON null is a type error (pydantic), not "missing". */
int exo_req_string(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                   int required, const char **out);
/* lax integer: 5, 5.0, "5", " 5 ", "+5", and strings with an all-zero fraction
 * "5.0" / "5.00" / "5." (pydantic-core str_as_int); int64 range, beyond => int_parsing. */
int exo_req_int(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                int required, int64_t *out);
int exo_req_object(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                   int required, json_object **out);
int exo_req_array(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc_prefix,
                  int required, json_object **out);
/* object whose values are all strings; each bad value reported at loc prefix.key.<k> */
int exo_req_string_map(exo_reqcheck *rc, json_object *obj, const char *key,
                       const char *loc_prefix, int required, json_object **out);
/* array whose items are all strings; each bad item reported at loc prefix.key.<i> */
int exo_req_string_list(exo_reqcheck *rc, json_object *obj, const char *key,
                        const char *loc_prefix, int required, json_object **out);

/* Value checkers for values the caller already holds (array items, path params):
 * same semantics as the getters, loc is the full loc of the value. */
int exo_req_value_string(exo_reqcheck *rc, json_object *value, const char *loc, const char **out);
int exo_req_value_int(exo_reqcheck *rc, json_object *value, const char *loc, int64_t *out);
/* Lax integer conversion without recording anything: 0 ok, -1 not an integer. */
int exo_lax_int(json_object *value, int64_t *out);

/* "prefix" + "." + key (or key alone when prefix is empty); malloc'd, NULL on OOM. */
char *exo_reqcheck_join_loc(const char *prefix, const char *key);

/* 422 body {"detail":[...errors...]}; returns a new object (empty list when no error). */
json_object *exo_reqcheck_detail(const exo_reqcheck *rc);

#endif
