/* trigger / run list / run show */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "output.h"
#include "run_status.h"

/* Adds every KEY=VALUE of a repeatable option to a JSON object (later keys win). */
static int add_pairs(const command *cmd, const parsed_args *args, const char *option,
                     json_object *object)
{
    char label[64], err[512];
    snprintf(label, sizeof label, "--%s", option);
    const char *text;
    for (size_t i = 0; (text = args_nth_value(args, option, i)) != NULL; i++) {
        char *key;
        const char *value;
        int rc = args_split_pair(label, text, &key, &value, err, sizeof err);
        if (rc == -1)
            return usage_error(cmd, "%s", err);
        json_object *string = rc == 0 ? json_object_new_string(value) : NULL;
        if (!string || json_object_object_add(object, key, string) != 0) {
            json_object_put(string);
            free(key);
            fprintf(stderr, "exoctl: out of memory\n");
            return EXIT_FAIL;
        }
        free(key);
    }
    return EXIT_OK;
}

/* Builds {"inputs": {...}, "store": {...}, "start_delay": N} from the options. */
static int build_trigger_body(const command *cmd, const parsed_args *args, json_object **out)
{
    *out = NULL;
    int64_t start_delay = 0;
    char err[256];
    const char *delay = args_value(args, "start-delay");
    /* 2^53: the largest integer every JSON reader keeps exact. */
    if (delay && args_parse_int("--start-delay", delay, 0, (int64_t)1 << 53, &start_delay, err,
                                sizeof err) != 0)
        return usage_error(cmd, "%s", err);
    json_object *body = json_object_new_object();
    json_object *inputs = json_object_new_object();
    json_object *store = json_object_new_object();
    json_object *delay_value = json_object_new_int64(start_delay);
    if (!body || !inputs || !store || !delay_value) {
        json_object_put(body);
        json_object_put(inputs);
        json_object_put(store);
        json_object_put(delay_value);
        fprintf(stderr, "exoctl: out of memory\n");
        return EXIT_FAIL;
    }
    json_object_object_add(body, "inputs", inputs);
    json_object_object_add(body, "store", store);
    json_object_object_add(body, "start_delay", delay_value);
    int rc = add_pairs(cmd, args, "input", inputs);
    if (rc == EXIT_OK)
        rc = add_pairs(cmd, args, "store", store);
    if (rc != EXIT_OK) {
        json_object_put(body);
        return rc;
    }
    *out = body;
    return EXIT_OK;
}

static void print_counts(FILE *out, const run_summary *s)
{
    fprintf(out, "%lld states: %lld success, %lld pending, %lld errored, %lld retried",
            (long long)s->total, (long long)s->success, (long long)s->pending,
            (long long)s->errored, (long long)s->retried);
}

static json_object *summary_json(const char *run_id, const char *graph, const run_summary *s)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "run_id", json_object_new_string(run_id));
    json_object_object_add(o, "graph_name", json_object_new_string(graph));
    json_object_object_add(o, "status", json_object_new_string(s->status));
    json_object_object_add(o, "success_count", json_object_new_int64(s->success));
    json_object_object_add(o, "pending_count", json_object_new_int64(s->pending));
    json_object_object_add(o, "errored_count", json_object_new_int64(s->errored));
    json_object_object_add(o, "retried_count", json_object_new_int64(s->retried));
    json_object_object_add(o, "total_count", json_object_new_int64(s->total));
    return o;
}

/* One line per state of a states/run/{id}/graph answer: where each state ended. */
static int print_state_table(json_object *run_graph)
{
    static const char *const headers[] = {"  IDENTIFIER", "NODE", "STATUS", "STATE_ID", "ERROR"};
    text_table *table = table_new(5, headers);
    json_object *nodes = json_member(run_graph, "nodes");
    size_t n = json_length(nodes);
    int rc = table ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        char identifier[256];
        snprintf(identifier, sizeof identifier, "  %s", json_cell(json_member(node, "identifier")));
        const char *row[] = {identifier, json_cell(json_member(node, "node_name")),
                             json_cell(json_member(node, "status")),
                             json_cell(json_member(node, "id")),
                             json_cell(json_member(node, "error"))};
        rc = table_add_row(table, row);
    }
    if (rc == 0)
        table_print(table, stdout);
    else
        fprintf(stderr, "exoctl: out of memory\n");
    table_free(table);
    return rc;
}

