/* Healthy: reports the user it runs as and its pid (as it sees them), after
 * sleeping for its input "ms", so that several can run at once. */
#include <exo/node.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

EXO_NODE("WhoAmINode", EXO_INPUTS(EXO_DEFAULT("ms", "0")), EXO_OUTPUTS("uid", "pid"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    long ms = atol(exo_input(ctx, "ms"));
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
    exo_outputf(ctx, "uid", "%u", (unsigned)getuid());
    return exo_outputf(ctx, "pid", "%d", (int)getpid());
}
