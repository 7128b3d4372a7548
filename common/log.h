/* Levelled logging to stderr: "2025-01-15T10:30:45.123Z LEVEL prog: message".
 * The level comes from EXO_LOG_LEVEL (debug, info, warn, error; default info). */
#ifndef EXO_LOG_H
#define EXO_LOG_H

#include <stdarg.h>

typedef enum { EXO_LOG_DEBUG, EXO_LOG_INFO, EXO_LOG_WARN, EXO_LOG_ERROR } exo_log_level;

/* Call once at start-up, before any thread or child exists. */
void exo_log_init(const char *program);
void exo_log_set_level(exo_log_level level);
int exo_log_enabled(exo_log_level level);

void exo_logf(exo_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void exo_vlogf(exo_log_level level, const char *fmt, va_list ap);

#define log_debug(...) exo_logf(EXO_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) exo_logf(EXO_LOG_INFO, __VA_ARGS__)
#define log_warn(...) exo_logf(EXO_LOG_WARN, __VA_ARGS__)
#define log_error(...) exo_logf(EXO_LOG_ERROR, __VA_ARGS__)

#endif
