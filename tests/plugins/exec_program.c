/* Misbehaves through another program (with processes > 0): runs `command` (a path
 * and up to 7 arguments, separated by spaces), either in its own process
 * (mode = "exec": the node's process becomes the program) or in a child it waits
 * for (mode = "spawn"), and succeeds with the program's exit status.  With a
 * program that makes a refused system call, the state must end as
 * "blocked system call: NAME" in both modes: the exec'd program has none of the
 * node's signal handlers, only the seccomp filter it inherited. */
#include <exo/node.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

EXO_NODE("ExecProgramNode", EXO_INPUTS("command", "mode"), EXO_OUTPUTS("status"), EXO_SECRETS());

extern char **environ;

int exo_execute(exo_ctx *ctx)
{
    char command[1024];
    snprintf(command, sizeof command, "%s", exo_input(ctx, "command"));
    char *argv[9];
    int argc = 0;
    for (char *save = NULL, *word = strtok_r(command, " ", &save); word && argc < 8;
         word = strtok_r(NULL, " ", &save))
        argv[argc++] = word;
    argv[argc] = NULL;
    if (argc == 0)
        return exo_fail(ctx, "no command");
    fflush(NULL);
    if (strcmp(exo_input(ctx, "mode"), "exec") == 0) {
        execve(argv[0], argv, environ);
        return exo_fail(ctx, "execve(%s) failed", argv[0]);
    }
    pid_t pid = fork();
    if (pid < 0)
        return exo_fail(ctx, "fork failed");
    if (pid == 0) {
        execve(argv[0], argv, environ);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return exo_fail(ctx, "waitpid failed");
    return exo_outputf(ctx, "status", "%d", status);
}
