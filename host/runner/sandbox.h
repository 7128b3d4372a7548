/* The per-state sandbox, applied by the child to itself before it runs the node.
 *
 * Before the child exists, the fork server put it in its namespaces (isolation.h:
 * PID, network), its cgroup (cgroup.h) and gave it its scratch tmpfs (view.h).
 * Then, in the order they are applied here:
 *   1. chroot into the file system view (view.h), cwd = the private scratch
 *      directory, TMPDIR/HOME point there;
 *   2. when the host runs as root and sandbox.user is set: chown the scratch
 *      directory, drop supplementary groups, setgid, setuid — to the state's own
 *      user id (state_uids, host_sandbox_assign_uid) or else sandbox.user;
 *   3. rlimits: RLIMIT_AS (skipped under AddressSanitizer), RLIMIT_CPU, RLIMIT_NOFILE,
 *      RLIMIT_FSIZE, RLIMIT_CORE = 0, RLIMIT_NPROC (1 + processes + max_threads with
 *      a user of its own; processes + 1 with a shared user and processes > 0);
 *   4. PR_SET_NO_NEW_PRIVS;
 *   5. Landlock (where the kernel has it): writes only below the scratch directory
 *      and to /dev/null;
 *   6. seccomp, an allowlist (seccomp_filter.h): everything else notifies the fork
 *      server (which names the call and ends the state) over the listener sent on
 *      notify_sock, or traps, and the SIGSYS handler writes
 *      {"kind":"blocked","syscall":NAME} to the result channel.
 * A SIGSEGV/SIGBUS/SIGABRT that follows a failed allocation (errno == ENOMEM) under
 * a memory limit writes {"kind":"memory"} before the child dies of the signal; as
 * pid 1 of its PID namespace (which cannot die of a signal it sends itself, such as
 * abort's) the child writes {"kind":"signal","signal":N} and exits instead. */
#ifndef EXO_HOST_SANDBOX_H
#define EXO_HOST_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sandbox_conf.h"

/* scratch NULL: no writable directory at all (the plugin probe); cwd is then "/".
 * notify_sock: the state's channel to the fork server for its seccomp listener
 * (seccomp_filter.h), -1 for none (refusals then trap). */
int host_sandbox_enter(const host_sandbox_conf *sb, const char *scratch, int notify_sock,
                       char *err, size_t errlen);

/* In the fork server, before any fork: compiles the seccomp filters to BPF once
 * (states then load them with one system call), refusing by user notification when
 * notify (host_seccomp_notify_usable), resolves nothing else.  On failure trapping
 * filters are built per state. */
int host_sandbox_prepare(bool notify, char *err, size_t errlen);

/* In the fork server: resolves sandbox.user once so that the children inherit the
 * answer (no-op unless running as root). */
void host_sandbox_warm_user(const char *name);

/* In a state's process right after the fork server created it: the user id this
 * state runs as (from state_uids; its own group id too), instead of sandbox.user. */
void host_sandbox_assign_uid(uid_t uid);

/* In the fork server after host_isolation_enter_userns: states are root of a user
 * namespace (the host's user outside) and stay that user; they drop every
 * capability and become non-dumpable instead of switching users. */
void host_sandbox_set_userns(void);

/* Logs once, at start, which layers this kernel/build cannot provide. */
void host_sandbox_log_layers(void);

#endif
