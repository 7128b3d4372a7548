/* Load error when hosted with echo.so: another node named EchoNode. */
#include <exo/node.h>

EXO_NODE("EchoNode", EXO_INPUTS("other"), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
