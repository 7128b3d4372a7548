/* Small helpers of the event loop: backoff, URLs, plugin sets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "host_internal.h"
#include "log.h"
#include "http_client.h"

int64_t host_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms)
{
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)attempt * 2654435761u;
    /* Jitter on top (up to a quarter), so that the delay is never shorter than d:
     * hosts that failed together do not retry together. */
    int64_t quarter = d / 4;
    return d + (quarter > 0 ? (int64_t)(r % (uint32_t)(quarter + 1)) : 0);
}

char *host_ns_path(const host *h, const char *fmt, ...)
{
    char *ns = exo_http_escape(h->conf.namespace_);
    char *ver = exo_http_escape(h->conf.version);
    char *rest = NULL, *path = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&rest, fmt, ap) < 0)
        rest = NULL;
    va_end(ap);
    if (ns && ver && rest && asprintf(&path, "/%s/namespace/%s%s", ver, ns, rest) < 0)
        path = NULL;
    free(ns);
    free(ver);
    free(rest);
    return path;
}

char *host_url(const host *h, const char *path)
{
    char *url = NULL;
    const char *base = h->conf.n_uris ? h->conf.uris[h->uri_index % h->conf.n_uris] : h->conf.uri;
    if (asprintf(&url, "%s%s", base, path) < 0)
        return NULL;
    return url;
}

/* Failover: a request to the current state manager that could not connect or got
 * 502/503/504 moves every later request to the next URI of the list (round robin;
 * the requests themselves retry as they always do). */
void host_failover_observe(void *arg, const char *url, const host_http_result *res)
{
    host *h = arg;
    if (h->conf.n_uris < 2 || (res->status != 0 && res->status != 502 && res->status != 503 && res->status != 504))
        return;
    const char *current = h->conf.uris[h->uri_index % h->conf.n_uris];
    size_t len = strlen(current);
    if (strncmp(url, current, len) != 0 || (url[len] != '/' && url[len] != '\0'))
        return; /* already failed over since this request started */
    char why[64];
    if (res->status)
        snprintf(why, sizeof why, "answered %ld", res->status);
    else
        snprintf(why, sizeof why, "%.60s", res->error ? res->error : "unreachable");
    h->uri_index = (h->uri_index + 1) % h->conf.n_uris;
    log_warn("state manager %s: %s; failing over to %s", current, why, h->conf.uris[h->uri_index]);
}

plugin_set *plugin_set_new(host_node *nodes, size_t n)
{
    plugin_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->nodes = nodes;
    set->n = n;
    set->refs = 1;
    return set;
}

void plugin_set_release(plugin_set *set)
{
    if (set && --set->refs == 0) {
        host_nodes_free(set->nodes, set->n);
        free(set);
    }
}

const host_node *plugin_set_find(const plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->nodes[i].name, name) == 0)
            return &set->nodes[i];
    return NULL;
}
