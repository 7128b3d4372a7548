/* The dashboard: its compiled-in files (GET / for a browser, GET /ui/{file}) and its sessions
 * (POST / GET / DELETE /ui/api/session).  The files are public; everything they
 * show comes from the JSON API, which takes the session cookie (session.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "dashboard_assets.h"
#include "handlers.h"
#include "log.h"
#include "session.h"
#include "signin_throttle.h"

/* The page loads nothing but its own files and talks only to this server. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

static const exo_dashboard_asset *asset_named(const char *path)
{
    for (const exo_dashboard_asset *a = exo_dashboard_assets; a->path; a++)
        if (!strcmp(a->path, path))
            return a;
    return NULL;
}

/* 1 when If-None-Match names etag (a list, or "*"). */
static int etag_matches(const char *if_none_match, const char *etag)
{
    return if_none_match && (strstr(if_none_match, etag) || !strcmp(if_none_match, "*"));
}

static void serve_asset(exo_req *req, exo_resp *resp, const char *path)
{
    const exo_dashboard_asset *a = asset_named(path);
    if (!a) {
        exo_resp_detail(resp, 404, "Not Found");
        return;
    }
    /* revalidated on every load (cheap: a 304), so a new binary's files show at once */
    if (exo_resp_header(resp, "ETag", a->etag) != 0 || exo_resp_header(resp, "Cache-Control", "no-cache") != 0 ||
        exo_resp_header(resp, "X-Content-Type-Options", "nosniff") != 0 ||
        exo_resp_header(resp, "Content-Security-Policy", csp) != 0 ||
        exo_resp_header(resp, "Referrer-Policy", "no-referrer") != 0) {
        exo_resp_500(resp);
        return;
    }
    if (etag_matches(exo_req_header(req, "If-None-Match"), a->etag)) {
        exo_resp_bytes(resp, 304, a->content_type, "", 0);
        return;
    }
    exo_resp_bytes(resp, 200, a->content_type, a->data, a->len);
}

/* The page for a browser (it asks for text/html); any other client of `/` keeps the
 * API's answer for an unknown path, so nothing changes for clients of the v0 API. */
void h_dash_index(exo_req *req, exo_resp *resp)
{
    const char *accept = exo_req_header(req, "Accept");
    if (!accept || !strstr(accept, "text/html")) {
        exo_resp_detail(resp, 404, "Not Found");
        return;
    }
    serve_asset(req, resp, "index.html");
}

void h_dash_asset(exo_req *req, exo_resp *resp)
{
    serve_asset(req, resp, req->params[0]);
}

/* ---- sessions ---------------------------------------------------------------------------------- */

static void set_cookie(exo_req *req, exo_resp *resp, const char *id, int64_t max_age_s)
{
    char cookie[256];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" PRId64 "%s",
             EXO_SESSION_COOKIE, id, max_age_s, exo_session_tls(req) ? "; Secure" : "");
    if (exo_resp_header(resp, "Set-Cookie", cookie) != 0 || exo_resp_header(resp, "Cache-Control", "no-store") != 0)
        exo_resp_500(resp);
}

static json_object *session_json(const char *csrf, int64_t expires_at)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "csrf_token", json_object_new_string(csrf));
    json_object_object_add(o, "expires_at", exo_json_time(expires_at));
    return o;
}

/* 429 for an address that must wait (signin_throttle.h); 1 when answered. */
static int signin_throttled(exo_resp *resp, const char *addr)
{
    int64_t wait = exo_signin_wait_ms(addr, exo_mono_ms());
    if (wait <= 0)
        return 0;
    char seconds[32];
    snprintf(seconds, sizeof seconds, "%lld", (long long)((wait + 999) / 1000));
    exo_resp_detail(resp, 429, "Too many wrong API keys from this address: try again in %s s", seconds);
    if (exo_resp_header(resp, "Retry-After", seconds) != 0)
        exo_resp_500(resp);
    return 1;
}

/* A wrong key: counted, logged, answered 401. */
static void signin_refused(exo_resp *resp, const char *addr)
{
    int failures;
    int64_t wait = exo_signin_failed(addr, exo_mono_ms(), &failures);
    if (wait > 0)
        log_warn("dashboard: %d wrong API keys in a row from %s: its next sign-in waits %lld s", failures, addr,
                 (long long)((wait + 999) / 1000));
    exo_resp_detail(resp, 401,
                    "Wrong API key: it must be the state manager's STATE_MANAGER_SECRET (the x-api-key of the API)");
}

/* Sign-in: {"api_key": "..."} -> the cookie, and the CSRF token in the answer. */
void h_session_create(exo_req *req, exo_resp *resp)
{
    if (!exo_session_same_origin(req)) {
        exo_resp_detail(resp, 403, "Sign-in from another origin refused");
        return;
    }
    char addr[EXO_ADDR_LEN];
    exo_req_client_addr(req, addr);
    if (signin_throttled(resp, addr))
        return;
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *key = NULL;
    if (body && (!json_object_object_get_ex(body, "api_key", &key) || !json_object_is_type(key, json_type_string)))
        exo_reqcheck_add(&rc, "body.api_key", key ? "string_type" : "missing",
                         key ? "Input should be a valid string" : "Field required", key, NULL);
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    if (!exo_secret_equal(json_object_get_string(key), req->app->cfg.api_secret)) {
        signin_refused(resp, addr);
        return;
    }
    exo_signin_succeeded(addr);
    char id[EXO_SESSION_TOKEN_LEN + 1], csrf[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at;
    if (exo_session_create(id, csrf, &expires_at) != 0) {
        exo_resp_500(resp);
        return;
    }
    exo_resp_json(resp, 200, session_json(csrf, expires_at));
    /* rounded up: a sign-in answered a few ms late must not set Max-Age=0 (a deletion) */
    set_cookie(req, resp, id, (expires_at - exo_now_ms() + 999) / 1000);
}

/* The session of the cookie, for a page that was reloaded (its CSRF token lived in
 * the previous page's memory only). */
void h_session_get(exo_req *req, exo_resp *resp)
{
    char csrf[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at;
    if (!exo_session_same_origin(req)) {
        exo_resp_detail(resp, 403, "Cross-origin request refused for a session cookie");
        return;
    }
    if (!exo_session_lookup(exo_session_cookie(req), csrf, &expires_at)) {
        exo_resp_detail(resp, 401, "Not signed in");
        return;
    }
    exo_resp_json(resp, 200, session_json(csrf, expires_at));
    if (exo_resp_header(resp, "Cache-Control", "no-store") != 0)
        exo_resp_500(resp);
}

/* Sign-out: needs the session's CSRF token like every change; ends it server-side
 * (the old cookie is refused from now on) and clears the cookie. */
void h_session_delete(exo_req *req, exo_resp *resp)
{
    exo_session_verdict v = exo_session_authorize(req);
    if (v != EXO_SESSION_OK) {
        int status = v == EXO_SESSION_NO_CSRF || v == EXO_SESSION_BAD_ORIGIN ? 403 : 401;
        exo_resp_detail(resp, status, "%s", exo_session_verdict_message(v));
        return;
    }
    exo_session_end(exo_session_cookie(req));
    exo_app_notify_change(req->app, NULL, NULL); /* its parked live views answer 401 now */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "signed_out", json_object_new_boolean(1));
    exo_resp_json(resp, 200, o);
    set_cookie(req, resp, "", 0);
}
