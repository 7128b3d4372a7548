#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Generous enough for a slow server, short enough that a dead one is noticed. */
#define CONNECT_TIMEOUT_MS 5000
#define TOTAL_TIMEOUT_MS 30000

int client_split_uris(cli_ctx *ctx, char *err, size_t errlen)
{
    free(ctx->uri_copy);
    ctx->n_uris = ctx->current = 0;
    if (!(ctx->uri_copy = strdup(ctx->uri))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *save = NULL, *tok = strtok_r(ctx->uri_copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        for (size_t n = strlen(tok); n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'); n--)
            tok[n - 1] = '\0';
        if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) {
            snprintf(err, errlen, "state manager URI '%s' must start with http:// or https://", tok);
            return -1;
        }
        if (ctx->n_uris == CLI_MAX_URIS) {
            snprintf(err, errlen, "more than %d state manager URIs", CLI_MAX_URIS);
            return -1;
        }
        ctx->uris[ctx->n_uris++] = tok;
    }
    if (ctx->n_uris == 0) {
        snprintf(err, errlen, "no state manager URI in '%s'", ctx->uri);
        return -1;
    }
    return 0;
}

/* (Re)creates the connection to uris[current]. */
static int connect_current(cli_ctx *ctx)
{
    exo_http_free(ctx->http);
    ctx->http = exo_http_new(ctx->uris[ctx->current], ctx->api_key);
    if (!ctx->http) {
        fprintf(stderr, "exoctl: out of memory\n");
        return -1;
    }
    exo_http_set_timeouts(ctx->http, CONNECT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    return 0;
}

int client_open(cli_ctx *ctx)
{
    if (exo_http_global_init() != 0) {
        fprintf(stderr, "exoctl: cannot initialise libcurl\n");
        return -1;
    }
    if (ctx->n_uris == 0) { /* a caller that did not split: the URI as given */
        ctx->uris[0] = ctx->uri;
        ctx->n_uris = 1;
    }
    return connect_current(ctx);
}

void client_close(cli_ctx *ctx)
{
    exo_http_free(ctx->http);
    ctx->http = NULL;
    free(ctx->uri_copy);
    ctx->uri_copy = NULL;
    ctx->n_uris = 0;
}

/* Appends "/" + escaped segment to a growing path; returns the new path or NULL. */
static char *append_segment(char *path, const char *segment)
{
    char *escaped = exo_http_escape(segment);
    if (!escaped) {
        free(path);
        return NULL;
    }
    size_t old = strlen(path);
    size_t add = strlen(escaped);
    char *grown = realloc(path, old + 1 + add + 1);
    if (!grown) {
        free(path);
        free(escaped);
        return NULL;
    }
    grown[old] = '/';
    memcpy(grown + old + 1, escaped, add + 1);
    free(escaped);
    return grown;
}

static char *build_ns_path(const char *namespace_name, va_list segments)
{
    char *path = strdup("/v0/namespace");
    if (path)
        path = append_segment(path, namespace_name);
    for (const char *seg = va_arg(segments, const char *); path && seg;
         seg = va_arg(segments, const char *))
        path = append_segment(path, seg);
    return path;
}

/* Prints the elements of a 422 detail list: "loc.path: msg" per line, followed by
 * the rejected value when it is a string or an object (a cron expression, say). */
static void print_detail_list(json_object *detail)
{
    size_t n = json_object_array_length(detail);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(detail, i);
        json_object *loc = NULL, *msg = NULL;
        json_object_object_get_ex(item, "loc", &loc);
        json_object_object_get_ex(item, "msg", &msg);
        fprintf(stderr, "  ");
        size_t nloc = json_length(loc);
        for (size_t j = 0; j < nloc; j++)
            fprintf(stderr, "%s%s", j ? "." : "",
                    json_object_get_string(json_object_array_get_idx(loc, j)));
        fprintf(stderr, "%s%s", nloc ? ": " : "",
                msg ? json_object_get_string(msg) : json_object_to_json_string(item));
        json_object *input = json_member(item, "input");
        const char *shown = json_object_is_type(input, json_type_string) || json_object_is_type(input, json_type_object)
                                ? json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN)
                                : NULL;
        if (msg && shown && strlen(shown) <= 200) /* a whole body would bury the message */
            fprintf(stderr, " (got %s)", shown);
        fprintf(stderr, "\n");
    }
}

/* exo's optional fields next to a string detail: what exactly is wrong. */
static void print_extra_detail(json_object *body)
{
    const char *graph_status = json_get_string(body, "validation_status");
    if (graph_status)
        fprintf(stderr, "  graph %s is %s\n", json_cell(json_member(body, "graph_name")), graph_status);
    json_object *errors = json_member(body, "validation_errors");
    for (size_t i = 0; i < json_length(errors); i++)
        fprintf(stderr, "  %s\n", json_cell(json_object_array_get_idx(errors, i)));
    json_object *keys = json_member(body, "missing_store_keys");
    if (json_length(keys) > 0) {
        char names[1024];
        json_join_names(keys, names, sizeof names);
        fprintf(stderr, "  missing store keys (give them with --store K=V): %s\n", names);
    }
}

