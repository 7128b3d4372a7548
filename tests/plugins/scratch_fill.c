/* Misbehaves: fills its scratch directory with 60 MiB files (each under the
 * per-file limit) until a write fails, and fails with the reason. */
#include <errno.h>
#include <exo/node.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

EXO_NODE("ScratchFillNode", EXO_INPUTS(), EXO_OUTPUTS("written"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    for (int f = 0; f < 6; f++) {
        char name[16];
        snprintf(name, sizeof name, "big%d", f);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return exo_fail(ctx, "cannot create %s: %s", name, strerror(errno));
        for (int mib = 0; mib < 60; mib++)
            if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
                return exo_fail(ctx, "scratch full after %d MiB: %s", f * 60 + mib,
                                strerror(errno));
        close(fd);
    }
    return exo_output(ctx, "written", "360 MiB");
}
