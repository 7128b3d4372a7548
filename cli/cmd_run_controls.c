/* run list (filtered) / run cancel / run retry / run watch / run purge /
 * graph delete / graph retry: exoctl's side of the state manager's run controls
 * (docs/dev/API-EXTENSIONS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "commands.h"
#include "output.h"
#include "run_status.h"

/* ---- query strings and times ------------------------------------------------------------------------ */

/* Appends "&key=value" (value percent-encoded) to *query.  0, or -1 out of memory. */
static int query_add(char **query, const char *key, const char *value)
{
    if (!value)
        return 0;
    char *escaped = exo_http_escape(value), *grown = NULL;
    if (!escaped || asprintf(&grown, "%s%s%s=%s", *query ? *query : "", *query ? "&" : "", key, escaped) < 0)
        grown = NULL;
    free(escaped);
    if (!grown)
        return -1;
    free(*query);
    *query = grown;
    return 0;
}

/* A time option: "30m", "2h", "7d", "90s" (that long ago) become Unix ms; anything
 * else (ISO-8601, Unix ms) goes to the server as written, which checks it. */
static int time_option(const command *cmd, const parsed_args *args, const char *option, char *buf, size_t len,
                       const char **out)
{
    const char *text = args_value(args, option);
    *out = text;
    if (!text)
        return EXIT_OK;
    if (!*text)
        return usage_error(cmd, "--%s must not be empty", option);
    char *end;
    long long n = strtoll(text, &end, 10);
    int64_t unit = !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000
                   : !strcmp(end, "d") ? 86400000 : 0;
    if (end != text && unit && n >= 0) {
        snprintf(buf, len, "%lld", (long long)(exo_now_ms() - n * unit));
        *out = buf;
    }
    return EXIT_OK;
}

static int oom(void)
{
    fprintf(stderr, "exoctl: out of memory\n");
    return EXIT_FAIL;
}

/* ---- run list --------------------------------------------------------------------------------------- */

static int print_runs_table(json_object *answer)
{
    static const char *const headers[] = {"RUN_ID", "GRAPH", "STATUS", "SUCCESS", "PENDING",
                                          "ERRORED", "RETRIED", "TOTAL", "CREATED"};
    text_table *table = table_new(9, headers);
    json_object *runs = json_member(answer, "runs");
    size_t n = json_length(runs);
    int rc = table ? EXIT_OK : EXIT_FAIL;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        json_object *r = json_object_array_get_idx(runs, i);
        const char *row[] = {json_cell(json_member(r, "run_id")),        json_cell(json_member(r, "graph_name")),
                             json_cell(json_member(r, "status")),        json_cell(json_member(r, "success_count")),
                             json_cell(json_member(r, "pending_count")), json_cell(json_member(r, "errored_count")),
                             json_cell(json_member(r, "retried_count")), json_cell(json_member(r, "total_count")),
                             json_cell(json_member(r, "created_at"))};
        if (table_add_row(table, row) != 0)
            rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK) {
        table_free(table);
        return oom();
    }
    if (n == 0)
        printf("no runs match\n");
    else
        table_print(table, stdout);
    const char *next = json_get_string(answer, "next");
    if (n > 0)
        printf("%zu run%s%s%s\n", n, n == 1 ? "" : "s", next ? "; more with --after " : "", next ? next : "");
    table_free(table);
    return EXIT_OK;
}

