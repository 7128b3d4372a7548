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

#include "http.h"
#include "json_guard.h"
#include "log.h"
#include "router.h"
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
} conn_ctx;

static const char cors_methods[] = "GET, POST, PUT, DELETE, OPTIONS, PATCH";
static const char *const cors_headers[] = {"Accept",    "Accept-Language", "Content-Language",
                                           "Content-Type", "X-API-Key",    "Authorization",
                                           "X-Requested-With", "X-Exosphere-Request-ID"};

/* ---- response helpers used by handlers --------------------------------------- */

void exo_resp_json(exo_resp *r, int status, json_object *body)
{
    json_object_put(r->body);
    r->status = status;
    r->body = body;
}

void exo_resp_detail(exo_resp *r, int status, const char *fmt, ...)
{
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&buf, fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object();
    if (n < 0 || !o) {
        json_object_put(o);
        exo_resp_500(r);
        return;
    }
    json_object_object_add(o, "detail", json_object_new_string(buf));
    free(buf);
    exo_resp_json(r, status, o);
}

void exo_resp_500(exo_resp *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "detail", json_object_new_string("internal server error, please reach out to support "
                                                               "team at nivedit@exosphere.host"));
    exo_resp_json(r, 500, o);
}

void exo_resp_422(exo_resp *r, const exo_reqcheck *rc)
{
    exo_resp_json(r, 422, exo_reqcheck_detail(rc));
}

json_object *exo_req_body_object(exo_req *req, exo_reqcheck *rc)
{
    if (req->body_raw) {
        json_object *in = json_object_new_string_len(req->raw, (int)req->raw_len);
        exo_reqcheck_add(rc, "body", "model_attributes_type",
                         "Input should be a valid dictionary or object to extract fields from", in, NULL);
        json_object_put(in);
        return NULL;
    }
    if (!req->body) {
        exo_reqcheck_add(rc, "body", "missing", "Field required", NULL, NULL);
        return NULL;
    }
    if (!json_object_is_type(req->body, json_type_object)) {
        exo_reqcheck_add(rc, "body", "model_attributes_type",
                         "Input should be a valid dictionary or object to extract fields from", req->body, NULL);
        return NULL;
    }
    return req->body;
}

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

static enum MHD_Result send_text(exo_app *app, struct MHD_Connection *c, int status, const char *ctype,
                                 const char *text, const char *request_id, const char *hname, const char *hval)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    add_common_headers(app, c, resp, request_id);
    if (hname)
        MHD_add_response_header(resp, hname, hval);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(exo_app *app, struct MHD_Connection *c, int status, json_object *body,
                                 const char *request_id, const char *hname, const char *hval)
{
    const char *text = body ? exo_json_text(body) : "null";
    if (!text) /* serialisation ran out of memory */
        return send_text(app, c, 500, "application/json",
                         "{\"success\":false,\"detail\":\"internal server error, please reach out to support team at "
                         "nivedit@exosphere.host\"}",
                         request_id, NULL, NULL);
    return send_text(app, c, status, "application/json", text, request_id, hname, hval);
}

