#include "sm_util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

static int random_bytes(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

static void hex_into(char *out, const unsigned char *raw, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
}

/* The per-process part of new ids (ObjectId's "random value" and counter).  Process
 * state on purpose: drawn once, so that ids made by this process in one second
 * share a prefix and sort by the counter; the counter is atomic, so any thread may
 * make ids. */
static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static unsigned char id_process[5];
static atomic_uint_fast32_t id_counter;
static int id_ready; /* 0 until id_init has drawn id_process */

static void id_init(void)
{
    unsigned char seed[3];
    if (random_bytes(id_process, sizeof id_process) != 0 || random_bytes(seed, sizeof seed) != 0)
        return;
    atomic_store(&id_counter, (uint_fast32_t)seed[0] << 16 | (uint_fast32_t)seed[1] << 8 | seed[2]);
    id_ready = 1;
}

int exo_id_new(char out[EXO_ID_LEN + 1])
{
    if (pthread_once(&id_once, id_init) != 0 || !id_ready)
        return -1;
    uint32_t secs = (uint32_t)time(NULL);
    uint32_t count = (uint32_t)atomic_fetch_add(&id_counter, 1) & 0xffffff;
    unsigned char raw[EXO_ID_LEN / 2] = {
        (unsigned char)(secs >> 24), (unsigned char)(secs >> 16), (unsigned char)(secs >> 8), (unsigned char)secs,
        id_process[0], id_process[1], id_process[2], id_process[3], id_process[4],
        (unsigned char)(count >> 16), (unsigned char)(count >> 8), (unsigned char)count,
    };
    hex_into(out, raw, sizeof raw);
    out[EXO_ID_LEN] = '\0';
    return 0;
}

int exo_id_canonical(const char *s, char out[EXO_ID_LEN + 1])
{
    if (!s || strlen(s) != EXO_ID_LEN)
        return -1;
    for (size_t i = 0; i < EXO_ID_LEN; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return -1;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[EXO_ID_LEN] = '\0';
    return 0;
}

void exo_uuid4(char out[EXO_UUID_LEN + 1])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

/* Appends src to dst (capacity cap) with every occurrence of pat removed, like
 * Python's str.replace(pat, ""). */
static void remove_all(char *dst, size_t cap, const char *src, const char *pat)
{
    size_t pl = strlen(pat), n = 0;
    while (*src && n + 1 < cap) {
        if (!strncmp(src, pat, pl)) {
            src += pl;
            continue;
        }
        dst[n++] = *src++;
    }
    dst[n] = '\0';
}

int exo_uuid_parseable(const char *s)
{
    /* Python's uuid.UUID(hex): remove "urn:" and "uuid:" anywhere, strip braces from
       both ends, drop hyphens, then exactly 32 hex digits */
    if (!s || strlen(s) > 256)
        return 0;
    char a[257], b[257];
    remove_all(a, sizeof a, s, "urn:");
    remove_all(b, sizeof b, a, "uuid:");
    const char *p = b;
    while (*p == '{' || *p == '}')
        p++;
    size_t len = strlen(p);
    while (len && (p[len - 1] == '{' || p[len - 1] == '}'))
        len--;
    size_t hex = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '-')
            continue;
        if (!isxdigit((unsigned char)p[i]))
            return 0;
        hex++;
    }
    return hex == 32;
}

void exo_iso_time(int64_t ms, char out[40])
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, 40, "1970-01-01T00:00:00");
        return;
    }
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(out + n, 40 - n, ".%03d000", frac);
}

/* Reads exactly `digits` decimal digits at *p into *out and advances *p. */
static int read_digits(const char **p, int digits, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += digits;
    *out = v;
    return 0;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|+00:00]" as UTC. */
static int parse_iso(const char *p, int64_t *ms)
{
    struct tm tm = {0};
    int year, mon, day, hour = 0, min = 0, sec = 0, millis = 0;
    if (read_digits(&p, 4, &year) || *p++ != '-' || read_digits(&p, 2, &mon) || *p++ != '-' ||
        read_digits(&p, 2, &day))
        return -1;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (read_digits(&p, 2, &hour) || *p++ != ':' || read_digits(&p, 2, &min))
            return -1;
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &sec))
                return -1;
            if (*p == '.') {
                p++;
                int scale = 100;
                if (!isdigit((unsigned char)*p))
                    return -1;
                for (; isdigit((unsigned char)*p); p++, scale /= 10)
                    millis += scale > 0 ? (*p - '0') * scale : 0;
            }
        }
    }
    if (*p == 'Z')
        p++;
    else if (!strcmp(p, "+00:00"))
        p += 6;
    if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm normalises 2025-02-31 to March: such a date is refused */
    if ((t == (time_t)-1 && year != 1969) || !gmtime_r(&t, &back) || back.tm_mday != day || back.tm_mon != mon - 1)
        return -1;
    *ms = (int64_t)t * 1000 + millis;
    return 0;
}

int exo_parse_time(const char *text, int64_t *ms)
{
    if (!text || !*text)
        return -1;
    if (strchr(text, '-') && text[0] != '-')
        return parse_iso(text, ms);
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    *ms = v;
    return 0;
}

json_object *exo_json_time(int64_t ms)
{
    char buf[40];
    exo_iso_time(ms, buf);
    return json_object_new_string(buf);
}

const char *exo_json_text(json_object *obj)
{
    return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

json_object *exo_json_parse(const char *text)
{
    if (!text)
        return NULL;
    /* stored documents embed client JSON accepted with EXO_JSON_DEPTH */
    json_tokener *tok = json_tokener_new_ex(EXO_STORED_JSON_DEPTH);
    if (!tok)
        return NULL;
    json_object *obj = json_tokener_parse_ex(tok, text, -1);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

char *exo_strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *exo_trim_dup(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

