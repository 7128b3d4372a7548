/* The metrics endpoint inside the host's loop (metrics_http.h). */
#include "metrics_http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "strfmt.h"

#define HEAD_MAX 4096
#define CONN_DEADLINE_MS 5000

typedef struct mconn {
    int fd; /* -1: free slot */
    char head[HEAD_MAX];
    size_t head_len;
    char *answer; /* NULL while reading the request */
    size_t answer_len, sent;
    int64_t deadline_ms;
} mconn;

struct host_metrics_http {
    int listen_fd;
    int64_t accept_paused_until; /* out of descriptors: the listener rests until then */
    host_metrics_render_fn render;
    void *arg;
    mconn conns[HOST_METRICS_MAX_CONNS];
};

static int split_address(const char *address, char *host, size_t hostlen, const char **port)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return -1;
    size_t len = (size_t)(colon - address);
    const char *start = address;
    if (address[0] == '[' && colon[-1] == ']') {
        start++;
        len -= 2;
    }
    if (len == 0 || len >= hostlen)
        return -1;
    memcpy(host, start, len);
    host[len] = '\0';
    *port = colon + 1;
    return 0;
}

host_metrics_http *host_metrics_http_open(const char *address, host_metrics_render_fn render, void *arg,
                                          char *err, size_t errlen)
{
    char host[64];
    const char *port = NULL;
    if (split_address(address, host, sizeof host, &port) < 0) {
        exo_errf(err, errlen, "metrics_listen \"%s\" is not IP:PORT", address);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        exo_errf(err, errlen, "metrics_listen \"%s\": %s", address, gai_strerror(rc));
        return NULL;
    }
    host_metrics_http *srv = calloc(1, sizeof *srv);
    int fd = srv ? socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    int one = 1;
    if (!srv) {
        exo_errf(err, errlen, "out of memory");
    } else if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
               bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        exo_errf(err, errlen, "metrics_listen \"%s\": cannot listen: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(srv);
        srv = NULL;
    }
    freeaddrinfo(ai);
    if (!srv)
        return NULL;
    srv->listen_fd = fd;
    srv->render = render;
    srv->arg = arg;
    for (size_t i = 0; i < HOST_METRICS_MAX_CONNS; i++)
        srv->conns[i].fd = -1;
    return srv;
}

static void conn_close(mconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->answer);
    c->answer = NULL;
    c->fd = -1;
    c->head_len = c->answer_len = c->sent = 0;
}

void host_metrics_http_close(host_metrics_http *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < HOST_METRICS_MAX_CONNS; i++)
        conn_close(&srv->conns[i]);
    close(srv->listen_fd);
    free(srv);
}

unsigned host_metrics_http_fds(const host_metrics_http *srv, struct curl_waitfd *fds, unsigned room)
{
    unsigned n = 0;
    if (!srv || room == 0)
        return 0;
    if (exo_mono_ms() >= srv->accept_paused_until)
        fds[n++] = (struct curl_waitfd){srv->listen_fd, CURL_WAIT_POLLIN, 0};
    for (size_t i = 0; i < HOST_METRICS_MAX_CONNS && n < room; i++) {
        const mconn *c = &srv->conns[i];
        if (c->fd >= 0)
            fds[n++] = (struct curl_waitfd){c->fd, c->answer ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN, 0};
    }
    return n;
}

bool host_metrics_http_owns(const host_metrics_http *srv, int fd)
{
    if (!srv || fd < 0)
        return false;
    if (fd == srv->listen_fd)
        return true;
    for (size_t i = 0; i < HOST_METRICS_MAX_CONNS; i++)
        if (srv->conns[i].fd == fd)
            return true;
    return false;
}

