/* Host side of the fork server (see zygote.h). */
#include "zygote.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "fdio.h"
#include "zygote_proto.h"

struct host_zygote {
    pid_t pid;
    int sock;
    uint64_t next_token;
    bool reaped;
    int status; /* valid once reaped */
};

/* The fork server is pid 1 of a PID namespace of its own where the privileges allow
 * (root): when it dies, for whatever reason, the kernel kills every state with it —
 * a state is pid 1 of its own namespace and so immune to the parent-death signal.
 * (Elsewhere the server makes that namespace itself, see runner/isolation.h.)  The
 * raw clone: glibc's fork takes no flags; the child only execs. */
static pid_t fork_server_process(void)
{
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0 && (errno == EPERM || errno == EINVAL))
        pid = fork();
    return pid;
}

host_zygote *host_zygote_start(const char *runner, const char *uids, const char *view,
                               char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return NULL;
    }
    host_zygote *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork_server_process();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        free(z);
        return NULL;
    }
    if (pid == 0) {
        close(sv[0]);
        host_zygote_exec(runner, sv[1], uids, view);
    }
    close(sv[1]);
    z->pid = pid;
    z->sock = sv[0];
    z->next_token = 1;
    return z;
}

int host_zygote_fd(const host_zygote *z)
{
    return z->sock;
}

pid_t host_zygote_pid(const host_zygote *z)
{
    return z->pid;
}

uint64_t host_zygote_spawn(host_zygote *z, const char *user, const host_zygote_limits *limits,
                           int job_fd, int result_fd, int output_fd, int plugin_fd, char *err,
                           size_t errlen)
{
    zy_request req;
    memset(&req, 0, sizeof req);
    req.type = ZY_SPAWN;
    req.flags = limits->network ? ZY_NETWORK : 0;
    req.memory_mb = limits->memory_mb;
    req.tasks = limits->tasks;
    req.scratch_mb = limits->scratch_mb;
    if (limits->scratch && strlen(limits->scratch) < sizeof req.scratch)
        snprintf(req.scratch, sizeof req.scratch, "%s", limits->scratch);
    req.token = z->next_token++;
    snprintf(req.user, sizeof req.user, "%s", user ? user : "");
    int fds[ZY_SPAWN_FDS] = {job_fd, result_fd, output_fd, plugin_fd};
    ssize_t n = exo_send_fds(z->sock, &req, sizeof req, fds, ZY_SPAWN_FDS);
    if (n == (ssize_t)sizeof req)
        return req.token;
    snprintf(err, errlen, "the fork server does not answer: %s", n < 0 ? strerror(errno) : "short write");
    return 0;
}

void host_zygote_kill(host_zygote *z, uint64_t token)
{
    zy_request req;
    memset(&req, 0, sizeof req);
    req.type = ZY_KILL;
    req.token = token;
    /* A server that is gone has taken the process with it: nothing to do. */
    while (send(z->sock, &req, sizeof req, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

int host_zygote_next(host_zygote *z, host_zygote_exit *out)
{
    zy_event ev;
    for (;;) {
        ssize_t n = recv(z->sock, &ev, sizeof ev, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n != (ssize_t)sizeof ev || ev.type != ZY_EXITED)
            return -1; /* EOF, error or garbage: the server cannot be trusted any more */
        out->token = ev.token;
        out->pid = ev.pid;
        out->status = ev.status;
        out->start_errno = ev.start_errno;
        out->memory_exceeded = (ev.limits & ZY_LIMIT_MEMORY) != 0;
        out->ru = ev.ru;
        /* The server's text, terminated here whatever it sent. */
        memcpy(out->blocked, ev.blocked, sizeof out->blocked);
        out->blocked[sizeof out->blocked - 1] = '\0';
        return 1;
    }
}

void host_zygote_reaped(host_zygote *z, int status)
{
    z->reaped = true;
    z->status = status;
}

void host_zygote_await_end(host_zygote *z, int timeout_ms)
{
    struct timespec step = {0, 1000 * 1000};
    for (int waited = 0; !z->reaped && waited <= timeout_ms; waited++) {
        int status;
        pid_t r = waitpid(z->pid, &status, WNOHANG);
        if (r == z->pid)
            host_zygote_reaped(z, status);
        else if (r < 0 && errno != EINTR)
            return;
        else
            nanosleep(&step, NULL);
    }
}

void host_zygote_describe_end(const host_zygote *z, char *buf, size_t len)
{
    if (!z->reaped)
        snprintf(buf, len, "closed its socket");
    else if (WIFSIGNALED(z->status))
        snprintf(buf, len, "killed by SIG%s",
                 sigabbrev_np(WTERMSIG(z->status)) ? sigabbrev_np(WTERMSIG(z->status)) : "?");
    else
        snprintf(buf, len, "exit status %d", WEXITSTATUS(z->status));
}

void host_zygote_free(host_zygote *z)
{
    if (!z)
        return;
    close(z->sock);
    if (!z->reaped) {
        kill(z->pid, SIGKILL);
        while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    free(z);
}
