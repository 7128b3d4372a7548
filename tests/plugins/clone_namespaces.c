/* Misbehaves (with processes > 0): a child in new user and network namespaces,
 * which unshare() cannot give it. */
#include <exo/node.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

EXO_NODE("CloneNamespacesNode", EXO_INPUTS(), EXO_OUTPUTS("cloned"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    long pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        return exo_fail(ctx, "clone failed");
    waitpid((pid_t)pid, NULL, 0);
    return exo_output(ctx, "cloned", "yes");
}
