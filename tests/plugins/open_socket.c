/* Misbehaves (unless the sandbox allows network): opens a TCP socket. */
#include <exo/node.h>
#include <sys/socket.h>
#include <unistd.h>

EXO_NODE("SocketNode", EXO_INPUTS(), EXO_OUTPUTS("socket"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return exo_fail(ctx, "socket() failed");
    close(fd);
    return exo_output(ctx, "socket", "opened");
}
