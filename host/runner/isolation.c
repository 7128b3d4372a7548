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

static void log_no_pid_namespaces(void)
{
    log_warn("sandbox: no PID namespaces here (%s): processes a state starts with "
             "processes > 0 are killed with its process group only, and states can see each "
             "other's pids",
             strerror(errno));
}

/* Whether children can get PID namespaces of their own: one is made for this
 * process's next children and given up again at once (no process is created, so
 * nothing but states is ever a child of the server). */
static bool can_new_pid_namespace(void)
{
    int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own < 0)
        return false;
    bool ok = unshare(CLONE_NEWPID) == 0;
    if (ok && setns(own, CLONE_NEWPID) < 0) {
        /* Not expected (it is this process's own namespace); states would share one. */
        log_error("sandbox: cannot return to the fork server's PID namespace: %s",
                  strerror(errno));
        _exit(6);
    }
    int saved = errno;
    close(own);
    errno = saved;
    return ok;
}

/* in_userns: the host's network namespace belongs to a user namespace above this
 * one, so a state could not setns back into it: no shared namespace. */
static void init_network(host_isolation *iso, bool in_userns)
{
    int fd = in_userns ? -1 : open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
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
    /* Confirmed (or given up, with a log line) at the first state that needs it. */
    iso->per_state_netns = true;
    log_info("sandbox: network namespaces per state (the shared one is not possible here)");
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = exo_write_all(fd, text, strlen(text));
    close(fd);
    return rc < 0 ? -1 : 0;
}

bool host_isolation_enter_userns(bool announce)
{
    if (geteuid() == 0)
        return false;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char map[64];
    if (unshare(CLONE_NEWUSER) < 0) {
        if (announce)
            log_warn("sandbox: not root and no user namespaces here (%s): states run as the "
                 "host's own user without namespaces, view or cgroups",
                 strerror(errno));
        return false;
    }
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    int rc = write_text("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    if (rc < 0 || write_text("/proc/self/setgroups", "deny") < 0 ||
        write_text("/proc/self/gid_map", map) < 0) {
        if (announce)
            log_warn("sandbox: cannot map the host's user into a user namespace: %s",
                 strerror(errno));
        return false;
    }
    if (announce)
        log_info("sandbox: not running as root: states run in a user namespace as the host's "
                 "user (%u), without capabilities",
                 (unsigned)uid);
    return true;
}

bool host_isolation_become_init(int sock)
{
    if (getpid() == 1)
        return true;
    if (unshare(CLONE_NEWPID) < 0)
        return false;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
        return getpid() == 1;
    /* The first process: nothing but a parent that ends with the server. */
    close(sock);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

void host_isolation_init(host_isolation *iso, bool in_userns, bool is_init)
{
    memset(iso, 0, sizeof *iso);
    iso->host_netns_fd = -1;
    /* In a user namespace the probe could not be undone (the server's own PID
     * namespace belongs to the user namespace above): the first state confirms it. */
    iso->pid_ns = is_init && (in_userns || can_new_pid_namespace());
    if (!iso->pid_ns)
        log_no_pid_namespaces();
    init_network(iso, in_userns);
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

pid_t host_isolation_spawn(host_isolation *iso, bool network, int result_fd)
{
    unsigned long flags = 0;
    if (iso->pid_ns)
        flags |= CLONE_NEWPID;
    if (!network && iso->per_state_netns)
        flags |= CLONE_NEWNET;
    pid_t pid = flags ? clone_process(flags) : fork();
    if (pid < 0 && (flags & CLONE_NEWPID) && (errno == EPERM || errno == EINVAL)) {
        log_no_pid_namespaces();
        iso->pid_ns = false;
        return host_isolation_spawn(iso, network, result_fd);
    }
    if (pid < 0 && (flags & CLONE_NEWNET) && (errno == EPERM || errno == EINVAL)) {
        log_warn("sandbox: no network namespaces here (%s): network = false relies on "
                 "seccomp alone",
                 strerror(errno));
        iso->per_state_netns = false;
        return host_isolation_spawn(iso, network, result_fd);
    }
    if (pid == 0 && network && iso->shared_netns)
        rejoin_host_network(iso, result_fd);
    return pid;
}
