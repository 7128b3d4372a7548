#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "clock.h"
#include "conns.h"
#include "framing.h"
#include "http.h"
#include "json_guard.h"
#include "log.h"
#include "router.h"
#include "session.h"
#include "sm_util.h"
#include "strfmt.h"

struct exo_server {
    struct MHD_Daemon *daemon;
    exo_app *app;
    exo_conns *conns;
    unsigned capacity, per_ip;
    atomic_size_t parked; /* long-polls parked, or resumed and not yet answered */
};

typedef struct conn_ctx conn_ctx;

/* ---- what MHD answers by itself ----------------------------------------------------
 *
 * (Listed for users in docs/dev/HARDENING.md.)
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

void exo_req_client_addr(const exo_req *req, char out[EXO_ADDR_LEN])
{
    snprintf(out, EXO_ADDR_LEN, "unknown");
    if (!req->transport)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info((struct MHD_Connection *)req->transport, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    const void *bytes = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                                  : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, bytes, out, EXO_ADDR_LEN))
        snprintf(out, EXO_ADDR_LEN, "unknown");
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
    const char *key = header(c, "x-api-key");
    if (!key)
        return 0;
    /* MHD drops the whitespace before a value, not after it: neither is part of the key */
    size_t kl = strlen(key);
    while (kl && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
        kl--;
    return exo_secret_equal_n(key, kl, app->cfg.api_secret);
}

