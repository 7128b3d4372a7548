/* Cron expressions and next fire times (spec §2.3.2, §11); see cron.h. */
#include "cron.h"
#include "strfmt.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define YEAR_MIN 1970
#define YEAR_MAX 2099

typedef enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_SECOND, F_YEAR } field_kind;

typedef struct field_spec {
    const char *name;
    int min, max;
} field_spec;

static const field_spec specs[] = {
    [F_MINUTE] = {"minute", 0, 59}, [F_HOUR] = {"hour", 0, 23},     [F_DOM] = {"day-of-month", 1, 31},
    [F_MONTH] = {"month", 1, 12},   [F_DOW] = {"day-of-week", 0, 6}, [F_SECOND] = {"second", 0, 59},
    [F_YEAR] = {"year", YEAR_MIN, YEAR_MAX},
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct {
    const char *alias, *expr;
} aliases[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

/* Parsing state shared by the fields of one expression. */
typedef struct parse_ctx {
    exo_cron *c;
    size_t nfields; /* 5, 6 or 7: croniter maps weekday 7 to Sunday only in 5-field form */
} parse_ctx;

/* Parses a number or (month / weekday) name spanning [s, s+len).  -1 when invalid. */
static int parse_value(field_kind kind, const char *s, size_t len)
{
    if (len == 0)
        return -1;
    if (isdigit((unsigned char)s[0])) {
        int v = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)s[i]) || v > 100000)
                return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    }
    if (len != 3)
        return -1;
    if (kind == F_MONTH)
        for (int i = 0; i < 12; i++)
            if (strncasecmp(s, month_names[i], 3) == 0)
                return i + 1;
    if (kind == F_DOW)
        for (int i = 0; i < 7; i++)
            if (strncasecmp(s, day_names[i], 3) == 0)
                return i;
    return -1;
}

/* Value after croniter's aliasing (weekday 7 -> 0 in 5-field expressions). */
static int parse_aliased(const parse_ctx *ctx, field_kind kind, const char *s, size_t len)
{
    int v = parse_value(kind, s, len);
    if (kind == F_DOW && v == 7 && ctx->nfields == 5)
        v = 0;
    return v;
}

static int field_max(field_kind kind) { return kind == F_DOW ? 6 : specs[kind].max; }

/* Sets bit v of the field's set; -1 when v is outside the field's range. */
static int set_bit(uint64_t *bits, field_kind kind, int v)
{
    if (v < specs[kind].min || v > field_max(kind))
        return -1;
    int offset = kind == F_YEAR ? v - YEAR_MIN : v;
    bits[offset / 64] |= (uint64_t)1 << (offset % 64);
    return 0;
}

/* Adds lo..hi/step with croniter's rules: lo == hi means the whole cycle, lo > hi
 * wraps around the end of the field (continuing the step as croniter does). */
static int add_range(uint64_t *bits, field_kind kind, int lo, int hi, int step)
{
    int min = specs[kind].min, max = field_max(kind);
    if (lo > max || hi > max || step < 1)
        return -1;
    if (lo == hi) {
        lo = min;
        hi = max;
    }
    if (lo < hi) {
        for (int v = lo; v <= hi; v += step)
            if (set_bit(bits, kind, v) != 0)
                return -1;
        return 0;
    }
    int last = lo;
    for (int v = lo; v <= max; v += step) {
        if (set_bit(bits, kind, v) != 0)
            return -1;
        last = v;
    }
    int already_skipped = max - last;
    int to_skip = (last - min + step > max - min + 1 && already_skipped < step) ? step - already_skipped : 0;
    for (int v = min + to_skip; v <= hi; v += step)
        if (set_bit(bits, kind, v) != 0)
            return -1;
    return 0;
}

/* "a-b" or "a" (a..a); names allowed; "L" as the high end of a day-of-month range. */
static int parse_bounds(const parse_ctx *ctx, field_kind kind, const char *s, size_t len, int *lo, int *hi)
{
    const char *dash = len > 0 ? memchr(s + 1, '-', len - 1) : NULL;
    if (!dash) {
        *lo = *hi = parse_aliased(ctx, kind, s, len);
        return *lo < 0 ? -1 : 0;
    }
    *lo = parse_aliased(ctx, kind, s, (size_t)(dash - s));
    const char *h = dash + 1;
    size_t hlen = len - (size_t)(h - s);
    *hi = (kind == F_DOM && hlen == 1 && (h[0] == 'l' || h[0] == 'L')) ? 31 : parse_aliased(ctx, kind, h, hlen);
    return *lo < 0 || *hi < 0 ? -1 : 0;
}