/* The query of run list's filter options, or NULL (EXIT_USAGE / EXIT_FAIL in *rc). */
static char *run_list_query(const command *cmd, const parsed_args *args, int *rc)
{
    char since_buf[32], until_buf[32], limit_buf[32];
    const char *since, *until, *limit = args_value(args, "limit");
    *rc = time_option(cmd, args, "since", since_buf, sizeof since_buf, &since);
    if (*rc == EXIT_OK)
        *rc = time_option(cmd, args, "until", until_buf, sizeof until_buf, &until);
    if (*rc != EXIT_OK)
        return NULL;
    if (limit) {
        int64_t n;
        char err[256];
        if (args_parse_int("--limit", limit, 1, 1000, &n, err, sizeof err) != 0) {
            *rc = usage_error(cmd, "%s", err);
            return NULL;
        }
        snprintf(limit_buf, sizeof limit_buf, "%lld", (long long)n);
        limit = limit_buf;
    }
    char *query = NULL;
    if (query_add(&query, "status", args_value(args, "status")) || query_add(&query, "graph", args_value(args, "graph")) ||
        query_add(&query, "since", since) || query_add(&query, "until", until) ||
        query_add(&query, "run_id_prefix", args_value(args, "prefix")) ||
        query_add(&query, "after", args_value(args, "after")) || query_add(&query, "limit", limit ? limit : "20") ||
        !query) {
        free(query);
        *rc = oom();
        return NULL;
    }
    *rc = EXIT_OK;
    return query;
}

static int has_filter(const parsed_args *args)
{
    static const char *const filters[] = {"status", "graph", "since", "until", "prefix", "after", "limit"};
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++)
        if (args_has(args, filters[i]))
            return 1;
    return 0;
}

int cmd_run_list_filtered(const command *cmd, cli_ctx *ctx, const parsed_args *args, int *fallback)
{
    *fallback = 0;
    int rc;
    char *query = run_list_query(cmd, args, &rc);
    if (!query)
        return rc;
    rc = command_connect(cmd, ctx);
    if (rc != EXIT_OK) {
        free(query);
        return rc;
    }
    long status = 0;
    json_object *answer = NULL;
    rc = client_ns_query(ctx, "listing runs", "GET", query, NULL, &status, &answer, "runs", NULL);
    free(query);
    if (rc != 0)
        return EXIT_FAIL;
    if (status == 404 && !has_filter(args)) { /* a state manager without the listing: the v0 pages */
        json_object_put(answer);
        *fallback = 1;
        return EXIT_OK;
    }
    if (status != 200) {
        if (status == 404)
            fprintf(stderr, "exoctl: listing runs: this state manager has no filtered run listing (HTTP 404)\n");
        json_object_put(answer);
        return EXIT_FAIL;
    }
    if (ctx->json)
        return command_print_answer(answer);
    rc = print_runs_table(answer);
    json_object_put(answer);
    return rc;
}

/* ---- run cancel / run retry ------------------------------------------------------------------------- */

