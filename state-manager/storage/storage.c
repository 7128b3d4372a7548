/* Backend-independent parts of the storage layer: backend selection, row freeing. */
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

exo_storage *exo_storage_sqlite_open(const char *path, char *err, size_t errlen);

const char *const exo_status_names[EXO_ST_COUNT] = {
    "CREATED", "QUEUED", "EXECUTED", "ERRORED", "NEXT_CREATED_ERROR", "SUCCESS", "PRUNED", "RETRY_CREATED",
};

int exo_status_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < EXO_ST_COUNT; i++)
        if (!strcmp(exo_status_names[i], name))
            return i;
    return -1;
}

exo_storage *exo_storage_open(const char *db, char *err, size_t errlen)
{
    if (!strncmp(db, "postgres://", 11) || !strncmp(db, "postgresql://", 13)) {
        snprintf(err, errlen, "--db %.*s...: PostgreSQL support is not built yet", 11, db);
        return NULL;
    }
    return exo_storage_sqlite_open(db, err, errlen);
}

void exo_node_row_free(exo_node_row *r)
{
    free(r->name);
    free(r->namespace_name);
    free(r->runtime_name);
    json_object_put(r->inputs_schema);
    json_object_put(r->outputs_schema);
    json_object_put(r->secrets);
    memset(r, 0, sizeof *r);
}

void exo_graph_row_free(exo_graph_row *r)
{
    free(r->namespace_name);
    free(r->name);
    json_object_put(r->template_);
    free(r->validation_status);
    json_object_put(r->validation_errors);
    memset(r, 0, sizeof *r);
}

void exo_state_row_free(exo_state_row *r)
{
    free(r->node_name);
    free(r->namespace_name);
    free(r->identifier);
    free(r->graph_name);
    free(r->run_id);
    json_object_put(r->inputs);
    json_object_put(r->outputs);
    json_object_put(r->data);
    json_object_put(r->parents);
    free(r->error);
    free(r->unite_key);
    free(r->fanout_id);
    free(r->manual_retry_fanout_id);
    memset(r, 0, sizeof *r);
}

void exo_run_row_free(exo_run_row *r)
{
    free(r->run_id);
    free(r->graph_name);
    memset(r, 0, sizeof *r);
}

void exo_trigger_row_free(exo_trigger_row *r)
{
    free(r->expression);
    free(r->namespace_name);
    free(r->graph_name);
    memset(r, 0, sizeof *r);
}

#define ROWS_FREE(fn, type, one)                 \
    void fn(type *rows, size_t n)                \
    {                                            \
        for (size_t i = 0; rows && i < n; i++)   \
            one(&rows[i]);                       \
        free(rows);                              \
    }
ROWS_FREE(exo_node_rows_free, exo_node_row, exo_node_row_free)
ROWS_FREE(exo_graph_rows_free, exo_graph_row, exo_graph_row_free)
ROWS_FREE(exo_state_rows_free, exo_state_row, exo_state_row_free)
ROWS_FREE(exo_run_rows_free, exo_run_row, exo_run_row_free)
