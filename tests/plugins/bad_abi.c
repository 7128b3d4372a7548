/* Load error: declares a descriptor of a future ABI version. */
#include <exo/node.h>

EXO_EXPORT extern const exo_node_def exo_node;
EXO_EXPORT const exo_node_def exo_node = {EXO_ABI_VERSION + 98, sizeof(exo_node_def), "BadAbiNode",
                                          EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS()};

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
