/* Healthy: proves that a state's process serves one state only.  It counts, in a
 * static variable, how many states this process image has run (always 1 when each
 * state gets a fresh process) and reports the tag a previous state of the same
 * process would have left in a static buffer ("none" when there was none). */
#include <exo/node.h>
#include <stdio.h>

EXO_NODE("SingleUseNode", EXO_INPUTS(EXO_DEFAULT("tag", "")), EXO_OUTPUTS("runs", "previous"),
         EXO_SECRETS());

static int runs;
static char previous_tag[128] = "none";

int exo_execute(exo_ctx *ctx)
{
    runs++;
    exo_outputf(ctx, "runs", "%d", runs);
    exo_output(ctx, "previous", previous_tag);
    snprintf(previous_tag, sizeof previous_tag, "%s", exo_input(ctx, "tag"));
    return 0;
}
