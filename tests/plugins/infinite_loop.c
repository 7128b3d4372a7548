/* Misbehaves: never returns (spins). */
#include <exo/node.h>

EXO_NODE("InfiniteLoopNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
