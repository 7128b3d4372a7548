/* Claimed states from arrival to report: dispatch to free workers, input checks,
 * secrets, the child process, and the one log line per state. */
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "host_internal.h"
#include "log.h"
#include "http_client.h"
#include "strfmt.h"
#include "validate.h"

#define REQUEST_TIMEOUT_MS 60000

size_t host_states_count(const host *h, state_phase phase)
{
    size_t n = 0;
    for (const hstate *s = h->states; s; s = s->next)
        n += s->phase == phase;
    return n;
}

static char *string_member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return strdup(json_object_get_string(v));
}

void host_state_log(exo_log_level level, const hstate *s, const char *fmt, ...)
{
    if (!exo_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = exo_vstrfmt(fmt, ap);
    va_end(ap);
    exo_log_field fields[] = {{"state_id", s->id}, {"run_id", s->run_id}, {"graph", s->graph_name},
                              {"node", s->node_name}};
    if (s->run_id && s->graph_name)
        exo_logf_fields(level, fields, 4, "state %s run %s graph %s node %s%s", s->id, s->run_id,
                        s->graph_name, s->node_name, msg ? msg : ": (out of memory)");
    else
        exo_logf_fields(level, fields, 4, "state %s node %s%s", s->id, s->node_name,
                        msg ? msg : ": (out of memory)");
    free(msg);
}

/* A name from the claim answer that goes into log lines: one with control
 * characters (a forged line, a terminal escape) is dropped (freed, NULL). */
static char *log_safe(char *name)
{
    for (const char *p = name; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            free(name);
            return NULL;
        }
    return name;
}

hstate *host_state_add(host *h, json_object *claim)
{
    if (!claim || !json_object_is_type(claim, json_type_object)) {
        log_warn("claimed state is not an object; skipped");
        return NULL;
    }
    hstate *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = string_member(claim, "state_id");
    s->node_name = string_member(claim, "node_name");
    s->identifier = string_member(claim, "identifier");
    s->run_id = log_safe(string_member(claim, "run_id"));
    s->graph_name = log_safe(string_member(claim, "graph_name"));
    if (!s->id || !s->id[0] || !s->node_name) {
        log_warn("claimed state without a state_id or node_name string; skipped: %.300s",
                 json_object_to_json_string(claim));
        free(s->id);
        free(s->node_name);
        free(s->identifier);
        free(s->run_id);
        free(s->graph_name);
        free(s);
        return NULL;
    }
    json_object *inputs = NULL;
    if (json_object_object_get_ex(claim, "inputs", &inputs))
        s->inputs = json_object_get(inputs);
    s->owner = h;
    s->phase = PH_WAITING;
    s->claimed_ms = exo_mono_ms();
    hstate **tail = &h->states;
    while (*tail)
        tail = &(*tail)->next;
    *tail = s;
    return s;
}

void host_state_remove(host *h, hstate *s)
{
    for (hstate **p = &h->states; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    if (s->has_run)
        host_run_cleanup(&s->run);
    free(s->id);
    free(s->node_name);
    free(s->identifier);
    free(s->run_id);
    free(s->graph_name);
    json_object_put(s->inputs);
    json_object_put(s->valid_inputs);
    json_object_put(s->secrets); /* secret strings are freed with it */
    plugin_set_release(s->set);
    free(s);
}

/* The state manager took the state's report: the state is done. */
static void state_reported(host *h, void *state)
{
    host_state_remove(h, state);
}

/* Hands the state's outcome to the reports; without memory for one, the state is
 * dropped (its lease brings it back). */
static void report_state(host *h, hstate *s, host_report_kind kind, json_object *body)
{
    if (host_report_create(h, s->id, s->node_name, kind, body, state_reported, s) < 0)
        host_state_remove(h, s);
}

void host_state_finish(host *h, hstate *s, host_outcome *out, int64_t now)
{
    int64_t started = s->start_ms ? s->start_ms : s->claimed_ms;
    h->metrics.outcomes[out->reason < HOST_OUTCOME_COUNT ? out->reason : HOST_OUTCOME_HOST_ERROR]++;
    if (s->has_run && s->run.exited && s->run.started_ms)
        host_metrics_observe(&h->metrics.run, (double)(s->run.exited_ms - s->run.started_ms) / 1000.0);
    host_state_log(EXO_LOG_INFO, s, " %lld ms: %s", (long long)(now - started), out->summary);
    if (s->start_ms) { /* backpressure (host_claims.c): 1/8 of each new duration */
        int64_t took = now - s->start_ms > 0 ? now - s->start_ms : 1;
        h->state_ms_avg = h->state_ms_avg ? h->state_ms_avg + (took - h->state_ms_avg) / 8 : took;
    }
    if (s->has_run) {
        host_run_cleanup(&s->run);
        s->has_run = false;
    }
    if (!out->body) {
        /* Out of memory building the body: a plain errored is the best we can do. */
        host_outcome_errored(out, "the host ran out of memory building the report");
    }
    s->phase = PH_REPORTING;
    report_state(h, s, out->kind, out->body);
    json_object_put(out->body);
    out->body = NULL;
}

static void finish_errored(host *h, hstate *s, const char *message)
{
    host_outcome out;
    memset(&out, 0, sizeof out);
    host_outcome_errored(&out, message);
    out.reason = HOST_OUTCOME_HOST_ERROR; /* it never ran: unknown node, inputs, secrets, fork server */
    host_state_finish(h, s, &out, exo_mono_ms());
}

static void start_child(host *h, hstate *s)
{
    host_job job = {s->node, s->id, s->identifier, s->valid_inputs, s->secrets};
    char err[512];
    s->start_ms = exo_mono_ms();
    if (host_zygote_ensure(h) < 0) {
        finish_errored(h, s, "the host could not start the state: its fork server cannot be "
                             "started (see the host log)");
        return;
    }
    int64_t spawn_us = exo_mono_us();
    int started = host_run_start(&s->run, &job, &s->node->sandbox, h->zygote, &h->scratch, err,
                                 sizeof err);
    host_metrics_observe(&h->metrics.spawn, (double)(exo_mono_us() - spawn_us) / 1e6);
    if (started < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "the host could not start the state: %s", err);
        finish_errored(h, s, msg);
        return;
    }
    s->has_run = true;
    s->phase = PH_RUNNING;
    host_run_set_context(&s->run, s->run_id, s->graph_name);
    host_state_log(EXO_LOG_DEBUG, s, ": started (token %llu)", (unsigned long long)s->run.token);
    /* The child has its copy; the parent's copy of the secrets is no longer needed. */
    if (s->secrets) {
        json_object_object_foreach(s->secrets, key, value)
        {
            (void)key;
            const char *v = json_object_get_string(value);
            explicit_bzero((char *)v, strlen(v));
        }
        json_object_put(s->secrets);
        s->secrets = NULL;
    }
}

static void wipe_strings(json_object *obj)
{
    if (!obj || !json_object_is_type(obj, json_type_object))
        return;
    json_object_object_foreach(obj, key, value)
    {
        (void)key;
        if (json_object_is_type(value, json_type_string)) {
            const char *t = json_object_get_string(value);
            explicit_bzero((char *)t, strlen(t));
        }
    }
}

static void on_secrets(void *arg, const host_http_result *res)
{
    hstate *s = arg;
    host *h = s->owner;
    s->secrets_req = 0;
    if (s->phase != PH_SECRETS)
        return; /* released during shutdown */
    if (res->status == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "could not fetch secrets: %s", res->error);
        finish_errored(h, s, msg);
        return;
    }
    if (res->status != 200) {
        /* never run a node without the secrets it declares: the state fails (and its
         * retry policy decides what next) with the state manager's own reason */
        json_object *answer = json_tokener_parse(res->body), *detail = NULL;
        if (answer && json_object_is_type(answer, json_type_object))
            json_object_object_get_ex(answer, "detail", &detail);
        char msg[1024];
        snprintf(msg, sizeof msg, "secrets unavailable: the state manager answered %ld%s%s to GET secrets; node '%s' "
                 "is not run without its secrets",
                 res->status, detail ? ": " : "", detail ? json_object_get_string(detail) : "", s->node_name);
        json_object_put(answer);
        host_state_log(EXO_LOG_WARN, s, ": %s", msg);
        finish_errored(h, s, msg);
        return;
    }
    json_object *body = NULL, *map = NULL;
    if ((body = json_tokener_parse(res->body)) && json_object_is_type(body, json_type_object))
        json_object_object_get_ex(body, "secrets", &map);
    json_object *selected = NULL;
    char err[512];
    int rc = host_select_secrets(s->node, map, &selected, err, sizeof err);
    wipe_strings(map);
    json_object_put(body);
    explicit_bzero((char *)res->body, res->len);
    if (rc < 0) {
        finish_errored(h, s, err);
        return;
    }
    s->secrets = selected;
    start_child(h, s);
}

