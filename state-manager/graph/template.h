/* Placeholder strings ("dependent strings", spec §4): literal text with
 * `${{ <identifier>.outputs.<field> }}` and `${{ store.<key> }}` placeholders.
 *
 * Parsing follows §4.2 exactly (split on "${{", first "}}" closes, content split
 * on '.', parts trimmed), including its error messages:
 *   "Invalid syntax string placeholder <piece> for: <whole> '${' not closed"
 *   "Invalid syntax string placeholder <content> for: <whole>"
 * Rendering (§4.3) concatenates head + (value_i + tail_i)...; values come from a
 * caller-supplied lookup so the same code serves trigger, next-state and unite
 * resolution.  Pure functions, thread-safe. */
#ifndef EXO_SM_TEMPLATE_H
#define EXO_SM_TEMPLATE_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct exo_placeholder {
    char *identifier; /* trimmed; "store" for store placeholders */
    char *field;      /* trimmed output field or store key */
    char *tail;       /* literal text following the placeholder (verbatim) */
} exo_placeholder;

typedef struct exo_template {
    char *head; /* literal text before the first placeholder */
    size_t count;
    exo_placeholder *items;
} exo_template;

/* Parses text into *out.  Returns 0 on success; -1 on a syntax error with *err set
 * to a malloc'd §4.2 message (caller frees); -1 with *err == NULL on allocation
 * failure.  *out is always safe to pass to exo_template_free afterwards. */
int exo_template_parse(const char *text, exo_template *out, char **err);
void exo_template_free(exo_template *t);

/* 1 when the placeholder is a store reference (identifier "store"). */
int exo_placeholder_is_store(const exo_placeholder *p);

/* Returns 1 when the string contains at least one "${{" (i.e. is not plain text). */
int exo_template_has_placeholders(const char *text);

/* Value source for rendering.  Return 0 and set *value to the referenced JSON value
 * (borrowed; NULL stands for JSON null), or return -1 and set *err to a malloc'd
 * message saying what is missing (rendering fails with exactly that message). */
typedef int (*exo_template_lookup_fn)(void *ud, const exo_placeholder *p, json_object **value,
                                      char **err);

/* Renders t.  Returns a malloc'd string, or NULL with *err (malloc'd) on failure:
 *  - the lookup's own message;
 *  - JSON null value: "Dependent value is not set for: identifier='X' field='f' tail='...' value=None";
 *  - non-string value: "unsupported operand type(s) for +: '<int|float|bool|dict|list>' and 'str'".
 * NULL with *err == NULL means allocation failure. */
char *exo_template_render(const exo_template *t, exo_template_lookup_fn lookup, void *ud,
                          char **err);

/* parse + render in one call; parse errors are returned through *err as well. */
char *exo_template_render_text(const char *text, exo_template_lookup_fn lookup, void *ud,
                               char **err);
/* The same, also giving the rendered length: substituted values may contain U+0000
 * (the result is still NUL-terminated after *out_len bytes). */
char *exo_template_render_len(const exo_template *t, exo_template_lookup_fn lookup, void *ud,
                              char **err, size_t *out_len);
char *exo_template_render_text_len(const char *text, exo_template_lookup_fn lookup, void *ud,
                                   char **err, size_t *out_len);
/* Renders a JSON string value: like exo_template_render_text_len, except that a value
 * containing U+0000 is used as a literal, byte-exact, when it has no "${{" (and fails
 * with a message when it has one: templates are parsed as C strings). */
char *exo_template_render_json(json_object *text, exo_template_lookup_fn lookup, void *ud, char **err,
                               size_t *out_len);

/* Python repr of a JSON value ('a', 1, 1.5, True, None, ['a', 1], {'k': 1}) as the
 * reference's messages show it; NULL means JSON null.  malloc'd, NULL on OOM. */
char *exo_py_repr(json_object *v);
/* Python repr of a str ('it''s' quoting rules of CPython). malloc'd, NULL on OOM. */
char *exo_py_str_repr(const char *s);

#endif
