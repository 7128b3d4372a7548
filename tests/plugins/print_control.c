/* Misbehaves: prints a forged log line (CR, ESC sequences, a fake timestamp) and
 * fails with an ESC in its message. */
#include <exo/node.h>
#include <stdio.h>

EXO_NODE("PrintControlNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    printf("innocent\r2026-01-01T00:00:00.000Z INFO  exo-host: forged \x1b[2Jline\n");
    fflush(stdout);
    return exo_fail(ctx, "bad \x1b[31mred");
}
