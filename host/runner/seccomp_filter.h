/* The seccomp layer of a state's sandbox (and of the plugin probe): an allowlist.
 *
 * Modelled on OpenSSH's sandbox-seccomp-filter.c: the architecture is checked first
 * (libseccomp emits that check; a call through another ABI of the same CPU, i386's
 * `int 0x80` or x32, gets the bad-architecture action), then every system call a
 * node may need is allowed by name, some only with harmless arguments, and
 * everything else is refused in one of two ways:
 *   - in a state's process, where the kernel allows it, SECCOMP_RET_USER_NOTIF: the
 *     calling thread waits, the fork server (which holds the filter's listener)
 *     reads the call's number and ABI, answers EPERM and kills the state (it is
 *     pid 1 of its PID namespace: the whole tree goes), and the state's exit event
 *     names the call.  This holds in programs the node exec'd too (a filter
 *     survives execve, a signal handler does not);
 *   - elsewhere (the plugin probe; a kernel without user notification, or exo-host
 *     under a supervisor's filter that has a listener: logged once by the fork
 *     server) SECCOMP_RET_TRAP: SIGSYS, whose handler writes
 *     {"kind":"blocked","syscall":NAME} to the result descriptor and exits (an
 *     exec'd program has no handler and dies of SIGSYS, unnamed).
 * Either way the outcome reads "blocked system call: NAME" (NAME carries
 * "(i386 ABI, int 0x80)" or "(x32 ABI)" for the foreign ABIs).  Notable refusals: io_uring (it would bypass
 * every other rule, including `network = false`), namespaces, ptrace, mount, bpf,
 * keyrings, SysV IPC (shared between states), signals to process groups or to all
 * processes, prlimit/setpriority/sched_setaffinity on other processes; `socket`
 * unless network = true; fork/vfork/execve/setsid and clone of a process (threads
 * stay allowed) unless processes > 0; clone3 answers ENOSYS (its flags are out of
 * seccomp's reach) so that libc falls back to clone. */
#ifndef EXO_HOST_SECCOMP_FILTER_H
#define EXO_HOST_SECCOMP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox_conf.h"

/* The longest text host_seccomp_describe writes, with its terminator. */
#define HOST_SECCOMP_NAME_MAX 64

/* In the fork server, before any fork: compiles the four filters ([network]
 * [processes > 0]) to BPF, refusing with SECCOMP_RET_USER_NOTIF when notify (see
 * host_seccomp_notify_usable) and SECCOMP_RET_TRAP otherwise, and fills the number
 * -> name tables, which every state's process inherits.  -1 with err on failure
 * (then trapping filters are built per state). */
int host_seccomp_prepare(bool notify, char *err, size_t errlen);

/* In the fork server at start: whether a state's process may install a filter
 * with a listener here; false with why (for the one log line) when not. */
bool host_seccomp_notify_usable(char *why, size_t whylen);

/* Installs the SIGSYS handler and loads the filter for sb (after no_new_privs).
 * notify_sock: the state's channel to the fork server, or -1 (the probe): with
 * notifying filters prepared, the filter's listener is sent over it; it is closed
 * in every case before this returns. */
int host_seccomp_apply(const host_sandbox_conf *sb, int notify_sock, char *err, size_t errlen);

/* The name of system call nr of audit architecture arch as the outcome shows it:
 * "socket", "getpid (i386 ABI, int 0x80)", "getpid (x32 ABI)", "number 999"; at
 * most len - 1 bytes.  Async-signal-safe (the SIGSYS handler uses it); names come
 * from the tables host_seccomp_prepare or host_seccomp_apply filled. */
void host_seccomp_describe(uint32_t arch, uint64_t nr, char *buf, size_t len);

#endif
