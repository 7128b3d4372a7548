/* Healthy: prunes its branch with a data object. */
#include <exo/node.h>
#include <stdio.h>

EXO_NODE("PruneNode", EXO_INPUTS(EXO_DEFAULT("reason", "not needed")), EXO_OUTPUTS("never"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    char data[512];
    const char *reason = exo_input(ctx, "reason");
    /* Test plugin: the reason must not contain quotes. */
    snprintf(data, sizeof data, "{\"reason\": \"%s\", \"count\": 2}", reason);
    return exo_prune(ctx, data);
}
