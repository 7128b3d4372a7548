#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "clock.h"
#include "http.h"
#include "json_guard.h"
#include "log.h"
#include "router.h"
#include "session.h"
#include "sm_util.h"

struct exo_server {
    struct MHD_Daemon *daemon;
    exo_app *app;
};

/* Per-request state kept by MHD between access-handler calls. */
typedef struct conn_ctx {
    char *raw_uri;   /* request target as sent (for the query string of redirects) */
    int started;
    char *body;
    size_t len, cap;
    int too_large;
    int64_t started_us; /* monotonic, when the request line arrived */
} conn_ctx;

/* ---- what MHD answers by itself ----------------------------------------------------
 *
 * libmicrohttpd 0.9.x (Debian bookworm: 0.9.75) answers some requests without ever
 * calling the access handler (connection.c, transmit_error_response_len):
 *   414 when the request line does not fit in the connection's memory pool, 431
 *   when the headers after it do not (or their records do not), 400 for a header
 *   line without a colon, a version that is not "HTTP/d.d" (e.g. "GET /x" or
 *   "GET /x FOO/1.1"), a malformed Content-Length or chunked encoding, 413 for a
 *   Content-Length or chunk size beyond 2^64, 505 for a major version other than 1.
 * Their bodies are compile-time HTML string constants, sent with no Content-Type and
 * with "Connection: close".  0.9.x has no option or callback to replace them: there
 * is no error-page hook, and the URI log and completion callbacks only observe (the
 * access handler is not called, so no response of ours can be queued).  A request
 * line without a space, or an empty one, is not answered at all: MHD just closes the
 * connection.
 * What we can control is where the size limits lie.  MHD_OPTION_CONNECTION_MEMORY_LIMIT
 * makes the pool (hence the largest request head MHD accepts) EXO_MHD_POOL_SIZE,
 * well above our own limits below, which phase_limits answers with JSON
 * {"detail": ...} 414 / 431.  Only a head too large for the pool itself still gets
 * MHD's HTML; everything the old 32 KiB default pool accepted is still accepted. */
#define EXO_URI_LIMIT (32u * 1024)     /* request target as sent, query included */
#define EXO_HEADERS_LIMIT (32u * 1024) /* sum of "name: value\r\n" over the header fields */
#define EXO_MHD_POOL_SIZE ((size_t)128 * 1024)
_Static_assert(EXO_URI_LIMIT + EXO_HEADERS_LIMIT <= EXO_MHD_POOL_SIZE / 2,
               "MHD's pool must hold a head at our limits plus MHD's own records, or MHD answers first");

static const char cors_methods[] = "GET, POST, PUT, DELETE, OPTIONS, PATCH";
static const char *const cors_headers[] = {"Accept",    "Accept-Language", "Content-Language",
                                           "Content-Type", "X-API-Key",    "Authorization",
                                           "X-Requested-With", "X-Exosphere-Request-ID"};

/* ---- transport queries for handlers ------------------------------------------------ */

int exo_req_client_gone(const exo_req *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info((struct MHD_Connection *)req->transport, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return 0;
    struct pollfd pfd = {.fd = info->connect_fd, .events = POLLRDHUP};
    int n = poll(&pfd, 1, 0);
    return n > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* ---- plumbing ---------------------------------------------------------------------- */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static int origin_allowed(exo_app *app, const char *origin)
{
    if (!origin)
        return 0;
    for (size_t i = 0; i < app->cfg.cors_count; i++)
        if (!strcmp(app->cfg.cors_origins[i], "*") || !strcmp(app->cfg.cors_origins[i], origin))
            return 1;
    return 0;
}

static void add_common_headers(exo_app *app, struct MHD_Connection *c, struct MHD_Response *resp,
                               const char *request_id)
{
    MHD_add_response_header(resp, "x-exosphere-request-id", request_id);
    const char *origin = header(c, "Origin");
    if (origin_allowed(app, origin)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", "X-Exosphere-Request-ID");
        MHD_add_response_header(resp, "Vary", "Origin");
    }
}

static int header_allowed(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof cors_headers / sizeof *cors_headers; i++)
        if (strlen(cors_headers[i]) == len && !strncasecmp(cors_headers[i], name, len))
            return 1;
    return 0;
}

static int headers_allowed(const char *list)
{
    if (!list)
        return 1;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        while (len && start[len - 1] == ' ')
            len--;
        if (len && !header_allowed(start, len))
            return 0;
    }
    return 1;
}

