/* Live views (exo's extension, docs/api.md "Live views"): long-polls that answer
 * when what a read endpoint would answer has changed, so the dashboard updates a
 * run's DAG and the runs list without polling.
 *
 *   GET /v0/namespace/{ns}/run/{run_id}/watch  watches GET run/{run_id}/states
 *   GET /v0/namespace/{ns}/runs/watch          watches GET runs (same filters)
 *   query: version=<v> (the "version" of the answer the client shows),
 *          wait_ms (default 25000, at most 60000; 0 answers at once)
 *   answer: {"changed": true|false, "version": "<the current version>"}
 *
 * The read endpoints' answers carry "version", a hash of the answer itself, so the
 * comparison is exact whatever changed and whichever replica changed it.  A watch
 * parks like a long-polling enqueue (exo_park: a suspended connection, no thread)
 * on the change notifications of its namespace (app.h), re-reads when one arrives
 * (no more often than every LIVE_MIN_INTERVAL_MS, and at most a fifth of the time:
 * a slow read waits longer between reads) and answers when the version differs.
 * At most EXO_SESSION_LIVE_MAX watches per dashboard session and LIVE_PER_ADDRESS
 * per client address for x-api-key clients are parked at once (429 beyond; a
 * parked watch's connection is not watched while suspended, so a watch that hits
 * the cap first wakes the parked ones of its holder whose clients have gone, e.g.
 * a page that navigated away, and takes a slot they give back); a watch of a
 * session that is signed out or expires answers 401 at once. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "handlers.h"
#include "session.h"

#define LIVE_WAIT_DEFAULT_MS 25000
#define LIVE_WAIT_CAP_MS 60000
#define LIVE_MIN_INTERVAL_MS 250
#define LIVE_READ_SHARE 5 /* wait at least this many times a read's duration before the next */
#define LIVE_PER_ADDRESS 64
#define LIVE_ADDRESSES 256
#define VERSION_LEN 16

/* ---- versions ---------------------------------------------------------------------------------- */

void exo_resp_add_version(exo_resp *resp)
{
    if (resp->status != 200 || !resp->body)
        return;
    const char *text = json_object_to_json_string_ext(resp->body, JSON_C_TO_STRING_PLAIN);
    if (!text)
        return; /* out of memory: the answer goes without a version, a watch then answers at once */
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *c = text; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    char hex[VERSION_LEN + 1];
    snprintf(hex, sizeof hex, "%016" PRIx64, h);
    json_object_object_add(resp->body, "version", json_object_new_string(hex));
}

/* ---- the watches in progress, and the slots per client address (x-api-key clients) -------------- */

typedef struct live_park {
    exo_park base;                           /* first: the server hands back &base */
    exo_handler read;                        /* the read endpoint watched */
    const char *run_id;                      /* the run watched (a path parameter), or none */
    char since[VERSION_LEN + 1];
    int64_t deadline;                        /* monotonic ms */
    int64_t session_end;                     /* monotonic ms; INT64_MAX for an x-api-key client */
    char session[EXO_SESSION_TOKEN_LEN + 1]; /* the session holding the slot; "" for an x-api-key client */
    char addr[EXO_ADDR_LEN];                 /* the address holding the slot (x-api-key clients) */
    int64_t next_read;                       /* monotonic ms: no read before */
    exo_req *req;                            /* the request (valid as long as the park) */
    int holds_slot;                          /* guarded by live_lock */
    struct live_park *prev, *next;           /* every watch holding a slot; guarded by live_lock */
} live_park;

/* Process-wide on purpose: the watches holding slots and the count per client
 * address span every connection and thread; live_lock guards both.  Lock order:
 * live_lock, then the session table's or the app's work lock. */
static struct {
    char addr[EXO_ADDR_LEN];
    int n; /* 0 = free slot */
} live_by_addr[LIVE_ADDRESSES];
static live_park *live_parks;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

/* 0 when addr may park one more watch (counted), -1 when it holds its maximum or
 * the table is full. */
static int addr_acquire(const char *addr)
{
    int rc = -1;
    pthread_mutex_lock(&live_lock);
    int free_slot = -1;
    for (int i = 0; i < LIVE_ADDRESSES; i++) {
        if (live_by_addr[i].n == 0) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strcmp(live_by_addr[i].addr, addr) != 0)
            continue;
        if (live_by_addr[i].n < LIVE_PER_ADDRESS) {
            live_by_addr[i].n++;
            rc = 0;
        }
        pthread_mutex_unlock(&live_lock);
        return rc;
    }
    if (free_slot >= 0) {
        snprintf(live_by_addr[free_slot].addr, EXO_ADDR_LEN, "%s", addr);
        live_by_addr[free_slot].n = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&live_lock);
    return rc;
}