int cmd_run_cancel(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *run_id = args->positional[0], *by = args_value(args, "by");
    char who[256];
    if (!by) { /* who cancelled: the user and machine running exoctl */
        char host[128] = "";
        if (gethostname(host, sizeof host - 1) != 0)
            host[0] = '\0';
        const char *user = getenv("USER");
        snprintf(who, sizeof who, "%s%s%s (exoctl)", user ? user : "someone", host[0] ? "@" : "", host);
        by = who;
    }
    json_object *body = json_object_new_object();
    if (!body || json_object_object_add(body, "by", json_object_new_string(by)) != 0) {
        json_object_put(body);
        return oom();
    }
    json_object *answer;
    int rc = client_ns_call(ctx, "cancelling the run", "POST", body, &answer, "run", run_id, "cancel", NULL);
    json_object_put(body);
    if (rc != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    printf("run %s: CANCELLED by %s at %s (%s state(s) stopped)\n", run_id,
           json_cell(json_member(answer, "cancelled_by")), json_cell(json_member(answer, "cancelled_at")),
           json_cell(json_member(answer, "cancelled_states")));
    json_object_put(answer);
    return EXIT_OK;
}

int cmd_run_retry(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *run_id = args->positional[0];
    json_object *answer;
    if (client_ns_call(ctx, "retrying the run", "POST", NULL, &answer, "run", run_id, "retry", NULL) != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    json_object *pairs = json_member(answer, "retried");
    size_t n = json_length(pairs);
    printf("run %s: %zu errored state(s) retried\n", run_id, n);
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(pairs, i);
        printf("  %s -> new state %s\n", json_cell(json_member(p, "state_id")),
               json_cell(json_member(p, "new_state_id")));
    }
    json_object_put(answer);
    return EXIT_OK;
}

/* ---- run watch -------------------------------------------------------------------------------------- */

static void print_time_prefix(void)
{
    time_t now = time(NULL);
    struct tm tm;
    char text[16] = "";
    if (localtime_r(&now, &tm))
        strftime(text, sizeof text, "%H:%M:%S", &tm);
    printf("%s ", text);
}

/* Prints each state that is new or whose status changed since seen (id -> status),
 * and records it there. */
static void print_changes(json_object *run_graph, json_object *seen)
{
    json_object *nodes = json_member(run_graph, "nodes");
    for (size_t i = 0; i < json_length(nodes); i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        const char *id = json_get_string(node, "id"), *status = json_get_string(node, "status");
        if (!id || !status)
            continue;
        const char *before = json_get_string(seen, id);
        if (before && !strcmp(before, status))
            continue;
        print_time_prefix();
        printf("%-20s %-20s %s%s%s", json_cell(json_member(node, "identifier")), json_cell(json_member(node, "node_name")),
               before ? before : "", before ? " -> " : "", status);
        json_object *error = json_member(node, "error");
        if (error && !json_object_is_type(error, json_type_null))
            printf("  (%s)", json_cell(error));
        printf("  %s\n", id);
        json_object_object_add(seen, id, json_object_new_string(status));
    }
    fflush(stdout);
}

int cmd_run_watch(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    const char *run_id = args->positional[0];
    int64_t timeout_ms = 0;
    const char *text = args_value(args, "timeout");
    char err[256];
    if (text && args_parse_seconds("--timeout", text, &timeout_ms, err, sizeof err) != 0)
        return usage_error(cmd, "%s", err);
    int rc = command_connect(cmd, ctx);
    if (rc != EXIT_OK)
        return rc;
    json_object *seen = json_object_new_object();
    if (!seen)
        return oom();
    int64_t deadline = timeout_ms ? exo_mono_ms() + timeout_ms : INT64_MAX;
    run_summary summary = {0};
    for (;;) {
        json_object *run_graph;
        if (run_fetch_graph(ctx, run_id, &run_graph) != 0) {
            rc = EXIT_FAIL;
            break;
        }
        run_summarize(run_graph, &summary);
        if (summary.total == 0) {
            fprintf(stderr, "exoctl: run %s not found in namespace %s (it has no states)\n", run_id,
                    ctx->namespace_name);
            json_object_put(run_graph);
            rc = EXIT_FAIL;
            break;
        }
        if (!ctx->json)
            print_changes(run_graph, seen);
        json_object_put(run_graph);
        if (summary.pending == 0) {
            rc = EXIT_OK;
            break;
        }
        if (exo_mono_ms() >= deadline) {
            fprintf(stderr, "exoctl: run %s: still running after %.1f s\n", run_id, (double)timeout_ms / 1000.0);
            rc = EXIT_TIMEOUT;
            break;
        }
        exo_sleep_ms(POLL_INTERVAL_MS);
    }
    json_object_put(seen);
    if (rc != EXIT_OK)
        return rc;
    /* the run view knows about a cancel; a reference state manager does not have it */
    const char *final = summary.status;
    long status = 0;
    json_object *view = NULL;
    if (client_ns_query(ctx, "reading the run", "GET", NULL, NULL, &status, &view, "run", run_id, NULL) == 0 &&
        status == 200 && json_get_string(view, "status"))
        final = json_get_string(view, "status");
    if (ctx->json) {
        json_object *o = json_object_new_object();
        if (o) {
            json_object_object_add(o, "run_id", json_object_new_string(run_id));
            json_object_object_add(o, "status", json_object_new_string(final));
            json_object_object_add(o, "total_count", json_object_new_int64(summary.total));
            print_json(stdout, o);
            json_object_put(o);
        }
    } else {
        printf("run %s: %s (%lld states: %lld success, %lld errored, %lld retried)\n", run_id, final,
               (long long)summary.total, (long long)summary.success, (long long)summary.errored,
               (long long)summary.retried);
    }
    rc = !strcmp(final, "SUCCESS") ? EXIT_OK : EXIT_FAIL;
    json_object_put(view);
    return rc;
}

/* ---- run purge / graph delete / graph retry --------------------------------------------------------- */

/* A time option as a JSON value for a body: Unix ms as an integer, else the text. */
static json_object *time_value(const char *text)
{
    char *end;
    long long n = strtoll(text, &end, 10);
    return end != text && !*end ? json_object_new_int64(n) : json_object_new_string(text);
}

int cmd_run_purge(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    char before_buf[32];
    const char *before;
    int rc = time_option(cmd, args, "before", before_buf, sizeof before_buf, &before);
    if (rc != EXIT_OK)
        return rc;
    if (!before)
        return usage_error(cmd, "--before DATE is required (e.g. 2026-11-01, or 30d for 30 days ago)");
    rc = command_connect(cmd, ctx);
    if (rc != EXIT_OK)
        return rc;
    json_object *body = json_object_new_object();
    if (!body)
        return oom();
    json_object_object_add(body, "before", time_value(before));
    if (args_value(args, "graph"))
        json_object_object_add(body, "graph_name", json_object_new_string(args_value(args, "graph")));
    json_object *answer;
    rc = client_ns_call(ctx, "purging runs", "POST", body, &answer, "runs", "purge", NULL);
    json_object_put(body);
    if (rc != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    printf("%s finished run(s) deleted\n", json_cell(json_member(answer, "deleted")));
    json_object_put(answer);
    return EXIT_OK;
}

int cmd_graph_delete(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *name = args->positional[0];
    int purge = args_has(args, "purge");
    json_object *body = json_object_new_object(), *answer = NULL;
    if (!body || json_object_object_add(body, "purge", json_object_new_boolean(purge)) != 0) {
        json_object_put(body);
        return oom();
    }
    int rc = client_ns_call(ctx, "deleting the graph", "POST", body, &answer, "graph", name, "delete", NULL);
    json_object_put(body);
    if (rc != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    printf("graph %s deleted", name);
    if (purge)
        printf(" with its %s run(s)", json_cell(json_member(answer, "runs_deleted")));
    printf("\n");
    json_object_put(answer);
    return EXIT_OK;
}

int cmd_graph_retry(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    const char *name = args->positional[0];
    char since_buf[32], until_buf[32];
    const char *since, *until;
    int rc = time_option(cmd, args, "since", since_buf, sizeof since_buf, &since);
    if (rc == EXIT_OK)
        rc = time_option(cmd, args, "until", until_buf, sizeof until_buf, &until);
    if (rc == EXIT_OK)
        rc = command_connect(cmd, ctx);
    if (rc != EXIT_OK)
        return rc;
    json_object *body = json_object_new_object();
    if (!body)
        return oom();
    if (since)
        json_object_object_add(body, "since", time_value(since));
    if (until)
        json_object_object_add(body, "until", time_value(until));
    json_object *answer;
    rc = client_ns_call(ctx, "retrying the graph's runs", "POST", body, &answer, "graph", name, "retry", NULL);
    json_object_put(body);
    if (rc != 0)
        return EXIT_FAIL;
    if (ctx->json)
        return command_print_answer(answer);
    printf("graph %s: %s errored state(s) retried in %s failed run(s)\n", name,
           json_cell(json_member(answer, "states")), json_cell(json_member(answer, "runs")));
    json_object_put(answer);
    return EXIT_OK;
}
