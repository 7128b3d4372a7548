/* The seccomp allowlist of the sandbox (seccomp_filter.h). */
#include "seccomp_filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "fdio.h"
#include "strfmt.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

/* What any node, libc and the dynamic loader need. */
static const char *const allowed[] = {
    /* descriptors and files */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl", "open",
    "openat", "openat2", "creat", "stat", "fstat", "lstat", "newfstatat", "statx", "access",
    "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd",
    "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
    "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
    "fchown", "lchown", "fchownat", "umask", "truncate", "ftruncate", "fsync", "fdatasync",
    "sync_file_range", "fallocate", "fadvise64", "flock", "statfs", "fstatfs", "utime", "utimes",
    "utimensat", "futimesat", "copy_file_range", "sendfile", "splice", "tee", "vmsplice",
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "memfd_create",
    "pipe", "pipe2", "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    /* memory */
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "msync", "mlock",
    "munlock", "mlock2", "membarrier",
    /* signals (kill is below: not to groups) */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "tgkill", "tkill", "pause", "alarm", "getitimer",
    "setitimer", "signalfd", "signalfd4", "restart_syscall",
    /* time */
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "times", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    /* about itself */
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "getrusage", "getrlimit",
    "setrlimit", "getpriority", "sched_yield", "sched_getaffinity", "sched_getparam",
    "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_getattr", "uname", "sysinfo", "getcpu", "getrandom",
    "capget", "prctl", "arch_prctl", "set_tid_address", "set_robust_list", "get_robust_list",
    "rseq", "futex", "futex_waitv", "exit", "exit_group", "wait4", "waitid",
    /* sockets that exist already (socketpair only makes unix pairs) */
    "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockname", "getpeername",
    "getsockopt", "setsockopt", NULL};

/* Process creation and leaving the state's session: only with processes > 0. */
static const char *const process_calls[] = {"fork", "vfork", "execve", "execveat", "setsid",
                                            "setpgid", NULL};

/* Number -> name for the SIGSYS handler, filled before the filter is loaded (a
 * signal handler can only read prepared data).  Static: written once (in the fork
 * server, or in the state's process before its filter), then read-only; the strings
 * live as long as the process. */
#define NAME_TABLE 1024
static const char *native_names[NAME_TABLE];
static const char *i386_names[NAME_TABLE];
static bool names_ready;

static void fill_names(void)
{
    if (names_ready)
        return;
    for (int nr = 0; nr < NAME_TABLE; nr++) {
        native_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
#if defined(__x86_64__)
        i386_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86, nr);
#endif
    }
    names_ready = true;
}

static void put(const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(HOST_RESULT_FD, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static const char *table_name(const char *const *table, unsigned long nr)
{
    return nr < NAME_TABLE ? table[nr] : NULL;
}

/* Appends s to buf (of len bytes, pos used), always terminated; async-signal-safe. */
static size_t append(char *buf, size_t len, size_t pos, const char *s)
{
    while (*s && pos + 1 < len)
        buf[pos++] = *s++;
    if (len > 0)
        buf[pos < len ? pos : len - 1] = '\0';
    return pos;
}

static size_t append_number(char *buf, size_t len, size_t pos, unsigned long v)
{
    char digits[24];
    size_t i = sizeof digits;
    digits[--i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    return append(buf, len, pos, digits + i);
}

void host_seccomp_describe(uint32_t arch, uint64_t nr_raw, char *buf, size_t len)
{
    unsigned long nr = (unsigned long)(uint32_t)nr_raw;
    const char *name, *abi = "";
    if (arch != seccomp_arch_native() && arch == AUDIT_ARCH_I386) {
        name = table_name(i386_names, nr);
        abi = " (i386 ABI, int 0x80)";
    } else if (arch != seccomp_arch_native()) {
        name = NULL;
        abi = " (foreign ABI)";
    } else if (nr & __X32_SYSCALL_BIT) {
        name = table_name(native_names, nr & ~(unsigned long)__X32_SYSCALL_BIT);
        abi = " (x32 ABI)";
    } else {
        name = table_name(native_names, nr);
    }
    size_t pos = 0;
    if (len > 0)
        buf[0] = '\0';
    if (name) {
        pos = append(buf, len, pos, name);
    } else {
        pos = append(buf, len, pos, "number ");
        pos = append_number(buf, len, pos, nr);
    }
    (void)append(buf, len, pos, abi);
}

/* Whether a thread of this process is writing the blocked result already.  Static:
 * shared by the handler's invocations in every thread (one result, then exit). */
static int sigsys_taken;

static void on_sigsys(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    /* Several threads refused at once: the first writes the one result and ends the
     * process; the others wait for that (an _exit of theirs could cut it short). */
    if (__atomic_exchange_n(&sigsys_taken, 1, __ATOMIC_SEQ_CST))
        for (;;)
            pause();
    char name[HOST_SECCOMP_NAME_MAX];
    host_seccomp_describe((uint32_t)info->si_arch, (uint64_t)(unsigned)info->si_syscall, name,
                          sizeof name);
    put("{\"kind\":\"blocked\",\"syscall\":\"");
    put(name);
    put("\"}");
    _exit(0);
}

static int allow(scmp_filter_ctx f, const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* not a system call on this architecture */
    return seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
}

/* One comparison of the low 32 bits of argument arg (pids are ints): what
 * SCMP_A0_32 means, written out (its expansion leaves a field to the compiler). */
static struct scmp_arg_cmp arg32(unsigned arg, enum scmp_compare op, uint32_t value)
{
    struct scmp_arg_cmp c = {.arg = arg, .op = op, .datum_a = value, .datum_b = 0};
    return c;
}

/* Calls that may name another process: allowed only for itself (pid/who 0), or
 * for kill a positive pid (never a process group, never -1 = everyone). */
static int add_self_only_rules(scmp_filter_ctx f)
{
    int rc = 0;
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                           arg32(0, SCMP_CMP_LT, 0x80000000u));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, arg32(0, SCMP_CMP_EQ, 0));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(setpriority), 1,
                           arg32(1, SCMP_CMP_EQ, 0));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sched_setaffinity), 1,
                           arg32(0, SCMP_CMP_EQ, 0));
    return rc;
}

