/* The per-state sandbox, applied by the child to itself before it runs the node.
 *
 * Layers, in the order they are applied:
 *   1. cwd = the private scratch directory (created and later removed by the parent),
 *      TMPDIR/HOME point there;
 *   2. when the host runs as root and sandbox.user is set: chown the scratch
 *      directory, drop supplementary groups, setgid, setuid;
 *   3. rlimits: RLIMIT_AS (skipped under AddressSanitizer), RLIMIT_CPU, RLIMIT_NOFILE,
 *      RLIMIT_FSIZE, RLIMIT_CORE = 0, RLIMIT_NPROC when processes > 0 and the user
 *      was dropped;
 *   4. PR_SET_NO_NEW_PRIVS;
 *   5. Landlock (where the kernel has it): writes only below the scratch directory
 *      and to /dev/null; reading stays allowed;
 *   6. seccomp (libseccomp): ptrace, mount, module loading, kexec, bpf, reboot,
 *      namespace escapes and friends trap with SIGSYS; so do socket() unless
 *      network = true, and process creation unless processes > 0.  The SIGSYS
 *      handler writes {"kind":"blocked","syscall":NAME} to the result channel.
 * A SIGSEGV/SIGBUS/SIGABRT that follows a failed allocation (errno == ENOMEM) under
 * a memory limit writes {"kind":"memory"} before the child dies of the signal. */
#ifndef EXO_HOST_SANDBOX_H
#define EXO_HOST_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "sandbox_conf.h"

/* scratch NULL: no writable directory at all (the plugin probe); cwd is then "/". */
int host_sandbox_enter(const host_sandbox_conf *sb, const char *scratch, char *err,
                       size_t errlen);

/* In the fork server, before any fork: compiles the seccomp filters to BPF once
 * (states then load them with one prctl), resolves nothing else.  On failure the
 * filters are built per state. */
int host_sandbox_prepare(char *err, size_t errlen);

/* In the fork server: resolves sandbox.user once so that the children inherit the
 * answer (no-op unless running as root). */
void host_sandbox_warm_user(const char *name);

/* In a state's process right after the fork server created it: the user id this
 * state runs as (from state_uids; its own group id too), instead of sandbox.user. */
void host_sandbox_assign_uid(uid_t uid);

/* Logs once, at start, which layers this kernel/build cannot provide. */
void host_sandbox_log_layers(void);

#endif