static void fetch_secrets(host *h, hstate *s)
{
    char *id = exo_http_escape(s->id);
    char *path = id ? host_ns_path(h, "/state/%s/secrets", id) : NULL;
    char *url = path ? host_url(h, path) : NULL;
    s->phase = PH_SECRETS;
    s->start_ms = exo_mono_ms();
    unsigned long req = url ? host_http_start(h->http, "GET", url, h->conf.api_key, NULL,
                                              REQUEST_TIMEOUT_MS, on_secrets, s)
                            : 0;
    free(id);
    free(path);
    free(url);
    if (!req) {
        finish_errored(h, s, "could not fetch secrets: the request could not be started");
        return;
    }
    s->secrets_req = req;
}

/* Moves one waiting state forward: unknown node and bad inputs end it right here. */
static void dispatch_one(host *h, hstate *s)
{
    const host_node *node = plugin_set_find(h->plugins, s->node_name);
    if (!node) {
        char msg[600];
        snprintf(msg, sizeof msg, "unknown node '%s'", s->node_name);
        finish_errored(h, s, msg);
        return;
    }
    s->set = h->plugins;
    s->set->refs++;
    s->node = node;
    char err[512];
    if (host_validate_inputs(node, s->inputs, &s->valid_inputs, err, sizeof err) < 0) {
        finish_errored(h, s, err);
        return;
    }
    if (node->secrets.count > 0)
        fetch_secrets(h, s);
    else
        start_child(h, s);
}

