/* Misbehaves: lowers the CPU limit of another process (its parent). */
#include <exo/node.h>
#include <sys/resource.h>
#include <unistd.h>

EXO_NODE("PrlimitOtherNode", EXO_INPUTS(), EXO_OUTPUTS("lowered"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    struct rlimit rl = {1, 1};
    if (prlimit(getppid(), RLIMIT_CPU, &rl, NULL) < 0)
        return exo_fail(ctx, "prlimit failed");
    return exo_output(ctx, "lowered", "yes");
}
