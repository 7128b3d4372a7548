/* Healthy: fails with the message it was given. */
#include <exo/node.h>

EXO_NODE("FailNode", EXO_INPUTS(EXO_DEFAULT("message", "it failed")), EXO_OUTPUTS(),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    return exo_fail(ctx, "%s", exo_input(ctx, "message"));
}
