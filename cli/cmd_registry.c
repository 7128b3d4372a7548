/* nodes list / namespaces: what runtimes have registered. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "output.h"

static int is_required(json_object *required, const char *key)
{
    size_t n = json_length(required);
    for (size_t i = 0; i < n; i++)
        if (strcmp(json_cell(json_object_array_get_idx(required, i)), key) == 0)
            return 1;
    return 0;
}

/* "a, b=dflt, c?" : a schema's fields; with mark_optional, a field that is not
 * required shows its default ("=value") or a '?' when it has none. */
static void schema_fields(json_object *schema, int mark_optional, char *buf, size_t len)
{
    json_object *properties = json_member(schema, "properties");
    json_object *required = json_member(schema, "required");
    buf[0] = '\0';
    size_t used = 0;
    if (json_object_is_type(properties, json_type_object)) {
        json_object_object_foreach(properties, key, field) {
            if (used >= len)
                break;
            json_object *dflt = json_member(field, "default");
            const char *mark = "";
            if (mark_optional && !is_required(required, key))
                mark = dflt ? "=" : "?";
            used += (size_t)snprintf(buf + used, len - used, "%s%s%s%s", used ? ", " : "", key,
                                     mark, mark_optional && dflt && *mark == '=' ? json_cell(dflt) : "");
        }
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "-");
}

int cmd_nodes_list(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    (void)args;
    /* extended=true: exo adds when the runtime last registered each node */
    json_object *answer = NULL;
    long status = 0;
    if (client_ns_query(ctx, "listing nodes", "GET", "extended=true", NULL, &status, &answer, "nodes", "", NULL) != 0)
        return EXIT_FAIL;
    if (status != 200) {
        if (status == 404)
            client_print_http_error("listing nodes", status, answer, "");
        json_object_put(answer);
        return EXIT_FAIL;
    }
    if (ctx->json)
        return command_print_answer(answer);
    static const char *const headers[] = {"NAME", "INPUTS", "OUTPUTS", "SECRETS", "RUNTIME", "REGISTERED"};
    text_table *table = table_new(6, headers);
    json_object *nodes = json_member(answer, "nodes");
    size_t n = json_length(nodes);
    int rc = table ? EXIT_OK : EXIT_FAIL;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        char inputs[1024], outputs[1024], secrets[1024];
        schema_fields(json_member(node, "inputs_schema"), 1, inputs, sizeof inputs);
        schema_fields(json_member(node, "outputs_schema"), 0, outputs, sizeof outputs);
        json_join_names(json_member(node, "secrets"), secrets, sizeof secrets);
        const char *row[] = {json_cell(json_member(node, "name")), inputs, outputs, secrets,
                             json_cell(json_member(node, "runtime_name")),
                             json_cell(json_member(node, "registered_at"))};
        if (table_add_row(table, row) != 0)
            rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK)
        fprintf(stderr, "exoctl: out of memory\n");
    else if (n == 0)
        printf("no nodes registered in namespace %s\n", ctx->namespace_name);
    else
        table_print(table, stdout);
    table_free(table);
    json_object_put(answer);
    return rc;
}

int cmd_namespaces(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    (void)args;
    json_object *answer;
    if (client_call(ctx, "listing namespaces", "GET", "/v0/namespaces", NULL, &answer) != 0)
        return EXIT_FAIL;
    if (ctx->json) {
        print_json(stdout, answer);
    } else {
        json_object *names = json_member(answer, "namespaces");
        size_t n = json_length(names);
        for (size_t i = 0; i < n; i++)
            printf("%s\n", json_cell(json_object_array_get_idx(names, i)));
        if (n == 0)
            printf("no namespaces (no runtime has registered nodes yet)\n");
    }
    json_object_put(answer);
    return EXIT_OK;
}
