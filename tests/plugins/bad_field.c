/* Load error: a field name that is not an identifier. */
#include <exo/node.h>

EXO_NODE("BadFieldNode", EXO_INPUTS("user id"), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