void host_states_dispatch(host *h, int64_t now)
{
    (void)now;
    if (h->stopping)
        return;
    for (hstate *s = h->states; s; s = s->next) {
        if (s->phase != PH_WAITING)
            continue;
        size_t busy = host_states_count(h, PH_SECRETS) + host_states_count(h, PH_RUNNING);
        if (busy >= (size_t)h->conf.workers)
            return;
        dispatch_one(h, s);
    }
}

static hstate *find_by_token(host *h, uint64_t token)
{
    for (hstate *s = h->states; s; s = s->next)
        if (s->has_run && s->run.token == token && s->run.zygote == h->zygote)
            return s;
    return NULL;
}

int host_zygote_ensure(host *h)
{
    if (h->zygote)
        return 0;
    char err[512];
    if (!(h->zygote = host_zygote_start(h->runner, h->conf.state_uids, h->view_spec, err,
                                        sizeof err))) {
        log_error("cannot start the fork server: %s", err);
        return -1;
    }
    log_debug("fork server started (pid %ld)", (long)host_zygote_pid(h->zygote));
    return 0;
}

/* The fork server is gone: its running states died with it (parent-death signal). */
static void zygote_lost(host *h)
{
    char how[128], reason[256];
    host_zygote_await_end(h->zygote, 200);
    host_zygote_describe_end(h->zygote, how, sizeof how);
    snprintf(reason, sizeof reason,
             "the host's fork server ended (%s) while the state ran; its process was killed "
             "with it",
             how);
    size_t n = 0;
    for (hstate *s = h->states; s; s = s->next)
        if (s->has_run && s->run.zygote == h->zygote && !s->run.exited) {
            host_run_lost(&s->run, reason);
            n++;
        }
    log_error("the fork server ended (%s); %zu running state(s) reported errored; a new "
              "one is started for the next state",
              how, n);
    /* Started lazily by start_child: a server that cannot start at all costs one
     * errored state each time, never a busy loop of restarts. */
    host_zygote_free(h->zygote);
    h->zygote = NULL;
}

void host_states_zygote_events(host *h)
{
    while (h->zygote) {
        host_zygote_exit ex;
        int rc = host_zygote_next(h->zygote, &ex);
        if (rc == 0)
            return;
        if (rc < 0) {
            zygote_lost(h);
            return;
        }
        hstate *s = find_by_token(h, ex.token);
        if (s)
            host_run_reaped(&s->run, &ex);
    }
}

