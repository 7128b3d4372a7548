/* A small blocking HTTP client for the state manager API (libcurl easy handle,
 * kept alive between calls).  One exo_http per thread. */
#ifndef EXO_HTTP_CLIENT_H
#define EXO_HTTP_CLIENT_H

#include <stddef.h>

typedef struct exo_http exo_http;

typedef struct exo_http_response {
    long status;      /* HTTP status; 0 when no response arrived */
    char *body;       /* NUL-terminated response body (never NULL after a call) */
    size_t len;
    char error[256];  /* transport error text when status == 0 */
} exo_http_response;

/* Call once in main() before threads start (wraps curl_global_init). */
int exo_http_global_init(void);

/* base_uri: "http://host:port" (trailing slashes are dropped); api_key may be NULL.
 * Returns NULL on allocation failure. */
exo_http *exo_http_new(const char *base_uri, const char *api_key);
void exo_http_free(exo_http *http);
void exo_http_set_timeouts(exo_http *http, long connect_ms, long total_ms);

/* Sends method (GET, PUT, POST) to base_uri + path with an optional JSON body.
 * Returns 0 when a response arrived (whatever its status), -1 otherwise
 * (out->error says why).  Always free out with exo_http_response_free. */
int exo_http_call(exo_http *http, const char *method, const char *path, const char *json_body,
                  exo_http_response *out);
void exo_http_response_free(exo_http_response *resp);

/* Percent-encodes one path segment; returns a malloc'd string or NULL. */
char *exo_http_escape(const char *segment);

#endif
