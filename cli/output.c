#include "output.h"

#include <stdlib.h>
#include <string.h>

struct text_table {
    size_t columns;
    size_t rows; /* including the header row */
    size_t capacity;
    char **cells; /* rows * columns, row-major */
};

/* Copies a cell, turning control characters into spaces so rows stay on one line. */
static char *copy_cell(const char *text)
{
    char *copy = strdup(text ? text : "-");
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return copy;
}

text_table *table_new(size_t column_count, const char *const *headers)
{
    text_table *table = calloc(1, sizeof *table);
    if (!table)
        return NULL;
    table->columns = column_count;
    if (table_add_row(table, headers) != 0) {
        table_free(table);
        return NULL;
    }
    return table;
}

int table_add_row(text_table *table, const char *const *cells)
{
    if (table->rows == table->capacity) {
        size_t capacity = table->capacity ? table->capacity * 2 : 8;
        char **grown = realloc(table->cells, capacity * table->columns * sizeof *grown);
        if (!grown)
            return -1;
        table->cells = grown;
        table->capacity = capacity;
    }
    char **row = table->cells + table->rows * table->columns;
    for (size_t c = 0; c < table->columns; c++) {
        row[c] = copy_cell(cells[c]);
        if (!row[c]) {
            while (c > 0)
                free(row[--c]);
            return -1;
        }
    }
    table->rows++;
    return 0;
}

/* Display width of UTF-8 text: counts code points, not bytes. */
static size_t display_width(const char *text)
{
    size_t width = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            width++;
    return width;
}

void table_print(const text_table *table, FILE *out)
{
    size_t *widths = calloc(table->columns, sizeof *widths);
    if (!widths)
        return;
    for (size_t r = 0; r < table->rows; r++)
        for (size_t c = 0; c < table->columns; c++) {
            size_t w = display_width(table->cells[r * table->columns + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    for (size_t r = 0; r < table->rows; r++) {
        for (size_t c = 0; c < table->columns; c++) {
            const char *cell = table->cells[r * table->columns + c];
            int last = c + 1 == table->columns;
            fputs(cell, out);
            if (!last)
                fprintf(out, "%*s", (int)(widths[c] - display_width(cell) + 2), "");
        }
        fputc('\n', out);
    }
    free(widths);
}

void table_free(text_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->rows * table->columns; i++)
        free(table->cells[i]);
    free(table->cells);
    free(table);
}

void print_json(FILE *out, json_object *value)
{
    fprintf(out, "%s\n",
            json_object_to_json_string_ext(value, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                      | JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *json_cell(json_object *value)
{
    if (!value)
        return "-";
    if (json_object_is_type(value, json_type_string))
        return json_object_get_string(value);
    return json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN
                                                     | JSON_C_TO_STRING_NOSLASHESCAPE);
}

void print_key_values(FILE *out, const char *indent, json_object *object)
{
    if (!json_object_is_type(object, json_type_object) || json_object_object_length(object) == 0) {
        fprintf(out, "%s(none)\n", indent);
        return;
    }
    size_t width = 0;
    json_object_object_foreach(object, key, unused) {
        (void)unused;
        size_t w = display_width(key);
        if (w > width)
            width = w;
    }
    json_object_object_foreach(object, k, v) {
        fprintf(out, "%s%s%*s = %s\n", indent, k, (int)(width - display_width(k)), "",
                json_cell(v));
    }
}

const char *json_get_string(json_object *object, const char *key)
{
    json_object *value;
    if (!json_object_object_get_ex(object, key, &value) || !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

/* "a, b, c" from an array of strings. */
void json_join_names(json_object *value, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    if (json_object_is_type(value, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(value) && used < len; i++) {
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                     json_cell(json_object_array_get_idx(value, i)));
        }
    } else if (json_object_is_type(value, json_type_object)) {
        json_object_object_foreach(value, key, unused) {
            (void)unused;
            if (used >= len)
                break;
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", key);
        }
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "-");
}

json_object *json_member(json_object *object, const char *key)
{
    json_object *value = NULL;
    json_object_object_get_ex(object, key, &value);
    return value;
}


size_t json_length(json_object *array)
{
    return json_object_is_type(array, json_type_array) ? json_object_array_length(array) : 0;
}
