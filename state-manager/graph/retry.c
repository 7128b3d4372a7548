/* Retry policy model and delays (spec §2.3.3, §7); see retry.h. */
#include "retry.h"

#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

static const char *const strategy_names[] = {
    "EXPONENTIAL", "EXPONENTIAL_FULL_JITTER", "EXPONENTIAL_EQUAL_JITTER",
    "LINEAR",      "LINEAR_FULL_JITTER",      "LINEAR_EQUAL_JITTER",
    "FIXED",       "FIXED_FULL_JITTER",       "FIXED_EQUAL_JITTER",
};
#define STRATEGY_COUNT (sizeof strategy_names / sizeof *strategy_names)

void exo_retry_policy_default(exo_retry_policy *p)
{
    p->max_retries = 3;
    p->strategy = EXO_RETRY_EXPONENTIAL;
    p->backoff_factor = 2000;
    p->exponent = 2;
    p->max_delay = 0;
    p->has_max_delay = 0;
}

const char *exo_retry_strategy_name(exo_retry_strategy s)
{
    return (size_t)s < STRATEGY_COUNT ? strategy_names[s] : "EXPONENTIAL";
}

int exo_retry_strategy_parse(const char *name, exo_retry_strategy *out)
{
    for (size_t i = 0; i < STRATEGY_COUNT; i++) {
        if (strcmp(name, strategy_names[i]) == 0) {
            *out = (exo_retry_strategy)i;
            return 0;
        }
    }
    return -1;
}

/* pydantic's enum error: "Input should be 'A', 'B' or 'C'". */
static void add_strategy_enum_error(exo_reqcheck *rc, const char *loc, json_object *input)
{
    char expected[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < STRATEGY_COUNT; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == STRATEGY_COUNT ? " or " : ", ");
        used += (size_t)snprintf(expected + used, sizeof expected - used, "%s'%s'", sep,
                                 strategy_names[i]);
    }
    graph_add_enum_error(rc, loc, expected, input);
}

/* Lower-bound constraint: strict (gt) or not (ge). */
static int check_bound(exo_reqcheck *rc, json_object *obj, const char *key, const char *loc,
                       int64_t value, int64_t bound, int strict)
{
    if (strict ? value > bound : value >= bound)
        return 0;
    char *field_loc = exo_reqcheck_join_loc(loc, key);
    json_object *input = NULL;
    json_object_object_get_ex(obj, key, &input);
    json_object *ctx = json_object_new_object();
    if (ctx)
        json_object_object_add(ctx, strict ? "gt" : "ge", json_object_new_int64(bound));
    char msg[96];
    snprintf(msg, sizeof msg, "Input should be greater than %s%lld", strict ? "" : "or equal to ",
             (long long)bound);
    exo_reqcheck_add(rc, field_loc ? field_loc : loc, strict ? "greater_than" : "greater_than_equal",
                     msg, input, ctx);
    free(field_loc);
    return -1;
}

int exo_retry_policy_from_json(exo_reqcheck *rc, json_object *value, const char *loc,
                               exo_retry_policy *out)
{
    exo_retry_policy_default(out);
    if (value == NULL)
        return 0;
    if (!json_object_is_type(value, json_type_object)) {
        graph_add_model_type_error(rc, loc, "RetryPolicyModel", value);
        return -1;
    }
    int bad = 0;
    int r = exo_req_int(rc, value, "max_retries", loc, 0, &out->max_retries);
    bad |= r < 0 || (r == 0 && check_bound(rc, value, "max_retries", loc, out->max_retries, 0, 0));
    json_object *strategy = NULL;
    if (json_object_object_get_ex(value, "strategy", &strategy) &&
        (!json_object_is_type(strategy, json_type_string) || exo_json_string_has_nul(strategy) ||
         exo_retry_strategy_parse(json_object_get_string(strategy), &out->strategy) != 0)) {
        char *field_loc = exo_reqcheck_join_loc(loc, "strategy");
        add_strategy_enum_error(rc, field_loc ? field_loc : loc, strategy);
        free(field_loc);
        bad = 1;
    }
    r = exo_req_int(rc, value, "backoff_factor", loc, 0, &out->backoff_factor);
    bad |= r < 0 || (r == 0 && check_bound(rc, value, "backoff_factor", loc, out->backoff_factor, 0, 1));
    r = exo_req_int(rc, value, "exponent", loc, 0, &out->exponent);
    bad |= r < 0 || (r == 0 && check_bound(rc, value, "exponent", loc, out->exponent, 0, 1));
    r = exo_req_int(rc, value, "max_delay", loc, 0, &out->max_delay);
    if (r == 0) {
        out->has_max_delay = 1;
        bad |= check_bound(rc, value, "max_delay", loc, out->max_delay, 0, 1) != 0;
    }
    bad |= r < 0;
    return bad ? -1 : 0;
}

