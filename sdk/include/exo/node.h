/*
 * exo plugin SDK: the whole contract between a node plugin (.so) and exo-host.
 *
 * A plugin exports two symbols:
 *   exo_node     - const exo_node_def, the node's schema (declared with EXO_NODE)
 *   exo_execute  - int exo_execute(exo_ctx *ctx), runs one state
 *
 * The plugin has no link-time dependency on the host: every SDK function below is
 * a static inline call through the versioned routine table (exo_api) that the host
 * places in the context, in the manner of SQLite's loadable extensions.
 *
 * Compatibility rules (what lets the header grow without breaking built plugins):
 *   - EXO_ABI_VERSION changes only on an incompatible change; the host refuses a
 *     plugin whose abi_version differs from its own.
 *   - exo_node_def and exo_api only ever grow at the end; each carries its own
 *     size, so an old plugin against a new host and a new plugin against an old
 *     host both see exactly the fields the other side has.
 *   - A routine added after version 1 is called through EXO_API_HAS(); calling it
 *     on an older host returns EXO_ERROR instead of jumping through garbage.
 *
 * All inputs, outputs, secrets and store values are NUL-terminated UTF-8 strings.
 */
#ifndef EXO_NODE_H
#define EXO_NODE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EXO_ABI_VERSION 1u

/* Return values of exo_execute and of the SDK routines. */
#define EXO_OK 0
#define EXO_ERROR (-1)

#if defined(__GNUC__)
#define EXO_EXPORT __attribute__((visibility("default")))
#define EXO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define EXO_EXPORT
#define EXO_PRINTF(f, a)
#endif

/* A list of field names.  An entry "name=value" declares a field with a default
 * value (field names match [A-Za-z][A-Za-z0-9_]*, so '=' cannot be part of one). */
typedef struct exo_field_list {
    size_t count;
    const char *const *names;
} exo_field_list;

typedef struct exo_node_def {
    uint32_t abi_version;  /* EXO_ABI_VERSION the plugin was built with */
    uint32_t struct_size;  /* sizeof(exo_node_def) at build time */
    const char *name;      /* node name as registered with the state manager */
    exo_field_list inputs;
    exo_field_list outputs;
    exo_field_list secrets;
} exo_node_def;

typedef struct exo_ctx exo_ctx;

/* Routine table supplied by the host.  Append only. */
typedef struct exo_api {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *(*input)(exo_ctx *ctx, const char *name);
    const char *(*secret)(exo_ctx *ctx, const char *name);
    int (*output)(exo_ctx *ctx, const char *name, const char *value);
    int (*voutputf)(exo_ctx *ctx, const char *name, const char *fmt, va_list ap);
    int (*next_output)(exo_ctx *ctx);
    int (*vfail)(exo_ctx *ctx, const char *fmt, va_list ap);
    int (*prune)(exo_ctx *ctx, const char *json_object_text);
    int (*requeue_after)(exo_ctx *ctx, int64_t delay_ms);
    int (*store_set)(exo_ctx *ctx, const char *key, const char *value);
    void (*vlog)(exo_ctx *ctx, const char *fmt, va_list ap);
    const char *(*state_id)(exo_ctx *ctx);
    const char *(*identifier)(exo_ctx *ctx);
} exo_api;

/* The context handed to exo_execute.  Only `api` is public; the host keeps the
 * rest of its state behind this header. */
struct exo_ctx {
    const exo_api *api;
};

/* True when the host's table has `member` (it may be older than this header). */
#define EXO_API_HAS(ctx, member)                                                     \
    ((ctx)->api->struct_size >= offsetof(exo_api, member) + sizeof((ctx)->api->member) \
     && (ctx)->api->member != NULL)

/* ---- declaring a node ------------------------------------------------------- */

/* The NULL in front makes an empty list legal C ({NULL,}); count excludes it. */
#define EXO__LIST(...)                                                               \
    {sizeof((const char *const[]){NULL, __VA_ARGS__}) / sizeof(const char *) - 1, \
     (const char *const[]){NULL, __VA_ARGS__} + 1}
