/* Misbehaves: prints 100 MiB to stdout. */
#include <exo/node.h>
#include <string.h>
#include <unistd.h>

EXO_NODE("PrintFloodNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    static char line[65536];
    memset(line, 'x', sizeof line);
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < 1600; i++)
        if (write(STDOUT_FILENO, line, sizeof line) < 0)
            break;
    return EXO_OK;
}
