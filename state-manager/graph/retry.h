/* Retry policy of a graph template (spec §2.3.3 model, §7 delays).
 *
 * Delays are integer milliseconds.  All arithmetic saturates at INT64_MAX instead
 * of overflowing (the reference uses arbitrary-precision integers; a saturated
 * delay is "never" in practice).  Pure functions, thread-safe. */
#ifndef EXO_SM_RETRY_H
#define EXO_SM_RETRY_H

#include <json-c/json.h>
#include <stdint.h>

#include "reqcheck.h"

typedef enum exo_retry_strategy {
    EXO_RETRY_EXPONENTIAL,
    EXO_RETRY_EXPONENTIAL_FULL_JITTER,
    EXO_RETRY_EXPONENTIAL_EQUAL_JITTER,
    EXO_RETRY_LINEAR,
    EXO_RETRY_LINEAR_FULL_JITTER,
    EXO_RETRY_LINEAR_EQUAL_JITTER,
    EXO_RETRY_FIXED,
    EXO_RETRY_FIXED_FULL_JITTER,
    EXO_RETRY_FIXED_EQUAL_JITTER,
} exo_retry_strategy;

typedef struct exo_retry_policy {
    int64_t max_retries;    /* >= 0, default 3 */
    exo_retry_strategy strategy; /* default EXPONENTIAL */
    int64_t backoff_factor; /* ms, > 0, default 2000 */
    int64_t exponent;       /* > 0, default 2 */
    int64_t max_delay;      /* ms, > 0; meaningful only when has_max_delay */
    int has_max_delay;      /* 0 = JSON null (default) */
} exo_retry_policy;

void exo_retry_policy_default(exo_retry_policy *p);

/* "EXPONENTIAL" ... "FIXED_EQUAL_JITTER". */
const char *exo_retry_strategy_name(exo_retry_strategy s);
/* 0 and *out set when name is exactly one of the nine upper-case names, else -1. */
int exo_retry_strategy_parse(const char *name, exo_retry_strategy *out);

/* Reads a "retry_policy" value (loc e.g. "body.retry_policy").  value NULL or JSON
 * null => defaults.  Records 422 errors in rc (model_type, int_parsing, enum,
 * greater_than, greater_than_equal ...) and returns -1 when any; 0 otherwise. */
int exo_retry_policy_from_json(exo_reqcheck *rc, json_object *value, const char *loc,
                               exo_retry_policy *out);
/* {"max_retries":..,"strategy":..,"backoff_factor":..,"exponent":..,"max_delay":..|null}; new object. */
json_object *exo_retry_policy_to_json(const exo_retry_policy *p);

/* Delay in ms of attempt n (n = retry_count + 1 >= 1) given a uniform draw
 * u in [0,1) used by the jitter strategies (deterministic, for tests), then capped
 * by max_delay.  n < 1 is treated as 1. */
int64_t exo_retry_delay_with_draw(const exo_retry_policy *p, int64_t attempt, double u);
/* Same with a fresh random draw. */
int64_t exo_retry_delay_ms(const exo_retry_policy *p, int64_t attempt);

/* a + b saturating at INT64_MAX / INT64_MIN (for now_ms + delay). */
int64_t exo_add_saturating(int64_t a, int64_t b);

#endif
