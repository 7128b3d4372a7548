/* Healthy: proves that a state's process serves one state only.  It counts, in a
 * static variable, how many states this process image has run (always 1 when each
 * state gets a fresh process) and reports its PID namespace (as /proc/self/ns/pid
 * names it, "" where that cannot be read) and a marker it leaves in a static buffer
 * for a possible next state to find ("none" when there is none). */
#include <exo/node.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

EXO_NODE("SingleUseNode", EXO_INPUTS(EXO_DEFAULT("tag", "")),
         EXO_OUTPUTS("runs", "pidns", "previous"), EXO_SECRETS());

static int runs;
static char previous_tag[128] = "none";

int exo_execute(exo_ctx *ctx)
{
    runs++;
    char ns[128] = "";
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    exo_outputf(ctx, "runs", "%d", runs);
    exo_output(ctx, "pidns", ns);
    exo_output(ctx, "previous", previous_tag);
    snprintf(previous_tag, sizeof previous_tag, "%s", exo_input(ctx, "tag"));
    return 0;
}