#define EXO_INPUTS(...) EXO__LIST(__VA_ARGS__)
#define EXO_OUTPUTS(...) EXO__LIST(__VA_ARGS__)
#define EXO_SECRETS(...) EXO__LIST(__VA_ARGS__)
/* A field with a default value: EXO_INPUTS("user_id", EXO_DEFAULT("max_words", "100")) */
#define EXO_DEFAULT(name, value) name "=" value

#define EXO_NODE(name_, inputs_, outputs_, secrets_)                                  \
    EXO_EXPORT extern const exo_node_def exo_node;                                 \
    EXO_EXPORT const exo_node_def exo_node = {EXO_ABI_VERSION, sizeof(exo_node_def), \
                                              name_, inputs_, outputs_, secrets_}

/* The plugin defines this.  Return EXO_OK, or EXO_ERROR after exo_fail(). */
EXO_EXPORT int exo_execute(exo_ctx *ctx);

/* ---- routines --------------------------------------------------------------- */

/* Value of a declared input (its default when absent); NULL for an undeclared name. */
static inline const char *exo_input(exo_ctx *ctx, const char *name)
{
    return ctx->api->input(ctx, name);
}

/* Value of a declared secret; NULL for an undeclared name. */
static inline const char *exo_secret(exo_ctx *ctx, const char *name)
{
    return ctx->api->secret(ctx, name);
}

/* Sets a field of the current output object (the value is copied). */
static inline int exo_output(exo_ctx *ctx, const char *name, const char *value)
{
    return ctx->api->output(ctx, name, value);
}

static inline EXO_PRINTF(3, 4) int exo_outputf(exo_ctx *ctx, const char *name,
                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ctx->api->voutputf(ctx, name, fmt, ap);
    va_end(ap);
    return rc;
}

/* Starts another output object: n objects fan out into n parallel branches. */
static inline int exo_next_output(exo_ctx *ctx)
{
    return ctx->api->next_output(ctx);
}

/* Fails the state with a message; returns EXO_ERROR so `return exo_fail(...)` reads well. */
static inline EXO_PRINTF(2, 3) int exo_fail(exo_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx->api->vfail(ctx, fmt, ap);
    va_end(ap);
    return EXO_ERROR;
}

/* Prune signal: stops this branch; json_object_text is a JSON object or NULL ({}). */
static inline int exo_prune(exo_ctx *ctx, const char *json_object_text)
{
    return ctx->api->prune(ctx, json_object_text);
}

/* Re-enqueue signal: run this state again after delay_ms (>= 1). */
static inline int exo_requeue_after(exo_ctx *ctx, int64_t delay_ms)
{
    return ctx->api->requeue_after(ctx, delay_ms);
}

/* Writes key=value to the run's store, applied atomically with the executed report. */
static inline int exo_store_set(exo_ctx *ctx, const char *key, const char *value)
{
    return EXO_API_HAS(ctx, store_set) ? ctx->api->store_set(ctx, key, value) : EXO_ERROR;
}

/* A log line attributed to this state (goes to the host's log, never to the result). */
static inline EXO_PRINTF(2, 3) void exo_log(exo_ctx *ctx, const char *fmt, ...)
{
    if (!EXO_API_HAS(ctx, vlog))
        return;
    va_list ap;
    va_start(ap, fmt);
    ctx->api->vlog(ctx, fmt, ap);
    va_end(ap);
}

/* Read-only identity of the state being run (for de-duplicating side effects). */
static inline const char *exo_state_id(exo_ctx *ctx)
{
    return EXO_API_HAS(ctx, state_id) ? ctx->api->state_id(ctx) : NULL;
}

static inline const char *exo_identifier(exo_ctx *ctx)
{
    return EXO_API_HAS(ctx, identifier) ? ctx->api->identifier(ctx) : NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* EXO_NODE_H */
