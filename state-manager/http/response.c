/* Building responses: the setters handlers call (JSON, raw bytes, the common error
 * bodies).  Independent of the HTTP library; server.c sends what they build. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "strfmt.h"

void exo_resp_clear(exo_resp *r)
{
    json_object_put(r->body);
    free(r->raw);
    r->body = NULL;
    r->raw = NULL;
    r->raw_len = 0;
    r->content_type = NULL;
}

int exo_resp_header(exo_resp *r, const char *name, const char *value)
{
    if (r->nheaders >= EXO_RESP_MAX_HEADERS)
        return -1;
    char *copy = strdup(value);
    if (!copy)
        return -1;
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = copy;
    r->nheaders++;
    return 0;
}

static void resp_headers_clear(exo_resp *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i].value);
    r->nheaders = 0;
}

void exo_resp_free(exo_resp *r)
{
    exo_resp_clear(r);
    resp_headers_clear(r);
}

void exo_resp_json(exo_resp *r, int status, json_object *body)
{
    exo_resp_clear(r);
    r->status = status;
    r->body = body;
}

void exo_resp_bytes(exo_resp *r, int status, const char *content_type, const void *data, size_t len)
{
    char *copy = malloc(len ? len : 1); /* non-NULL even when empty: raw marks the kind */
    if (!copy) {
        exo_resp_500(r);
        return;
    }
    if (len)
        memcpy(copy, data, len);
    exo_resp_clear(r);
    r->status = status;
    r->content_type = content_type;
    r->raw = copy;
    r->raw_len = len;
}

void exo_resp_detail(exo_resp *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = exo_vstrfmt(fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object();
    json_object *detail = text ? json_object_new_string(text) : NULL;
    free(text);
    if (!o || !detail || json_object_object_add(o, "detail", detail) != 0) {
        json_object_put(detail);
        json_object_put(o);
        exo_resp_500(r);
        return;
    }
    exo_resp_json(r, status, o);
}

/* Out of memory leaves the body empty: the server then sends the same text from a
 * static buffer. */
void exo_resp_500(exo_resp *r)
{
    exo_resp_clear(r);
    resp_headers_clear(r);
    r->status = 500;
    json_object *o = json_object_new_object();
    json_object *success = json_object_new_boolean(0);
    json_object *detail = json_object_new_string("internal server error, please reach out to support "
                                                 "team at nivedit@exosphere.host");
    if (!o || !success || !detail || json_object_object_add(o, "success", success) != 0) {
        json_object_put(o);
        json_object_put(success);
        json_object_put(detail);
        return;
    }
    if (json_object_object_add(o, "detail", detail) != 0) {
        json_object_put(o);
        json_object_put(detail);
        return;
    }
    r->body = o;
}

void exo_resp_422(exo_resp *r, const exo_reqcheck *rc)
{
    exo_resp_json(r, 422, exo_reqcheck_detail(rc));
}