/* clone flags that create namespaces: never allowed (unshare and setns are not
 * either).  CLONE_NEWTIME is left out: in clone's flags that bit is part of the
 * exit signal (it is clone3-only). */
#define NAMESPACE_FLAGS                                                                      \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
     CLONE_NEWNET)

static int add_process_rules(scmp_filter_ctx f, bool processes)
{
    int rc = 0;
    if (processes) {
        rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0));
        for (const char *const *s = process_calls; *s; s++)
            rc |= allow(f, *s);
    } else {
        /* Threads (CLONE_THREAD) only; a new process traps. */
        rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | NAMESPACE_FLAGS,
                                       CLONE_THREAD));
    }
    int clone3 = seccomp_syscall_resolve_name("clone3");
    if (clone3 != __NR_SCMP_ERROR)
        rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
    return rc;
}

/* notify: refused calls go to the fork server (SECCOMP_RET_USER_NOTIF), else trap. */
static scmp_filter_ctx build_filter(bool network, bool processes, bool notify, char *err,
                                    size_t errlen)
{
    uint32_t refused = notify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRAP;
    scmp_filter_ctx f = seccomp_init(refused);
    if (!f) {
        exo_errf(err, errlen, "seccomp_init failed");
        return NULL;
    }
    /* Another ABI of this CPU (int 0x80, x32) is refused the same way, and named. */
    int rc = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, refused);
    /* A binary tree instead of a linear chain of comparisons: the kernel evaluates
     * the filter for every system call number when it is attached (its action
     * cache), and at every call. */
    rc |= seccomp_attr_set(f, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (const char *const *s = allowed; *s; s++)
        rc |= allow(f, *s);
    rc |= add_self_only_rules(f);
    rc |= add_process_rules(f, processes);
    if (network)
        rc |= allow(f, "socket");
    if (rc != 0) {
        seccomp_release(f);
        exo_errf(err, errlen, "seccomp_rule_add failed");
        return NULL;
    }
    return f;
}

/* The filters compiled to BPF once, in the fork server, before any state's process
 * is forked (libseccomp's compilation costs more than the rest of the sandbox):
 * [network][processes > 0], and whether their refusals notify (prepared_notify).
 * Written once by host_seccomp_prepare, then read-only.  Static: the runner process
 * has no host context; fork hands it to every state. */
static struct sock_fprog prepared[2][2];
static bool prepared_notify;

