/* exoctl's output formatting: aligned text tables for people, JSON for scripts. */
#ifndef EXOCTL_OUTPUT_H
#define EXOCTL_OUTPUT_H

#include <json-c/json.h>
#include <stdio.h>

/* A table of text cells printed with each column padded to its widest cell.
 * Cells are copied; newlines and tabs inside a cell are shown as spaces. */
typedef struct text_table text_table;

text_table *table_new(size_t column_count, const char *const *headers);
/* cells has column_count entries; NULL prints as "-".  Returns 0 or -1 (no memory). */
int table_add_row(text_table *table, const char *const *cells);
void table_print(const text_table *table, FILE *out);
void table_free(text_table *table);

/* Pretty-printed JSON followed by a newline. */
void print_json(FILE *out, json_object *value);

/* Text for a JSON value in a table or key/value listing: strings as they are,
 * null as "-", anything else as compact JSON.  The result lives as long as value. */
const char *json_cell(json_object *value);

/* Prints every key of a JSON object as "<indent>key = value", keys aligned;
 * prints "<indent>(none)" for an empty or missing object. */
void print_key_values(FILE *out, const char *indent, json_object *object);

/* String member of an object, or NULL when absent or not a string. */
const char *json_get_string(json_object *object, const char *key);

/* Member of an object, or NULL (also when object is not an object). */
json_object *json_member(json_object *object, const char *key);

/* Element count of an array; 0 for anything else (missing, null, another type). */
size_t json_length(json_object *array);

/* "a, b, c" from an array of values or from an object's keys; "-" when empty.
 * Truncated to fit buf. */
void json_join_names(json_object *value, char *buf, size_t len);

#endif