json_object *exo_retry_policy_to_json(const exo_retry_policy *p)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "max_retries", json_object_new_int64(p->max_retries));
    json_object_object_add(o, "strategy", json_object_new_string(exo_retry_strategy_name(p->strategy)));
    json_object_object_add(o, "backoff_factor", json_object_new_int64(p->backoff_factor));
    json_object_object_add(o, "exponent", json_object_new_int64(p->exponent));
    json_object_object_add(o, "max_delay", p->has_max_delay ? json_object_new_int64(p->max_delay) : NULL);
    return o;
}

int64_t exo_add_saturating(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* a * b for non-negative operands, saturating at INT64_MAX. */
static int64_t mul_saturating(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return INT64_MAX;
    return r;
}

/* base^exp for base >= 1, saturating. */
static int64_t pow_saturating(int64_t base, int64_t exp)
{
    int64_t r = 1;
    for (int64_t i = 0; i < exp; i++) {
        r = mul_saturating(r, base);
        if (r == INT64_MAX || base == 1)
            break;
    }
    return r;
}

/* Truncation of a non-negative double to int64, saturating. */
static int64_t trunc_saturating(double d)
{
    if (!(d > 0))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    return (int64_t)d;
}

int64_t exo_retry_delay_with_draw(const exo_retry_policy *p, int64_t attempt, double u)
{
    if (attempt < 1)
        attempt = 1;
    if (!(u >= 0) || u >= 1)
        u = 0;
    int64_t factor = p->backoff_factor > 0 ? p->backoff_factor : 0;
    int64_t base;
    switch (p->strategy) {
    case EXO_RETRY_EXPONENTIAL:
    case EXO_RETRY_EXPONENTIAL_FULL_JITTER:
    case EXO_RETRY_EXPONENTIAL_EQUAL_JITTER:
        base = mul_saturating(factor, pow_saturating(p->exponent > 0 ? p->exponent : 1, attempt - 1));
        break;
    case EXO_RETRY_LINEAR:
    case EXO_RETRY_LINEAR_FULL_JITTER:
    case EXO_RETRY_LINEAR_EQUAL_JITTER:
        base = mul_saturating(factor, attempt);
        break;
    default:
        base = factor;
        break;
    }
    int64_t delay;
    switch (p->strategy) {
    case EXO_RETRY_EXPONENTIAL_FULL_JITTER:
    case EXO_RETRY_LINEAR_FULL_JITTER:
    case EXO_RETRY_FIXED_FULL_JITTER:
        delay = trunc_saturating(u * (double)base);
        break;
    case EXO_RETRY_EXPONENTIAL_EQUAL_JITTER:
    case EXO_RETRY_LINEAR_EQUAL_JITTER:
    case EXO_RETRY_FIXED_EQUAL_JITTER:
        delay = trunc_saturating((double)base / 2.0 + u * ((double)base / 2.0));
        break;
    default:
        delay = base;
        break;
    }
    if (p->has_max_delay && delay > p->max_delay)
        delay = p->max_delay;
    return delay;
}

/* Uniform draw in [0,1) from the OpenSSL CSPRNG (no hidden global PRNG state). */
static double uniform_draw(void)
{
    uint64_t bits = 0;
    if (RAND_bytes((unsigned char *)&bits, sizeof bits) != 1)
        return 0.5; /* CSPRNG unavailable: a deterministic midpoint is still a valid delay */
    return (double)(bits >> 11) / 9007199254740992.0; /* 53 random bits / 2^53 */
}

int64_t exo_retry_delay_ms(const exo_retry_policy *p, int64_t attempt)
{
    return exo_retry_delay_with_draw(p, attempt, uniform_draw());
}
