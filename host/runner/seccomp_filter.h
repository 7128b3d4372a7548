/* The seccomp layer of a state's sandbox (and of the plugin probe): an allowlist.
 *
 * Modelled on OpenSSH's sandbox-seccomp-filter.c: the architecture is checked first
 * (libseccomp emits that check; a call through another ABI of the same CPU, i386's
 * `int 0x80` or x32, gets the bad-architecture action), then every system call a
 * node may need is allowed by name, some only with harmless arguments, and
 * everything else traps (SIGSYS).  The handler writes
 * {"kind":"blocked","syscall":NAME} to the result descriptor and exits, so the
 * outcome reads "blocked system call: NAME" (NAME carries "(i386 ABI, int 0x80)" or
 * "(x32 ABI)" for the foreign ABIs).  Notable refusals: io_uring (it would bypass
 * every other rule, including `network = false`), namespaces, ptrace, mount, bpf,
 * keyrings, SysV IPC (shared between states), signals to process groups or to all
 * processes, prlimit/setpriority/sched_setaffinity on other processes; `socket`
 * unless network = true; fork/vfork/execve/setsid and clone of a process (threads
 * stay allowed) unless processes > 0; clone3 answers ENOSYS (its flags are out of
 * seccomp's reach) so that libc falls back to clone. */
#ifndef EXO_HOST_SECCOMP_FILTER_H
#define EXO_HOST_SECCOMP_FILTER_H

#include <stddef.h>

#include "sandbox_conf.h"

/* In the fork server, before any fork: compiles the four filters ([network]
 * [processes > 0]) to BPF and the number -> name tables of the SIGSYS handler, which
 * every state's process inherits.  -1 with err on failure (then built per state). */
int host_seccomp_prepare(char *err, size_t errlen);

/* Installs the SIGSYS handler and loads the filter for sb (after no_new_privs). */
int host_seccomp_apply(const host_sandbox_conf *sb, char *err, size_t errlen);

#endif
