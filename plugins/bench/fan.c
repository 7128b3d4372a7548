/* BenchFan: fans out into `count` branches (one output object per branch). */
#include <exo/node.h>
#include <stdlib.h>

EXO_NODE("BenchFan",
         EXO_INPUTS("count"),
         EXO_OUTPUTS("index"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    long count = strtol(exo_input(ctx, "count"), NULL, 10);
    if (count < 1)
        return exo_fail(ctx, "count must be >= 1, got '%s'", exo_input(ctx, "count"));
    for (long i = 0; i < count; i++) {
        if (i > 0)
            exo_next_output(ctx);
        exo_outputf(ctx, "index", "%ld", i);
    }
    return EXO_OK;
}
