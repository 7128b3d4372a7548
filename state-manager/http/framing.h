/* Strict HTTP/1.1 framing checks on a request head (state-manager/http/), run on
 * libmicrohttpd's first access-handler call, before any body byte is read.  They
 * refuse what lets a request mean two things to two parsers (request smuggling
 * behind a proxy) or what MHD silently changes:
 *   - more than one Content-Length with different values, or a list value;
 *   - Content-Length together with Transfer-Encoding, more than one
 *     Transfer-Encoding, or a coding other than "chunked";
 *   - a header name that is not a token (e.g. "Name : value"),
 *   - a NUL or another control byte (other than HTAB) in a header name or value,
 *     and obsolete line folding (MHD cuts values at a NUL: "key\0junk" would
 *     authenticate as "key");
 *   - a declared Content-Length above the body limit (413).
 * Pure apart from reading the connection's header list; thread-safe. */
#ifndef EXO_SM_FRAMING_H
#define EXO_SM_FRAMING_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

typedef struct exo_framing {
    int has_length;          /* a Content-Length was sent */
    uint64_t length;         /* its value */
    int chunked;             /* Transfer-Encoding: chunked */
} exo_framing;

/* head: the first byte of the request head in MHD's read buffer (the `method`
 * argument of the access handler) and head_size its length
 * (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE); 0 skips the NUL check.
 * Returns 0 and fills *out when the head is acceptable, else the HTTP status
 * (400 / 413) with a one-line reason in detail. */
int exo_framing_check(struct MHD_Connection *c, const char *head, size_t head_size, uint64_t body_limit,
                      exo_framing *out, char *detail, size_t detail_len);

#endif
