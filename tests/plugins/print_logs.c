/* Healthy: prints to stdout and stderr and through exo_log, then succeeds or fails
 * by its "mode" input: "ok", "fail", or "flood" (10 MiB of numbered lines, then
 * "flood done" and success). */
#include <exo/node.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

EXO_NODE("PrintLogsNode", EXO_INPUTS(EXO_DEFAULT("mode", "ok")), EXO_OUTPUTS("done"), EXO_SECRETS());

static int flood(void)
{
    char line[128];
    size_t total = 0;
    for (unsigned i = 0; total < 10u * 1024 * 1024; i++) {
        int n = snprintf(line, sizeof line, "flood line %08u %s\n", i,
                         "................................................................");
        if (n < 0 || write(STDOUT_FILENO, line, (size_t)n) != n)
            return -1;
        total += (size_t)n;
    }
    return 0;
}

int exo_execute(exo_ctx *ctx)
{
    const char *mode = exo_input(ctx, "mode");
    printf("to stdout: caf\xc3\xa9 \xff\n");
    fflush(stdout);
    fprintf(stderr, "to stderr: \x1b[31mred\n");
    exo_log(ctx, "through exo_log: mode %s", mode);
    if (strcmp(mode, "fail") == 0)
        return exo_fail(ctx, "failed on purpose after printing");
    if (strcmp(mode, "flood") == 0) {
        if (flood() < 0)
            return exo_fail(ctx, "write failed");
        printf("flood done\n");
        fflush(stdout);
    }
    return exo_output(ctx, "done", "yes");
}
