/* Outputs how many processes it can see in /proc, after sleeping for its input
 * "ms" (so that other states run meanwhile). */
#include <ctype.h>
#include <dirent.h>
#include <exo/node.h>
#include <stdlib.h>
#include <time.h>

EXO_NODE("ListProcNode", EXO_INPUTS(EXO_DEFAULT("ms", "0")), EXO_OUTPUTS("visible"),
         EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    long ms = atol(exo_input(ctx, "ms"));
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
    DIR *d = opendir("/proc");
    if (!d)
        return exo_fail(ctx, "cannot list /proc");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += isdigit((unsigned char)e->d_name[0]) != 0;
    closedir(d);
    return exo_outputf(ctx, "visible", "%d", n);
}
