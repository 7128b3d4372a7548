/* Load error: the descriptor's node name points at unmapped memory.  Reading it in
 * exo-host itself would kill the host with SIGSEGV; the probe refuses it. */
#include <exo/node.h>

EXO_EXPORT extern const exo_node_def exo_node;
EXO_EXPORT const exo_node_def exo_node = {EXO_ABI_VERSION, sizeof(exo_node_def),
                                          (const char *)0x10, EXO_INPUTS(), EXO_OUTPUTS(),
                                          EXO_SECRETS()};

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
