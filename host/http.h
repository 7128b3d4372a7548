/* Asynchronous HTTP for the host's single-threaded event loop: libcurl's multi
 * interface.  Requests are started here and progress inside host_http_wait(), which
 * also waits on the caller's descriptors (child pipes, signalfd) through
 * curl_multi_poll, so long-polls, reports and children all progress together.
 * Connections are reused (keep-alive) by the multi handle's connection cache. */
#ifndef EXO_HOST_HTTP_H
#define EXO_HOST_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct host_http host_http;

typedef struct host_http_result {
    long status;        /* 0 on transport error */
    const char *body;   /* NUL-terminated, never NULL */
    size_t len;
    const char *error;  /* transport error text when status == 0 */
    const char *extensions; /* the X-Exo-Extensions response header (exo's optional
                             * calls the server offers), NULL when absent */
} host_http_result;

typedef void (*host_http_done)(void *arg, const host_http_result *res);

host_http *host_http_new(void);
void host_http_free(host_http *h);

/* Starts method url with optional JSON body; headers: x-api-key (api_key may be NULL)
 * and Content-Type when there is a body.  done(arg, ...) is called exactly once from
 * host_http_wait (also when the request is cancelled: status 0, error "cancelled").
 * Returns a request id > 0, or 0 when the request could not be started. */
unsigned long host_http_start(host_http *h, const char *method, const char *url,
                              const char *api_key, const char *body, long timeout_ms,
                              host_http_done done, void *arg);

/* Called with every finished request's URL and result before its own callback
 * (not for cancelled ones): the host's failover watches it. */
typedef void (*host_http_observer)(void *arg, const char *url, const host_http_result *res);
void host_http_set_observer(host_http *h, host_http_observer fn, void *arg);

/* Cancels a running request (its callback runs with status 0). */
void host_http_cancel(host_http *h, unsigned long id);

/* Waits up to timeout_ms for network activity or extra fds, then runs transfers and
 * completion callbacks.  revents of extra are filled in. */
int host_http_wait(host_http *h, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms);


#endif
