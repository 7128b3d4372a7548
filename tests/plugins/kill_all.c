/* Misbehaves: kill(-1, SIGKILL), i.e. every process its user may signal (other
 * states included). */
#include <exo/node.h>
#include <signal.h>

EXO_NODE("KillAllNode", EXO_INPUTS(), EXO_OUTPUTS("killed"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    if (kill(-1, SIGKILL) < 0)
        return exo_fail(ctx, "kill(-1) failed");
    return exo_output(ctx, "killed", "everyone");
}
