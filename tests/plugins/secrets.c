/* Healthy: reads a secret; reports its length and whether it leaked into the
 * environment or the command line (it must not). */
#include <exo/node.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

EXO_NODE("SecretNode", EXO_INPUTS(), EXO_OUTPUTS("length", "in_environment", "in_cmdline"),
         EXO_SECRETS("token"));

extern char **environ;

static int in_cmdline(const char *token)
{
    char buf[8192];
    int fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, token) != NULL;
}

int exo_execute(exo_ctx *ctx)
{
    const char *token = exo_secret(ctx, "token");
    if (!token)
        return exo_fail(ctx, "no token");
    int in_env = 0;
    for (char **e = environ; *e; e++)
        in_env |= strstr(*e, token) != NULL;
    exo_outputf(ctx, "length", "%zu", strlen(token));
    exo_output(ctx, "in_environment", in_env ? "yes" : "no");
    exo_output(ctx, "in_cmdline", in_cmdline(token) ? "yes" : "no");
    return EXO_OK;
}