void client_print_http_error(const char *what, long status, json_object *body, const char *raw_body)
{
    json_object *detail = NULL;
    if (json_object_is_type(body, json_type_object))
        json_object_object_get_ex(body, "detail", &detail);
    if (json_object_is_type(detail, json_type_string)) {
        fprintf(stderr, "exoctl: %s: HTTP %ld: %s\n", what, status, json_object_get_string(detail));
        print_extra_detail(body);
        return;
    }
    if (json_object_is_type(detail, json_type_array)) {
        fprintf(stderr, "exoctl: %s: HTTP %ld: the server rejected the request:\n", what, status);
        print_detail_list(detail);
        return;
    }
    if (status == 401) {
        fprintf(stderr, "exoctl: %s: HTTP 401: invalid API key (check EXOSPHERE_API_KEY or --api-key)\n",
                what);
        return;
    }
    fprintf(stderr, "exoctl: %s: HTTP %ld: %s\n", what, status,
            raw_body && raw_body[0] ? raw_body : "(empty answer)");
}

/* Sends the request; returns 0 when an answer arrived, with *status and *out set
 * (*out NULL when the body is not JSON). */
static int send_request(cli_ctx *ctx, const char *what, const char *method, const char *path,
                        json_object *body, long *status, json_object **out, char **raw)
{
    *out = NULL;
    *raw = NULL;
    const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
    exo_http_response resp;
    for (size_t tried = 1;; tried++) {
        int failed = exo_http_call(ctx->http, method, path, text, &resp) != 0;
        int unavailable = !failed && (resp.status == 502 || resp.status == 503 || resp.status == 504);
        if ((!failed && !unavailable) || tried >= ctx->n_uris) {
            if (!failed)
                break;
            fprintf(stderr, "exoctl: %s: cannot reach the state manager at %s: %s\n", what,
                    ctx->uris[ctx->current], resp.error);
            exo_http_response_free(&resp);
            return -1;
        }
        /* this replica is down or cannot serve: the next one of the list */
        exo_http_response_free(&resp);
        ctx->current = (ctx->current + 1) % ctx->n_uris;
        if (connect_current(ctx) != 0)
            return -1;
    }
    *status = resp.status;
    *out = json_tokener_parse(resp.body);
    *raw = resp.body; /* ownership moves to the caller */
    return 0;
}

static int finish_call(const char *what, long status, json_object **out, char *raw)
{
    int ok = status >= 200 && status < 300;
    if (ok && !*out)
        fprintf(stderr, "exoctl: %s: the server's answer is not JSON: %.200s\n", what, raw);
    else if (!ok)
        client_print_http_error(what, status, *out, raw);
    free(raw);
    if (ok && *out)
        return 0;
    json_object_put(*out);
    *out = NULL;
    return -1;
}

int client_call(cli_ctx *ctx, const char *what, const char *method, const char *path,
                json_object *body, json_object **out)
{
    long status = 0;
    char *raw;
    if (send_request(ctx, what, method, path, body, &status, out, &raw) != 0)
        return -1;
    return finish_call(what, status, out, raw);
}

/* send_request on /v0/namespace/{ns}/<segments...>[?query]. */
static int send_ns_request_q(cli_ctx *ctx, const char *what, const char *method, const char *query,
                             json_object *body, long *status, json_object **out, char **raw,
                             va_list segments)
{
    *out = NULL;
    *raw = NULL;
    char *path = build_ns_path(ctx->namespace_name, segments);
    if (path && query && *query) {
        char *with = NULL;
        if (asprintf(&with, "%s?%s", path, query) < 0)
            with = NULL;
        free(path);
        path = with;
    }
    if (!path) {
        fprintf(stderr, "exoctl: out of memory\n");
        return -1;
    }
    int rc = send_request(ctx, what, method, path, body, status, out, raw);
    free(path);
    return rc;
}

static int send_ns_request(cli_ctx *ctx, const char *what, const char *method, json_object *body,
                           long *status, json_object **out, char **raw, va_list segments)
{
    return send_ns_request_q(ctx, what, method, NULL, body, status, out, raw, segments);
}

int client_ns_query(cli_ctx *ctx, const char *what, const char *method, const char *query,
                    json_object *body, long *status, json_object **out, ...)
{
    char *raw;
    va_list ap;
    va_start(ap, out);
    int rc = send_ns_request_q(ctx, what, method, query, body, status, out, &raw, ap);
    va_end(ap);
    if (rc == 0 && (*status < 200 || *status > 299) && *status != 404)
        client_print_http_error(what, *status, *out, raw);
    if (rc == 0 && *status >= 200 && *status <= 299 && !*out) {
        fprintf(stderr, "exoctl: %s: the server's answer is not JSON: %.200s\n", what, raw);
        rc = -1;
    }
    free(raw);
    return rc;
}

int client_ns_call(cli_ctx *ctx, const char *what, const char *method, json_object *body,
                   json_object **out, ...)
{
    long status = 0;
    char *raw;
    va_list ap;
    va_start(ap, out);
    int rc = send_ns_request(ctx, what, method, body, &status, out, &raw, ap);
    va_end(ap);
    return rc != 0 ? -1 : finish_call(what, status, out, raw);
}

int client_ns_call_status(cli_ctx *ctx, const char *what, const char *method, json_object *body,
                          long *status, json_object **out, ...)
{
    char *raw;
    va_list ap;
    va_start(ap, out);
    int rc = send_ns_request(ctx, what, method, body, status, out, &raw, ap);
    va_end(ap);
    free(raw);
    return rc;
}