/* Call with live_lock held. */
static void addr_release_locked(const char *addr)
{
    for (int i = 0; i < LIVE_ADDRESSES; i++)
        if (live_by_addr[i].n > 0 && !strcmp(live_by_addr[i].addr, addr)) {
            live_by_addr[i].n--;
            break;
        }
}

/* Gives p's slot back; call with live_lock held. */
static void slot_release_locked(live_park *p)
{
    if (!p->holds_slot)
        return;
    p->holds_slot = 0;
    if (p->session[0])
        exo_session_live_release(p->session);
    else
        addr_release_locked(p->addr);
}

static void parks_add(live_park *p)
{
    pthread_mutex_lock(&live_lock);
    p->holds_slot = 1;
    p->next = live_parks;
    if (live_parks)
        live_parks->prev = p;
    live_parks = p;
    pthread_mutex_unlock(&live_lock);
}

static void live_park_free(exo_park *park)
{
    live_park *p = (live_park *)park;
    pthread_mutex_lock(&live_lock);
    slot_release_locked(p);
    if (p->prev)
        p->prev->next = p->next;
    else if (live_parks == p)
        live_parks = p->next;
    if (p->next)
        p->next->prev = p->prev;
    pthread_mutex_unlock(&live_lock);
    free(p);
}

/* The parked watches of a session (sid) or, with sid NULL, of a client address
 * whose clients have closed their connections: woken (they end at once) and their
 * slots given back now.  Returns how many. */
static int reclaim_gone(exo_app *app, const char *sid, const char *addr)
{
    int n = 0;
    pthread_mutex_lock(&live_lock);
    for (live_park *p = live_parks; p; p = p->next) {
        int mine = sid ? !strcmp(p->session, sid) : !p->session[0] && !strcmp(p->addr, addr);
        /* only a parked watch: its connection is suspended, so its descriptor is stable */
        if (!mine || !p->holds_slot || !exo_req_client_gone(p->req) || !exo_app_wake(app, &p->base.waiter))
            continue;
        slot_release_locked(p);
        n++;
    }
    pthread_mutex_unlock(&live_lock);
    return n;
}

/* ---- the watch -------------------------------------------------------------------------------- */

static void answer(exo_resp *resp, int changed, const char *version)
{
    json_object *o = json_object_new_object();
    if (!o) {
        exo_resp_500(resp);
        return;
    }
    json_object_object_add(o, "changed", json_object_new_boolean(changed));
    json_object_object_add(o, "version", json_object_new_string(version));
    exo_resp_json(resp, 200, o);
    if (exo_resp_header(resp, "Cache-Control", "no-store") != 0)
        exo_resp_500(resp);
}

/* Reads the watched answer's version into version: 0, or -1 when the read did not
 * answer 200 (its answer, a 404 for instance, is then resp's). */
