/* The seed's SampleNode, exactly as a plugin author would write it. */
#include <exo/node.h>

EXO_NODE("SampleNode",
         EXO_INPUTS("name", "data"),
         EXO_OUTPUTS("message", "processed_data"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    exo_output(ctx, "message", "success");
    exo_outputf(ctx, "processed_data", "completed:%s", exo_input(ctx, "data"));
    return EXO_OK;
}
