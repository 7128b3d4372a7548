#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct request {
    unsigned long id;
    CURL *easy;
    struct curl_slist *headers;
    char *body_out; /* request body (curl does not copy POSTFIELDS) */
    char *resp;
    size_t resp_len;
    char error[CURL_ERROR_SIZE];
    host_http_done done;
    void *arg;
    struct request *next;
} request;

struct host_http {
    CURLM *multi;
    request *requests;
    unsigned long next_id;
    host_http_observer observer;
    void *observer_arg;
};

void host_http_set_observer(host_http *h, host_http_observer fn, void *arg)
{
    h->observer = fn;
    h->observer_arg = arg;
}

host_http *host_http_new(void)
{
    host_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!(h->multi = curl_multi_init())) {
        free(h);
        return NULL;
    }
    h->next_id = 1;
    return h;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    request *r = userdata;
    size_t add = size * nmemb;
    char *grown = realloc(r->resp, r->resp_len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + r->resp_len, data, add);
    r->resp_len += add;
    grown[r->resp_len] = '\0';
    r->resp = grown;
    return add;
}

static void request_free(host_http *h, request *r)
{
    if (r->easy) {
        curl_multi_remove_handle(h->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->body_out);
    free(r->resp);
    free(r);
}

static void unlink_request(host_http *h, request *r)
{
    for (request **p = &h->requests; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

static int add_header(request *r, const char *line)
{
    struct curl_slist *n = curl_slist_append(r->headers, line);
    if (!n)
        return -1;
    r->headers = n;
    return 0;
}

static int set_headers(request *r, const char *api_key, const char *body)
{
    if (add_header(r, "Expect:") < 0)
        return -1;
    if (body && add_header(r, "Content-Type: application/json") < 0)
        return -1;
    if (api_key) {
        char *line = NULL;
        if (asprintf(&line, "x-api-key: %s", api_key) < 0)
            return -1;
        int rc = add_header(r, line);
        explicit_bzero(line, strlen(line));
        free(line);
        return rc;
    }
    return 0;
}

unsigned long host_http_start(host_http *h, const char *method, const char *url,
                              const char *api_key, const char *body, long timeout_ms,
                              host_http_done done, void *arg)
{
    request *r = calloc(1, sizeof *r);
    if (!r)
        return 0;
    r->done = done;
    r->arg = arg;
    if (!(r->easy = curl_easy_init()) || set_headers(r, api_key, body) < 0 ||
        (body && !(r->body_out = strdup(body))))
        goto fail;
    CURL *c = r->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body_out);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body_out));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    if (curl_multi_add_handle(h->multi, c) != CURLM_OK)
        goto fail;
    r->id = h->next_id++;
    r->next = h->requests;
    h->requests = r;
    return r->id;
fail:
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    request_free(h, r);
    return 0;
}

static void complete(host_http *h, request *r, CURLcode rc)
{
    host_http_result res = {0, r->resp ? r->resp : "", r->resp_len, NULL, NULL};
    if (rc == CURLE_OK) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
        struct curl_header *ext = NULL;
        if (curl_easy_header(r->easy, "X-Exo-Extensions", 0, CURLH_HEADER, -1, &ext) ==
                CURLHE_OK &&
            ext)
            res.extensions = ext->value;
    } else {
        res.error = r->error[0] ? r->error : curl_easy_strerror(rc);
    }
    unlink_request(h, r);
    const char *url = NULL;
    if (h->observer && rc != CURLE_ABORTED_BY_CALLBACK && curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK &&
        url)
        h->observer(h->observer_arg, url, &res);
    r->done(r->arg, &res);
    request_free(h, r);
}

void host_http_cancel(host_http *h, unsigned long id)
{
    for (request *r = h->requests; r; r = r->next)
        if (r->id == id) {
            snprintf(r->error, sizeof r->error, "cancelled");
            complete(h, r, CURLE_ABORTED_BY_CALLBACK);
            return;
        }
}

int host_http_wait(host_http *h, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms)
{
    for (unsigned i = 0; i < n_extra; i++)
        extra[i].revents = 0;
    CURLMcode mc = curl_multi_poll(h->multi, extra, n_extra, timeout_ms, NULL);
    if (mc != CURLM_OK) {
        log_error("curl_multi_poll: %s", curl_multi_strerror(mc));
        return -1;
    }
    int running = 0;
    curl_multi_perform(h->multi, &running);
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        request *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            complete(h, r, msg->data.result);
    }
    return 0;
}

void host_http_free(host_http *h)
{
    if (!h)
        return;
    while (h->requests) {
        request *r = h->requests;
        h->requests = r->next;
        request_free(h, r);
    }
    curl_multi_cleanup(h->multi);
    free(h);
}
