/* graph put / get / list */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "commands.h"
#include "output.h"

/* Reads a whole file ("-" = stdin) into a NUL-terminated buffer; prints why on failure. */
static char *read_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "exoctl: cannot open graph file '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (ferror(f) || feof(f))
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int failed = !buf || ferror(f);
    if (!buf)
        fprintf(stderr, "exoctl: out of memory reading '%s'\n", path);
    else if (failed)
        fprintf(stderr, "exoctl: cannot read graph file '%s': %s\n", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Line and column (1-based) of a byte offset, for parse error messages. */
static void offset_to_line(const char *text, size_t offset, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

/* Parses the graph file; must be one JSON object.  Prints the problem on failure. */
static json_object *load_graph_file(const char *path)
{
    char *text = read_file(path);
    if (!text)
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        free(text);
        fprintf(stderr, "exoctl: out of memory\n");
        return NULL;
    }
    size_t len = strlen(text);
    json_object *graph = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    /* The parser may count the terminating NUL we let it see. */
    size_t end = json_tokener_get_parse_end(tok);
    if (end > len)
        end = len;
    if (!graph || jerr != json_tokener_success) {
        int line, column;
        offset_to_line(text, end, &line, &column);
        fprintf(stderr, "exoctl: graph file '%s' is not valid JSON: %s at line %d, column %d\n",
                path, json_tokener_error_desc(jerr), line, column);
        json_object_put(graph);
        graph = NULL;
    } else if (!args_is_blank(text + end)) {
        int line, column;
        offset_to_line(text, end, &line, &column);
        fprintf(stderr, "exoctl: graph file '%s' has text after the JSON value at line %d, column %d\n",
                path, line, column);
        json_object_put(graph);
        graph = NULL;
    } else if (!json_object_is_type(graph, json_type_object)) {
        fprintf(stderr,
                "exoctl: graph file '%s' must hold a JSON object with \"secrets\" and \"nodes\"\n",
                path);
        json_object_put(graph);
        graph = NULL;
    }
    json_tokener_free(tok);
    free(text);
    return graph;
}

static const char *validation_status(json_object *graph)
{
    const char *status = json_get_string(graph, "validation_status");
    return status ? status : "UNKNOWN";
}

static int validation_pending(json_object *graph)
{
    const char *status = validation_status(graph);
    return strcmp(status, "PENDING") == 0 || strcmp(status, "ONGOING") == 0;
}

static void print_validation_errors(FILE *out, json_object *graph)
{
    json_object *errors;
    if (!json_object_object_get_ex(graph, "validation_errors", &errors)
        || !json_object_is_type(errors, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(errors); i++)
        fprintf(out, "  - %s\n", json_cell(json_object_array_get_idx(errors, i)));
}

/* Polls GET graph until validation leaves PENDING.  *graph is replaced by the
 * latest answer.  Returns EXIT_OK, EXIT_FAIL (request failed) or EXIT_TIMEOUT. */
static int wait_for_validation(cli_ctx *ctx, const char *name, int64_t timeout_ms,
                               json_object **graph)
{
    int64_t deadline = exo_mono_ms() + timeout_ms;
    while (validation_pending(*graph)) {
        if (exo_mono_ms() >= deadline) {
            fprintf(stderr, "exoctl: graph %s: validation still %s after %.1f s\n", name,
                    validation_status(*graph), (double)timeout_ms / 1000.0);
            return EXIT_TIMEOUT;
        }
        exo_sleep_ms(POLL_INTERVAL_MS);
        json_object *latest;
        if (client_ns_call(ctx, "reading the graph", "GET", NULL, &latest, "graph", name, NULL) != 0)
            return EXIT_FAIL;
        json_object_put(*graph);
        *graph = latest;
    }
    return EXIT_OK;
}

int cmd_graph_put(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    const char *name = args->positional[0];
    const char *file = args_value(args, "file");
    if (!file)
        return usage_error(cmd, "missing --file/-f FILE (the graph JSON)");
    int wait;
    int64_t timeout_ms;
    int rc = command_wait_options(cmd, args, &wait, &timeout_ms);
    if (rc != EXIT_OK)
        return rc;

    json_object *body = load_graph_file(file);
    if (!body)
        return EXIT_FAIL;
    int connected = command_connect(cmd, ctx);
    if (connected != EXIT_OK) {
        json_object_put(body);
        return connected;
    }
    json_object *graph;
    rc = client_ns_call(ctx, "saving the graph", "PUT", body, &graph, "graph", name, NULL);
    json_object_put(body);
    if (rc != 0)
        return EXIT_FAIL;

    rc = wait ? wait_for_validation(ctx, name, timeout_ms, &graph) : EXIT_OK;
    if (rc == EXIT_FAIL) {
        json_object_put(graph);
        return rc;
    }
    const char *status = validation_status(graph);
    if (ctx->json) {
        print_json(stdout, graph);
    } else if (!wait) {
        printf("graph %s saved: validation %s (use --wait or 'exoctl graph get %s' to follow)\n",
               name, status, name);
    } else {
        printf("graph %s: %s\n", name, status);
        print_validation_errors(stdout, graph);
    }
    if (rc == EXIT_OK && wait && strcmp(status, "VALID") != 0)
        rc = EXIT_FAIL;
    json_object_put(graph);
    return rc;
}

static void print_triggers(json_object *triggers)
{
    size_t n = json_length(triggers);
    if (n == 0) {
        printf("triggers:    -\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(triggers, i);
        const char *expr = json_get_string(json_member(t, "value"), "expression");
        printf("%s%s %s\n", i ? "             " : "triggers:    ", json_cell(json_member(t, "type")),
               expr ? expr : "?");
    }
}

static int print_graph_nodes(json_object *nodes)
{
    static const char *const headers[] = {"IDENTIFIER", "NODE", "NAMESPACE", "NEXT", "UNITES",
                                          "INPUTS"};
    text_table *table = table_new(6, headers);
    if (!table)
        return -1;
    size_t n = json_length(nodes);
    for (size_t i = 0; i < n; i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        char next[512], inputs[2048], unites[256];
        json_join_names(json_member(node, "next_nodes"), next, sizeof next);
        json_object *u = json_member(node, "unites");
        if (json_object_is_type(u, json_type_object))
            snprintf(unites, sizeof unites, "%s (%s)", json_cell(json_member(u, "identifier")),
                     json_cell(json_member(u, "strategy")));
        else
            snprintf(unites, sizeof unites, "-");
        size_t used = 0;
        inputs[0] = '\0';
        json_object *node_inputs = json_member(node, "inputs");
        if (json_object_is_type(node_inputs, json_type_object)) {
            json_object_object_foreach(node_inputs, key, value) {
                if (used >= sizeof inputs)
                    break;
                used += (size_t)snprintf(inputs + used, sizeof inputs - used, "%s%s=%s",
                                         used ? ", " : "", key, json_cell(value));
            }
        }
        const char *row[] = {json_cell(json_member(node, "identifier")), json_cell(json_member(node, "node_name")),
                             json_cell(json_member(node, "namespace")), next, unites,
                             inputs[0] ? inputs : "-"};
        if (table_add_row(table, row) != 0) {
            table_free(table);
            return -1;
        }
    }
    table_print(table, stdout);
    table_free(table);
    return 0;
}

int cmd_graph_get(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *name = args->positional[0];
    json_object *graph;
    if (client_ns_call(ctx, "reading the graph", "GET", NULL, &graph, "graph", name, NULL) != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(graph);
    char secrets[1024], required[1024];
    json_join_names(json_member(graph, "secrets"), secrets, sizeof secrets);
    json_object *store = json_member(graph, "store_config");
    json_join_names(json_member(store, "required_keys"), required, sizeof required);
    printf("graph:       %s\n", name);
    printf("namespace:   %s\n", ctx->namespace_name);
    printf("validation:  %s\n", validation_status(graph));
    print_validation_errors(stdout, graph);
    printf("secrets:     %s\n", secrets);
    printf("retry:       %s\n", json_cell(json_member(graph, "retry_policy")));
    printf("store:       required: %s; defaults: %s\n", required,
           json_cell(json_member(store, "default_values")));
    print_triggers(json_member(graph, "triggers"));
    printf("created:     %s\n", json_cell(json_member(graph, "created_at")));
    printf("updated:     %s\n\n", json_cell(json_member(graph, "updated_at")));
    int rc = print_graph_nodes(json_member(graph, "nodes")) == 0 ? EXIT_OK : EXIT_FAIL;
    if (rc != EXIT_OK)
        fprintf(stderr, "exoctl: out of memory\n");
    json_object_put(graph);
    return rc;
}

int cmd_graph_list(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    (void)args;
    json_object *answer;
    if (client_ns_call(ctx, "listing graphs", "GET", NULL, &answer, "graphs", "", NULL) != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    static const char *const headers[] = {"NAME", "VALIDATION", "NODES", "UPDATED"};
    text_table *table = table_new(4, headers);
    json_object *templates = json_member(answer, "templates");
    size_t n = json_length(templates);
    int rc = table ? EXIT_OK : EXIT_FAIL;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        json_object *t = json_object_array_get_idx(templates, i);
        json_object *nodes = json_member(t, "nodes");
        char count[32];
        snprintf(count, sizeof count, "%zu",
                 json_length(nodes));
        const char *row[] = {json_cell(json_member(t, "name")), json_cell(json_member(t, "validation_status")),
                             count, json_cell(json_member(t, "updated_at"))};
        if (table_add_row(table, row) != 0)
            rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK && n == 0)
        printf("no graphs in namespace %s\n", ctx->namespace_name);
    else if (rc == EXIT_OK)
        table_print(table, stdout);
    else
        fprintf(stderr, "exoctl: out of memory\n");
    table_free(table);
    json_object_put(answer);
    return rc;
}
