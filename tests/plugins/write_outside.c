/* Misbehaves: writes a file at the path it is given (outside its scratch dir). */
#include <errno.h>
#include <exo/node.h>
#include <stdio.h>
#include <string.h>

EXO_NODE("WriteOutsideNode", EXO_INPUTS("path"), EXO_OUTPUTS("written"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    const char *path = exo_input(ctx, "path");
    FILE *f = fopen(path, "w");
    if (!f)
        return exo_fail(ctx, "cannot write %s: %s", path, strerror(errno));
    fputs("escaped the sandbox\n", f);
    fclose(f);
    return exo_output(ctx, "written", path);
}
