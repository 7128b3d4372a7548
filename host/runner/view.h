/* The file system a state sees (fork server, per host): built once at start in the
 * fork server's own mount namespace, entered by each state with chroot.
 *
 * The view is a read-only tmpfs holding, at their usual paths:
 *   /usr /bin /sbin /lib* /etc   read-only bind mounts (what programs and libraries
 *                                need), except the paths to hide, which are empty;
 *   readable_paths (host.conf)   read-only bind mounts;
 *   the host's scratch directory read-write (each state writes only its own
 *                                directory below it: Landlock, and mode 0700 of a
 *                                directory owned by the state's own user);
 *   /dev/{null,zero,full,random,urandom};
 *   /proc                        a proc of its own with hidepid=invisible: with a
 *                                user per state, no state sees another.
 * Nothing else: no /home, /root, /var, /srv, /run, /tmp (beyond scratch) — so the
 * state dir, the spool, host.conf and any database elsewhere are not readable.
 * chroot needs no mount per state (that is what keeps it cheap); the system calls
 * that could leave it (chroot, mount, pivot_root, unshare, setns) are blocked by
 * seccomp and ptrace of other processes is too.
 *
 * The spec comes from the host as JSON (zygote argv):
 *   {"root": DIR (an empty directory), "scratch": DIR, "hide": [...], "read": [...]} */
#ifndef EXO_HOST_VIEW_H
#define EXO_HOST_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* In the fork server: builds the view from spec.  0, or -1 after logging why
 * (then states see the host's file system, limited by Landlock and permissions). */
int host_view_build(const char *spec);

/* In the plugin probe (probe.c), in its own mount namespace: the same view without
 * the scratch directory (spec without "scratch"): nothing writable.  Quiet: 0, or -1
 * with err (the host logs it). */
int host_view_build_probe(const char *spec, char *err, size_t errlen);

/* In a state's process (and the probe), before the sandbox: chroot into the view
 * (no-op when none was built).  0 or -1 with err. */
int host_view_enter(char *err, size_t errlen);

/* In the fork server, before a state's process is created: its scratch directory
 * (below the view's scratch) becomes a tmpfs of size_mb owned by uid (mode 0700).
 * 1 = mounted, 0 = no view (nothing done), -1 = failed (logged).  Unmounted by
 * host_view_scratch_done when the state has ended: that is its cleanup, whatever
 * it left (300k files, a 2,500-deep tree), and it costs the host's loop nothing. */
int host_view_scratch(const char *scratch, int64_t size_mb, uid_t uid);
void host_view_scratch_done(const char *scratch);

#endif
