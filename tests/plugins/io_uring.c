/* Misbehaves: sets up an io_uring, whose operations (socket, connect, openat, ...)
 * would bypass every per-call rule of the sandbox, `network = false` included. */
#include <exo/node.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

EXO_NODE("IoUringNode", EXO_INPUTS(), EXO_OUTPUTS("ring"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 8, &p);
    if (fd < 0)
        return exo_fail(ctx, "io_uring_setup failed");
    return exo_output(ctx, "ring", "set up");
}
