/* exo-host's metrics endpoint: a minimal HTTP/1.1 server (GET /metrics, one
 * request per connection) driven by the host's own poll loop, without a thread.
 *
 * Contract: host_metrics_http_fds() lists the descriptors to poll; the loop hands
 * each ready one to host_metrics_http_ready(), which never blocks: it accepts,
 * reads the request head (at most 4 KiB, within 5 s) and writes the answer as the
 * socket takes it.  At most HOST_METRICS_MAX_CONNS connections are served at once;
 * more are accepted and closed at once, so a flood of clients costs a bounded
 * amount of memory and never delays the states.  There is no authentication:
 * listen on a loopback or private address. */
#ifndef EXO_HOST_METRICS_HTTP_H
#define EXO_HOST_METRICS_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_METRICS_MAX_CONNS 8

typedef struct host_metrics_http host_metrics_http;

/* The body of GET /metrics: malloc'd text (*len bytes), NULL when out of memory. */
typedef char *(*host_metrics_render_fn)(void *arg, size_t *len);

/* Listens on "IP:PORT" / "[IPv6]:PORT".  NULL with the reason in err. */
host_metrics_http *host_metrics_http_open(const char *address, host_metrics_render_fn render, void *arg,
                                          char *err, size_t errlen);
void host_metrics_http_close(host_metrics_http *srv);

/* Appends its descriptors to fds (at most room of them); returns how many. */
unsigned host_metrics_http_fds(const host_metrics_http *srv, struct curl_waitfd *fds, unsigned room);
/* Whether fd is one of its descriptors. */
bool host_metrics_http_owns(const host_metrics_http *srv, int fd);
/* fd was reported ready (revents as curl_multi_poll gives them). */
void host_metrics_http_ready(host_metrics_http *srv, int fd, short revents, int64_t now_ms);
/* Closes connections past their deadline. */
void host_metrics_http_tick(host_metrics_http *srv, int64_t now_ms);

#endif
