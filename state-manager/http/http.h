/* The HTTP layer of the state manager (state-manager/http/), the top one: server.c
 * runs each request through named phases (limits, CORS pre-flight, route, path
 * parameters, body, auth, JSON guard, handler, finish); router.c maps paths to
 * handlers; handlers_*.c check a request, call one engine.h function and render
 * the answer — they never touch storage (handlers.h).
 *
 * This header is the request / response model the handlers see: by the time a
 * handler runs, the request has been routed, its JSON body parsed and its API key
 * checked.  The exo_resp_* helpers live in response.c, exo_req_body_object in
 * request.c. */
#ifndef EXO_SM_HTTP_H
#define EXO_SM_HTTP_H

#include <json-c/json.h>
#include <stddef.h>

#include "app.h"
#include "reqcheck.h"

#define EXO_MAX_PATH_PARAMS 5
#define EXO_BODY_LIMIT (16u * 1024 * 1024)
#define EXO_RESP_MAX_HEADERS 6

typedef struct exo_req {
    exo_app *app;
    const char *method;
    const char *params[EXO_MAX_PATH_PARAMS]; /* URL-decoded path parameters in order */
    size_t nparams;
    json_object *body;   /* parsed body; NULL when absent/empty or not JSON-typed */
    int body_raw;        /* body bytes present but not JSON-typed (fails validation) */
    const char *raw;     /* body bytes (NUL-terminated copy) */
    size_t raw_len;
    const char *request_id;
    void *transport;     /* the HTTP connection (server.c) */
} exo_req;

/* 1 when the client has closed its connection (a long-poll then stops without
 * claiming work that nobody would receive). */
int exo_req_client_gone(const exo_req *req);
/* The client's IP address as text ("127.0.0.1", "::1"); "unknown" when the
 * transport cannot tell.  out has room for EXO_ADDR_LEN bytes. */
#define EXO_ADDR_LEN 64
void exo_req_client_addr(const exo_req *req, char out[EXO_ADDR_LEN]);

/* A response is either a JSON document (body) or raw bytes (raw, raw_len): the
 * setters below keep exactly one of them.  Zero-initialising the struct (e.g.
 * `{.status = 500, .body = NULL}`) gives an empty response; one that is still empty
 * after the handler is answered with exo_resp_500. */
typedef struct exo_park exo_park;

typedef struct exo_resp {
    int status;
    json_object *body;        /* owned; sent as application/json */
    const char *content_type; /* of raw (static or outliving the response); NULL = application/json */
    char *raw;                /* owned; sent instead of body when non-NULL */
    size_t raw_len;
    exo_park *park;           /* owned; set by a handler that parks (see exo_park) */
    struct {
        const char *name;     /* static */
        char *value;          /* owned */
    } headers[EXO_RESP_MAX_HEADERS]; /* extra response headers (Set-Cookie, ETag, ...) */
    size_t nheaders;
} exo_resp;

typedef void (*exo_handler)(exo_req *req, exo_resp *resp);

/* A handler that has nothing to answer yet (a long-poll) parks instead: it leaves
 * the response empty and sets resp->park to a malloc'd continuation whose waiter
 * says what may wake it (app.h: namespace, node names, seen, wake_at_ms).  The
 * server suspends the connection — no thread waits for it — and calls resume with
 * the same req and resp (both stay valid) each time the waiter is woken; resume
 * answers into resp and returns 0, or re-arms the waiter and returns 1 to park
 * again.  The server owns the park from then on and ends it with its free
 * function; waiter.wake / waiter.arg are the server's. */
struct exo_park {
    exo_work_waiter waiter;
    int (*resume)(struct exo_park *park, exo_req *req, exo_resp *resp);
    void (*free)(struct exo_park *park);
};

void exo_resp_json(exo_resp *r, int status, json_object *body);
/* Raw bytes (copied) with their content type, e.g. "text/html; charset=utf-8" or
 * "text/plain; version=0.0.4"; a 500 when the copy cannot be allocated. */
void exo_resp_bytes(exo_resp *r, int status, const char *content_type, const void *data, size_t len);
/* Adds a response header (value copied); returns -1 when out of memory or when
 * EXO_RESP_MAX_HEADERS are already set.  exo_resp_clear keeps them: they describe
 * the answer whatever its body becomes (a 500 drops them, see response.c). */
int exo_resp_header(exo_resp *r, const char *name, const char *value);
/* Frees the body the response owns and leaves it empty (headers stay). */
void exo_resp_clear(exo_resp *r);
/* Frees everything the response owns, headers included. */
void exo_resp_free(exo_resp *r);
void exo_resp_detail(exo_resp *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The reference's generic 500 body (§1.6). */
void exo_resp_500(exo_resp *r);
/* 422 with the checker's errors. */
void exo_resp_422(exo_resp *r, const exo_reqcheck *rc);

/* Value of query parameter `name` (URL-decoded, the first one when repeated),
 * or NULL when absent.  Valid while the request is. */
const char *exo_req_query(const exo_req *req, const char *name);

/* Value of request header `name` (case-insensitive), or NULL. */
const char *exo_req_header(const exo_req *req, const char *name);
/* Value of cookie `name`, or NULL. */
const char *exo_req_cookie(const exo_req *req, const char *name);

/* Body of an endpoint that takes a JSON object: records "missing" (no body / null)
 * or "model_attributes_type" (not an object) at loc ["body"] and returns NULL then. */
json_object *exo_req_body_object(exo_req *req, exo_reqcheck *rc);

#endif