static int method_allowed(const char *method)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (!strcmp(methods[i], method))
            return 1;
    return 0;
}

static int is_json_content_type(const char *ct)
{
    if (!ct)
        return 1;
    while (*ct == ' ')
        ct++;
    size_t len = strcspn(ct, ";");
    while (len && ct[len - 1] == ' ')
        len--;
    if (len == 16 && !strncasecmp(ct, "application/json", 16))
        return 1;
    if (len > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + len - 5, "+json", 5))
        return 1;
    return 0;
}

/* 1 when buf[0..len) is valid UTF-8. */
static int utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* Parses the body; on a JSON syntax error returns the §1.4 422 detail object. */
static json_object *parse_body(const char *buf, size_t len, json_object **invalid, int *oom)
{
    *invalid = NULL;
    *oom = 0;
    /* json-c refuses nesting >= its depth argument: +1 accepts exactly EXO_JSON_DEPTH levels */
    json_tokener *tok = json_tokener_new_ex(EXO_JSON_DEPTH + 1);
    if (!tok) {
        *oom = 1;
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    /* buf[len] is a NUL: passing it tells the tokener that the input ends (a bare
       literal such as `null` or `5` is complete only then) */
    json_object *obj = json_tokener_parse_ex(tok, buf, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    const char *msg = NULL;
    if (jerr == json_tokener_continue)
        msg = "unexpected end of data";
    else if (jerr != json_tokener_success)
        msg = json_tokener_error_desc(jerr);
    else {
        while (end < len && (buf[end] == ' ' || buf[end] == '\t' || buf[end] == '\n' || buf[end] == '\r'))
            end++;
        if (end < len)
            msg = "Extra data";
    }
    json_tokener_free(tok);
    if (!msg)
        return obj;
    json_object_put(obj);
    json_object *err = json_object_new_object(), *loc = json_object_new_array(), *ctx = json_object_new_object();
    json_object_array_add(loc, json_object_new_string("body"));
    /* the reference reports a character (not byte) offset */
    int64_t chars = 0;
    for (size_t i = 0; i < end && i < len; i++)
        if (((unsigned char)buf[i] & 0xC0) != 0x80)
            chars++;
    json_object_array_add(loc, json_object_new_int64(chars));
    json_object_object_add(err, "type", json_object_new_string("json_invalid"));
    json_object_object_add(err, "loc", loc);
    json_object_object_add(err, "msg", json_object_new_string("JSON decode error"));
    json_object_object_add(err, "input", json_object_new_object());
    json_object_object_add(ctx, "error", json_object_new_string(msg));
    json_object_object_add(err, "ctx", ctx);
    json_object *detail = json_object_new_object(), *arr = json_object_new_array();
    json_object_array_add(arr, err);
    json_object_object_add(detail, "detail", arr);
    *invalid = detail;
    return NULL;
}

/* 1 when the request path (before any query) contains an encoded NUL: MHD's decoded
 * path would end there, so the server would act on a different (truncated) name. */
static int raw_path_has_nul(const char *raw_uri)
{
    if (!raw_uri)
        return 0;
    size_t path_len = strcspn(raw_uri, "?");
    for (size_t i = 0; i + 2 < path_len; i++)
        if (raw_uri[i] == '%' && raw_uri[i + 1] == '0' && raw_uri[i + 2] == '0')
            return 1;
    return 0;
}

static int api_key_ok(exo_app *app, struct MHD_Connection *c)
{
    return exo_secret_equal(header(c, "x-api-key"), app->cfg.api_secret);
}

/* Location for a trailing-slash redirect, or 0 when the toggled path is unknown too. */
static int slash_redirect(const char *path, char *location, size_t loclen)
{
    size_t len = strlen(path);
    char *alt = malloc(len + 2), *scratch = malloc(len + 2);
    if (!alt || !scratch) {
        free(alt);
        free(scratch);
        return 0;
    }
    if (len > 1 && path[len - 1] == '/') {
        memcpy(alt, path, len - 1);
        alt[len - 1] = '\0';
    } else {
        memcpy(alt, path, len);
        alt[len] = '/';
        alt[len + 1] = '\0';
    }
    const exo_route *route;
    const char *params[EXO_MAX_PATH_PARAMS];
    size_t np;
    char allow[64];
    exo_route_result r = exo_route_match("\x01", alt, &route, params, &np, scratch, allow, sizeof allow);
    int ok = r != EXO_ROUTE_NOT_FOUND;
    if (ok)
        snprintf(location, loclen, "%s", alt);
    free(alt);
    free(scratch);
    return ok;
}

/* ---- the request pipeline ---------------------------------------------------------
 *
 * Once MHD has the whole request (headers and body), it runs through named phases
 * in a fixed order, nginx-style.  Each phase does one job and either lets the
 * request go on (PHASE_NEXT) or decides the response (PHASE_RESPOND: x->resp and
 * x->headers are set); PHASE_ABORT drops the connection (out of memory where
 * nothing can be answered).  finish() then logs and sends whatever was decided.
 * The order is part of the wire contract (§1.4): limits, CORS pre-flight, routing
 * (405 / 404 / 307) and the body checks come before the API key, so a malformed
 * body answers 422 even without a key. */

typedef enum { PHASE_NEXT, PHASE_RESPOND, PHASE_ABORT } phase_result;

#define MAX_EXTRA_HEADERS 3

/* One request on its way through the phases: what they share. */
typedef struct request {
    exo_app *app;
    struct MHD_Connection *conn;
    conn_ctx *cc;
    const char *url, *method, *request_id;
    const exo_route *route;
    const char *route_pattern; /* the matched route's pattern ("{}" per parameter); NULL when unrouted */
    char *scratch;             /* url split by the router; req.params point into it */
    char *sanitized[EXO_MAX_PATH_PARAMS];
    exo_req req;
    exo_resp resp;
    struct {
        const char *name, *value; /* values outlive finish(): static, MHD's or below */
    } headers[MAX_EXTRA_HEADERS];
    size_t nheaders;
    char allow[128];
    char location[8800];
} request;

typedef struct {
    const char *name;
    phase_result (*run)(request *x);
} phase;

static void add_header(request *x, const char *name, const char *value)
{
    if (x->nheaders < MAX_EXTRA_HEADERS) {
        x->headers[x->nheaders].name = name;
        x->headers[x->nheaders].value = value;
        x->nheaders++;
    }
}

static phase_result respond_detail(request *x, int status, const char *detail)
{
    exo_resp_detail(&x->resp, status, "%s", detail);
    return PHASE_RESPOND;
}

static enum MHD_Result count_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                          const char *value, size_t value_size)
{
    (void)kind;
    (void)key;
    (void)value;
    *(size_t *)cls += key_size + value_size + 4; /* "name: value\r\n" */
    return MHD_YES;
}

/* Our own head-size limits, answered as JSON; they sit well inside MHD's memory
 * pool so that MHD's HTML answers (see exo_server_start) are seldom reached. */
static phase_result phase_limits(request *x)
{
    if (strlen(x->cc->raw_uri) > EXO_URI_LIMIT) {
        exo_resp_detail(&x->resp, 414, "Request URI too long: the limit is %u bytes", EXO_URI_LIMIT);
        return PHASE_RESPOND;
    }
    size_t header_bytes = 0;
    MHD_get_connection_values_n(x->conn, MHD_HEADER_KIND, count_header_bytes, &header_bytes);
    if (header_bytes > EXO_HEADERS_LIMIT) {
        exo_resp_detail(&x->resp, 431, "Request header fields too large: the limit is %u bytes",
                        EXO_HEADERS_LIMIT);
        return PHASE_RESPOND;
    }
    return PHASE_NEXT;
}

/* Starlette-style CORS pre-flight answer. */
static phase_result phase_preflight(request *x)
{
    if (strcmp(x->method, "OPTIONS") || !header(x->conn, "Origin") ||
        !header(x->conn, "Access-Control-Request-Method"))
        return PHASE_NEXT;
    const char *origin = header(x->conn, "Origin");
    const char *method = header(x->conn, "Access-Control-Request-Method");
    const char *req_headers = header(x->conn, "Access-Control-Request-Headers");
    char failures[128] = "";
    if (!origin_allowed(x->app, origin))
        strcat(failures, "origin");
    if (!method_allowed(method))
        strcat(failures, *failures ? ", method" : "method");
    if (!headers_allowed(req_headers))
        strcat(failures, *failures ? ", headers" : "headers");
    if (*failures) {
        char text[160];
        int n = snprintf(text, sizeof text, "Disallowed CORS %s", failures);
        exo_resp_bytes(&x->resp, 400, "text/plain; charset=utf-8", text, (size_t)n);
        return PHASE_RESPOND;
    }
    exo_resp_bytes(&x->resp, 200, "text/plain; charset=utf-8", "OK", 2);
    add_header(x, "Access-Control-Allow-Methods", cors_methods);
    add_header(x, "Access-Control-Max-Age", "600");
    add_header(x, "Access-Control-Allow-Headers",
               req_headers ? req_headers
                           : "Accept, Accept-Language, Content-Language, Content-Type, X-API-Key, "
                             "Authorization, X-Requested-With, X-Exosphere-Request-ID");
    return PHASE_RESPOND;
}

/* 307 to the path with the trailing slash toggled when that one exists, else 404. */
static phase_result respond_not_found(request *x)
{
    char location[4096];
    if (strlen(x->url) >= sizeof location - 2 || !slash_redirect(x->url, location, sizeof location))
        return respond_detail(x, 404, "Not Found");
    const char *host = header(x->conn, "Host");
    const char *query = strchr(x->cc->raw_uri, '?');
    if (!query || strlen(query) > 4096)
        query = "";
    if (host && strlen(host) < 256)
        snprintf(x->location, sizeof x->location, "http://%s%s%s", host, location, query);
    else
        snprintf(x->location, sizeof x->location, "%s%s", location, query);
    exo_resp_bytes(&x->resp, 307, "application/json", "", 0);
    add_header(x, "Location", x->location);
    return PHASE_RESPOND;
}

static phase_result phase_route(request *x)
{
    x->scratch = malloc(strlen(x->url) + 1);
    if (!x->scratch)
        return PHASE_ABORT;
    exo_route_result rr = exo_route_match(x->method, x->url, &x->route, x->req.params, &x->req.nparams,
                                          x->scratch, x->allow, sizeof x->allow);
    if (rr == EXO_ROUTE_BAD_METHOD) {
        add_header(x, "Allow", x->allow);
        return respond_detail(x, 405, "Method Not Allowed");
    }
    if (rr == EXO_ROUTE_NOT_FOUND)
        return respond_not_found(x);
    /* MHD's decoded path ends at an encoded NUL: the route matched is not the one asked for */
    if (raw_path_has_nul(x->cc->raw_uri))
        return respond_detail(x, 404, "Not Found");
    x->route_pattern = x->route->pattern;
    return PHASE_NEXT;
}

/* A %-decoded parameter may be ill-formed UTF-8: it would be stored and served back
 * as invalid JSON text (breaking e.g. every client's namespace list), so it is
 * repaired the way the reference decodes paths. */
static phase_result phase_path_params(request *x)
{
    for (size_t i = 0; i < x->req.nparams; i++) {
        if (utf8_valid((const unsigned char *)x->req.params[i], strlen(x->req.params[i])))
            continue;
        x->sanitized[i] = exo_utf8_sanitize(x->req.params[i]);
        if (!x->sanitized[i])
            return PHASE_ABORT;
        x->req.params[i] = x->sanitized[i];
    }
    return PHASE_NEXT;
}

/* Python's json.loads skips a UTF-8 byte order mark. */
static void strip_bom(conn_ctx *cc)
{
    if (cc->len < 3 || memcmp(cc->body, "\xef\xbb\xbf", 3))
        return;
    memmove(cc->body, cc->body + 3, cc->len - 3 + 1);
    cc->len -= 3;
}

/* Size cap, content type, BOM, UTF-8 and JSON syntax of the body of a route that
 * takes one; leaves req.body (parsed) or req.body_raw (not JSON-typed) set. */
static phase_result phase_body(request *x)
{
    if (!x->route->takes_body)
        return PHASE_NEXT;
    conn_ctx *cc = x->cc;
    if (cc->too_large) {
        exo_resp_detail(&x->resp, 413, "Request body too large: the limit is %u bytes", EXO_BODY_LIMIT);
        return PHASE_RESPOND;
    }
    int json_typed = is_json_content_type(header(x->conn, "Content-Type"));
    if (json_typed)
        strip_bom(cc);
    x->req.raw = cc->body ? cc->body : "";
    x->req.raw_len = cc->len;
    if (cc->len == 0)
        return PHASE_NEXT;
    if (!json_typed) {
        x->req.body_raw = 1;
        return PHASE_NEXT;
    }
    if (!utf8_valid((const unsigned char *)cc->body, cc->len))
        return respond_detail(x, 400, "There was an error parsing the body");
    json_object *invalid;
    int oom;
    x->req.body = parse_body(cc->body, cc->len, &invalid, &oom);
    if (oom) {
        exo_resp_500(&x->resp);
        return PHASE_RESPOND;
    }
    if (invalid) {
        exo_resp_json(&x->resp, 422, invalid);
        return PHASE_RESPOND;
    }
    return PHASE_NEXT;
}

/* x-api-key, or the dashboard's session cookie (session.h: a change also needs the
 * session's X-CSRF-Token and a same-origin request). */
static phase_result phase_auth(request *x)
{
    if (x->route->public_ || api_key_ok(x->app, x->conn))
        return PHASE_NEXT;
    exo_session_verdict v = exo_session_authorize(&x->req);
    if (v == EXO_SESSION_OK)
        return PHASE_NEXT;
    int status = v == EXO_SESSION_NO_CSRF || v == EXO_SESSION_BAD_ORIGIN ? 403 : 401;
    return respond_detail(x, status, exo_session_verdict_message(v));
}

/* Values json-c would have clamped / cut are refused rather than stored changed. */
static phase_result phase_json_guard(request *x)
{
    if (!x->req.body)
        return PHASE_NEXT;
    int oom;
    json_object *unrepresentable = exo_json_guard(x->cc->body, x->cc->len, EXO_JSON_DEPTH, &oom);
    if (oom) {
        json_object_put(unrepresentable);
        exo_resp_500(&x->resp);
        return PHASE_RESPOND;
    }
    if (!unrepresentable)
        return PHASE_NEXT;
    exo_resp_json(&x->resp, 422, unrepresentable);
    return PHASE_RESPOND;
}

static phase_result phase_handler(request *x)
{
    x->resp.status = 500;
    x->route->handler(&x->req, &x->resp);
    if (!x->resp.body && !x->resp.raw)
        exo_resp_500(&x->resp);
    return PHASE_RESPOND;
}

static const phase phases[] = {
    {"limits", phase_limits},         {"preflight", phase_preflight}, {"route", phase_route},
    {"path_params", phase_path_params}, {"body", phase_body},       {"auth", phase_auth},
    {"json_guard", phase_json_guard}, {"handler", phase_handler},
};

static const char fallback_500[] = "{\"success\":false,\"detail\":\"internal server error, please reach out to "
                                   "support team at nivedit@exosphere.host\"}";

/* The bytes, content type and status to send for x->resp; an empty response or
 * one whose JSON cannot be serialised (out of memory) becomes the generic 500. */
static const char *response_bytes(request *x, size_t *len, const char **ctype, int *status)
{
    exo_resp *r = &x->resp;
    *status = r->status;
    *ctype = "application/json";
    if (r->raw) {
        if (r->content_type)
            *ctype = r->content_type;
        *len = r->raw_len;
        return r->raw;
    }
    const char *text = r->body ? exo_json_text(r->body) : NULL;
    if (!text) {
        *status = 500;
        *len = sizeof fallback_500 - 1;
        return fallback_500;
    }
    *len = strlen(text);
    return text;
}

static enum MHD_Result send_response(request *x, int *status)
{
    size_t len;
    const char *ctype;
    const char *data = response_bytes(x, &len, &ctype, status);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    add_common_headers(x->app, x->conn, resp, x->request_id);
    for (size_t i = 0; i < x->nheaders; i++)
        MHD_add_response_header(resp, x->headers[i].name, x->headers[i].value);
    for (size_t i = 0; i < x->resp.nheaders; i++)
        MHD_add_response_header(resp, x->resp.headers[i].name, x->resp.headers[i].value);
    enum MHD_Result rc = MHD_queue_response(x->conn, (unsigned)*status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Sends the decided response and logs it.  Per-request hooks (e.g. counting and
 * timing requests by route_pattern and status for /metrics) belong here: route,
 * final status and elapsed time are all known. */
static enum MHD_Result finish(request *x)
{
    int status;
    enum MHD_Result rc = send_response(x, &status);
    int64_t elapsed_us = exo_mono_us() - x->cc->started_us;
    if (status >= 500)
        log_warn("%s %s -> %d in %lld us (request %s)", x->method, x->url, status, (long long)elapsed_us,
                 x->request_id);
    else
        log_debug("%s %s -> %d in %lld us (request %s)", x->method, x->url, status, (long long)elapsed_us,
                  x->request_id);
    return rc;
}

static void request_free(request *x)
{
    exo_resp_free(&x->resp);
    json_object_put(x->req.body);
    for (size_t i = 0; i < EXO_MAX_PATH_PARAMS; i++)
        free(x->sanitized[i]);
    free(x->scratch);
}

static enum MHD_Result run_pipeline(request *x)
{
    enum MHD_Result rc = MHD_NO;
    for (size_t i = 0; i < sizeof phases / sizeof *phases; i++) {
        phase_result r = phases[i].run(x);
        if (r == PHASE_ABORT) {
            log_warn("%s %s: out of memory in phase %s (request %s)", x->method, x->url, phases[i].name,
                     x->request_id);
            goto out;
        }
        if (r == PHASE_RESPOND)
            break;
    }
    rc = finish(x);
out:
    request_free(x);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    exo_app *app = cls;
    conn_ctx *cc = *con_cls;
    if (!cc || !cc->raw_uri)
        return MHD_NO; /* uri_logger could not allocate (the raw path is needed for the %00 check) */
    if (!cc->started) {
        cc->started = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (cc->too_large || cc->len + n > EXO_BODY_LIMIT) {
            cc->too_large = 1;
            return MHD_YES;
        }
        if (cc->len + n + 1 > cc->cap) {
            /* first size exact: a small body stays a small allocation (a fixed 4 KiB
               one made malloc consolidate its fast bins on every request) */
            size_t cap = cc->cap ? cc->cap : n + 1;
            while (cap < cc->len + n + 1)
                cap *= 2;
            char *nb = realloc(cc->body, cap);
            if (!nb)
                return MHD_NO;
            cc->body = nb;
            cc->cap = cap;
        }
        memcpy(cc->body + cc->len, upload_data, n);
        cc->len += n;
        cc->body[cc->len] = '\0';
        return MHD_YES;
    }
    char rid[EXO_UUID_LEN + 1];
    const char *given = header(c, "x-exosphere-request-id");
    const char *request_id = given;
    if (!exo_uuid_parseable(given)) {
        exo_uuid4(rid);
        request_id = rid;
    }
    request x = {.app = app, .conn = c, .cc = cc, .url = url, .method = method, .request_id = request_id};
    x.req = (exo_req){.app = app, .method = method, .request_id = request_id, .transport = c};
    return run_pipeline(&x);
}

/* Called by MHD at the start of every request with the raw request target; the
 * returned context becomes the request's con_cls. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    conn_ctx *cc = calloc(1, sizeof *cc);
    if (!cc)
        return NULL;
    cc->started_us = exo_mono_us();
    if (uri)
        cc->raw_uri = strdup(uri);
    return cc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_ctx *cc = *con_cls;
    if (cc) {
        free(cc->raw_uri);
        free(cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    log_warn("http: %s", buf);
}

exo_server *exo_server_start(exo_app *app, char *err, size_t errlen)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)app->cfg.listen_port);
    const char *host = app->cfg.listen_host;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "--listen: '%s' is not an IPv4 address", app->cfg.listen_host);
        return NULL;
    }
    exo_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->app = app;
    srv->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                       MHD_USE_ERROR_LOG,
                                   (uint16_t)app->cfg.listen_port, NULL, NULL, on_request, app,
                                   MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                   MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT, EXO_MHD_POOL_SIZE,
                                   /* explicit, so deep (EXO_JSON_DEPTH) documents never depend on
                                      the ulimit the server was started with */
                                   MHD_OPTION_THREAD_STACK_SIZE, (size_t)(8u * 1024 * 1024),
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available)", app->cfg.listen_host,
                 app->cfg.listen_port);
        free(srv);
        return NULL;
    }
    return srv;
}

void exo_server_stop(exo_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
