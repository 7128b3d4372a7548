/* Heartbeats to the state manager's worker registry (an exo extension):
 * POST /v0/namespace/{ns}/runtimes/heartbeat every conf.heartbeat_ms once the
 * nodes are registered, saying who this host is (runtime name, namespace, nodes,
 * version, hostname, pid) and how busy it is (slots, running).  Sent from the event loop
 * like every other request, one at a time: a slow state manager delays the next
 * heartbeat, never a claim or a report.  A state manager without the endpoint
 * (the reference answers 404) is not asked again; that is logged once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "host_internal.h"
#include "log.h"
#include "version.h"

static bool heartbeats_wanted(const host *h)
{
    return h->conf.heartbeat_ms > 0 && !h->hb_disabled && h->reg == REG_DONE;
}

static void on_heartbeat(void *arg, const host_http_result *res)
{
    host *h = arg;
    h->hb_inflight = false;
    if (res->status == 404 || res->status == 405) {
        h->hb_disabled = true;
        log_info("the state manager has no worker registry (%ld on runtimes/heartbeat): heartbeats stop",
                 res->status);
        return;
    }
    if (res->status >= 200 && res->status <= 299) {
        if (h->hb_failing)
            log_info("heartbeats are accepted again");
        h->hb_failing = false;
        return;
    }
    if (h->hb_failing) /* logged once per failing stretch; tried again every period */
        return;
    h->hb_failing = true;
    if (res->status)
        log_warn("heartbeat failed: %ld %.300s", res->status, res->body);
    else
        log_warn("heartbeat failed: %s", res->error);
}

/* The heartbeat body; NULL when out of memory. */
static json_object *heartbeat_body(const host *h)
{
    char hostname[256] = "";
    if (gethostname(hostname, sizeof hostname - 1) < 0)
        hostname[0] = '\0';
    json_object *body = json_object_new_object(), *nodes = json_object_new_array();
    if (!body || !nodes) {
        json_object_put(body);
        json_object_put(nodes);
        return NULL;
    }
    for (size_t i = 0; i < h->plugins->n; i++)
        json_object_array_add(nodes, json_object_new_string(h->plugins->nodes[i].name));
    int64_t running = (int64_t)(host_states_count(h, PH_SECRETS) + host_states_count(h, PH_RUNNING));
    json_object_object_add(body, "runtime_name", json_object_new_string(h->conf.name));
    json_object_object_add(body, "namespace", json_object_new_string(h->conf.namespace_));
    json_object_object_add(body, "nodes", nodes);
    json_object_object_add(body, "version", json_object_new_string(exo_version_string()));
    json_object_object_add(body, "hostname", json_object_new_string(hostname));
    json_object_object_add(body, "pid", json_object_new_int64((int64_t)getpid()));
    json_object_object_add(body, "slots", json_object_new_int64(h->conf.workers));
    json_object_object_add(body, "running", json_object_new_int64(running));
    json_object_object_add(body, "interval_ms", json_object_new_int64(h->conf.heartbeat_ms));
    return body;
}

static void send_heartbeat(host *h, int64_t now)
{
    h->hb_next_ms = now + h->conf.heartbeat_ms;
    json_object *body = heartbeat_body(h);
    char *path = host_ns_path(h, "/runtimes/heartbeat");
    char *url = path ? host_url(h, path) : NULL;
    /* One that hangs past its period is worth nothing: the next one replaces it. */
    long timeout = (long)(h->conf.heartbeat_ms > 1000 ? h->conf.heartbeat_ms : 1000);
    if (body && url &&
        host_http_start(h->http, "POST", url, h->conf.api_key,
                        json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), timeout, on_heartbeat, h))
        h->hb_inflight = true;
    else
        log_warn("cannot start a heartbeat request (out of memory?)");
    json_object_put(body);
    free(path);
    free(url);
}

void host_heartbeat_tick(host *h, int64_t now)
{
    if (heartbeats_wanted(h) && !h->hb_inflight && now >= h->hb_next_ms)
        send_heartbeat(h, now);
}

int64_t host_heartbeat_next_ms(const host *h)
{
    return heartbeats_wanted(h) && !h->hb_inflight ? h->hb_next_ms : INT64_MAX;
}
