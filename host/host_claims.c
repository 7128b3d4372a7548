/* Talking to the state manager about work: registration (PUT nodes/), claims
 * (POST states/enqueue, long-poll with wait_ms) and lease keep-alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host_internal.h"
#include "log.h"
#include "schema.h"

#define BACKOFF_CAP_MS 30000
#define REQUEST_TIMEOUT_MS 60000

static bool retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

/* ---- registration ---------------------------------------------------------- */

static void on_registered(void *arg, const host_http_result *res)
{
    host *h = arg;
    int64_t now = exo_mono_ms();
    if (res->status == 200) {
        const char *off = getenv("EXO_HOST_BATCH_REPORTS");
        h->batch_reports = res->extensions && strstr(res->extensions, "states-report") &&
                           !(off && strcmp(off, "0") == 0);
        h->reg = REG_DONE;
        h->reg_attempts = 0;
        h->poll_next_ms = now;
        h->hb_next_ms = now; /* the registry hears of the (new) node set at once */
        h->reg_fatal_on_reject = false;
        log_info("registered %zu node%s with %s (namespace %s, runtime %s)", h->plugins->n,
                 h->plugins->n == 1 ? "" : "s", h->conf.uri, h->conf.namespace_, h->conf.name);
        return;
    }
    h->reg = REG_PENDING;
    h->reg_attempts++;
    if (!retryable(res->status) && h->reg_fatal_on_reject) {
        log_error("registration rejected by the state manager: %ld %.500s", res->status, res->body);
        h->fatal = true;
        return;
    }
    if (h->conf.register_timeout_ms > 0 && h->reg_fatal_on_reject &&
        now - h->reg_started_ms > h->conf.register_timeout_ms) {
        log_error("registration did not succeed within %lld ms (last: %s); giving up",
                  (long long)h->conf.register_timeout_ms,
                  res->status ? "an error status" : res->error);
        h->fatal = true;
        return;
    }
    int64_t delay = host_backoff_ms(h->reg_attempts, 500, BACKOFF_CAP_MS);
    if (res->status)
        log_warn("registration failed: %ld %.300s; retrying in %lld ms", res->status, res->body,
                 (long long)delay);
    else
        log_warn("registration failed: %s; retrying in %lld ms", res->error, (long long)delay);
    h->reg_next_ms = now + delay;
}

void host_register_now(host *h)
{
    h->reg = REG_PENDING;
    h->reg_next_ms = exo_mono_ms();
}

static void send_registration(host *h)
{
    json_object *body = host_registration_body(h->conf.name, h->conf.namespace_,
                                               h->plugins->nodes, h->plugins->n);
    char *path = host_ns_path(h, "/nodes/");
    char *url = path ? host_url(h, path) : NULL;
    unsigned long id = 0;
    if (body && url)
        id = host_http_start(h->http, "PUT", url, h->conf.api_key,
                             json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
                             REQUEST_TIMEOUT_MS, on_registered, h);
    json_object_put(body);
    free(path);
    free(url);
    if (id) {
        h->reg = REG_INFLIGHT;
    } else {
        log_error("cannot start the registration request (out of memory?)");
        h->reg_next_ms = exo_mono_ms() + 1000;
    }
}

/* ---- claims ------------------------------------------------------------------ */

/* States beyond the free workers worth holding (prefetch): never more than the
 * workers can start within half a lease at the pace states have been running, so
 * that a host that cannot keep up claims less and a claimed state never waits out
 * its lease (it would fail as "lease expired" and be retried elsewhere). */
static int prefetch_allowed(const host *h)
{
    int prefetch = h->conf.prefetch;
    if (prefetch <= 0 || h->conf.lease_ms <= 0 || h->state_ms_avg <= 0)
        return prefetch;
    int64_t startable = (int64_t)h->conf.workers * (h->conf.lease_ms / 2) / h->state_ms_avg;
    return startable < prefetch ? (int)startable : prefetch;
}

static int claim_wanted(const host *h)
{
    int busy = (int)(host_states_count(h, PH_SECRETS) + host_states_count(h, PH_RUNNING));
    int waiting = (int)host_states_count(h, PH_WAITING);
    int asked = 0;
    for (int i = 0; i < HOST_MAX_CLAIMS; i++)
        asked += h->claims[i].inflight ? h->claims[i].want : 0;
    int want = h->conf.workers - busy - waiting - asked + prefetch_allowed(h);
    if (want > h->conf.batch_size)
        want = h->conf.batch_size;
    return want < 0 ? 0 : want;
}

bool host_claims_inflight(const host *h)
{
    for (int i = 0; i < HOST_MAX_CLAIMS; i++)
        if (h->claims[i].inflight)
            return true;
    return false;
}

int64_t host_claims_cancel_ms(const host *h)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < HOST_MAX_CLAIMS; i++)
        if (h->claims[i].inflight && h->claims[i].cancel_ms && h->claims[i].cancel_ms < next)
            next = h->claims[i].cancel_ms;
    return next;
}

/* A free slot for one more claim (-1: none): no claim in flight, or a backlog worth
 * pipelining. */
