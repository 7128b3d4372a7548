/* BenchStep: a no-op node for bench/ that measures the hop latency into itself:
 * prev_finished_us is the parent's finish time (wall clock, microseconds), so
 * hop_us = when this state started executing - when its parent finished. */
#include <exo/node.h>
#include <stdlib.h>
#include <time.h>

EXO_NODE("BenchStep",
         EXO_INPUTS(EXO_DEFAULT("prev_finished_us", "0")),
         EXO_OUTPUTS("finished_us", "hop_us"),
         EXO_SECRETS());

static long long wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int exo_execute(exo_ctx *ctx)
{
    long long started = wall_us();
    long long prev = strtoll(exo_input(ctx, "prev_finished_us"), NULL, 10);
    exo_outputf(ctx, "hop_us", "%lld", prev > 0 ? started - prev : -1);
    exo_outputf(ctx, "finished_us", "%lld", wall_us());
    return EXO_OK;
}
