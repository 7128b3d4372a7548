#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Process-wide logger settings: written once by exo_log_init() before threads
 * start, read-only afterwards. */
static const char *log_program = "exo";
static exo_log_level log_threshold = EXO_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void exo_log_init(const char *program)
{
    log_program = program;
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

void exo_vlogf(exo_log_level level, const char *fmt, va_list ap)
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
    int n = snprintf(line, sizeof line, "%s.%03ldZ %-5s %s: ", stamp, ts.tv_nsec / 1000000L,
                     level_names[level], log_program);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void exo_logf(exo_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    exo_vlogf(level, fmt, ap);
    va_end(ap);
}
