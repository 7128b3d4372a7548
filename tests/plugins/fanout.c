/* Healthy: one output object per comma-separated item (fan-out). */
#include <exo/node.h>
#include <stdio.h>
#include <string.h>

EXO_NODE("FanOutNode", EXO_INPUTS("items"), EXO_OUTPUTS("item"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    const char *items = exo_input(ctx, "items");
    printf("splitting %s\n", items); /* printed output ends up in the host's log */
    exo_log(ctx, "state %s", exo_state_id(ctx));
    int index = 0;
    while (*items) {
        size_t len = strcspn(items, ",");
        if (index++ > 0)
            exo_next_output(ctx);
        exo_outputf(ctx, "item", "%.*s", (int)len, items);
        items += len;
        if (*items == ',')
            items++;
    }
    return EXO_OK;
}