static int read_version(live_park *p, exo_req *req, exo_resp *resp, char version[VERSION_LEN + 1])
{
    exo_resp r = {.status = 500};
    int64_t started = exo_mono_ms();
    p->read(req, &r);
    int64_t took = exo_mono_ms() - started;
    p->next_read = started + took + (took * LIVE_READ_SHARE > LIVE_MIN_INTERVAL_MS ? took * LIVE_READ_SHARE
                                                                                  : LIVE_MIN_INTERVAL_MS);
    json_object *v = NULL;
    if (r.status != 200 || !r.body || !json_object_object_get_ex(r.body, "version", &v)) {
        if (r.status == 200) { /* no version (out of memory): a 500 below */
            exo_resp_clear(&r);
            r.status = 500;
        }
        exo_resp_free(resp);
        *resp = r;
        if (!resp->body && !resp->raw)
            exo_resp_500(resp);
        return -1;
    }
    snprintf(version, VERSION_LEN + 1, "%s", json_object_get_string(v));
    exo_resp_free(&r);
    return 0;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int session_alive(const char *id)
{
    char csrf[EXO_SESSION_TOKEN_LEN + 1];
    int64_t expires_at;
    return exo_session_lookup(id, csrf, &expires_at);
}

/* One step: answers (0), or arms the waiter and returns 1 to park. */
static int live_step(live_park *p, exo_req *req, exo_resp *resp)
{
    exo_app *app = req->app;
    int64_t now = exo_mono_ms();
    if (p->session[0] && !session_alive(p->session)) {
        exo_resp_detail(resp, 401, "%s", exo_session_verdict_message(EXO_SESSION_EXPIRED));
        return 0;
    }
    exo_work_waiter *w = &p->base.waiter;
    int ending = now >= p->deadline || atomic_load(&app->stopping) || exo_req_client_gone(req);
    if (!ending && now < p->next_read) { /* woken too soon after the last read: read later */
        w->seen = exo_app_change_seq(app);
        w->wake_at_ms = earliest(earliest(p->next_read, p->deadline), p->session_end);
        return 1;
    }
    uint64_t seen = exo_app_change_seq(app);
    char version[VERSION_LEN + 1];
    if (read_version(p, req, resp, version) != 0)
        return 0;
    int changed = strcmp(version, p->since) != 0;
    if (changed || ending) {
        answer(resp, changed, version);
        return 0;
    }
    w->seen = seen;
    w->wake_at_ms = earliest(p->deadline, p->session_end);
    return 1;
}

static int live_resume(exo_park *park, exo_req *req, exo_resp *resp)
{
    return live_step((live_park *)park, req, resp);
}

/* wait_ms of the query into *out; 0, or -1 after answering 422. */
static int parse_wait(exo_req *req, exo_resp *resp, int64_t *out)
{
    const char *v = exo_req_query(req, "wait_ms");
    *out = LIVE_WAIT_DEFAULT_MS;
    if (!v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || n < 0) {
        exo_reqcheck rc;
        exo_reqcheck_init(&rc);
        json_object *in = json_object_new_string(v);
        exo_reqcheck_add(&rc, "query.wait_ms", "value_error", "Expected an integer >= 0 (milliseconds)", in, NULL);
        json_object_put(in);
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return -1;
    }
    *out = n > LIVE_WAIT_CAP_MS ? LIVE_WAIT_CAP_MS : n;
    return 0;
}

/* Takes the slot the watch holds while parked: the session's when the request
 * came with a live session cookie, else its client address's.  0, or -1 after
 * answering 429. */
static int take_slot(live_park *p, exo_req *req, exo_resp *resp)
{
    const char *sid = exo_session_cookie(req);
    int64_t expires_at = 0;
    int rc = sid ? exo_session_live_acquire(sid, &expires_at) : -1;
    if (rc == 1 && reclaim_gone(req->app, sid, NULL) > 0)
        rc = exo_session_live_acquire(sid, &expires_at);
    if (rc == 1) {
        exo_resp_detail(resp, 429,
                        "Too many live views open for this session (at most %d at once): close some dashboard tabs",
                        EXO_SESSION_LIVE_MAX);
        return -1;
    }
    if (rc == 0) {
        snprintf(p->session, sizeof p->session, "%s", sid);
        p->session_end = exo_mono_ms() + (expires_at - exo_now_ms());
        return 0;
    }
    /* authenticated by x-api-key (a cookie naming no session was refused by then) */
    exo_req_client_addr(req, p->addr);
    if (addr_acquire(p->addr) != 0 && (reclaim_gone(req->app, NULL, p->addr) == 0 || addr_acquire(p->addr) != 0)) {
        exo_resp_detail(resp, 429, "Too many live views open from this client address (at most %d at once)",
                        LIVE_PER_ADDRESS);
        return -1;
    }
    p->session_end = INT64_MAX;
    return 0;
}

static void watch(exo_req *req, exo_resp *resp, exo_handler read, const char *run_id)
{
    int64_t wait_ms;
    if (parse_wait(req, resp, &wait_ms) != 0)
        return;
    live_park *p = calloc(1, sizeof *p);
    if (!p) {
        exo_resp_500(resp);
        return;
    }
    if (take_slot(p, req, resp) != 0) {
        free(p);
        return;
    }
    p->req = req;
    parks_add(p);
    p->read = read;
    p->run_id = run_id;
    p->deadline = exo_mono_ms() + wait_ms;
    const char *since = exo_req_query(req, "version");
    snprintf(p->since, sizeof p->since, "%s", since ? since : "");
    p->base.resume = live_resume;
    p->base.free = live_park_free;
    p->base.waiter.kind = EXO_WAIT_CHANGES;
    p->base.waiter.ns = req->params[0];
    p->base.waiter.names = p->run_id ? &p->run_id : NULL;
    p->base.waiter.nnames = p->run_id ? 1 : 0;
    if (live_step(p, req, resp) == 1)
        resp->park = &p->base;
    else
        live_park_free(&p->base);
}

/* GET /v0/namespace/{ns}/run/{run_id}/watch */
void h_run_watch(exo_req *req, exo_resp *resp)
{
    watch(req, resp, h_run_states, req->params[1]);
}

/* GET /v0/namespace/{ns}/runs/watch */
void h_runs_watch(exo_req *req, exo_resp *resp)
{
    watch(req, resp, h_runs_query, NULL);
}