/* --wait part of trigger: polls, then reports the final status and every state.
 * With --json the summary (with the run id) is printed whatever the outcome: a
 * timed-out wait says "timed_out": true, a failed poll "status": "UNKNOWN". */
static int wait_and_report(cli_ctx *ctx, const char *graph, const char *run_id, int64_t timeout_ms,
                           int quiet)
{
    json_object *run_graph;
    run_summary summary;
    run_progress progress = ctx->json || quiet ? RUN_PROGRESS_NONE : RUN_PROGRESS_SHOW;
    int rc = run_wait(ctx, run_id, timeout_ms, progress, &run_graph, &summary);
    if (rc == EXIT_OK && !ctx->json && !quiet)
        print_state_table(run_graph);
    if (rc == EXIT_FAIL && !run_graph)
        summary.status = "UNKNOWN";
    json_object_put(run_graph);
    if (ctx->json) {
        json_object *o = summary_json(run_id, graph, &summary);
        if (!o) {
            fprintf(stderr, "exoctl: out of memory\n");
            return EXIT_FAIL;
        }
        if (rc == EXIT_TIMEOUT)
            json_object_object_add(o, "timed_out", json_object_new_boolean(1));
        print_json(stdout, o);
        json_object_put(o);
    }
    if (rc != EXIT_OK)
        return rc;
    if (!ctx->json && !quiet) {
        printf("run %s: %s (", run_id, summary.status);
        print_counts(stdout, &summary);
        printf(")\n");
    }
    return strcmp(summary.status, "SUCCESS") == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_trigger(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    const char *graph = args->positional[0];
    int quiet = args_has(args, "quiet");
    int wait;
    int64_t timeout_ms;
    int rc = command_wait_options(cmd, args, &wait, &timeout_ms);
    if (rc != EXIT_OK)
        return rc;
    if (quiet && ctx->json)
        return usage_error(cmd, "--quiet and --json exclude each other");

    json_object *body;
    rc = build_trigger_body(cmd, args, &body);
    if (rc == EXIT_OK)
        rc = command_connect(cmd, ctx);
    if (rc != EXIT_OK) {
        json_object_put(body);
        return rc;
    }
    /* extended=true: exo adds warnings (unused keys) and what is wrong on a refusal */
    json_object *answer = NULL;
    long status = 0;
    rc = client_ns_query(ctx, "triggering the graph", "POST", "extended=true", body, &status, &answer,
                         "graph", graph, "trigger", NULL);
    json_object_put(body);
    if (rc == 0 && status == 404)
        client_print_http_error("triggering the graph", status, answer, "");
    if (rc != 0 || status < 200 || status > 299) {
        json_object_put(answer);
        return EXIT_FAIL;
    }
    const char *run_id = json_get_string(answer, "run_id");
    if (!run_id) {
        fprintf(stderr, "exoctl: triggering the graph: the answer has no run_id: %s\n",
                json_object_to_json_string(answer));
        json_object_put(answer);
        return EXIT_FAIL;
    }
    json_object *warnings = json_member(answer, "warnings");
    for (size_t i = 0; i < json_length(warnings); i++)
        fprintf(stderr, "exoctl: warning: %s\n", json_cell(json_object_array_get_idx(warnings, i)));
    if (quiet)
        printf("%s\n", run_id);
    else if (ctx->json && !wait)
        print_json(stdout, answer);
    else if (!ctx->json)
        printf("run %s created (graph %s)%s\n", run_id, graph, wait ? ", waiting..." : "");
    fflush(stdout);
    rc = wait ? wait_and_report(ctx, graph, run_id, timeout_ms, quiet) : EXIT_OK;
    json_object_put(answer);
    return rc;
}

int cmd_run_list(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    int paged = args_has(args, "page") || args_has(args, "size");
    static const char *const filters[] = {"status", "graph", "since", "until", "prefix", "after", "limit"};
    for (size_t i = 0; paged && i < sizeof filters / sizeof *filters; i++)
        if (args_has(args, filters[i]))
            return usage_error(cmd, "--page/--size page the plain listing; --%s belongs to the filtered one "
                                    "(page it with --limit and --after)",
                               filters[i]);
    if (!paged) {
        int fallback;
        int rc = cmd_run_list_filtered(cmd, ctx, args, &fallback);
        if (!fallback)
            return rc;
    }
    int64_t page = 1, size = 20;
    char err[256];
    const char *text = args_value(args, "page");
    if (text && args_parse_int("--page", text, 1, 1000000000, &page, err, sizeof err) != 0)
        return usage_error(cmd, "%s", err);
    text = args_value(args, "size");
    if (text && args_parse_int("--size", text, 1, 1000000, &size, err, sizeof err) != 0)
        return usage_error(cmd, "%s", err);
    char page_text[32], size_text[32];
    snprintf(page_text, sizeof page_text, "%lld", (long long)page);
    snprintf(size_text, sizeof size_text, "%lld", (long long)size);
    int connected = ctx->http ? EXIT_OK : command_connect(cmd, ctx); /* the filtered try may have connected */
    if (connected != EXIT_OK)
        return connected;
    json_object *answer;
    if (client_ns_call(ctx, "listing runs", "GET", NULL, &answer, "runs", page_text, size_text,
                       NULL) != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    static const char *const headers[] = {"RUN_ID", "GRAPH", "STATUS", "SUCCESS", "PENDING",
                                          "ERRORED", "RETRIED", "TOTAL", "CREATED"};
    text_table *table = table_new(9, headers);
    json_object *runs = json_member(answer, "runs");
    size_t n = json_length(runs);
    int rc = table ? EXIT_OK : EXIT_FAIL;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        json_object *r = json_object_array_get_idx(runs, i);
        /* json_cell keeps each number's text alive inside r until r is freed. */
        const char *row[] = {json_cell(json_member(r, "run_id")),
                             json_cell(json_member(r, "graph_name")),
                             json_cell(json_member(r, "status")),
                             json_cell(json_member(r, "success_count")),
                             json_cell(json_member(r, "pending_count")),
                             json_cell(json_member(r, "errored_count")),
                             json_cell(json_member(r, "retried_count")),
                             json_cell(json_member(r, "total_count")),
                             json_cell(json_member(r, "created_at"))};
        if (table_add_row(table, row) != 0)
            rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK) {
        fprintf(stderr, "exoctl: out of memory\n");
    } else if (n == 0) {
        printf("no runs on page %lld (namespace %s has %s runs)\n", (long long)page,
               ctx->namespace_name, json_cell(json_member(answer, "total")));
    } else {
        table_print(table, stdout);
        printf("page %lld, %zu of %s runs\n", (long long)page, n,
               json_cell(json_member(answer, "total")));
    }
    table_free(table);
    json_object_put(answer);
    return rc;
}

/* ---- run show ---------------------------------------------------------------- */

/* Fetches the details of every state listed in the run graph into a new array, in
 * the run graph's order (storage order, which is creation order). */
static int fetch_state_details(cli_ctx *ctx, const char *run_id, json_object *run_graph,
                               json_object **out)
{
    const char *graph = json_get_string(run_graph, "graph_name");
    json_object *nodes = json_member(run_graph, "nodes");
    size_t n = json_length(nodes);
    json_object *states = json_object_new_array_ext((int)n);
    if (!states) {
        fprintf(stderr, "exoctl: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_get_string(json_object_array_get_idx(nodes, i), "id");
        json_object *detail = NULL;
        long status = 0;
        /* extended=true: exo adds the prune data */
        if (!id || client_ns_query(ctx, "reading a state", "GET", "extended=true", NULL, &status, &detail,
                                   "graph", graph ? graph : "", "run", run_id, "node", id, NULL) != 0 ||
            status != 200) {
            if (!id)
                fprintf(stderr, "exoctl: run %s: a state without an id in the run graph\n", run_id);
            else if (status == 404)
                client_print_http_error("reading a state", status, detail, "");
            json_object_put(detail);
            json_object_put(states);
            return -1;
        }
        if (json_object_array_add(states, detail) != 0) {
            json_object_put(detail);
            json_object_put(states);
            fprintf(stderr, "exoctl: out of memory\n");
            return -1;
        }
    }
    *out = states;
    return 0;
}

static void print_state(size_t index, json_object *state)
{
    printf("\n[%zu] %s  %s  %s\n", index, json_cell(json_member(state, "identifier")),
           json_cell(json_member(state, "node_name")), json_cell(json_member(state, "status")));
    printf("    state id:  %s\n", json_cell(json_member(state, "id")));
    char parents[1024];
    json_join_names(json_member(state, "parents"), parents, sizeof parents);
    printf("    parents:   %s\n", parents);
    printf("    created:   %s  updated: %s\n", json_cell(json_member(state, "created_at")),
           json_cell(json_member(state, "updated_at")));
    printf("    inputs:\n");
    print_key_values(stdout, "      ", json_member(state, "inputs"));
    printf("    outputs:\n");
    print_key_values(stdout, "      ", json_member(state, "outputs"));
    json_object *error = json_member(state, "error");
    if (error && !json_object_is_type(error, json_type_null))
        printf("    error:     %s\n", json_cell(error));
    json_object *data = json_member(state, "data");
    if (json_object_is_type(data, json_type_object) && json_object_object_length(data) > 0)
        printf("    prune data: %s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
    const char *worker = json_get_string(state, "worker");
    const char *worker_status = json_get_string(state, "worker_status");
    if (worker)
        printf("    worker:    %s%s%s%s\n", worker, worker_status ? " (" : "", worker_status ? worker_status : "",
               worker_status ? ")" : "");
    const char *waiting = json_get_string(state, "waiting");
    if (waiting)
        printf("    waiting:   %s\n", waiting);
}

/* GET run/{id} (exo's run view): status with CANCELLED, who cancelled, why states
 * wait.  NULL from a state manager without it (the reference) or on error. */
static json_object *fetch_run_view(cli_ctx *ctx, const char *run_id)
{
    long status = 0;
    json_object *view = NULL;
    if (client_ns_query(ctx, "reading the run", "GET", NULL, NULL, &status, &view, "run", run_id, NULL) != 0 ||
        status != 200) {
        json_object_put(view);
        return NULL;
    }
    return view;
}

/* Puts each waiting reason of the run view into its state's details as "waiting". */
static void attach_waits(json_object *view, json_object *states)
{
    json_object *waits = json_member(json_member(view, "waiting"), "states");
    for (size_t i = 0; i < json_length(waits); i++) {
        json_object *w = json_object_array_get_idx(waits, i);
        const char *id = json_get_string(w, "state_id");
        for (size_t j = 0; id && j < json_length(states); j++) {
            json_object *st = json_object_array_get_idx(states, j);
            if (json_get_string(st, "id") && !strcmp(json_get_string(st, "id"), id))
                json_object_object_add(st, "waiting", json_object_get(json_member(w, "message")));
        }
    }
}

/* Puts the runtime that claimed each state (GET run/{id}/states, exo's) into its
 * details as "worker", with "worker_status" alive / lost from the worker registry.
 * Nothing from a state manager without them (the reference). */
static void attach_workers(cli_ctx *ctx, const char *run_id, json_object *states)
{
    long status = 0;
    json_object *listing = NULL;
    if (client_ns_query(ctx, "reading the run's states", "GET", NULL, NULL, &status, &listing, "run", run_id,
                        "states", NULL) != 0 || status != 200) {
        json_object_put(listing);
        return;
    }
    json_object *registry = workers_fetch(ctx);
    json_object *claimed = json_member(listing, "states");
    for (size_t i = 0; i < json_length(claimed); i++) {
        json_object *c = json_object_array_get_idx(claimed, i);
        const char *id = json_get_string(c, "state_id"), *by = json_get_string(c, "claimed_by");
        for (size_t j = 0; id && by && j < json_length(states); j++) {
            json_object *st = json_object_array_get_idx(states, j);
            if (!json_get_string(st, "id") || strcmp(json_get_string(st, "id"), id) != 0)
                continue;
            json_object_object_add(st, "worker", json_object_new_string(by));
            const char *alive = workers_status_of(registry, by);
            if (alive)
                json_object_object_add(st, "worker_status", json_object_new_string(alive));
        }
    }
    json_object_put(registry);
    json_object_put(listing);
}

static void print_run_view(json_object *view)
{
    const char *by = json_get_string(view, "cancelled_by");
    if (by)
        printf("cancelled by %s at %s\n", by, json_cell(json_member(view, "cancelled_at")));
    json_object *unites = json_member(json_member(view, "waiting"), "unites");
    for (size_t i = 0; i < json_length(unites); i++) {
        json_object *u = json_object_array_get_idx(unites, i);
        printf("node %s: %s\n", json_cell(json_member(u, "identifier")), json_cell(json_member(u, "message")));
    }
}

static int print_run_json(const char *run_id, json_object *run_graph, const run_summary *summary,
                          json_object *states, json_object *view)
{
    json_object *o = summary_json(run_id, json_cell(json_member(run_graph, "graph_name")), summary);
    if (!o)
        return -1;
    if (view) {
        json_object_object_add(o, "cancelled_at", json_object_get(json_member(view, "cancelled_at")));
        json_object_object_add(o, "cancelled_by", json_object_get(json_member(view, "cancelled_by")));
        json_object_object_add(o, "waiting", json_object_get(json_member(view, "waiting")));
    }
    json_object_object_add(o, "execution_summary",
                           json_object_get(json_member(run_graph, "execution_summary")));
    json_object_object_add(o, "states", json_object_get(states));
    print_json(stdout, o);
    json_object_put(o);
    return 0;
}

int cmd_run_show(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *run_id = args->positional[0];
    json_object *run_graph;
    if (run_fetch_graph(ctx, run_id, &run_graph) != 0)
        return EXIT_FAIL;
    run_summary summary;
    run_summarize(run_graph, &summary);
    if (summary.total == 0) {
        fprintf(stderr, "exoctl: run %s not found in namespace %s (it has no states)\n", run_id,
                ctx->namespace_name);
        json_object_put(run_graph);
        return EXIT_FAIL;
    }
    json_object *states;
    if (fetch_state_details(ctx, run_id, run_graph, &states) != 0) {
        json_object_put(run_graph);
        return EXIT_FAIL;
    }
    json_object *view = fetch_run_view(ctx, run_id);
    if (view && json_get_string(view, "status"))
        summary.status = json_get_string(view, "status"); /* CANCELLED is known to the run view only */
    attach_waits(view, states);
    if (view)
        attach_workers(ctx, run_id, states);
    int rc = EXIT_OK;
    if (ctx->json) {
        rc = print_run_json(run_id, run_graph, &summary, states, view) == 0 ? EXIT_OK : EXIT_FAIL;
    } else {
        printf("run %s  graph %s  status %s\n", run_id,
               json_cell(json_member(run_graph, "graph_name")), summary.status);
        print_counts(stdout, &summary);
        printf("\n");
        print_run_view(view);
        for (size_t i = 0; i < json_object_array_length(states); i++)
            print_state(i + 1, json_object_array_get_idx(states, i));
    }
    json_object_put(states);
    json_object_put(view);
    json_object_put(run_graph);
    return rc;
}
