/* Dashboard sessions (http layer): the API key typed once into the sign-in form is
 * exchanged for a random session id, sent back as an HttpOnly, SameSite=Strict
 * cookie, plus a per-session CSRF token that the page keeps in memory and sends in
 * the X-CSRF-Token header of every request that changes something.
 *
 * Sessions live in this process's memory only: a restart signs everybody out.  A
 * session ends EXO_SESSION_TTL_S seconds after sign-in (default 8 hours) or when
 * it is signed out.  The table is bounded (EXO_SESSION_MAX); when full, the session
 * closest to expiry is dropped. */
#ifndef EXO_SM_SESSION_H
#define EXO_SM_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define EXO_SESSION_COOKIE "exo_session"
#define EXO_SESSION_MAX 1024
#define EXO_SESSION_TOKEN_LEN 64 /* 32 random bytes in hex */

/* Constant-time comparison of a secret a client sent with the expected one. */
int exo_secret_equal(const char *given, const char *want);
/* The same for the first gl bytes of given. */
int exo_secret_equal_n(const char *given, size_t gl, const char *want);

/* Starts a session: id and csrf receive fresh tokens, *expires_at (Unix ms) its end.
 * Returns 0, or -1 when no randomness is available. */
int exo_session_create(char id[EXO_SESSION_TOKEN_LEN + 1], char csrf[EXO_SESSION_TOKEN_LEN + 1], int64_t *expires_at);
/* 1 and the session's csrf token and end when id names a live session, else 0. */
int exo_session_lookup(const char *id, char csrf[EXO_SESSION_TOKEN_LEN + 1], int64_t *expires_at);
/* Ends the session id (no-op when unknown). */
void exo_session_end(const char *id);

/* Live views (handlers_live.c) parked at once per session: a browser keeps about six
 * connections per server, so a few tabs' long-polls must not take them all. */
#define EXO_SESSION_LIVE_MAX 4
/* Takes one of session id's live-view slots: 0 (and *expires_at, Unix ms), 1 when
 * it holds EXO_SESSION_LIVE_MAX already, -1 when id names no live session. */
int exo_session_live_acquire(const char *id, int64_t *expires_at);
/* Gives a slot back (no-op when the session has ended since). */
void exo_session_live_release(const char *id);

/* How a request without a valid x-api-key fares with its session cookie. */
typedef enum {
    EXO_SESSION_NONE,      /* no session cookie: the request is anonymous */
    EXO_SESSION_OK,        /* a live session, and for a non-GET a matching CSRF token and origin */
    EXO_SESSION_EXPIRED,   /* a cookie naming no live session (expired, signed out, restarted) */
    EXO_SESSION_NO_CSRF,   /* a live session, but a change without the session's X-CSRF-Token */
    EXO_SESSION_BAD_ORIGIN /* a live session, but the request comes from another origin */
} exo_session_verdict;

exo_session_verdict exo_session_authorize(const exo_req *req);
/* The text a refused verdict is answered with. */
const char *exo_session_verdict_message(exo_session_verdict v);

/* The session id in the request's cookie, or NULL. */
const char *exo_session_cookie(const exo_req *req);
/* 1 when the request's Origin (if it sends one) is this server (scheme + Host) and
 * the browser does not flag it cross-site (Sec-Fetch-Site). */
int exo_session_same_origin(const exo_req *req);
/* 1 when the dashboard is reached over TLS (a proxy says X-Forwarded-Proto: https),
 * so the cookie gets Secure. */
int exo_session_tls(const exo_req *req);

#endif
