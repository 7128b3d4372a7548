/* Levelled logging to stderr: "2025-01-15T10:30:45.123Z LEVEL prog: message".
 * The level comes from EXO_LOG_LEVEL (debug, info, warn, error; default info).
 * The JSON format (exo_log_set_format, or EXO_LOG_FORMAT=json) writes one object per
 * line instead, for log shippers:
 *   {"time":"2025-01-15T10:30:45.123Z","level":"info","program":"exo-host","msg":"..."}
 * with the fields of exo_logf_fields (state_id, run_id, ...) as further members.
 * Text that is not UTF-8 is written with U+FFFD in place of the bad bytes. */
#ifndef EXO_LOG_H
#define EXO_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { EXO_LOG_DEBUG, EXO_LOG_INFO, EXO_LOG_WARN, EXO_LOG_ERROR } exo_log_level;
typedef enum { EXO_LOG_TEXT, EXO_LOG_JSON } exo_log_format;

/* A member of a JSON log line; a NULL value is left out.  Text lines ignore fields
 * (their message names what it is about). */
typedef struct exo_log_field {
    const char *key, *value;
} exo_log_field;

/* Call once at start-up, before any thread or child exists. */
void exo_log_init(const char *program);
void exo_log_set_level(exo_log_level level);
void exo_log_set_format(exo_log_format format);
/* "text" or "json"; -1 for anything else. */
int exo_log_format_from_name(const char *name);
int exo_log_enabled(exo_log_level level);

void exo_logf(exo_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void exo_vlogf(exo_log_level level, const char *fmt, va_list ap);
void exo_logf_fields(exo_log_level level, const exo_log_field *fields, size_t nfields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) exo_logf(EXO_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) exo_logf(EXO_LOG_INFO, __VA_ARGS__)
#define log_warn(...) exo_logf(EXO_LOG_WARN, __VA_ARGS__)
#define log_error(...) exo_logf(EXO_LOG_ERROR, __VA_ARGS__)

#endif
