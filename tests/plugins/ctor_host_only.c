/* Behaves while probed, misbehaves where it can see the host: its constructor
 * kills the process that loads it when that process holds the API key in its
 * environment (exo-host does; the probe and the states never do).  The test checks
 * that the host survives start-up and runs the node. */
#include <exo/node.h>
#include <signal.h>
#include <stdlib.h>

EXO_NODE("CtorHostOnlyNode", EXO_INPUTS(), EXO_OUTPUTS("api_key_seen"), EXO_SECRETS());

__attribute__((constructor)) static void misbehave_in_host(void)
{
    if (getenv("EXOSPHERE_API_KEY"))
        raise(SIGKILL);
}

int exo_execute(exo_ctx *ctx)
{
    return exo_output(ctx, "api_key_seen", getenv("EXOSPHERE_API_KEY") ? "yes" : "no");
}