/* Day-of-week "<wd or range>#<n>" and "L<wd>" (last such weekday). 1 handled, 0 not special, -1 bad. */
static int parse_dow_special(const parse_ctx *ctx, const char *s, size_t len)
{
    exo_cron *c = ctx->c;
    const char *hash = memchr(s, '#', len);
    if (hash) {
        int nth = parse_value(F_MINUTE, hash + 1, len - (size_t)(hash - s) - 1);
        int lo, hi;
        if (nth < 1 || nth > 5 || parse_bounds(ctx, F_DOW, s, (size_t)(hash - s), &lo, &hi) != 0)
            return -1;
        uint64_t days[3] = {0, 0, 0};
        if (lo == hi ? set_bit(days, F_DOW, lo) : add_range(days, F_DOW, lo, hi, 1))
            return -1;
        for (int wd = 0; wd < 7; wd++)
            if ((days[0] >> wd) & 1)
                c->dow_nth[wd] |= (uint8_t)(1u << nth);
        return 1;
    }
    if (len >= 2 && (s[0] == 'L' || s[0] == 'l') && isdigit((unsigned char)s[1])) {
        int wd = parse_aliased(ctx, F_DOW, s + 1, len - 1);
        if (wd < 0 || wd > 6)
            return -1;
        c->dow_last |= (uint8_t)(1u << wd);
        return 1;
    }
    return 0;
}

/* One comma-separated element: "*", "*" + "/n", "a", "a-b", "a-b/n", "a/n", specials. */
static int parse_element(const parse_ctx *ctx, field_kind kind, const char *s, size_t len, uint64_t *bits)
{
    if (kind == F_DOW) {
        int special = parse_dow_special(ctx, s, len);
        if (special != 0)
            return special > 0 ? 0 : -1;
    }
    if (kind == F_DOM && len == 1 && (s[0] == 'L' || s[0] == 'l')) {
        ctx->c->dom_last = 1;
        return 0;
    }
    const char *slash = memchr(s, '/', len);
    size_t range_len = slash ? (size_t)(slash - s) : len;
    int step = 1;
    if (slash) {
        step = parse_value(F_MINUTE, slash + 1, len - range_len - 1);
        if (step < 1)
            return -1;
    }
    if (range_len == 1 && s[0] == '*')
        return add_range(bits, kind, specs[kind].min, field_max(kind), step);
    int lo, hi;
    if (parse_bounds(ctx, kind, s, range_len, &lo, &hi) != 0)
        return -1;
    int is_range = memchr(s + 1, '-', range_len > 0 ? range_len - 1 : 0) != NULL;
    if (!is_range && !slash)
        return set_bit(bits, kind, lo);
    if (!is_range) /* "a/n" = a..max/n */
        hi = field_max(kind);
    return add_range(bits, kind, lo, hi, step);
}

static int parse_field(const parse_ctx *ctx, field_kind kind, const char *text, size_t len, uint64_t *bits,
                       int *is_any)
{
    *is_any = (len == 1 && (text[0] == '*' || text[0] == '?'));
    if (memchr(text, '?', len)) { /* "?" only alone, only in the day fields */
        if (len != 1 || (kind != F_DOM && kind != F_DOW))
            return -1;
        return add_range(bits, kind, specs[kind].min, field_max(kind), 1);
    }
    const char *p = text, *end = text + len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t elen = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (elen == 0 || parse_element(ctx, kind, p, elen, bits) != 0)
            return -1;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (kind == F_DOW) { /* croniter refuses literal weekdays mixed with nth / last syntax */
        int specials = ctx->c->dow_last != 0;
        for (int wd = 0; wd < 7; wd++)
            specials |= ctx->c->dow_nth[wd] != 0;
        uint64_t plain = bits[0] & 0x7f;
        if (specials && plain != 0 && plain != 0x7f)
            return -1;
    }
    return 0;
}

/* Splits expr on whitespace into at most 8 fields; returns the count. */
static size_t split_fields(const char *expr, const char *starts[8], size_t lens[8])
{
    size_t n = 0;
    const char *p = expr;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (n < 8) {
            starts[n] = start;
            lens[n] = (size_t)(p - start);
        }
        n++;
    }
    return n;
}

