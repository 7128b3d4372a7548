#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "utf8.h"

/* Process-wide logger settings: written once by exo_log_init() before threads
 * start, read-only afterwards. */
static const char *log_program = "exo";
static exo_log_level log_threshold = EXO_LOG_INFO;
static exo_log_format log_format = EXO_LOG_TEXT;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const level_keys[] = {"debug", "info", "warn", "error"};

void exo_log_init(const char *program)
{
    log_program = program;
    const char *format = getenv("EXO_LOG_FORMAT");
    if (format && *format) {
        int f = exo_log_format_from_name(format);
        if (f < 0)
            fprintf(stderr, "%s: EXO_LOG_FORMAT=%s is not one of text, json; using text\n", program, format);
        else
            log_format = (exo_log_format)f;
    }
    const char *env = getenv("EXO_LOG_LEVEL");
    if (!env || !*env)
        return;
    if (!strcasecmp(env, "debug"))
        log_threshold = EXO_LOG_DEBUG;
    else if (!strcasecmp(env, "info"))
        log_threshold = EXO_LOG_INFO;
    else if (!strcasecmp(env, "warn") || !strcasecmp(env, "warning"))
        log_threshold = EXO_LOG_WARN;
    else if (!strcasecmp(env, "error"))
        log_threshold = EXO_LOG_ERROR;
    else
        fprintf(stderr, "%s: EXO_LOG_LEVEL=%s is not one of debug, info, warn, error; using info\n",
                program, env);
}

void exo_log_set_level(exo_log_level level)
{
    log_threshold = level;
}

int exo_log_enabled(exo_log_level level)
{
    return level >= log_threshold;
}

void exo_log_set_format(exo_log_format format)
{
    log_format = format;
}

int exo_log_format_from_name(const char *name)
{
    if (!strcmp(name, "text"))
        return EXO_LOG_TEXT;
    if (!strcmp(name, "json"))
        return EXO_LOG_JSON;
    return -1;
}

/* Appends s as a JSON string (quotes included) to buf at *o, within len - 1 bytes;
 * ill-formed UTF-8 becomes U+FFFD.  A string that does not fit is cut at a
 * character boundary (the closing quote always fits: 8 bytes are kept for it). */
static void json_append(char *buf, size_t len, size_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *clean = exo_utf8_sanitize(s);
    const char *p = clean ? clean : "(out of memory)";
    size_t limit = len > 8 ? len - 8 : 0;
    if (*o < limit)
        buf[(*o)++] = '"';
    for (; *p && *o < limit; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[(*o)++] = '\\';
            buf[(*o)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            if (*o + 6 >= limit)
                break;
            memcpy(buf + *o, "\\u00", 4);
            buf[*o + 4] = hex[c >> 4];
            buf[*o + 5] = hex[c & 15];
            *o += 6;
        } else if (c >= 0x80 && (c & 0xC0) != 0x80) {
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (*o + n >= limit)
                break;
            for (size_t k = 0; k < n && p[k]; k++)
                buf[(*o)++] = p[k];
            p += n - 1;
        } else {
            buf[(*o)++] = (char)c;
        }
    }
    buf[(*o)++] = '"';
    free(clean);
}

static void json_member(char *buf, size_t len, size_t *o, const char *key, const char *value)
{
    if (*o + 16 >= len)
        return;
    buf[(*o)++] = ',';
    json_append(buf, len, o, key);
    buf[(*o)++] = ':';
    json_append(buf, len, o, value);
}

static void write_line(exo_log_level level, const exo_log_field *fields, size_t nfields, const char *fmt,
                       va_list ap)
{
    if (!exo_log_enabled(level))
        return;
    struct timespec ts;
    struct tm tm;
    char stamp[32] = "";
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One buffered write per line so lines from several processes do not interleave. */
    char line[4096];
    if (log_format == EXO_LOG_TEXT) {
        int n = snprintf(line, sizeof line, "%s.%03ldZ %-5s %s: ", stamp, ts.tv_nsec / 1000000L,
                         level_names[level], log_program);
        if (n < 0)
            return;
        if ((size_t)n < sizeof line)
            vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        fprintf(stderr, "%s\n", line);
        return;
    }
    char msg[4096], time_text[48], json[16384];
    vsnprintf(msg, sizeof msg, fmt, ap);
    snprintf(time_text, sizeof time_text, "%s.%03ldZ", stamp, ts.tv_nsec / 1000000L);
    size_t o = 0;
    json[o++] = '{';
    json_append(json, sizeof json, &o, "time");
    json[o++] = ':';
    json_append(json, sizeof json, &o, time_text);
    json_member(json, sizeof json, &o, "level", level_keys[level]);
    json_member(json, sizeof json, &o, "program", log_program);
    for (size_t i = 0; i < nfields; i++)
        if (fields[i].key && fields[i].value)
            json_member(json, sizeof json, &o, fields[i].key, fields[i].value);
    json_member(json, sizeof json, &o, "msg", msg);
    json[o++] = '}';
    json[o] = '\0';
    fprintf(stderr, "%s\n", json);
}

void exo_vlogf(exo_log_level level, const char *fmt, va_list ap)
{
    write_line(level, NULL, 0, fmt, ap);
}

void exo_logf(exo_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    exo_vlogf(level, fmt, ap);
    va_end(ap);
}

void exo_logf_fields(exo_log_level level, const exo_log_field *fields, size_t nfields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_line(level, fields, nfields, fmt, ap);
    va_end(ap);
}
