/* Registry (engine.h): registered nodes, graph templates and namespaces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "log.h"
#include "secrets_crypto.h"
#include "strfmt.h"

/* ---- nodes ------------------------------------------------------------------------------------------ */

typedef struct nodes_tx {
    const char *ns, *runtime_name;
    json_object *nodes;
} nodes_tx;

static int nodes_body(exo_app *app, void *arg)
{
    nodes_tx *t = arg;
    int64_t now = exo_now_ms();
    for (size_t i = 0; i < json_object_array_length(t->nodes); i++) {
        json_object *node = json_object_array_get_idx(t->nodes, i);
        exo_node_row row = {0};
        if (exo_id_new(row.id) != 0)
            return -1;
        row.created_at = row.updated_at = row.registered_at = now;
        row.name = (char *)json_object_get_string(json_object_object_get(node, "name"));
        row.namespace_name = (char *)t->ns;
        row.runtime_name = (char *)t->runtime_name;
        row.inputs_schema = json_object_object_get(node, "inputs_schema");
        row.outputs_schema = json_object_object_get(node, "outputs_schema");
        row.secrets = json_object_object_get(node, "secrets");
        if (exo_db_node_upsert(app->db, &row) != 0)
            return -1;
    }
    return 0;
}

exo_result exo_engine_register_nodes(exo_app *app, const char *ns, const char *runtime_name, json_object *nodes)
{
    nodes_tx t = {.ns = ns, .runtime_name = runtime_name, .nodes = nodes};
    if (exo_app_tx(app, nodes_body, &t) < 0)
        return EXO_RESULT_FAILED;
    exo_app_request_verify(app, 1);
    log_info("namespace %s: runtime %s registered %zu node(s)", ns, runtime_name, json_object_array_length(nodes));
    return EXO_RESULT_OK;
}

