/* Misbehaves: lowers the CPU limit of another process (input "pid"; a state sees
 * other states' pids in /proc where it shares the host's PID namespace). */
#include <exo/node.h>
#include <stdlib.h>
#include <sys/resource.h>

EXO_NODE("PrlimitOtherNode", EXO_INPUTS(EXO_DEFAULT("pid", "1")), EXO_OUTPUTS("lowered"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    struct rlimit rl = {1, 1};
    if (prlimit((pid_t)atoi(exo_input(ctx, "pid")), RLIMIT_CPU, &rl, NULL) < 0)
        return exo_fail(ctx, "prlimit failed");
    return exo_output(ctx, "lowered", "yes");
}
