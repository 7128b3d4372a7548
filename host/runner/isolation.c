/* Per-state namespaces (isolation.h). */
#include "isolation.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"

/* fork() with extra clone flags.  The raw system call: glibc's fork() takes no
 * flags.  With a NULL stack the child continues on a copy of this one, as after
 * fork().  The server is single-threaded and holds no lock here, which is what
 * makes skipping glibc's fork handlers safe. */
static pid_t clone_process(unsigned long flags)
{
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* Whether a child can be created with flags here (tried once at start). */
static bool can_clone(unsigned long flags)
{
    pid_t pid = clone_process(flags);
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        return false;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void init_network(host_isolation *iso)
{
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && unshare(CLONE_NEWNET) == 0) {
        if (setns(fd, CLONE_NEWNET) == 0 && unshare(CLONE_NEWNET) == 0) {
            iso->shared_netns = true; /* and setns back works: network states can rejoin */
            iso->host_netns_fd = fd;
            return;
        }
        /* In a namespace that cannot be left again: go back if possible. */
        if (setns(fd, CLONE_NEWNET) < 0)
            log_warn("sandbox: the fork server is stuck in an empty network namespace: %s",
                     strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    iso->per_state_netns = can_clone(CLONE_NEWNET);
    if (!iso->per_state_netns)
        log_warn("sandbox: no network namespaces here (%s): network = false relies on "
                 "seccomp alone",
                 strerror(errno));
    else
        log_info("sandbox: network namespaces per state (the shared one is not possible "
                 "here)");
}

void host_isolation_init(host_isolation *iso)
{
    memset(iso, 0, sizeof *iso);
    iso->host_netns_fd = -1;
    iso->pid_ns = can_clone(CLONE_NEWPID);
    if (!iso->pid_ns)
        log_warn("sandbox: no PID namespaces here (%s): processes a state starts with "
                 "processes > 0 are killed with its process group only, and states can see "
                 "each other's pids",
                 strerror(errno));
    init_network(iso);
}

/* In the child: back into the host's network (network = true). */
static void rejoin_host_network(const host_isolation *iso, int result_fd)
{
    if (setns(iso->host_netns_fd, CLONE_NEWNET) == 0)
        return;
    char msg[300];
    int n = snprintf(msg, sizeof msg,
                     "{\"kind\":\"error\",\"error\":\"sandbox setup failed: cannot rejoin the "
                     "host's network namespace: %s\"}",
                     strerror(errno));
    if (n > 0)
        (void)exo_write_all(result_fd, msg, (size_t)n);
    _exit(121);
}

pid_t host_isolation_spawn(const host_isolation *iso, bool network, int result_fd)
{
    unsigned long flags = 0;
    if (iso->pid_ns)
        flags |= CLONE_NEWPID;
    if (!network && iso->per_state_netns)
        flags |= CLONE_NEWNET;
    pid_t pid = flags ? clone_process(flags) : fork();
    if (pid == 0 && network && iso->shared_netns)
        rejoin_host_network(iso, result_fd);
    return pid;
}
