/* Healthy: fails until the file named by its input `flag` exists, then succeeds.
 * The dashboard's browser test fixes the cause (creates the file) and retries. */
#include <exo/node.h>
#include <unistd.h>

EXO_NODE("FlakyNode", EXO_INPUTS("flag"), EXO_OUTPUTS("status"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    const char *flag = exo_input(ctx, "flag");
    if (access(flag, R_OK) != 0)
        return exo_fail(ctx, "flag file %s is missing: create it, then retry", flag);
    return exo_outputf(ctx, "status", "flag %s found", flag);
}