int exo_cron_parse(const char *expr, exo_cron *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!expr) {
        exo_errf(err, errlen, "cron expression is missing");
        return -1;
    }
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++) /* exact, case-insensitive, like croniter */
        if (strcasecmp(expr, aliases[i].alias) == 0)
            expr = aliases[i].expr;
    const char *starts[8];
    size_t lens[8];
    size_t nfields = split_fields(expr, starts, lens);
    if (nfields < 5 || nfields > 7) {
        exo_errf(err, errlen, "cron expression needs 5 to 7 fields, got %zu", nfields);
        return -1;
    }
    const field_kind order[] = {F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_SECOND, F_YEAR};
    parse_ctx ctx = {out, nfields};
    uint64_t bits[7][3];
    int any[7] = {0};
    memset(bits, 0, sizeof bits);
    for (size_t f = 0; f < nfields; f++) {
        field_kind kind = order[f];
        if (parse_field(&ctx, kind, starts[f], lens[f], bits[kind], &any[kind]) != 0) {
            exo_errf(err, errlen, "invalid %s field '%.*s'", specs[kind].name, (int)lens[f], starts[f]);
            memset(out, 0, sizeof *out);
            return -1;
        }
    }
    out->minutes = bits[F_MINUTE][0];
    out->hours = (uint32_t)bits[F_HOUR][0];
    out->dom = (uint32_t)bits[F_DOM][0];
    out->months = (uint16_t)bits[F_MONTH][0];
    out->dow = (uint8_t)bits[F_DOW][0];
    out->dom_any = any[F_DOM];
    out->dow_any = any[F_DOW];
    out->seconds = nfields >= 6 ? bits[F_SECOND][0] : 1; /* second 0 */
    if (nfields == 7)
        memcpy(out->years, bits[F_YEAR], sizeof out->years);
    else
        for (int y = YEAR_MIN; y <= YEAR_MAX; y++)
            set_bit(out->years, F_YEAR, y);
    return 0;
}

int exo_cron_has_random_field(const char *expr)
{
    const char *p = expr;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if ((*p == 'R' || *p == 'r') && (p[1] == '\0' || p[1] == '(' || p[1] == '/' || isspace((unsigned char)p[1])))
            return 1;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    return 0;
}

int exo_cron_valid(const char *expr)
{
    exo_cron c;
    return exo_cron_parse(expr, &c, NULL, 0) == 0;
}

static int year_allowed(const exo_cron *c, int year)
{
    if (year < YEAR_MIN || year > YEAR_MAX)
        return 0;
    int off = year - YEAR_MIN;
    return (c->years[off / 64] >> (off % 64)) & 1;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

static int day_matches(const exo_cron *c, const struct tm *tm)
{
    int year = tm->tm_year + 1900, month = tm->tm_mon + 1, mday = tm->tm_mday, wday = tm->tm_wday;
    int last = days_in_month(year, month);
    int dom_match = ((c->dom >> mday) & 1) || (c->dom_last && mday == last);
    int nth = (mday - 1) / 7 + 1;
    int dow_match = ((c->dow >> wday) & 1) || ((c->dow_nth[wday] >> nth) & 1) ||
                    (((c->dow_last >> wday) & 1) && mday + 7 > last);
    int dom_restricted = !c->dom_any, dow_restricted = !c->dow_any;
    if (dom_restricted && dow_restricted)
        return dom_match || dow_match;
    if (dom_restricted)
        return dom_match;
    if (dow_restricted)
        return dow_match;
    return 1;
}

int64_t exo_cron_next(const exo_cron *c, int64_t after_ms)
{
    int64_t secs = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
    time_t t = (time_t)(secs + 1);
    struct tm tm;
    /* Each step below moves forward by at least one unit; the bound covers 130 years of days. */
    for (long guard = 0; guard < 2000000; guard++) {
        if (!gmtime_r(&t, &tm))
            return -1;
        int year = tm.tm_year + 1900;
        if (year > YEAR_MAX)
            return -1;
        if (!year_allowed(c, year)) {
            tm.tm_year++;
            tm.tm_mon = 0;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->months >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->hours >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->minutes >> tm.tm_min) & 1)) {
            tm.tm_min++;
            tm.tm_sec = 0;
        } else if (!((c->seconds >> tm.tm_sec) & 1)) {
            tm.tm_sec++;
        } else {
            return (int64_t)t * 1000;
        }
        tm.tm_isdst = 0;
        t = timegm(&tm);
        if (t == (time_t)-1)
            return -1;
    }
    return -1;
}

int64_t exo_cron_next_expr(const char *expr, int64_t after_ms)
{
    exo_cron c;
    if (exo_cron_parse(expr, &c, NULL, 0) != 0)
        return -1;
    return exo_cron_next(&c, after_ms);
}
