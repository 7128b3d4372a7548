/* Namespaces the fork server gives every state's process (zygote_server.c).
 *
 *   PID namespace, one per state: the state's process is pid 1 of it, so whatever
 *     it starts dies with it (the kernel kills the namespace), however it detaches
 *     (setsid, double fork), and it can neither see nor signal any other state by pid.
 *   Network namespace without interfaces for `network = false`: the fork server
 *     moves itself into one empty namespace at start (it talks to the host over an
 *     inherited socket pair) and its states inherit it at no cost per state; a state
 *     with `network = true` rejoins the host's namespace (setns).  Where the server
 *     may not setns back (no privilege), each network-less state gets a fresh empty
 *     namespace of its own instead (clone flag; costs more, see host/README.md).
 *
 * What this kernel or these privileges do not allow is logged once at start (one
 * line per missing piece) and left out; the other layers stay. */
#ifndef EXO_HOST_ISOLATION_H
#define EXO_HOST_ISOLATION_H

#include <stdbool.h>
#include <sys/types.h>

/* In the fork server, first thing, when it does not run as root: moves it into a new
 * user namespace in which the host's user is root (unprivileged user namespaces), so
 * that the namespaces, the view and the scratch tmpfs below work there too.  States
 * then run as that (mapped) root without any capability (host_sandbox_set_userns).
 * true when it did; false (logged when announce) when the kernel does not allow it.
 * The plugin probe uses it too, quietly (announce false), for its view. */
bool host_isolation_enter_userns(bool announce);

/* In the fork server: makes sure it is pid 1 of a PID namespace (the host started it
 * so where it could; otherwise it forks into a new one and its first process only
 * waits for it), so that its death kills every state.  false (logged) when neither
 * is possible: states then get no PID namespace of their own (they could outlive the
 * server).  sock: the host's socket, closed in the waiting process. */
bool host_isolation_become_init(int sock);

typedef struct host_isolation {
    bool pid_ns;         /* CLONE_NEWPID per state */
    bool shared_netns;   /* the server is in an empty network namespace */
    bool per_state_netns; /* CLONE_NEWNET per network-less state */
    int host_netns_fd;   /* the host's network namespace (shared_netns), else -1 */
} host_isolation;

/* In the fork server at start: finds out what is possible, logs what is not
 * (in_userns: after host_isolation_enter_userns; is_init: host_isolation_become_init). */
void host_isolation_init(host_isolation *iso, bool in_userns, bool is_init);

/* fork() with the state's namespaces: 0 in the child (which is then in them and,
 * for network, back in the host's network namespace), the pid in the server, -1
 * with errno.  result_fd: where the child writes an error result when it cannot
 * rejoin the host's network. */
pid_t host_isolation_spawn(host_isolation *iso, bool network, int result_fd);

#endif
