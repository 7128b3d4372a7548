/* The end of a state's printed output (logtail.h). */
#include "logtail.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void host_logtail_append(host_logtail *t, const char *buf, size_t n)
{
    t->total += n;
    if (n == 0 || t->failed)
        return;
    if (!t->ring && !(t->ring = malloc(HOST_LOGTAIL_MAX))) {
        t->failed = 1;
        return;
    }
    if (n >= HOST_LOGTAIL_MAX) { /* only the end of this chunk stays */
        memcpy(t->ring, buf + (n - HOST_LOGTAIL_MAX), HOST_LOGTAIL_MAX);
        t->start = 0;
        t->len = HOST_LOGTAIL_MAX;
        return;
    }
    size_t end = (t->start + t->len) % HOST_LOGTAIL_MAX;
    size_t first = HOST_LOGTAIL_MAX - end < n ? HOST_LOGTAIL_MAX - end : n;
    memcpy(t->ring + end, buf, first);
    memcpy(t->ring, buf + first, n - first);
    size_t kept = t->len + n;
    if (kept > HOST_LOGTAIL_MAX) { /* the oldest bytes were overwritten */
        t->start = (t->start + (kept - HOST_LOGTAIL_MAX)) % HOST_LOGTAIL_MAX;
        kept = HOST_LOGTAIL_MAX;
    }
    t->len = kept;
}

char *host_logtail_text(const host_logtail *t, size_t *len)
{
    *len = 0;
    if (t->total == 0 || !t->ring)
        return NULL;
    char *flat = malloc(t->len + 1);
    if (!flat)
        return NULL;
    size_t first = HOST_LOGTAIL_MAX - t->start < t->len ? HOST_LOGTAIL_MAX - t->start : t->len;
    memcpy(flat, t->ring + t->start, first);
    memcpy(flat + first, t->ring, t->len - first);
    flat[t->len] = '\0';
    size_t from = 0;
    char marker[128] = "";
    if (t->total > t->len) {
        /* the cut may have split a character: start after its continuation bytes */
        while (from < t->len && from < 3 && ((unsigned char)flat[from] & 0xC0) == 0x80)
            from++;
        snprintf(marker, sizeof marker, "[exo-host: %" PRIu64 " earlier bytes of output not kept]\n",
                 t->total - (uint64_t)(t->len - from));
    }
    size_t clean_len = 0;
    char *clean = exo_utf8_sanitize_len(flat + from, t->len - from, &clean_len);
    free(flat);
    if (!clean)
        return NULL;
    size_t mlen = strlen(marker);
    char *out = malloc(mlen + clean_len + 1);
    if (out) {
        memcpy(out, marker, mlen);
        memcpy(out + mlen, clean, clean_len + 1);
        *len = mlen + clean_len;
    }
    free(clean);
    return out;
}

void host_logtail_free(host_logtail *t)
{
    free(t->ring);
    memset(t, 0, sizeof *t);
}
