#include "framing.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* What one pass over the header list found. */
typedef struct scan {
    const char *head, *head_end; /* MHD's read buffer, when known */
    const char *prev_end;        /* end of the previous header's value */
    int bad;                     /* status to answer (0 = fine so far) */
    char detail[160];
    int lengths, encodings;
    const char *length, *encoding;
    size_t length_size;
} scan;

static int control_byte(unsigned char ch)
{
    return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* RFC 9110 token characters: a field name is one token (no spaces, no colon, ...). */
static int is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch && strchr(extra, ch))))
            return 0;
    }
    return 1;
}

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (control_byte((unsigned char)s[i]))
            return 1;
    return 0;
}

/* Keeps the first reason found.  what: the whole sentence. */
static void refuse(scan *s, int status, const char *what)
{
    if (s->bad)
        return;
    s->bad = status;
    snprintf(s->detail, sizeof s->detail, "%s", what);
}

/* MHD ends a value at its first NUL (it measures values with strlen) and turns
 * each CR / LF of the head into a NUL.  Between the end of one value and the
 * start of the next header name there may therefore be only the one or two NULs of
 * its line ending; anything else there is the rest of a value that held a NUL, or
 * a folded continuation line. */
static int gap_clean(const char *from, const char *to, size_t max_nuls)
{
    if (to < from || (size_t)(to - from) > max_nuls || to == from)
        return 0;
    for (const char *p = from; p < to; p++)
        if (*p != '\0')
            return 0;
    return 1;
}

static int in_head(const scan *s, const char *p)
{
    return s->head && p >= s->head && p <= s->head_end;
}

static enum MHD_Result visit(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
                             size_t value_size)
{
    (void)kind;
    scan *s = cls;
    if (!value)
        value = "";
    if (has_control(key, key_size) || has_control(value, value_size)) {
        char what[160];
        snprintf(what, sizeof what, "Invalid header %.64s: control characters are not allowed in header fields",
                 has_control(key, key_size) ? "name" : key);
        refuse(s, 400, what);
    } else if (!is_token(key, key_size)) {
        /* "Name : value" would be a different field to a proxy that trims the name */
        refuse(s, 400, "Invalid header name: a field name is a token (no spaces or separators)");
    }
    if (s->prev_end && in_head(s, key) && !gap_clean(s->prev_end, key, 2))
        refuse(s, 400, "Invalid header field: NUL bytes and folded lines are not allowed in header fields");
    s->prev_end = in_head(s, value) ? value + value_size : NULL;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (s->lengths && (value_size != s->length_size || memcmp(value, s->length, value_size) != 0))
            refuse(s, 400, "Conflicting Content-Length headers");
        s->lengths++;
        s->length = value;
        s->length_size = value_size;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        s->encodings++;
        s->encoding = value;
    }
    return MHD_YES;
}

static int parse_length(const char *v, uint64_t *out)
{
    if (!*v)
        return -1;
    uint64_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

int exo_framing_check(struct MHD_Connection *c, const char *head, size_t head_size, uint64_t body_limit,
                      exo_framing *out, char *detail, size_t detail_len)
{
    scan s = {.head = head_size ? head : NULL, .head_end = head + head_size};
    memset(out, 0, sizeof *out);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, visit, &s);
    /* after the last value: its line ending and the empty line (1-2 NULs each) */
    if (!s.bad && s.prev_end && !gap_clean(s.prev_end, s.head_end, 4))
        refuse(&s, 400, "Invalid header field: NUL bytes and folded lines are not allowed in header fields");
    if (!s.bad && s.encodings && s.lengths)
        refuse(&s, 400, "Content-Length and Transfer-Encoding must not both be sent");
    if (!s.bad && s.encodings > 1)
        refuse(&s, 400, "More than one Transfer-Encoding header");
    if (!s.bad && s.encodings && strcasecmp(s.encoding, "chunked") != 0)
        refuse(&s, 400, "Unsupported Transfer-Encoding: only chunked is accepted");
    if (!s.bad && s.lengths && parse_length(s.length, &out->length) != 0)
        refuse(&s, 400, "Invalid Content-Length header");
    if (!s.bad && s.lengths && out->length > body_limit) {
        s.bad = 413;
        snprintf(s.detail, sizeof s.detail, "Request body too large: the limit is %llu bytes",
                 (unsigned long long)body_limit);
    }
    if (s.bad) {
        snprintf(detail, detail_len, "%s", s.detail);
        return s.bad;
    }
    out->has_length = s.lengths > 0;
    out->chunked = s.encodings > 0;
    return 0;
}
