/* exoctl's view of the state manager API: one connection, JSON in and out, and
 * error reporting that shows the server's own detail.
 *
 * Every call prints a message to stderr when it fails, so commands only decide
 * what to do next (normally: return EXIT_FAILURE). */
#ifndef EXOCTL_CLIENT_H
#define EXOCTL_CLIENT_H

#include <json-c/json.h>

#include "http_client.h"

/* Settings resolved from flags and environment, plus the open connection. */
#define CLI_MAX_URIS 16

typedef struct cli_ctx {
    const char *uri;            /* one URI, or a comma-separated list of replicas */
    const char *api_key;
    const char *namespace_name; /* NULL when neither -n nor EXOSPHERE_NAMESPACE is set */
    int json;                   /* --json: machine-readable output */
    exo_http *http;
    char *uri_copy;             /* the list, split in place into uris[] */
    const char *uris[CLI_MAX_URIS];
    size_t n_uris, current;     /* uris[current] is the one http talks to */
} cli_ctx;

/* Splits ctx->uri into ctx->uris (commas; blanks around each trimmed).  0, or -1
 * with a message in err naming the URI that is wrong. */
int client_split_uris(cli_ctx *ctx, char *err, size_t errlen);

/* Opens the connection to the first URI (client_split_uris done).  Returns 0, or
 * -1 after printing why.  A request that cannot connect, or gets 502/503/504, is
 * sent to the next URI of the list (failover). */
int client_open(cli_ctx *ctx);
void client_close(cli_ctx *ctx);

/* Calls METHOD /v0/namespace/{ns}/<segments...>; segments are NULL-terminated and
 * each is percent-encoded; an empty segment "" produces a trailing slash (nodes/).
 * body may be NULL.  On a 2xx answer stores the parsed JSON in *out (caller puts it)
 * and returns 0.  Otherwise prints "<what>: <reason>" with the server's detail and
 * returns -1.  *out is NULL after a failure. */
int client_ns_call(cli_ctx *ctx, const char *what, const char *method, json_object *body,
                   json_object **out, ...) __attribute__((sentinel));

/* Same for a path outside a namespace, e.g. "/v0/namespaces". */
int client_call(cli_ctx *ctx, const char *what, const char *method, const char *path,
                json_object *body, json_object **out);

/* Like client_ns_call but also returns the HTTP status and stays silent on a
 * non-2xx answer (for callers that handle e.g. 404 themselves).  Returns -1 only
 * when no answer arrived (after printing why); *out holds the parsed body or NULL. */
int client_ns_call_status(cli_ctx *ctx, const char *what, const char *method, json_object *body,
                          long *status, json_object **out, ...) __attribute__((sentinel));

/* Calls METHOD /v0/namespace/{ns}/<segments...>?query (query already encoded; NULL
 * or "" for none).  Returns -1 only when no answer arrived or a 2xx answer is not
 * JSON (after printing why); otherwise 0 with *status and *out (the parsed body or
 * NULL).  Error answers are printed, except 404, which callers use to tell a state
 * manager without exo's extensions (the reference) from a real miss. */
int client_ns_query(cli_ctx *ctx, const char *what, const char *method, const char *query,
                    json_object *body, long *status, json_object **out, ...) __attribute__((sentinel));

/* Prints "exoctl: <what>: HTTP <status>: <detail>" for an error answer body. */
void client_print_http_error(const char *what, long status, json_object *body,
                             const char *raw_body);

#endif
