/* Healthy: writes key=value to the run's store and reports one output. */
#include <exo/node.h>

EXO_NODE("StoreSetNode", EXO_INPUTS("key", "value"), EXO_OUTPUTS("done"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    if (exo_store_set(ctx, exo_input(ctx, "key"), exo_input(ctx, "value")) != EXO_OK)
        return exo_fail(ctx, "exo_store_set failed");
    return exo_output(ctx, "done", "yes");
}
