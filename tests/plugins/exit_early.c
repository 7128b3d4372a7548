/* Misbehaves: exits the process without producing a result. */
#include <exo/node.h>
#include <stdlib.h>

EXO_NODE("ExitNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    _Exit(3);
}
