/* workers: the worker registry (GET runtimes, an exo extension): every runtime of
 * the namespace with its last heartbeat, alive or lost, and the nodes whose every
 * runtime is lost.  Also what `run show` needs to name a state's worker. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "output.h"

json_object *workers_fetch(cli_ctx *ctx)
{
    long status = 0;
    json_object *answer = NULL;
    if (client_ns_query(ctx, "listing workers", "GET", NULL, NULL, &status, &answer, "runtimes", NULL) != 0 ||
        status != 200) {
        json_object_put(answer);
        return NULL;
    }
    return answer;
}

const char *workers_status_of(json_object *registry, const char *runtime_name)
{
    json_object *runtimes = json_member(registry, "runtimes");
    for (size_t i = 0; runtime_name && i < json_length(runtimes); i++) {
        json_object *r = json_object_array_get_idx(runtimes, i);
        const char *name = json_get_string(r, "runtime_name");
        if (name && !strcmp(name, runtime_name))
            return json_get_string(r, "status");
    }
    return NULL;
}

static int print_workers(json_object *answer, const char *ns)
{
    static const char *const headers[] = {"RUNTIME", "STATUS", "LAST_SEEN", "HOST", "PID", "VERSION",
                                          "RUNNING", "NODES"};
    json_object *runtimes = json_member(answer, "runtimes");
    size_t n = json_length(runtimes);
    if (n == 0) {
        printf("no worker has sent a heartbeat in namespace %s\n", ns);
        return EXIT_OK;
    }
    text_table *table = table_new(8, headers);
    int rc = table ? EXIT_OK : EXIT_FAIL;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        json_object *r = json_object_array_get_idx(runtimes, i);
        char running[64], nodes[1024];
        snprintf(running, sizeof running, "%s/%s", json_cell(json_member(r, "running")),
                 json_cell(json_member(r, "slots")));
        json_join_names(json_member(r, "nodes"), nodes, sizeof nodes);
        const char *row[] = {json_cell(json_member(r, "runtime_name")), json_cell(json_member(r, "status")),
                             json_cell(json_member(r, "last_seen")),    json_cell(json_member(r, "hostname")),
                             json_cell(json_member(r, "pid")),          json_cell(json_member(r, "version")),
                             running,                                   nodes};
        if (table_add_row(table, row) != 0)
            rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK)
        table_print(table, stdout);
    else
        fprintf(stderr, "exoctl: out of memory\n");
    table_free(table);
    json_object *lost = json_member(answer, "lost_nodes");
    for (size_t i = 0; rc == EXIT_OK && i < json_length(lost); i++)
        printf("node %s: every runtime serving it is lost; its states wait until a host that has it starts\n",
               json_cell(json_object_array_get_idx(lost, i)));
    return rc;
}

int cmd_workers(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    (void)args;
    long status = 0;
    json_object *answer = NULL;
    if (client_ns_query(ctx, "listing workers", "GET", NULL, NULL, &status, &answer, "runtimes", NULL) != 0)
        return EXIT_FAIL;
    if (status == 404) {
        fprintf(stderr, "exoctl: listing workers: this state manager has no worker registry (HTTP 404)\n");
        json_object_put(answer);
        return EXIT_FAIL;
    }
    if (status != 200) {
        json_object_put(answer);
        return EXIT_FAIL;
    }
    if (ctx->json)
        return command_print_answer(answer);
    int rc = print_workers(answer, ctx->namespace_name);
    json_object_put(answer);
    return rc;
}