static int free_claim(const host *h)
{
    int free_slot = -1, inflight = 0;
    for (int i = 0; i < HOST_MAX_CLAIMS; i++) {
        if (h->claims[i].inflight)
            inflight++;
        else if (free_slot < 0)
            free_slot = i;
    }
    return inflight == 0 || h->poll_backlog ? free_slot : -1;
}

void host_claim_make_stale(host *h, int64_t now)
{
    for (int i = 0; i < HOST_MAX_CLAIMS; i++)
        if (h->claims[i].inflight && !h->claims[i].cancel_ms)
            h->claims[i].cancel_ms = now + HOST_STALE_CLAIM_MS;
}

static void cancel_stale_claims(host *h, int64_t now)
{
    for (int i = 0; i < HOST_MAX_CLAIMS; i++) {
        host_claim *c = &h->claims[i];
        /* A bundled claim is answered at once, and cancelling it would cancel the
         * reports it travels with. */
        if (c->inflight && !c->bundled && c->cancel_ms && now >= c->cancel_ms) {
            c->cancelling = true;
            host_http_cancel(h->http, c->req);
        }
    }
}

static void on_claimed(void *arg, const host_http_result *res)
{
    host_claim *c = arg;
    host *h = c->owner;
    int64_t now = exo_mono_ms();
    c->inflight = false;
    c->cancel_ms = 0;
    if (c->cancelling) {
        c->cancelling = false;
        h->poll_next_ms = now;
        return;
    }
    h->metrics.claims++;
    host_metrics_observe(&h->metrics.claim_rtt, (double)(now - c->sent_ms) / 1000.0);
    json_object *body = res->status == 200 ? json_tokener_parse(res->body) : NULL;
    json_object *states = NULL;
    if (!body || !json_object_is_type(body, json_type_object) ||
        (json_object_object_get_ex(body, "states", &states) &&
         !json_object_is_type(states, json_type_array))) {
        h->poll_failures++;
        h->metrics.claims_failed++;
        h->poll_backlog = false;
        int64_t delay = host_backoff_ms(h->poll_failures, 2 * h->conf.poll_interval_ms,
                                        BACKOFF_CAP_MS);
        if (res->status)
            log_warn("claiming states failed: %ld %.300s; next try in %lld ms", res->status,
                     res->body, (long long)delay);
        else
            log_warn("claiming states failed: %s; next try in %lld ms", res->error,
                     (long long)delay);
        h->poll_next_ms = now + delay;
        json_object_put(body);
        return;
    }
    h->poll_failures = 0;
    size_t n = states ? json_object_array_length(states) : 0;
    size_t added = 0;
    for (size_t i = 0; i < n; i++)
        if (host_state_add(h, json_object_array_get_idx(states, i)))
            added++;
    h->metrics.states_claimed += added;
    if (n > 0)
        log_debug("claimed %zu state%s", added, added == 1 ? "" : "s");
    h->poll_backlog = n > 0 && n >= (size_t)c->want;
    if (h->stopping)
        host_states_release_waiting(h); /* the answer arrived after SIGTERM */
    /* An empty answer that came back before poll_interval means the server does not
     * hold long-polls: wait out the rest of the interval (a bundled claim never
     * waits: the long-poll goes out next). */
    int64_t next = n > 0 || c->bundled ? now : c->sent_ms + h->conf.poll_interval_ms;
    if (next > h->poll_next_ms || n > 0)
        h->poll_next_ms = next;
    json_object_put(body);
}

/* The states/enqueue body of a claim of want states (NULL: out of memory). */
static json_object *claim_body(const host *h, int want, bool long_poll)
{
    json_object *body = json_object_new_object();
    json_object *nodes = json_object_new_array();
    if (!body || !nodes) {
        json_object_put(body);
        json_object_put(nodes);
        return NULL;
    }
    for (size_t i = 0; i < h->plugins->n; i++)
        json_object_array_add(nodes, json_object_new_string(h->plugins->nodes[i].name));
    json_object_object_add(body, "nodes", nodes);
    json_object_object_add(body, "batch_size", json_object_new_int(want));
    /* exo: the claimed states record their claimer (the reference ignores it) */
    json_object_object_add(body, "runtime_name", json_object_new_string(h->conf.name));
    if (long_poll && h->conf.wait_ms > 0)
        json_object_object_add(body, "wait_ms", json_object_new_int64(h->conf.wait_ms));
    if (h->conf.lease_ms > 0)
        json_object_object_add(body, "lease_ms", json_object_new_int64(h->conf.lease_ms));
    /* exo answers with each state's run and graph (for the log lines); others ignore it */
    json_object_object_add(body, "extended", json_object_new_boolean(1));
    return body;
}

static void mark_sent(host_claim *c, unsigned long id, int want, int64_t now, bool bundled)
{
    c->inflight = true;
    c->bundled = bundled;
    c->req = id;
    c->want = want;
    c->sent_ms = now;
    c->cancel_ms = 0;
    c->cancelling = false;
}

