/* UTF-8 checks (utf8.h). */
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when ill-formed; *bad_at gets
 * the length of its maximal valid prefix (the bytes replaced together). */
static size_t utf8_sequence(const unsigned char *s, size_t *prefix)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        *prefix = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned char b = s[k];
        int ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) {
            *prefix = k;
            return 0;
        }
    }
    return need + 1;
}

char *exo_utf8_sanitize(const char *s)
{
    return exo_utf8_sanitize_len(s, strlen(s), NULL);
}

char *exo_utf8_sanitize_len(const char *s, size_t len, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1); /* each byte at most one 3-byte U+FFFD */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t o = 0;
    while (p < end) {
        size_t prefix = 0, n = utf8_sequence(p, &prefix);
        if (n) {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p += prefix;
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

size_t exo_utf8_tail_start(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return 0;
    size_t at = len - max;
    while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80)
        at++; /* a continuation byte: the character began before the cut */
    return at;
}

bool exo_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t prefix = 0, n = utf8_sequence(p, &prefix);
        if (n == 0 || n > (size_t)(end - p))
            return false;
        p += n;
    }
    return true;
}