/* Compiles f into memory (libseccomp exports only to a descriptor). */
static int export_bpf(scmp_filter_ctx f, struct sock_fprog *out, char *err, size_t errlen)
{
    int fd = memfd_create("exo-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return exo_errf(err, errlen, "memfd_create: %s", strerror(errno));
    int rc = seccomp_export_bpf(f, fd);
    off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    struct sock_filter *prog = size > 0 ? malloc((size_t)size) : NULL;
    if (rc != 0 || size <= 0 || size % (off_t)sizeof *prog != 0 || !prog ||
        pread(fd, prog, (size_t)size, 0) != (ssize_t)size) {
        free(prog);
        close(fd);
        return exo_errf(err, errlen, "seccomp_export_bpf failed");
    }
    close(fd);
    out->filter = prog;
    out->len = (unsigned short)((size_t)size / sizeof *prog);
    return 0;
}

int host_seccomp_prepare(bool notify, char *err, size_t errlen)
{
    fill_names();
    for (int net = 0; net < 2; net++)
        for (int procs = 0; procs < 2; procs++) {
            scmp_filter_ctx f = build_filter(net, procs, notify, err, errlen);
            if (!f)
                return -1;
            int rc = export_bpf(f, &prepared[net][procs], err, errlen);
            seccomp_release(f);
            if (rc < 0)
                return -1;
        }
    prepared_notify = notify;
    return 0;
}

static long seccomp_call(unsigned op, unsigned flags, const void *args)
{
    return syscall(SYS_seccomp, op, flags, args);
}

/* A child that installs an allow-all filter with a listener, as a state's process
 * will: the kernel may lack user notification (before 5.0: EINVAL), or exo-host may
 * run under a supervisor's filter that has a listener already (EBUSY). */
bool host_seccomp_notify_usable(char *why, size_t whylen)
{
    if (seccomp_api_get() < 5) {
        exo_errf(why, whylen, "libseccomp reports API level %u (5 needed)", seccomp_api_get());
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        exo_errf(why, whylen, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {.len = 1, .filter = &allow};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(errno & 0x7f);
        _exit(seccomp_call(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog) < 0
                  ? errno & 0x7f
                  : 0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            exo_errf(why, whylen, "waitpid: %s", strerror(errno));
            return false;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFEXITED(status))
        exo_errf(why, whylen, "a filter with a listener is refused: %s",
                 strerror(WEXITSTATUS(status)));
    else
        exo_errf(why, whylen, "the test process died of signal %d", WTERMSIG(status));
    return false;
}

/* Sends the listener to the fork server over sock (SCM_RIGHTS, one byte). */
static int send_listener(int sock, int listener)
{
    return exo_send_fds(sock, "n", 1, &listener, 1) == 1 ? 0 : -1;
}

/* Loads the prepared notifying filter and hands its listener to the fork server.
 * Both descriptors are closed before the plugin is loaded: no node code ever holds a
 * listener (with one it could answer its own refused calls, or another state's). */
static int load_notifying(const struct sock_fprog *prog, int notify_sock, char *err,
                          size_t errlen)
{
    long listener = seccomp_call(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
    if (listener < 0) {
        int saved = errno;
        close(notify_sock);
        return exo_errf(err, errlen, "seccomp with a listener: %s", strerror(saved));
    }
    int sent = send_listener(notify_sock, (int)listener);
    int saved = errno;
    close((int)listener);
    close(notify_sock);
    if (sent < 0)
        return exo_errf(err, errlen, "cannot hand the seccomp listener to the fork server: %s",
                        strerror(saved));
    return 0;
}

static int load_filter(const host_sandbox_conf *sb, int notify_sock, char *err, size_t errlen)
{
    const struct sock_fprog *prog = &prepared[sb->network ? 1 : 0][sb->processes > 0 ? 1 : 0];
    if (prog->filter && prepared_notify && notify_sock >= 0)
        return load_notifying(prog, notify_sock, err, errlen);
    if (notify_sock >= 0)
        close(notify_sock); /* the fork server reads EOF: refusals trap in this state */
    if (prog->filter && !prepared_notify) {
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
            return exo_errf(err, errlen, "seccomp: %s", strerror(errno));
        return 0;
    }
    scmp_filter_ctx f = build_filter(sb->network, sb->processes > 0, false, err, errlen);
    if (!f)
        return -1;
    int rc = seccomp_load(f);
    seccomp_release(f);
    if (rc != 0)
        return exo_errf(err, errlen, "seccomp_load: %s", strerror(-rc));
    return 0;
}

int host_seccomp_apply(const host_sandbox_conf *sb, int notify_sock, char *err, size_t errlen)
{
    fill_names();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        if (notify_sock >= 0)
            close(notify_sock);
        return exo_errf(err, errlen, "sigaction(SIGSYS): %s", strerror(errno));
    }
    return load_filter(sb, notify_sock, err, errlen);
}
