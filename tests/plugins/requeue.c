/* Healthy: asks to be run again after delay_ms. */
#include <exo/node.h>
#include <stdlib.h>

EXO_NODE("RequeueNode", EXO_INPUTS(EXO_DEFAULT("delay_ms", "30000")), EXO_OUTPUTS(),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    return exo_requeue_after(ctx, strtoll(exo_input(ctx, "delay_ms"), NULL, 10));
}
