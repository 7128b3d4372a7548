/* Misbehaves: writes 720 MiB into a memfd (memory RLIMIT_AS does not count). */
#include <exo/node.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

EXO_NODE("MemfdHogNode", EXO_INPUTS(), EXO_OUTPUTS("written"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    int fd = memfd_create("hog", 0);
    if (fd < 0)
        return exo_fail(ctx, "memfd_create failed");
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 720; i++)
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
            return exo_fail(ctx, "write failed after %d MiB", i);
    return exo_output(ctx, "written", "720 MiB");
}
