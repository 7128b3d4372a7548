/* Healthy: echoes its input, with an optional suffix (a field with a default). */
#include <exo/node.h>

EXO_NODE("EchoNode", EXO_INPUTS("text", EXO_DEFAULT("suffix", "")), EXO_OUTPUTS("text"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    return exo_outputf(ctx, "text", "%s%s", exo_input(ctx, "text"), exo_input(ctx, "suffix"));
}