static enum MHD_Result send_detail(exo_app *app, struct MHD_Connection *c, int status, const char *detail,
                                   const char *request_id, const char *hname, const char *hval)
{
    json_object *o = json_object_new_object();
    if (!o)
        return MHD_NO;
    json_object_object_add(o, "detail", json_object_new_string(detail));
    enum MHD_Result rc = send_json(app, c, status, o, request_id, hname, hval);
    json_object_put(o);
    return rc;
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

/* Starlette-style CORS pre-flight answer. */
static enum MHD_Result preflight(exo_app *app, struct MHD_Connection *c, const char *request_id)
{
    const char *origin = header(c, "Origin");
    const char *method = header(c, "Access-Control-Request-Method");
    const char *req_headers = header(c, "Access-Control-Request-Headers");
    char failures[128] = "";
    if (!origin_allowed(app, origin))
        strcat(failures, "origin");
    if (!method_allowed(method))
        strcat(failures, *failures ? ", method" : "method");
    if (!headers_allowed(req_headers))
        strcat(failures, *failures ? ", headers" : "headers");
    if (*failures) {
        char text[160];
        snprintf(text, sizeof text, "Disallowed CORS %s", failures);
        return send_text(app, c, 400, "text/plain; charset=utf-8", text, request_id, NULL, NULL);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(2, (void *)"OK", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    add_common_headers(app, c, resp, request_id);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", cors_methods);
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            req_headers ? req_headers
                                        : "Accept, Accept-Language, Content-Language, Content-Type, X-API-Key, "
                                          "Authorization, X-Requested-With, X-Exosphere-Request-ID");
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
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
    const char *want = app->cfg.api_secret;
    if (!key)
        return 0;
    size_t kl = strlen(key), wl = strlen(want);
    unsigned diff = (unsigned)(kl != wl);
    for (size_t i = 0; i < kl && i < wl; i++)
        diff |= (unsigned)(key[i] ^ want[i]);
    return diff == 0;
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

static enum MHD_Result dispatch(exo_app *app, struct MHD_Connection *c, const char *url, const char *method,
                                conn_ctx *cc, const char *request_id)
{
    if (!strcmp(method, "OPTIONS") && header(c, "Origin") && header(c, "Access-Control-Request-Method"))
        return preflight(app, c, request_id);

    char *scratch = malloc(strlen(url) + 1);
    if (!scratch)
        return MHD_NO;
    const exo_route *route = NULL;
    exo_req req = {.app = app, .method = method, .request_id = request_id, .transport = c};
    char *sanitized[EXO_MAX_PATH_PARAMS] = {0};
    char allow[128];
    exo_route_result rr = exo_route_match(method, url, &route, req.params, &req.nparams, scratch, allow, sizeof allow);
    enum MHD_Result ret;
    if (rr == EXO_ROUTE_BAD_METHOD) {
        ret = send_detail(app, c, 405, "Method Not Allowed", request_id, "Allow", allow);
        goto out;
    }
    if (rr == EXO_ROUTE_FOUND && raw_path_has_nul(cc->raw_uri)) {
        ret = send_detail(app, c, 404, "Not Found", request_id, NULL, NULL);
        goto out;
    }
    for (size_t i = 0; rr == EXO_ROUTE_FOUND && i < req.nparams; i++) {
        /* a %-decoded parameter may be ill-formed UTF-8: it would be stored and served
           back as invalid JSON text (breaking e.g. every client's namespace list) */
        if (utf8_valid((const unsigned char *)req.params[i], strlen(req.params[i])))
            continue;
        sanitized[i] = exo_utf8_sanitize(req.params[i]);
        if (!sanitized[i]) {
            ret = MHD_NO;
            goto out;
        }
        req.params[i] = sanitized[i];
    }
    if (rr == EXO_ROUTE_NOT_FOUND) {
        char location[4096];
        if (strlen(url) < sizeof location - 2 && slash_redirect(url, location, sizeof location)) {
            char absolute[8800];
            const char *host = header(c, "Host");
            const char *query = cc->raw_uri ? strchr(cc->raw_uri, '?') : NULL;
            if (!query || strlen(query) > 4096)
                query = "";
            if (host && strlen(host) < 256)
                snprintf(absolute, sizeof absolute, "http://%s%s%s", host, location, query);
            else
                snprintf(absolute, sizeof absolute, "%s%s", location, query);
            ret = send_text(app, c, 307, "application/json", "", request_id, "Location", absolute);
        } else {
            ret = send_detail(app, c, 404, "Not Found", request_id, NULL, NULL);
        }
        goto out;
    }
    if (route->takes_body) {
        if (cc->too_large) {
            char msg[96];
            snprintf(msg, sizeof msg, "Request body too large: the limit is %u bytes", EXO_BODY_LIMIT);
            ret = send_detail(app, c, 413, msg, request_id, NULL, NULL);
            goto out;
        }
        req.raw = cc->body ? cc->body : "";
        req.raw_len = cc->len;
        if (cc->len >= 3 && !memcmp(cc->body, "\xef\xbb\xbf", 3) && is_json_content_type(header(c, "Content-Type"))) {
            /* Python's json.loads skips a UTF-8 byte order mark */
            memmove(cc->body, cc->body + 3, cc->len - 3 + 1);
            cc->len -= 3;
            req.raw_len = cc->len;
        }
        if (cc->len > 0) {
            if (!is_json_content_type(header(c, "Content-Type"))) {
                req.body_raw = 1;
            } else if (!utf8_valid((const unsigned char *)cc->body, cc->len)) {
                ret = send_detail(app, c, 400, "There was an error parsing the body", request_id, NULL, NULL);
                goto out;
            } else {
                json_object *invalid;
                int oom;
                req.body = parse_body(cc->body, cc->len, &invalid, &oom);
                if (oom) {
                    exo_resp resp = {.status = 500, .body = NULL};
                    exo_resp_500(&resp);
                    ret = send_json(app, c, resp.status, resp.body, request_id, NULL, NULL);
                    json_object_put(resp.body);
                    goto out;
                }
                if (invalid) {
                    ret = send_json(app, c, 422, invalid, request_id, NULL, NULL);
                    json_object_put(invalid);
                    goto out;
                }
            }
        }
    }
    if (!route->public_ && !api_key_ok(app, c)) {
        ret = send_detail(app, c, 401, "Invalid API key", request_id, NULL, NULL);
        goto out;
    }
    if (req.body) {
        /* values json-c would have clamped / cut: refused rather than stored changed */
        int oom;
        json_object *unrepresentable = exo_json_guard(cc->body, cc->len, EXO_JSON_DEPTH, &oom);
        if (unrepresentable || oom) {
            exo_resp resp = {.status = 422, .body = unrepresentable};
            if (oom)
                exo_resp_500(&resp);
            ret = send_json(app, c, resp.status, resp.body, request_id, NULL, NULL);
            json_object_put(resp.body);
            goto out;
        }
    }
    exo_resp resp = {.status = 500, .body = NULL};
    route->handler(&req, &resp);
    if (!resp.body)
        exo_resp_500(&resp);
    if (resp.status >= 500)
        log_warn("%s %s -> %d (request %s)", method, url, resp.status, request_id);
    else
        log_debug("%s %s -> %d (request %s)", method, url, resp.status, request_id);
    ret = send_json(app, c, resp.status, resp.body, request_id, NULL, NULL);
    json_object_put(resp.body);
out:
    json_object_put(req.body);
    for (size_t i = 0; i < EXO_MAX_PATH_PARAMS; i++)
        free(sanitized[i]);
    free(scratch);
    return ret;
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
    return dispatch(app, c, url, method, cc, request_id);
}

/* Called by MHD at the start of every request with the raw request target; the
 * returned context becomes the request's con_cls. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    conn_ctx *cc = calloc(1, sizeof *cc);
    if (cc && uri)
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
