/* Cron expressions (spec §2.3.2, croniter v6 compatible) and next fire times.
 *
 * Accepted: 5 fields "minute hour day-of-month month day-of-week", optionally a 6th
 * field (seconds) and a 7th (year, 1970-2099), or one of @yearly @annually @monthly
 * @weekly @daily @midnight @hourly.  Each field: "*", "?" (day fields), numbers,
 * ranges a-b, steps (star)/n, a-b/n and a/n, comma lists; month names JAN-DEC and
 * weekday names SUN-SAT (case-insensitive); weekday 0-6, and 7 = Sunday in the
 * 5-field form (croniter rejects 7 when a seconds/year field is present); "L" (last
 * day) in day-of-month; "<wd>#<n>" (n-th weekday, n 1-5) and "L<wd>" (last such
 * weekday of the month) in day-of-week, not mixed with plain weekdays.  croniter's
 * range quirks are reproduced: a range may wrap (FRI-MON), and "a-a" means the
 * whole cycle.  Aliases match the whole text case-insensitively (no padding).
 * Day-of-month and day-of-week use classic cron OR semantics when both are
 * restricted.  All times are UTC.  Pure functions, thread-safe. */
#ifndef EXO_SM_CRON_H
#define EXO_SM_CRON_H

#include <stddef.h>
#include <stdint.h>

typedef struct exo_cron {
    uint64_t seconds;  /* bit s for second s (0-59) */
    uint64_t minutes;  /* bit m (0-59) */
    uint32_t hours;    /* bit h (0-23) */
    uint32_t dom;      /* bit d (1-31) */
    uint16_t months;   /* bit m (1-12) */
    uint8_t dow;       /* bit d (0-6, 0 = Sunday) */
    int dom_any;       /* day-of-month field was "*" / "?" */
    int dom_last;      /* "L": last day of the month */
    uint8_t dow_nth[7];  /* per weekday: bit n (1-5) for "<wd>#<n>" */
    uint8_t dow_last;    /* bit wd for "L<wd>" */
    int dow_any;       /* day-of-week field was "*" / "?" */
    uint64_t years[3]; /* bit (y - 1970) for years 1970-2099; all set when no year field */
} exo_cron;

/* Parses expr.  Returns 0, or -1 with err set to a message naming the bad field. */
int exo_cron_parse(const char *expr, exo_cron *out, char *err, size_t errlen);
/* 1 when expr is a valid expression. */
int exo_cron_valid(const char *expr);
/* 1 when some field of expr is croniter's random form ("R", "R(0-5)", "R/15"),
 * which exo does not support (a schedule must be reproducible); used to explain
 * why such an expression is refused. */
int exo_cron_has_random_field(const char *expr);

/* First fire time strictly after after_ms (Unix ms, UTC), in Unix ms (whole
 * seconds).  Returns -1 when there is none (year field exhausted). */
int64_t exo_cron_next(const exo_cron *c, int64_t after_ms);
/* parse + next; returns -1 on a parse error too. */
int64_t exo_cron_next_expr(const char *expr, int64_t after_ms);

#endif
