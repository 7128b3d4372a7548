/* Load error: a well-named node whose input list points at unmapped memory. */
#include <exo/node.h>

EXO_EXPORT extern const exo_node_def exo_node;
EXO_EXPORT const exo_node_def exo_node = {EXO_ABI_VERSION, sizeof(exo_node_def),
                                          "BadListNode",
                                          {3, (const char *const *)0x1000},
                                          EXO_OUTPUTS(), EXO_SECRETS()};

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