/* Only the fork server (and orphans that escaped it) are the host's children. */
void host_states_reap(host *h)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        if (h->zygote && pid == host_zygote_pid(h->zygote)) {
            host_zygote_reaped(h->zygote, status);
            host_states_zygote_events(h); /* what it reported before it died */
            if (h->zygote)
                zygote_lost(h);
        }
    }
}

void host_states_readable(host *h, int fd)
{
    for (hstate *s = h->states; s; s = s->next)
        if (s->has_run && (s->run.result_fd == fd || s->run.output_fd == fd)) {
            host_run_on_readable(&s->run, fd);
            return;
        }
}

void host_states_tick(host *h, int64_t now)
{
    hstate *next = NULL;
    for (hstate *s = h->states; s; s = next) {
        next = s->next; /* s may be removed below */
        if (s->phase != PH_RUNNING)
            continue;
        host_run_check_deadline(&s->run, now);
        if (h->stopping && h->stop_kill_ms && now >= h->stop_kill_ms)
            host_run_kill(&s->run);
        if (!host_run_finished(&s->run, now))
            continue;
        if (s->lease_lost) {
            host_state_log(EXO_LOG_WARN, s, ": stopped, the state manager ended its lease");
            h->metrics.outcomes[HOST_OUTCOME_LEASE_LOST]++;
            host_state_remove(h, s);
            continue;
        }
        host_outcome out;
        host_run_outcome(&s->run, s->node, &out);
        if (s->run_id) /* exo (the extended claim answer said so) takes the logs */
            host_run_attach_logs(&s->run, &out);
        host_state_finish(h, s, &out, now);
    }
}

int64_t host_states_next_ms(const host *h)
{
    int64_t next = INT64_MAX;
    for (const hstate *s = h->states; s; s = s->next) {
        if (s->phase != PH_RUNNING)
            continue;
        int64_t t = s->run.exited ? s->run.exited_ms + 1001 : s->run.deadline_ms;
        if (s->run.exited && s->run.result_fd < 0 && s->run.output_fd < 0)
            t = 0;
        if (t < next)
            next = t;
    }
    if (h->stopping && h->stop_kill_ms && host_states_count(h, PH_RUNNING) > 0 &&
        h->stop_kill_ms < next)
        next = h->stop_kill_ms;
    return next;
}

/* Shutdown: states that never started go back to the state manager right away
 * (re-enqueue-after 1 ms has no status precondition and costs no retry). */
void host_states_release_waiting(host *h)
{
    for (hstate *s = h->states, *next; s; s = next) {
        next = s->next; /* s is freed when its report cannot be made */
        if (s->phase != PH_WAITING && s->phase != PH_SECRETS)
            continue;
        bool fetching = s->phase == PH_SECRETS;
        s->phase = PH_REPORTING;
        if (fetching && s->secrets_req)
            host_http_cancel(h->http, s->secrets_req);
        json_object *body = json_object_new_object();
        if (!body)
            continue;
        json_object_object_add(body, "enqueue_after", json_object_new_int(1));
        host_state_log(EXO_LOG_INFO, s, ": released (host stopping)");
        report_state(h, s, HOST_REPORT_REQUEUE, body);
        json_object_put(body);
    }
}

/* The state manager reports that it gave these claims up (their lease expired and
 * the retry policy took over): running them further only duplicates work. */
void host_states_lease_lost(host *h, json_object *ids)
{
    size_t n = json_object_array_length(ids);
    for (size_t i = 0; i < n; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
        for (hstate *s = h->states; id && s; s = s->next) {
            if (strcmp(s->id, id) != 0 || s->phase == PH_REPORTING)
                continue;
            s->lease_lost = true;
            if (s->phase == PH_RUNNING) {
                host_run_kill(&s->run);
            } else {
                host_state_log(EXO_LOG_WARN, s, ": dropped, the state manager ended its lease");
                h->metrics.outcomes[HOST_OUTCOME_LEASE_LOST]++;
                if (s->phase == PH_SECRETS && s->secrets_req) {
                    s->phase = PH_WAITING; /* on_secrets ignores the cancelled answer */
                    host_http_cancel(h->http, s->secrets_req);
                }
                host_state_remove(h, s);
            }
            break;
        }
    }
}