/* "Authorization: Bearer <key>": the form a Prometheus scrape config sends. */
static int bearer_key_ok(exo_app *app, struct MHD_Connection *c)
{
    const char *v = header(c, "Authorization");
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return 0;
    const char *key = v + 7;
    while (*key == ' ')
        key++;
    size_t kl = strlen(key);
    while (kl && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
        kl--;
    return kl > 0 && exo_secret_equal_n(key, kl, app->cfg.api_secret);
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
 * A request runs through named phases in a fixed order, nginx-style.  Each phase
 * does one job and either lets the request go on (PHASE_NEXT) or decides the
 * response (PHASE_RESPOND: x->resp and x->headers are set); PHASE_ABORT drops the
 * connection (out of memory where nothing can be answered).  finish() then logs
 * and sends whatever was decided.
 *
 * The head phases (framing, limits, CORS pre-flight, routing, path parameters,
 * the API key) run on MHD's first access-handler call, when only the head has
 * been read: a request they refuse never has a body byte buffered or parsed (the
 * product's deliberate reversal of the reference's "body before key" order).  If
 * such a request announced a body, the answer goes out at once and MHD closes the
 * connection after it instead of reading the body; otherwise the answer waits for
 * MHD's final call so that the connection stays reusable.  The body phases (body,
 * JSON guard, handler) run once the whole body is in.  A handler may park (a
 * long-poll, exo_park): the connection is suspended and the handler resumed when
 * its waiter is woken. */

typedef enum { PHASE_NEXT, PHASE_RESPOND, PHASE_ABORT } phase_result;

#define MAX_EXTRA_HEADERS 3

/* One request on its way through the phases: what they share. */
typedef struct request {
    exo_app *app;
    struct MHD_Connection *conn;
    conn_ctx *cc;
    const char *url, *method, *request_id;
    const exo_route *route;
    const char *route_pattern; /* the matched route's pattern ("{name}" per parameter); NULL when unrouted */
    char *scratch;             /* url split by the router; req.params point into it */
    char *sanitized[EXO_MAX_PATH_PARAMS];
    exo_req req;
    exo_resp resp;
    struct {
        const char *name, *value; /* values outlive finish(): static, MHD's or below */
    } headers[MAX_EXTRA_HEADERS];
    size_t nheaders;
    char allow[128];
    char *location;            /* a redirect's Location (owned); NULL otherwise */
} request;

/* Where a request is between MHD's calls of the access handler. */
typedef enum {
    STAGE_HEAD,    /* the first call (headers only) has not run yet */
    STAGE_BODY,    /* head accepted: body bytes are being collected */
    STAGE_DECIDED, /* the head phases decided the answer; sent at the final call */
    STAGE_PARKED,  /* a long-poll waits (connection suspended, or resumed and due) */
    STAGE_DONE,    /* answered */
} request_stage;

/* Per-request state kept by MHD between access-handler calls (con_cls): created by
 * uri_logger when the request line arrives, freed by on_completed. */
struct conn_ctx {
    exo_server *srv;
    exo_conn *conn;   /* the connection's registry entry (NULL when out of memory) */
    char *raw_uri;    /* request target as sent (for the query string of redirects) */
    request_stage stage;
    int live;         /* x holds state that request_free must release */
    int store_body;   /* the route takes a body: keep its bytes */
    int framing_refused; /* phase_framing refused the head: answer and close at once */
    exo_framing framing;
    char *body;
    size_t len, cap;
    int64_t started_us; /* monotonic, when the request line arrived */
    char generated_id[EXO_UUID_LEN + 1]; /* when the client sent no usable id */
    exo_park *park;   /* the parked long-poll (STAGE_PARKED) */
    request x;        /* the phases' state, from the first call to the answer */
};

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

/* Request smuggling and truncation guards (framing.h); a declared body above the
 * limit is refused before it is read. */
static phase_result phase_framing(request *x)
{
    const union MHD_ConnectionInfo *hs =
        MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    char detail[200];
    int status = exo_framing_check(x->conn, x->method, hs ? hs->header_size : 0, EXO_BODY_LIMIT,
                                   &x->cc->framing, detail, sizeof detail);
    if (!status)
        return PHASE_NEXT;
    x->cc->framing_refused = 1;
    if (status == 413)
        exo_conns_limit_hit(x->cc->srv->conns, EXO_LIMIT_BODY_SIZE, detail);
    return respond_detail(x, status, detail);
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
    free(x->location);
    x->location = host && strlen(host) < 256 ? exo_strfmt("http://%s%s%s", host, location, query)
                                             : exo_strfmt("%s%s", location, query);
    if (!x->location)
        return PHASE_ABORT;
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
    /* the routes that take a bearer key are the metrics ones: --metrics-public opens them */
    if (x->route->bearer && (x->app->cfg.metrics_public || bearer_key_ok(x->app, x->conn)))
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
    char why[300];
    /* a failure because the database is out of reach is temporary: clients retry a 503 */
    if (x->resp.status == 500 && exo_app_db_health(x->app, 0, why, sizeof why) != 0)
        exo_resp_detail(&x->resp, 503, "%s; nothing was changed, retry later", why);
    return PHASE_RESPOND;
}

/* Run on the first call, with the head only. */
static const phase head_phases[] = {
    {"framing", phase_framing}, {"limits", phase_limits},           {"preflight", phase_preflight},
    {"route", phase_route},     {"path_params", phase_path_params}, {"auth", phase_auth},
};

/* Run once the body is complete. */
static const phase body_phases[] = {
    {"body", phase_body},
    {"json_guard", phase_json_guard},
    {"handler", phase_handler},
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


/* Sends the decided response, counts and times it for /metrics (by route pattern
 * and status: route, final status and elapsed time are all known here) and logs it. */
static enum MHD_Result finish(request *x)
{
    int status;
    enum MHD_Result rc = send_response(x, &status);
    int64_t elapsed_us = exo_mono_us() - x->cc->started_us;
    exo_metrics_http(&x->app->metrics, x->route_pattern ? exo_route_index(x->route) : EXO_METRICS_MAX_ROUTES - 1,
                     status, elapsed_us);
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
    if (x->resp.park)
        x->resp.park->free(x->resp.park);
    x->resp.park = NULL;
    exo_resp_free(&x->resp);
    json_object_put(x->req.body);
    x->req.body = NULL;
    for (size_t i = 0; i < EXO_MAX_PATH_PARAMS; i++) {
        free(x->sanitized[i]);
        x->sanitized[i] = NULL;
    }
    free(x->location);
    x->location = NULL;
    free(x->scratch);
    x->scratch = NULL;
}

/* Runs phases in order: PHASE_NEXT when all let the request go on. */
static phase_result run_phases(request *x, const phase *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        phase_result r = list[i].run(x);
        if (r == PHASE_ABORT)
            log_warn("%s %s: out of memory in phase %s (request %s)", x->method, x->url, list[i].name,
                     x->request_id);
        if (r != PHASE_NEXT)
            return r;
    }
    return PHASE_NEXT;
}

/* Sends x's response and ends the request's state (the context itself lives until
 * on_completed). */
static enum MHD_Result answer(conn_ctx *cc)
{
    enum MHD_Result rc = finish(&cc->x);
    cc->stage = STAGE_DONE;
    exo_conns_set_phase(cc->srv->conns, cc->conn, EXO_CONN_BUSY);
    return rc;
}

/* Resumes a parked connection: called by app.c with its work lock held (it only
 * signals MHD's thread, which then calls on_request again). */
static void wake_parked(exo_work_waiter *w)
{
    MHD_resume_connection((struct MHD_Connection *)w->arg);
}

/* Takes the park the handler left in x->resp and suspends the connection until its
 * waiter is woken.  Suspending first: a wake-up that comes before exo_app_park
 * returns then resumes a connection that is already suspended. */
static enum MHD_Result park(conn_ctx *cc)
{
    exo_server *srv = cc->srv;
    if (cc->stage != STAGE_PARKED) {
        cc->park = cc->x.resp.park;
        cc->x.resp.park = NULL;
        cc->stage = STAGE_PARKED;
        atomic_fetch_add(&srv->parked, 1);
    }
    exo_work_waiter *w = &cc->park->waiter;
    w->wake = wake_parked;
    w->arg = cc->x.conn;
    MHD_suspend_connection(cc->x.conn);
    if (exo_app_park(srv->app, w) != 0)
        MHD_resume_connection(cc->x.conn); /* work came meanwhile, or shutting down: claim again now */
    else
        exo_conns_timer_hint(srv->conns, w->wake_at_ms);
    return MHD_YES;
}

/* The final call: the body phases, then the answer or a park. */
static enum MHD_Result run_body_phases(conn_ctx *cc)
{
    request *x = &cc->x;
    if (run_phases(x, body_phases, sizeof body_phases / sizeof *body_phases) == PHASE_ABORT)
        return MHD_NO;
    if (x->resp.park)
        return park(cc);
    return answer(cc);
}

/* A parked long-poll was woken: it answers or parks again. */
static enum MHD_Result resume_parked(conn_ctx *cc)
{
    request *x = &cc->x;
    while (cc->park->resume(cc->park, &x->req, &x->resp) == 1)
        if (!atomic_load(&cc->srv->app->stopping))
            return park(cc);
    /* (when stopping, a handler answers on its next resume instead of parking) */
    if (!x->resp.body && !x->resp.raw)
        exo_resp_500(&x->resp);
    cc->park->free(cc->park);
    cc->park = NULL;
    atomic_fetch_sub(&cc->srv->parked, 1);
    return answer(cc);
}

/* The first call: head only. */
static enum MHD_Result on_head(conn_ctx *cc, struct MHD_Connection *c, const char *url, const char *method)
{
    /* a client's id (any form exo_uuid_parseable accepts) is echoed as sent; MHD
       keeps header values for the request's lifetime */
    const char *request_id = header(c, "x-exosphere-request-id");
    if (!exo_uuid_parseable(request_id)) {
        exo_uuid4(cc->generated_id);
        request_id = cc->generated_id;
    }
    exo_app *app = cc->srv->app;
    cc->x = (request){.app = app, .conn = c, .cc = cc, .url = url, .method = method, .request_id = request_id};
    cc->x.req = (exo_req){.app = app, .method = method, .request_id = request_id, .transport = c};
    cc->live = 1;
    phase_result r = run_phases(&cc->x, head_phases, sizeof head_phases / sizeof *head_phases);
    if (r == PHASE_ABORT)
        return MHD_NO;
    int has_body = cc->framing.chunked || (cc->framing.has_length && cc->framing.length > 0);
    if (r == PHASE_RESPOND) {
        if (has_body || cc->framing_refused) { /* MHD closes the connection after it, unread body and all */
            exo_conns_linger(cc->srv->conns, cc->conn);
            return answer(cc);
        }
        cc->stage = STAGE_DECIDED;
        return MHD_YES;
    }
    cc->store_body = cc->x.route->takes_body;
    cc->stage = STAGE_BODY;
    if (has_body)
        exo_conns_set_phase(cc->srv->conns, cc->conn, EXO_CONN_BODY);
    return MHD_YES;
}

/* Body bytes: kept (up to the limit) for a route that takes a body, else dropped.
 * Only a chunked body can pass the limit (a declared length above it was refused
 * by phase_framing); MHD cannot queue an answer in the middle of a body, so the
 * connection is closed. */
static enum MHD_Result on_body_bytes(conn_ctx *cc, const char *data, size_t n)
{
    if (cc->len + n > EXO_BODY_LIMIT) {
        char text[160];
        snprintf(text, sizeof text, "closed a connection whose chunked request body passed the %u byte limit",
                 EXO_BODY_LIMIT);
        exo_conns_limit_hit(cc->srv->conns, EXO_LIMIT_BODY_SIZE, text);
        return MHD_NO;
    }
    if (!cc->store_body) {
        cc->len += n;
        return MHD_YES;
    }
    if (cc->len + n + 1 > cc->cap) {
        /* a declared length is allocated once; otherwise the first size is exact (a
           small body stays a small allocation) and doubles, at most to the limit */
        size_t cap = cc->cap ? cc->cap : n + 1;
        if (!cc->cap && cc->framing.has_length && cc->framing.length + 1 > cap)
            cap = (size_t)cc->framing.length + 1;
        while (cap < cc->len + n + 1)
            cap *= 2;
        if (cap > (size_t)EXO_BODY_LIMIT + 1)
            cap = (size_t)EXO_BODY_LIMIT + 1;
        char *nb = realloc(cc->body, cap);
        if (!nb)
            return MHD_NO;
        cc->body = nb;
        cc->cap = cap;
    }
    memcpy(cc->body + cc->len, data, n);
    cc->len += n;
    cc->body[cc->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    conn_ctx *cc = *con_cls;
    if (!cc || !cc->raw_uri)
        return MHD_NO; /* uri_logger could not allocate (the raw path is needed for the %00 check) */
    switch (cc->stage) {
    case STAGE_HEAD:
        return on_head(cc, c, url, method);
    case STAGE_BODY:
        if (*upload_size) {
            size_t n = *upload_size;
            *upload_size = 0;
            return on_body_bytes(cc, upload_data, n);
        }
        exo_conns_set_phase(cc->srv->conns, cc->conn, EXO_CONN_BUSY);
        return run_body_phases(cc);
    case STAGE_DECIDED:
        if (*upload_size) { /* not expected (the head announced no body): dropped */
            *upload_size = 0;
            return MHD_YES;
        }
        return answer(cc);
    case STAGE_PARKED:
        return resume_parked(cc);
    case STAGE_DONE:
        break;
    }
    return MHD_NO;
}

/* Called by MHD at the start of every request with the raw request target; the
 * returned context becomes the request's con_cls. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
    conn_ctx *cc = calloc(1, sizeof *cc);
    if (!cc)
        return NULL;
    cc->srv = cls;
    cc->started_us = exo_mono_us();
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info)
        cc->conn = info->socket_context;
    if (uri)
        cc->raw_uri = strdup(uri);
    return cc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    exo_server *srv = cls;
    conn_ctx *cc = *con_cls;
    if (!cc)
        return;
    if (cc->park) { /* ended while parked (e.g. the daemon stops): take it off the list first */
        exo_app_unpark(srv->app, &cc->park->waiter);
        cc->park->free(cc->park);
        atomic_fetch_sub(&srv->parked, 1);
    }
    if (cc->live)
        request_free(&cc->x);
    /* the connection now waits for its next request head */
    exo_conns_set_phase(srv->conns, cc->conn, EXO_CONN_HEAD);
    free(cc->raw_uri);
    free(cc->body);
    free(cc);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    exo_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? exo_conns_opened(srv->conns, info->connect_fd) : NULL;
        return;
    }
    exo_conns_closed(srv->conns, *socket_context);
    *socket_context = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    exo_server *srv = cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (strstr(buf, "connection limit")) {
        char text[200];
        snprintf(text, sizeof text,
                 "connection limit reached (%u connections in all, %u per client address): new connections are "
                 "refused",
                 srv->capacity, srv->per_ip);
        exo_conns_limit_hit(srv->conns, EXO_LIMIT_CONNECTIONS, text);
        return;
    }
    log_warn("http: %s", buf);
}