exo_result exo_engine_list_nodes(exo_app *app, const char *ns, exo_node_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_node_list(app->db, ns, rows, n);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_namespaces(exo_app *app, json_object **names)
{
    exo_app_db_enter(app);
    int rc = exo_db_namespaces(app->db, names);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

/* ---- graph templates -------------------------------------------------------------------------------- */

exo_result exo_engine_get_graph(exo_app *app, const char *ns, const char *name, exo_graph_row *row)
{
    exo_app_db_enter(app);
    int rc = exo_db_graph_get(app->db, ns, name, row);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

exo_result exo_engine_list_graphs(exo_app *app, const char *ns, exo_graph_row **rows, size_t *n)
{
    exo_app_db_enter(app);
    int rc = exo_db_graph_list(app->db, ns, rows, n);
    exo_app_db_leave(app);
    return exo_result_of(rc);
}

static int name_listed(json_object *names, const char *name)
{
    for (size_t i = 0; names && i < json_object_array_length(names); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(names, i)), name))
            return 1;
    return 0;
}

/* Ciphertext of secret `name` in the stored graph ns/graph (a new string), or NULL
 * with err naming what is missing. */
static json_object *stored_secret(exo_app *app, const char *ns, const char *graph, const char *name, char *err,
                                  size_t errlen)
{
    exo_graph_row row = {0};
    exo_result r = exo_engine_get_graph(app, ns, graph, &row);
    json_object *secrets = NULL, *value = NULL;
    if (r == EXO_RESULT_OK && json_object_object_get_ex(row.template_, "secrets", &secrets) &&
        json_object_object_get_ex(secrets, name, &value) && json_object_is_type(value, json_type_string))
        value = json_object_new_string(json_object_get_string(value));
    else
        value = NULL;
    exo_graph_row_free(&row);
    if (!value)
        exo_errf(err, errlen, "secret %s is given as true (keep the stored value) but graph %s has no stored secret %s",
                 name, graph, name);
    return value;
}

/* Replaces every plain-text secret of g by its ciphertext; the ones named in keep
 * take the stored graph's ciphertext.  0, or -1 with err. */
static int encrypt_secrets(exo_app *app, exo_graph *g, const char *ns, const char *graph, json_object *keep,
                           char *err, size_t errlen)
{
    if (!g->secrets || json_object_object_length(g->secrets) == 0)
        return 0;
    if (!app->cfg.have_key)
        return exo_errf(err, errlen, "%s", app->cfg.key_error);
    json_object *enc = json_object_new_object();
    if (!enc)
        return exo_errf(err, errlen, "Out of memory");
    json_object_object_foreach(g->secrets, name, val)
    {
        if (name_listed(keep, name)) {
            json_object *kept = stored_secret(app, ns, graph, name, err, errlen);
            if (!kept) {
                json_object_put(enc);
                return -1;
            }
            json_object_object_add(enc, name, kept);
            continue;
        }
        char *c = exo_secret_encrypt(&app->cfg.key, json_object_get_string(val), err, errlen);
        if (!c) {
            json_object_put(enc);
            return -1;
        }
        json_object_object_add(enc, name, json_object_new_string(c));
        free(c);
    }
    json_object_put(g->secrets);
    g->secrets = enc;
    return 0;
}

/* Drops the pending cron records of the version being replaced (re-created if the
 * new one verifies VALID). */
static int drop_schedule(exo_app *app, const exo_graph_row *old)
{
    char *err = NULL;
    exo_graph *prev = exo_graph_from_stored(old->template_, &err);
    if (!prev) {
        log_error("stored graph %s/%s cannot be loaded (%s): its schedule is left as is", old->namespace_name,
                  old->name, err ? err : "out of memory");
        free(err);
        return 0;
    }
    json_object *exprs = exo_graph_cron_expressions(prev);
    int rc = exprs ? 0 : -1; /* out of memory: a pending firing of the previous version must not survive */
    for (size_t i = 0; exprs && i < json_object_array_length(exprs); i++)
        if (exo_db_trigger_delete_pending(app->db, old->namespace_name, old->name,
                                          json_object_get_string(json_object_array_get_idx(exprs, i))) != 0)
            rc = -1;
    json_object_put(exprs);
    exo_graph_free(prev);
    return rc;
}

typedef struct upsert_tx {
    const char *ns, *name;
    json_object *stored;
    int64_t now;
    int64_t created_at, updated_at;
} upsert_tx;

static int upsert_body(exo_app *app, void *arg)
{
    upsert_tx *u = arg;
    exo_graph_row old = {0};
    int rc = exo_db_graph_get(app->db, u->ns, u->name, &old);
    if (rc < 0)
        return -1;
    exo_graph_row row = {0};
    if (rc == 0) {
        memcpy(row.id, old.id, sizeof row.id);
        row.created_at = old.created_at;
        rc = drop_schedule(app, &old);
        exo_graph_row_free(&old);
        if (rc < 0)
            return -1;
    } else {
        if (exo_id_new(row.id) != 0)
            return -1;
        row.created_at = u->now;
    }
    row.updated_at = u->now;
    row.namespace_name = (char *)u->ns;
    row.name = (char *)u->name;
    row.template_ = u->stored;
    row.validation_status = EXO_GRAPH_PENDING;
    row.validation_errors = json_object_new_array();
    if (!row.validation_errors)
        return -1;
    rc = exo_db_graph_save(app->db, &row);
    json_object_put(row.validation_errors);
    u->created_at = row.created_at;
    u->updated_at = row.updated_at;
    return rc;
}

/* 1 when the graph is already stored (the upsert is an update), 0 when not, -1 on
 * error.  Only the order of validation messages depends on it, so reading it
 * outside the upsert transaction is enough. */
static int graph_exists(exo_app *app, const char *ns, const char *name)
{
    exo_graph_row row = {0};
    exo_result r = exo_engine_get_graph(app, ns, name, &row);
    exo_graph_row_free(&row);
    return r == EXO_RESULT_FAILED ? -1 : r == EXO_RESULT_OK;
}

exo_result exo_engine_upsert_graph(exo_app *app, const char *ns, const char *name, exo_graph *g,
                                   int64_t *created_at, int64_t *updated_at, char **detail)
{
    return exo_engine_upsert_graph_ex(app, ns, name, g, NULL, created_at, updated_at, detail);
}

exo_result exo_engine_upsert_graph_ex(exo_app *app, const char *ns, const char *name, exo_graph *g, json_object *keep,
                                      int64_t *created_at, int64_t *updated_at, char **detail)
{
    int exists = graph_exists(app, ns, name);
    if (exists < 0)
        return EXO_RESULT_FAILED;
    char *diag = exo_graph_validate_ex(g, name, ns, exists);
    if (diag) {
        *detail = exo_strfmt("Error validating graph template: %s", diag);
        free(diag);
        return EXO_RESULT_REFUSED;
    }
    char why[256];
    if (encrypt_secrets(app, g, ns, name, keep, why, sizeof why) != 0) {
        *detail = exo_strfmt("Error validating graph template: %s", why);
        return EXO_RESULT_REFUSED;
    }
    upsert_tx u = {.ns = ns, .name = name, .stored = exo_graph_to_json(g, 1), .now = exo_now_ms()};
    int rc = u.stored ? exo_app_tx(app, upsert_body, &u) : -1;
    json_object_put(u.stored);
    if (rc < 0)
        return EXO_RESULT_FAILED;
    *created_at = u.created_at;
    *updated_at = u.updated_at;
    exo_app_request_verify(app, 0);
    log_info("graph %s/%s upserted (%zu nodes), verification scheduled", ns, name, g->node_count);
    return EXO_RESULT_OK;
}

/* ---- start-up check of stored secrets --------------------------------------------------------------- */

/* Number of secrets of a stored graph the key cannot decrypt (all of them when
 * there is no key). */
static int64_t undecryptable_secrets(const exo_app *app, const exo_graph_row *g)
{
    json_object *stored = NULL;
    if (!json_object_object_get_ex(g->template_, "secrets", &stored) || !json_object_is_type(stored, json_type_object))
        return 0;
    int64_t bad = 0;
    json_object_object_foreach(stored, name, val)
    {
        (void)name;
        char why[160];
        char *plain = app->cfg.have_key ? exo_secret_decrypt(&app->cfg.key, json_object_get_string(val), why, sizeof why)
                                        : NULL;
        bad += plain == NULL;
        if (plain) {
            explicit_bzero(plain, strlen(plain));
            free(plain);
        }
    }
    return bad;
}

exo_result exo_engine_check_secrets(exo_app *app)
{
    exo_graph_row *rows = NULL;
    size_t n = 0;
    exo_result r = exo_engine_list_graphs(app, NULL, &rows, &n);
    if (r != EXO_RESULT_OK)
        return r;
    int64_t bad = 0, graphs = 0;
    const exo_graph_row *first = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t k = undecryptable_secrets(app, &rows[i]);
        bad += k;
        graphs += k > 0;
        if (k > 0 && !first)
            first = &rows[i];
    }
    app->secrets_undecryptable = bad;
    if (first) {
        snprintf(app->secrets_warning, sizeof app->secrets_warning,
                 "%lld stored secret(s) of %lld graph(s) (first: %s/%s) cannot be decrypted with this "
                 "SECRETS_ENCRYPTION_KEY%s: states of those graphs fail until the key that stored them is set "
                 "again or the graphs are put again with their secrets",
                 (long long)bad, (long long)graphs, first->namespace_name, first->name,
                 app->cfg.have_key ? "" : " (none is set)");
        log_warn("%s", app->secrets_warning);
    }
    exo_graph_rows_free(rows, n);
    return EXO_RESULT_OK;
}
