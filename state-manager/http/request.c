/* Reading requests: the JSON-object body most endpoints take, with the reference's
 * validation errors when it is absent or of another type; query parameters, headers and cookies. */
#include "http.h"

#include <microhttpd.h>

const char *exo_req_query(const exo_req *req, const char *name)
{
    if (!req->transport)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->transport, MHD_GET_ARGUMENT_KIND, name);
}

const char *exo_req_header(const exo_req *req, const char *name)
{
    if (!req->transport)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->transport, MHD_HEADER_KIND, name);
}

const char *exo_req_cookie(const exo_req *req, const char *name)
{
    if (!req->transport)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->transport, MHD_COOKIE_KIND, name);
}

json_object *exo_req_body_object(exo_req *req, exo_reqcheck *rc)
{
    if (req->body_raw) {
        json_object *in = json_object_new_string_len(req->raw, (int)req->raw_len);
        exo_reqcheck_add(rc, "body", "model_attributes_type",
                         "Input should be a valid dictionary or object to extract fields from", in, NULL);
        json_object_put(in);
        return NULL;
    }
    if (!req->body) {
        exo_reqcheck_add(rc, "body", "missing", "Field required", NULL, NULL);
        return NULL;
    }
    if (!json_object_is_type(req->body, json_type_object)) {
        exo_reqcheck_add(rc, "body", "model_attributes_type",
                         "Input should be a valid dictionary or object to extract fields from", req->body, NULL);
        return NULL;
    }
    return req->body;
}