/* Descriptors kept out of the connection budget: the database, logs, the listening
 * socket, MHD's inter-thread channels and epoll sets. */
#define FD_RESERVE 64u

/* How many connections the process can hold: the configured maximum, bounded by
 * the descriptor limit (main raised the soft limit to the hard one at start-up). */
static unsigned connection_capacity(const exo_sm_config *cfg, unsigned long long *nofile)
{
    struct rlimit rl;
    unsigned cap = (unsigned)cfg->max_connections;
    *nofile = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        *nofile = (unsigned long long)rl.rlim_cur;
        unsigned long long usable = rl.rlim_cur > FD_RESERVE + 16 ? rl.rlim_cur - FD_RESERVE : 16;
        if (usable < cap)
            cap = (unsigned)usable;
    }
    return cap;
}

static struct MHD_Daemon *start_daemon(exo_server *srv, struct sockaddr_in *addr)
{
    const exo_sm_config *cfg = &srv->app->cfg;
    unsigned threads = (unsigned)cfg->http_threads;
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                                MHD_USE_ERROR_LOG,
                            (uint16_t)cfg->listen_port, NULL, NULL, on_request, srv,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_logger, srv,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_LIMIT, srv->capacity,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->per_ip,
                            /* inactivity while an answer is read; the head and body have their
                               own absolute deadlines (conns.c) */
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->header_timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, EXO_MHD_POOL_SIZE,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
                            /* explicit, so deep (EXO_JSON_DEPTH) documents never depend on
                               the ulimit the server was started with */
                            MHD_OPTION_THREAD_STACK_SIZE, (size_t)(8u * 1024 * 1024),
                            MHD_OPTION_END);
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
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return exo_errf(err, errlen, "--listen: '%s' is not an IPv4 address", app->cfg.listen_host), NULL;
    exo_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return exo_errf(err, errlen, "out of memory"), NULL;
    srv->app = app;
    atomic_init(&srv->parked, 0);
    unsigned long long nofile;
    srv->capacity = connection_capacity(&app->cfg, &nofile);
    srv->per_ip = (unsigned)app->cfg.max_connections_per_ip;
    srv->conns = exo_conns_start(app, app->cfg.header_timeout_s, app->cfg.body_timeout_s, err, errlen);
    if (!srv->conns) {
        free(srv);
        return NULL;
    }
    srv->daemon = start_daemon(srv, &addr);
    if (!srv->daemon) {
        exo_conns_stop(srv->conns);
        free(srv);
        return exo_errf(err, errlen, "cannot listen on %s:%d (address in use or not available)",
                        app->cfg.listen_host, app->cfg.listen_port),
               NULL;
    }
    log_info("http: up to %u connections (%u per client address; descriptor limit %llu), %d threads, "
             "request head within %d s, body within %d s",
             srv->capacity, srv->per_ip, nofile, app->cfg.http_threads, app->cfg.header_timeout_s,
             app->cfg.body_timeout_s);
    return srv;
}

void exo_server_stop(exo_server *srv)
{
    if (!srv)
        return;
    /* MHD must not stop with a suspended connection: wake every parked poll, refuse
       new parks, and give the woken ones a moment to send their (empty) answers */
    atomic_store(&srv->app->stopping, 1);
    exo_app_close_waiters(srv->app);
    for (int i = 0; i < 200 && atomic_load(&srv->parked) > 0; i++)
        usleep(10 * 1000);
    MHD_stop_daemon(srv->daemon);
    exo_conns_stop(srv->conns);
    free(srv);
}
