/* Misbehaves: calls abort(). */
#include <exo/node.h>
#include <stdlib.h>

EXO_NODE("AbortNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    abort();
}
