/* Misbehaves: forks forever. */
#include <exo/node.h>
#include <unistd.h>

EXO_NODE("ForkBombNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    for (;;)
        fork();
}
