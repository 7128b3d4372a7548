#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct exo_http {
    CURL *curl;
    char *base;
    struct curl_slist *headers;
    long connect_ms;
    long total_ms;
};

int exo_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

exo_http *exo_http_new(const char *base_uri, const char *api_key)
{
    exo_http *http = calloc(1, sizeof *http);
    if (!http)
        return NULL;
    http->base = strdup(base_uri);
    http->curl = curl_easy_init();
    if (!http->base || !http->curl)
        goto fail;
    size_t n = strlen(http->base);
    while (n > 0 && http->base[n - 1] == '/')
        http->base[--n] = '\0';
    http->connect_ms = 10000;
    http->total_ms = 60000;

    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (!h)
        goto fail;
    http->headers = h;
    /* Suppress "Expect: 100-continue": it costs a round trip on every large body. */
    if (!(h = curl_slist_append(http->headers, "Expect:")))
        goto fail;
    if (api_key) {
        size_t len = strlen(api_key) + sizeof "x-api-key: ";
        char *line = malloc(len);
        if (!line)
            goto fail;
        snprintf(line, len, "x-api-key: %s", api_key);
        h = curl_slist_append(http->headers, line);
        free(line);
        if (!h)
            goto fail;
    }
    return http;
fail:
    exo_http_free(http);
    return NULL;
}

void exo_http_free(exo_http *http)
{
    if (!http)
        return;
    if (http->curl)
        curl_easy_cleanup(http->curl);
    curl_slist_free_all(http->headers);
    free(http->base);
    free(http);
}

void exo_http_set_timeouts(exo_http *http, long connect_ms, long total_ms)
{
    http->connect_ms = connect_ms;
    http->total_ms = total_ms;
}

static size_t collect_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    exo_http_response *out = userdata;
    size_t add = size * nmemb;
    char *grown = realloc(out->body, out->len + add + 1);
    if (!grown)
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    memcpy(grown + out->len, data, add);
    out->len += add;
    grown[out->len] = '\0';
    out->body = grown;
    return add;
}

int exo_http_call(exo_http *http, const char *method, const char *path, const char *json_body,
                  exo_http_response *out)
{
    memset(out, 0, sizeof *out);
    size_t url_len = strlen(http->base) + strlen(path) + 1;
    char *url = malloc(url_len);
    if (!url) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    snprintf(url, url_len, "%s%s", http->base, path);

    CURL *c = http->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, http->headers);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, http->connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, http->total_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, out->error);
    if (json_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json_body));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = curl_easy_perform(c);
    free(url);
    if (!out->body && !(out->body = calloc(1, 1))) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    if (rc != CURLE_OK) {
        if (!out->error[0])
            snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
        out->status = 0;
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    return 0;
}

void exo_http_response_free(exo_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

char *exo_http_escape(const char *segment)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(segment);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (const unsigned char *s = (const unsigned char *)segment; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '_' || *s == '.' || *s == '~') {
            *p++ = (char)*s;
        } else {
            *p++ = '%';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 15];
        }
    }
    *p = '\0';
    return out;
}
