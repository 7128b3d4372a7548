/* Reads the file named by its input "path" and outputs its first bytes, or fails
 * with the reason (to check what a state can see). */
#include <errno.h>
#include <exo/node.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

EXO_NODE("ReadFileNode", EXO_INPUTS("path"), EXO_OUTPUTS("content"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    const char *path = exo_input(ctx, "path");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return exo_fail(ctx, "cannot open %s: %s", path, strerror(errno));
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return exo_fail(ctx, "cannot read %s: %s", path, strerror(errno));
    buf[n] = '\0';
    return exo_output(ctx, "content", buf);
}
