/* Misbehaves: allocates 4 GiB and touches every page. */
#include <exo/node.h>
#include <stdlib.h>

EXO_NODE("AllocNode", EXO_INPUTS(), EXO_OUTPUTS("bytes"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    size_t size = (size_t)4 << 30;
    volatile char *p = malloc(size);
    for (size_t i = 0; i < size; i += 4096)
        p[i] = 1; /* p is NULL when the limit refused the allocation: crash */
    return exo_outputf(ctx, "bytes", "%zu", size);
}
