/* Misbehaves: dereferences NULL. */
#include <exo/node.h>

EXO_NODE("SegfaultNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    volatile int *p = NULL;
    *p = 42;
    return EXO_OK;
}