host_claim *host_claim_bundle(host *h, int64_t now, json_object **body)
{
    int slot = free_claim(h);
    if (h->reg != REG_DONE || h->stopping || now < h->poll_next_ms || slot < 0)
        return NULL;
    int want = claim_wanted(h);
    if (want <= 0 || !(*body = claim_body(h, want, false)))
        return NULL;
    host_claim *c = &h->claims[slot];
    c->owner = h;
    mark_sent(c, 0, want, now, true); /* the batch sets req */
    return c;
}

void host_claim_answered(host_claim *c, const host_http_result *res)
{
    on_claimed(c, res);
}

static void send_claim(host *h, host_claim *c, int want, int64_t now)
{
    json_object *body = claim_body(h, want, true);
    if (!body)
        return;
    char *path = host_ns_path(h, "/states/enqueue");
    char *url = path ? host_url(h, path) : NULL;
    unsigned long id = 0;
    c->owner = h;
    if (url)
        id = host_http_start(h->http, "POST", url, h->conf.api_key,
                             json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
                             (long)(h->conf.wait_ms + REQUEST_TIMEOUT_MS), on_claimed, c);
    json_object_put(body);
    free(path);
    free(url);
    if (!id) {
        h->poll_next_ms = now + h->conf.poll_interval_ms;
        return;
    }
    mark_sent(c, id, want, now, false);
}

/* ---- lease keep-alive -------------------------------------------------------- */

static void on_leased(void *arg, const host_http_result *res)
{
    host *h = arg;
    h->lease_inflight = false;
    if (res->status == 404 || res->status == 405) {
        h->lease_enabled = false;
        log_info("the state manager has no lease endpoint (%ld): claims are not kept alive",
                 res->status);
    } else if (res->status < 200 || res->status > 299) {
        log_warn("lease keep-alive failed: %s",
                 res->status ? "error status from the state manager" : res->error);
    } else {
        json_object *body = json_tokener_parse(res->body), *lost = NULL;
        if (body && json_object_object_get_ex(body, "lost", &lost) &&
            json_object_is_type(lost, json_type_array))
            host_states_lease_lost(h, lost);
        json_object_put(body);
    }
}

/* Renewals double as the cancel check: a state the state manager ended (its run
 * was cancelled, say) comes back as "lost" and its child is killed, so they are
 * sent at least this often whatever the lease length. */
#define LEASE_CHECK_MS 2000

static int64_t lease_period_ms(const host *h)
{
    int64_t third = h->conf.lease_ms / 3;
    return third < LEASE_CHECK_MS ? third : LEASE_CHECK_MS;
}

static void send_lease(host *h, int64_t now)
{
    h->lease_next_ms = now + lease_period_ms(h);
    json_object *ids = json_object_new_array();
    if (!ids)
        return;
    for (hstate *s = h->states; s; s = s->next)
        json_object_array_add(ids, json_object_new_string(s->id));
    if (json_object_array_length(ids) == 0) {
        json_object_put(ids);
        return;
    }
    json_object *body = json_object_new_object();
    if (!body) {
        json_object_put(ids);
        return;
    }
    json_object_object_add(body, "state_ids", ids);
    json_object_object_add(body, "lease_ms", json_object_new_int64(h->conf.lease_ms));
    char *path = host_ns_path(h, "/states/lease");
    char *url = path ? host_url(h, path) : NULL;
    /* A renewal that hangs longer than its period is worth nothing: give up and
     * send a fresh one. */
    long timeout = (long)(lease_period_ms(h) > 1000 ? lease_period_ms(h) : 1000);
    if (url && host_http_start(h->http, "POST", url, h->conf.api_key,
                               json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
                               timeout, on_leased, h))
        h->lease_inflight = true;
    json_object_put(body);
    free(path);
    free(url);
}

/* ---- tick -------------------------------------------------------------------- */

void host_claims_tick(host *h, int64_t now)
{
    cancel_stale_claims(h, now);
    /* Claims held are kept alive whatever else happens (re-registration, shutdown). */
    if (h->conf.lease_ms > 0 && h->lease_enabled && !h->lease_inflight && now >= h->lease_next_ms)
        send_lease(h, now);
    if (h->reg == REG_PENDING && !h->stopping && now >= h->reg_next_ms)
        send_registration(h);
    if (h->reg != REG_DONE || h->stopping)
        return;
    int slot;
    while (now >= h->poll_next_ms && (slot = free_claim(h)) >= 0) {
        int want = claim_wanted(h);
        if (want <= 0)
            break;
        send_claim(h, &h->claims[slot], want, now);
        if (!h->claims[slot].inflight)
            break;
    }
}

int64_t host_claims_next_ms(const host *h)
{
    int64_t next = INT64_MAX;
    if (h->conf.lease_ms > 0 && h->lease_enabled && !h->lease_inflight && h->states)
        next = h->lease_next_ms;
    if (h->stopping)
        return next;
    if (h->reg == REG_PENDING && h->reg_next_ms < next)
        next = h->reg_next_ms;
    if (h->reg == REG_DONE && free_claim(h) >= 0 && claim_wanted(h) > 0 &&
        h->poll_next_ms < next)
        next = h->poll_next_ms;
    return next;
}
