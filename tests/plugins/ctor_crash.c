/* Load error: crashes in a constructor, i.e. while being dlopen'ed. */
#include <exo/node.h>
#include <signal.h>

EXO_NODE("CtorCrashNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

__attribute__((constructor)) static void crash_on_load(void)
{
    raise(SIGSEGV);
}

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
