/* Reports: spooled before the first attempt, delivered with retries (transport
 * errors, 5xx, 408, 429; capped exponential backoff with jitter), removed from the
 * spool once the state manager has answered for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "clock.h"
#include "host_internal.h"
#include "http_client.h"
#include "log.h"
#include "spool.h"
#include "strfmt.h"
#include "utf8.h"

#define BACKOFF_CAP_MS 30000
#define REQUEST_TIMEOUT_MS 60000
/* A report still undelivered this long after it was spooled is fsync'ed. */
#define SPOOL_SYNC_DELAY_MS 100

static const char *endpoint(host_report_kind kind)
{
    switch (kind) {
    case HOST_REPORT_EXECUTED:
        return "executed";
    case HOST_REPORT_ERRORED:
        return "errored";
    case HOST_REPORT_PRUNE:
        return "prune";
    case HOST_REPORT_REQUEUE:
        return "re-enqueue-after";
    }
    return "errored";
}

static void report_free(report *r)
{
    free(r->file);
    free(r->state_id);
    free(r->node);
    free(r->path);
    free(r->body);
    free(r);
}

static void report_unlink(host *h, report *r)
{
    for (report **p = &h->reports; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

/* The state manager answered for good: forget the report and its state. */
static void report_done(host *h, report *r)
{
    if (r->file && host_spool_remove(&h->spool, r->file) < 0)
        log_warn("cannot remove spool file %s", r->file);
    report_unlink(h, r);
    if (r->on_done)
        r->on_done(h, r->done_arg);
    report_free(r);
}

static bool retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

static bool is_errored_report(const report *r)
{
    size_t len = strlen(r->path);
    return len >= 8 && strcmp(r->path + len - 8, "/errored") == 0;
}

/* A final refusal of executed/prune/re-enqueue-after still ends the state now, as
 * errored with the state manager's reason, rather than leaving it to its lease (which
 * would fail it much later as "no report from the worker").  A refused errored
 * report is only logged: there is nothing left to say. */
static void report_refused(host *h, report *r, const host_http_result *res)
{
    log_warn("state %s: the state manager rejected POST %s: %ld %.300s (not retried)",
             r->state_id, r->path, res->status, res->body ? res->body : "");
    if (is_errored_report(r))
        return;
    const char *kind = strrchr(r->path, '/');
    char *detail = exo_utf8_sanitize(res->body ? res->body : "");
    char *msg = exo_strfmt("the state manager refused the node's %s report (HTTP %ld: %.300s)",
                           kind ? kind + 1 : r->path, res->status, detail ? detail : "");
    json_object *body = json_object_new_object();
    if (msg && body &&
        json_object_object_add(body, "error", json_object_new_string(msg)) == 0 &&
        host_report_create(h, r->state_id, r->node, HOST_REPORT_ERRORED, body, NULL, NULL) == 0)
        log_info("state %s: reported as errored instead: %s", r->state_id, msg);
    else
        log_error("state %s: cannot report the refusal; the lease will end the state",
                  r->state_id);
    json_object_put(body);
    free(msg);
    free(detail);
}

/* The kind of a report by its path's last segment (replayed reports know only it). */
static host_report_kind kind_of(const report *r)
{
    const char *last = strrchr(r->path, '/');
    last = last ? last + 1 : r->path;
    for (int k = HOST_REPORT_EXECUTED; k <= HOST_REPORT_REQUEUE; k++)
        if (strcmp(last, endpoint((host_report_kind)k)) == 0)
            return (host_report_kind)k;
    return HOST_REPORT_ERRORED;
}

/* The state manager's answer to one report (alone or in a batch). */
static void apply_answer(report *r, const host_http_result *res)
{
    host *h = r->owner;
    r->inflight = false;
    r->batch = NULL;
    r->attempts++;
    if (!retryable(res->status))
        h->metrics.reports[kind_of(r)]++; /* answered for good */
    if (res->status >= 200 && res->status <= 299) {
        log_debug("state %s: %s delivered", r->state_id, r->path);
        report_done(h, r);
        return;
    }
    if (!retryable(res->status)) {
        h->metrics.reports_refused++;
        report_refused(h, r, res);
        report_done(h, r);
        return;
    }
    int64_t delay = host_backoff_ms(r->attempts, 500, BACKOFF_CAP_MS);
    h->metrics.report_retries++;
    if (res->status)
        log_warn("state %s: POST %s answered %ld; retrying in %lld ms", r->state_id, r->path,
                 res->status, (long long)delay);
    else
        log_warn("state %s: POST %s failed: %s; retrying in %lld ms", r->state_id, r->path,
                 res->error, (long long)delay);
    r->next_ms = exo_mono_ms() + delay;
}

static void on_delivered(void *arg, const host_http_result *res)
{
    apply_answer(arg, res);
}

static void deliver(host *h, report *r)
{
    char *url = host_url(h, r->path);
    unsigned long id = url ? host_http_start(h->http, "POST", url, h->conf.api_key, r->body,
                                             REQUEST_TIMEOUT_MS, on_delivered, r)
                           : 0;
    free(url);
    if (id)
        r->inflight = true;
    else
        r->next_ms = exo_mono_ms() + 1000;
}

static report *report_new(host *h, const char *state_id, const char *node, const char *path,
                          json_object *body)
{
    report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->state_id = strdup(state_id);
    r->node = strdup(node ? node : "");
    r->path = strdup(path);
    r->body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    if (!r->state_id || !r->node || !r->path || !r->body) {
        report_free(r);
        return NULL;
    }
    r->owner = h;
    report **tail = &h->reports;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    return r;
}

int host_report_create(host *h, const char *state_id, const char *node, host_report_kind kind,
                       json_object *body, host_report_done_fn on_done, void *done_arg)
{
    char *id = exo_http_escape(state_id);
    char *path = id ? host_ns_path(h, "/state/%s/%s", id, endpoint(kind)) : NULL;
    free(id);
    report *r = path ? report_new(h, state_id, node, path, body) : NULL;
    free(path);
    if (!r) {
        log_error("state %s: out of memory creating its report; the lease will bring it back",
                  state_id);
        return -1;
    }
    r->on_done = on_done;
    r->done_arg = done_arg;
    r->file = host_spool_write(&h->spool, state_id, node, r->path, body);
    r->sync_ms = exo_mono_ms() + SPOOL_SYNC_DELAY_MS;
    if (!r->file)
        log_error("state %s: cannot write the spool (%m); delivering from memory only", state_id);
    if (h->batch_reports)
        r->next_ms = exo_mono_ms(); /* with the others of this loop turn (host_reports_tick) */
    else
        deliver(h, r);
    return 0;
}

/* Host shutdown: what is still undelivered stays in the spool. */
void host_reports_free(host *h)
{
    while (h->reports) {
        report *r = h->reports;
        h->reports = r->next;
        report_free(r);
    }
}

static void replay_one(void *arg, const char *file, json_object *entry)
{
    host *h = arg;
    json_object *sid = NULL, *node = NULL, *path = NULL, *body = NULL;
    if (!json_object_object_get_ex(entry, "state_id", &sid) ||
        !json_object_object_get_ex(entry, "path", &path) ||
        !json_object_object_get_ex(entry, "body", &body) ||
        !json_object_is_type(body, json_type_object)) {
        log_warn("spool: %s lacks state_id, path or body; left in place", file);
        return;
    }
    json_object_object_get_ex(entry, "node", &node);
    report *r = report_new(h, json_object_get_string(sid),
                           node ? json_object_get_string(node) : "", json_object_get_string(path),
                           body);
    if (!r || !(r->file = strdup(file))) {
        log_error("spool: out of memory replaying %s", file);
        return;
    }
    r->synced = true; /* it was found on disk; whether it is durable is the kernel's */
    log_info("spool: delivering the stored report of state %s (%s)", r->state_id, r->path);
    deliver(h, r);
}

void host_reports_replay(host *h)
{
    int n = host_spool_replay(&h->spool, replay_one, h);
    if (n < 0)
        log_warn("spool: cannot read %s: %m", h->spool_dir);
}

static bool needs_sync(const report *r, int64_t now)
{
    return r->file && !r->synced && now >= r->sync_ms;
}

/* One batch of fsyncs for the reports the state manager has not taken yet. */
static void sync_spool(host *h, int64_t now)
{
    size_t n = 0;
    for (report *r = h->reports; r; r = r->next)
        n += needs_sync(r, now);
    if (n == 0)
        return;
    char **files = malloc(n * sizeof *files);
    if (!files)
        return; /* tried again at the next tick */
    size_t i = 0;
    for (report *r = h->reports; r && i < n; r = r->next)
        if (needs_sync(r, now))
            files[i++] = r->file;
    if (host_spool_sync(&h->spool, files, i) < 0)
        log_warn("spool: fsync failed (%m); the reports stay in the spool");
    free(files);
    for (report *r = h->reports; r; r = r->next)
        if (needs_sync(r, now))
            r->synced = true;
}

/* ---- batches (POST states/report) ---------------------------------------------- */

static host_batch *free_batch(host *h)
{
    for (int i = 0; i < HOST_MAX_BATCHES; i++)
        if (!h->batches[i].inflight)
            return &h->batches[i];
    return NULL;
}

/* "executed" of ".../state/ID/executed". */
static const char *kind_name(const report *r)
{
    const char *slash = strrchr(r->path, '/');
    return slash ? slash + 1 : r->path;
}

/* The server lost the call (a replica without it) or refused the batch as a whole:
 * every report goes alone from now on, as soon as possible. */
static void batch_unusable(host *h, host_batch *b, const host_http_result *res)
{
    if (h->batch_reports)
        log_warn("the state manager refused POST states/report (%ld %.200s): reports go one "
                 "by one",
                 res->status, res->body ? res->body : "");
    h->batch_reports = false;
    for (report *r = h->reports; r; r = r->next)
        if (r->batch == b) {
            r->batch = NULL;
            r->inflight = false;
            r->next_ms = exo_mono_ms();
        }
}

/* results[i] of a batch answer as one report's answer; false when malformed. */
static bool item_result(json_object *results, size_t i, host_http_result *out, const char **text)
{
    json_object *item = json_object_array_get_idx(results, i), *status = NULL, *body = NULL;
    if (!json_object_is_type(item, json_type_object) ||
        !json_object_object_get_ex(item, "status", &status) ||
        !json_object_is_type(status, json_type_int))
        return false;
    json_object_object_get_ex(item, "body", &body);
    *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "";
    *out = (host_http_result){json_object_get_int(status), *text, strlen(*text), NULL, NULL};
    return true;
}

static void answer_claim(host_batch *b, json_object *answer, const host_http_result *whole)
{
    host_claim *c = b->claim;
    b->claim = NULL;
    if (!c)
        return;
    json_object *claim = answer ? json_object_object_get(answer, "claim") : NULL;
    host_http_result res = *whole;
    if (claim) {
        json_object *status = json_object_object_get(claim, "status");
        json_object *body = json_object_object_get(claim, "body");
        const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "";
        res = (host_http_result){json_object_get_int(status), text, strlen(text), NULL, NULL};
    } else if (answer) {
        res = (host_http_result){502, "the batch answer has no claim", 29, NULL, NULL};
    }
    host_claim_answered(c, &res);
}

static void on_batch_done(void *arg, const host_http_result *res)
{
    host_batch *b = arg;
    host *h = b->owner;
    b->inflight = false;
    json_object *answer = res->status == 200 ? json_tokener_parse(res->body) : NULL;
    json_object *results = answer ? json_object_object_get(answer, "results") : NULL;
    bool whole_ok = json_object_is_type(results, json_type_array) &&
                    json_object_array_length(results) == b->count;
    if (!whole_ok && !retryable(res->status)) {
        batch_unusable(h, b, res); /* a 404/405, a refusal, or an answer we cannot read */
        if (b->claim) /* not the claim's failure: the long-poll goes out next */
            b->claim->cancelling = true;
        answer_claim(b, NULL, &(host_http_result){0, "", 0, "batch refused", NULL});
        json_object_put(answer);
        return;
    }
    report *r = h->reports;
    while (r) {
        report *next = r->next; /* apply_answer may free r (and append an errored report) */
        host_http_result one = *res;
        const char *text;
        if (r->batch == b && (!whole_ok || item_result(results, r->batch_pos, &one, &text)))
            apply_answer(r, &one);
        else if (r->batch == b)
            apply_answer(r, &(host_http_result){502, "malformed batch item", 20, NULL, NULL});
        r = next;
    }
    answer_claim(b, whole_ok ? answer : NULL, res);
    json_object_put(answer);
}

/* {"state_id": ..., "kind": ..., "body": <the report's body as spooled>} */
static int append_item(struct printbuf *out, const report *r, bool first)
{
    json_object *id = json_object_new_string(r->state_id);
    if (!id)
        return -1;
    int rc = sprintbuf(out, "%s{\"state_id\":%s,\"kind\":\"%s\",\"body\":%s}",
                            first ? "" : ",",
                            json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN),
                            kind_name(r), r->body);
    json_object_put(id);
    return rc < 0 ? -1 : 0;
}

/* Sends the reports that are due in one batch (with a claim when one is due). */
static void deliver_batch(host *h, host_batch *b, int64_t now)
{
    struct printbuf *body = printbuf_new();
    int rc = body && sprintbuf(body, "{\"reports\":[") >= 0 ? 0 : -1;
    size_t n = 0;
    for (report *r = h->reports; r && n < HOST_BATCH_REPORTS && rc == 0; r = r->next) {
        if (r->inflight || now < r->next_ms)
            continue;
        rc = append_item(body, r, n == 0);
        r->batch_pos = n++;
        r->batch = b; /* provisional: undone below if the batch cannot go */
    }
    json_object *claim = NULL;
    host_claim *c = rc == 0 ? host_claim_bundle(h, now, &claim) : NULL;
    if (rc == 0)
        rc = (c ? sprintbuf(body, "],\"claim\":%s}",
                            json_object_to_json_string_ext(claim, JSON_C_TO_STRING_PLAIN))
                : sprintbuf(body, "]}")) < 0
                 ? -1
                 : 0;
    json_object_put(claim);
    char *path = host_ns_path(h, "/states/report");
    char *url = path && rc == 0 ? host_url(h, path) : NULL;
    unsigned long id = url ? host_http_start(h->http, "POST", url, h->conf.api_key, body->buf,
                                             REQUEST_TIMEOUT_MS, on_batch_done, b)
                           : 0;
    free(path);
    free(url);
    if (body)
        printbuf_free(body);
    for (report *r = h->reports; r; r = r->next) {
        if (r->batch != b)
            continue;
        if (id)
            r->inflight = true;
        else {
            r->batch = NULL;
            r->next_ms = now + 1000;
        }
    }
    if (!id) {
        if (c)
            host_claim_answered(c, &(host_http_result){0, "", 0, "cannot start the request", NULL});
        return;
    }
    if (c)
        c->req = id;
    *b = (host_batch){h, true, id, n, c};
}

static bool report_due(const host *h, int64_t now)
{
    for (const report *r = h->reports; r; r = r->next)
        if (!r->inflight && now >= r->next_ms)
            return true;
    return false;
}

void host_reports_tick(host *h, int64_t now)
{
    host_batch *b;
    if (h->batch_reports) {
        while (report_due(h, now) && (b = free_batch(h)))
            deliver_batch(h, b, now);
    } else {
        for (report *r = h->reports; r; r = r->next)
            if (!r->inflight && now >= r->next_ms)
                deliver(h, r);
    }
    sync_spool(h, now);
}

int64_t host_reports_next_ms(const host *h)
{
    int64_t next = INT64_MAX;
    /* With both batches on the wire, due reports wait for an answer (which wakes
     * the loop anyway). */
    bool can_send = !h->batch_reports || free_batch((host *)h);
    for (const report *r = h->reports; r; r = r->next) {
        if (can_send && !r->inflight && r->next_ms < next)
            next = r->next_ms;
        if (r->file && !r->synced && r->sync_ms < next)
            next = r->sync_ms;
    }
    return next;
}
