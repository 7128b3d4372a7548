/* Reports: spooled before the first attempt, delivered with retries (transport
 * errors, 5xx, 408, 429; capped exponential backoff with jitter), removed from the
 * spool once the state manager has answered for good. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void on_delivered(void *arg, const host_http_result *res)
{
    report *r = arg;
    host *h = r->owner;
    r->inflight = false;
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

void host_reports_tick(host *h, int64_t now)
{
    for (report *r = h->reports; r; r = r->next)
        if (!r->inflight && now >= r->next_ms)
            deliver(h, r);
    sync_spool(h, now);
}

int64_t host_reports_next_ms(const host *h)
{
    int64_t next = INT64_MAX;
    for (const report *r = h->reports; r; r = r->next) {
        if (!r->inflight && r->next_ms < next)
            next = r->next_ms;
        if (r->file && !r->synced && r->sync_ms < next)
            next = r->sync_ms;
    }
    return next;
}
