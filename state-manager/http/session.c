/* Dashboard sessions: an in-memory table of (id, csrf token, end), see session.h. */
#include "session.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"

#define DEFAULT_TTL_S (8 * 3600)

typedef struct session {
    char id[EXO_SESSION_TOKEN_LEN + 1];
    char csrf[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at; /* Unix ms; 0 = free slot */
    int live;           /* live views parked (exo_session_live_acquire) */
} session;

/* Process-wide on purpose: the sessions are the server's (every connection thread
 * reads them), they hold nothing durable, and the lock below guards every access. */
static session sessions[EXO_SESSION_MAX];
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;

int exo_secret_equal(const char *given, const char *want)
{
    return given && exo_secret_equal_n(given, strlen(given), want);
}

int exo_secret_equal_n(const char *given, size_t gl, const char *want)
{
    if (!given || !want)
        return 0;
    size_t wl = strlen(want);
    unsigned diff = (unsigned)(gl != wl);
    for (size_t i = 0; i < gl && i < wl; i++)
        diff |= (unsigned)(given[i] ^ want[i]);
    return diff == 0;
}

/* EXO_SESSION_TTL_S (seconds, 1 .. 30 days) or the default. */
static int64_t session_ttl_ms(void)
{
    const char *v = getenv("EXO_SESSION_TTL_S");
    if (v && *v) {
        char *end;
        long long s = strtoll(v, &end, 10);
        if (*end == '\0' && s >= 1 && s <= 30LL * 86400)
            return s * 1000;
        log_warn("EXO_SESSION_TTL_S='%s' is not a number of seconds from 1 to 2592000: using %d", v, DEFAULT_TTL_S);
    }
    return (int64_t)DEFAULT_TTL_S * 1000;
}

static int random_token(char out[EXO_SESSION_TOKEN_LEN + 1])
{
    unsigned char bytes[EXO_SESSION_TOKEN_LEN / 2];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return -1;
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

/* A free or expired slot, else the one closest to its end (the table is full). */
static session *slot_for_new(int64_t now)
{
    session *victim = &sessions[0];
    for (size_t i = 0; i < EXO_SESSION_MAX; i++) {
        if (sessions[i].expires_at <= now)
            return &sessions[i];
        if (sessions[i].expires_at < victim->expires_at)
            victim = &sessions[i];
    }
    return victim;
}

int exo_session_create(char id[EXO_SESSION_TOKEN_LEN + 1], char csrf[EXO_SESSION_TOKEN_LEN + 1], int64_t *expires_at)
{
    if (random_token(id) != 0 || random_token(csrf) != 0)
        return -1;
    int64_t now = exo_now_ms();
    *expires_at = now + session_ttl_ms();
    pthread_mutex_lock(&sessions_lock);
    session *s = slot_for_new(now);
    memcpy(s->id, id, sizeof s->id);
    memcpy(s->csrf, csrf, sizeof s->csrf);
    s->expires_at = *expires_at;
    pthread_mutex_unlock(&sessions_lock);
    return 0;
}

/* The live session named id; call with the lock held. */
static session *find_live(const char *id, int64_t now)
{
    if (!id || strlen(id) != EXO_SESSION_TOKEN_LEN)
        return NULL;
    for (size_t i = 0; i < EXO_SESSION_MAX; i++)
        if (sessions[i].expires_at > now && exo_secret_equal(id, sessions[i].id))
            return &sessions[i];
    return NULL;
}

int exo_session_lookup(const char *id, char csrf[EXO_SESSION_TOKEN_LEN + 1], int64_t *expires_at)
{
    pthread_mutex_lock(&sessions_lock);
    session *s = find_live(id, exo_now_ms());
    if (s) {
        memcpy(csrf, s->csrf, EXO_SESSION_TOKEN_LEN + 1);
        *expires_at = s->expires_at;
    }
    pthread_mutex_unlock(&sessions_lock);
    return s != NULL;
}

void exo_session_end(const char *id)
{
    pthread_mutex_lock(&sessions_lock);
    session *s = find_live(id, exo_now_ms());
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&sessions_lock);
}

int exo_session_live_acquire(const char *id, int64_t *expires_at)
{
    pthread_mutex_lock(&sessions_lock);
    session *s = find_live(id, exo_now_ms());
    int rc = !s ? -1 : s->live >= EXO_SESSION_LIVE_MAX ? 1 : 0;
    if (rc == 0) {
        s->live++;
        *expires_at = s->expires_at;
    }
    pthread_mutex_unlock(&sessions_lock);
    return rc;
}

void exo_session_live_release(const char *id)
{
    pthread_mutex_lock(&sessions_lock);
    session *s = find_live(id, exo_now_ms());
    if (s && s->live > 0)
        s->live--;
    pthread_mutex_unlock(&sessions_lock);
}

const char *exo_session_cookie(const exo_req *req)
{
    return exo_req_cookie(req, EXO_SESSION_COOKIE);
}

int exo_session_tls(const exo_req *req)
{
    const char *proto = exo_req_header(req, "X-Forwarded-Proto");
    return proto && !strcasecmp(proto, "https");
}

int exo_session_same_origin(const exo_req *req)
{
    const char *site = exo_req_header(req, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
        return 0;
    const char *origin = exo_req_header(req, "Origin");
    if (!origin)
        return 1; /* not a browser's cross-origin request: those always carry Origin */
    const char *host = exo_req_header(req, "Host");
    if (!host)
        return 0;
    const char *rest = !strncmp(origin, "http://", 7) ? origin + 7 : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
    return rest && !strcasecmp(rest, host);
}

static int is_safe_method(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS");
}

exo_session_verdict exo_session_authorize(const exo_req *req)
{
    const char *id = exo_session_cookie(req);
    if (!id)
        return EXO_SESSION_NONE;
    char csrf[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at;
    if (!exo_session_lookup(id, csrf, &expires_at))
        return EXO_SESSION_EXPIRED;
    if (is_safe_method(req->method))
        return EXO_SESSION_OK;
    if (!exo_session_same_origin(req))
        return EXO_SESSION_BAD_ORIGIN;
    if (!exo_secret_equal(exo_req_header(req, "X-CSRF-Token"), csrf))
        return EXO_SESSION_NO_CSRF;
    return EXO_SESSION_OK;
}

const char *exo_session_verdict_message(exo_session_verdict v)
{
    switch (v) {
    case EXO_SESSION_EXPIRED:
        return "Session expired or signed out: sign in again";
    case EXO_SESSION_NO_CSRF:
        return "Missing or wrong X-CSRF-Token header for this session";
    case EXO_SESSION_BAD_ORIGIN:
        return "Cross-origin request refused for a session cookie";
    default:
        return "Invalid API key";
    }
}
