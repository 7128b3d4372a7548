/* Misbehaves (with processes > 0): leaves a grandchild behind in a session of its
 * own (double fork + setsid), named "exo-escapee", and succeeds. */
#include <exo/node.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

EXO_NODE("EscapeSessionNode", EXO_INPUTS(), EXO_OUTPUTS("left"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    pid_t pid = fork();
    if (pid < 0)
        return exo_fail(ctx, "fork failed");
    if (pid == 0) {
        setsid();
        if (fork() == 0) {
            prctl(PR_SET_NAME, "exo-escapee");
            for (;;)
                pause();
        }
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return exo_output(ctx, "left", "a grandchild");
}
