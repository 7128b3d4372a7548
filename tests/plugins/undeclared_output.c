/* Misbehaves: sets an output it does not declare (a typo of "b"). */
#include <exo/node.h>

EXO_NODE("UndeclaredOutputNode", EXO_INPUTS(), EXO_OUTPUTS("a", "b"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    exo_output(ctx, "a", "1");
    exo_output(ctx, "zzz", "2");
    return EXO_OK;
}
