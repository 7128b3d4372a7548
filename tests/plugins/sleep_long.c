/* Misbehaves: sleeps past any reasonable timeout. */
#include <exo/node.h>
#include <stdlib.h>
#include <unistd.h>

EXO_NODE("SleepNode", EXO_INPUTS(EXO_DEFAULT("seconds", "3600")), EXO_OUTPUTS("slept"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    unsigned s = (unsigned)strtoul(exo_input(ctx, "seconds"), NULL, 10);
    while (s > 0)
        s = sleep(s);
    return exo_output(ctx, "slept", exo_input(ctx, "seconds"));
}