static void accept_all(host_metrics_http *srv, int64_t now)
{
    for (;;) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* EMFILE and the like: a pending connection keeps the listener
                 * readable, so rest a second instead of spinning the loop */
                log_warn("metrics endpoint: accept: %s; not accepting for 1 s", strerror(errno));
                srv->accept_paused_until = now + 1000;
            }
            return;
        }
        mconn *slot = NULL;
        for (size_t i = 0; i < HOST_METRICS_MAX_CONNS && !slot; i++)
            if (srv->conns[i].fd < 0)
                slot = &srv->conns[i];
        if (!slot) { /* all busy: this one is refused rather than queued */
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->deadline_ms = now + CONN_DEADLINE_MS;
    }
}

static char *make_answer(const char *status, const char *type, const char *body, size_t body_len, size_t *len)
{
    char *head = exo_strfmt("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                            status, type, body_len);
    if (!head)
        return NULL;
    size_t hl = strlen(head);
    char *all = malloc(hl + body_len + 1);
    if (all) {
        memcpy(all, head, hl);
        memcpy(all + hl, body, body_len);
        all[hl + body_len] = '\0';
        *len = hl + body_len;
    }
    free(head);
    return all;
}

/* The request head is complete: decide the answer. */
static void answer(host_metrics_http *srv, mconn *c)
{
    static const char text[] = "text/plain; charset=utf-8";
    char method[8] = "", target[256] = "";
    if (sscanf(c->head, "%7s %255s HTTP/1.", method, target) != 2) {
        c->answer = make_answer("400 Bad Request", text, "bad request\n", 12, &c->answer_len);
        return;
    }
    char *query = strchr(target, '?');
    if (query)
        *query = '\0';
    if (strcmp(target, "/metrics") != 0) {
        c->answer = make_answer("404 Not Found", text, "not found: the metrics are at /metrics\n", 39,
                                &c->answer_len);
        return;
    }
    if (strcmp(method, "GET") != 0) {
        c->answer = make_answer("405 Method Not Allowed", text, "only GET\n", 9, &c->answer_len);
        return;
    }
    size_t body_len = 0;
    char *body = srv->render(srv->arg, &body_len);
    if (body)
        c->answer = make_answer("200 OK", "text/plain; version=0.0.4; charset=utf-8", body, body_len,
                                &c->answer_len);
    free(body);
}

static void read_head(host_metrics_http *srv, mconn *c)
{
    for (;;) {
        if (c->head_len + 1 >= sizeof c->head) { /* head too large: end it */
            conn_close(c);
            return;
        }
        ssize_t n = recv(c->fd, c->head + c->head_len, sizeof c->head - 1 - c->head_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->head_len += (size_t)n;
        c->head[c->head_len] = '\0';
        if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n")) {
            answer(srv, c);
            if (!c->answer)
                conn_close(c); /* out of memory */
            return;
        }
    }
}

static void write_answer(mconn *c)
{
    while (c->sent < c->answer_len) {
        ssize_t n = send(c->fd, c->answer + c->sent, c->answer_len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            conn_close(c);
            return;
        }
        c->sent += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    conn_close(c);
}

void host_metrics_http_ready(host_metrics_http *srv, int fd, short revents, int64_t now_ms)
{
    if (!srv)
        return;
    if (fd == srv->listen_fd) {
        accept_all(srv, now_ms);
        return;
    }
    for (size_t i = 0; i < HOST_METRICS_MAX_CONNS; i++) {
        mconn *c = &srv->conns[i];
        if (c->fd != fd)
            continue;
        if (!c->answer)
            read_head(srv, c);
        if (c->fd >= 0 && c->answer) /* also right after the head was read */
            write_answer(c);
        (void)revents;
        return;
    }
}

void host_metrics_http_tick(host_metrics_http *srv, int64_t now_ms)
{
    if (!srv)
        return;
    for (size_t i = 0; i < HOST_METRICS_MAX_CONNS; i++)
        if (srv->conns[i].fd >= 0 && now_ms >= srv->conns[i].deadline_ms)
            conn_close(&srv->conns[i]);
}
