#include "version.h"

const char *exo_version_string(void)
{
    /* Both parts are compile-time literals: the full text is one too. */
    return EXO_GIT_DESCRIBE[0] ? EXO_VERSION " (git " EXO_GIT_DESCRIBE ")" : EXO_VERSION;
}

void exo_version_print(FILE *out, const char *program)
{
    fprintf(out, "%s %s\n", program, exo_version_string());
}
