/* Load error: exo_execute without a node descriptor. */
#include <exo/node.h>

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
