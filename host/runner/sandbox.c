#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "child.h"
#include "log.h"
#include "seccomp_filter.h"
#include "view.h"

#if defined(__SANITIZE_ADDRESS__)
#define HOST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_UNDER_ASAN 1
#endif
#endif
#ifndef HOST_UNDER_ASAN
#define HOST_UNDER_ASAN 0
#endif

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* kernel ABI 3; older uapi headers lack it */
#endif

/* Whether the memory-exhaustion crash handler may report "memory" (limit applied).
 * Static: read by a signal handler. */
static volatile sig_atomic_t memory_limited;

static void write_fd_str(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void on_crash(int sig)
{
    int saved = errno;
    /* As pid 1 of its PID namespace the process ignores signals it sends itself
     * (abort's SIGABRT): it says which one it got instead, and exits. */
    bool init = getpid() == 1;
    if (memory_limited && saved == ENOMEM) {
        write_fd_str(HOST_RESULT_FD, "{\"kind\":\"memory\"}");
    } else if (init) {
        char digits[3] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), '\0'};
        write_fd_str(HOST_RESULT_FD, "{\"kind\":\"signal\",\"signal\":");
        write_fd_str(HOST_RESULT_FD, digits[0] == '0' ? digits + 1 : digits);
        write_fd_str(HOST_RESULT_FD, "}");
    }
    if (init)
        _exit(128 + sig);
    raise(sig); /* SA_RESETHAND restored the default action: die of the signal */
}

static int set_limit(int resource, rlim_t soft, rlim_t hard, const char *name, char *err,
                     size_t errlen)
{
    struct rlimit rl = {soft, hard};
    if (setrlimit(resource, &rl) < 0) {
        snprintf(err, errlen, "setrlimit(%s): %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Users already resolved in this process (an NSS lookup costs ~0.1 ms); filled in
 * the fork server so that every state's process inherits it (static: the runner
 * process has no host context; fork is how it reaches the states). */
static struct {
    char name[64];
    uid_t uid;
    gid_t gid;
    bool found;
} users[8];
static size_t n_users;

static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    for (size_t i = 0; i < n_users; i++)
        if (strcmp(users[i].name, name) == 0) {
            *uid = users[i].uid;
            *gid = users[i].gid;
            return users[i].found ? 0 : -1;
        }
    struct passwd pw, *found = NULL;
    char buf[4096];
    bool ok = getpwnam_r(name, &pw, buf, sizeof buf, &found) == 0 && found;
    if (n_users < sizeof users / sizeof users[0]) {
        snprintf(users[n_users].name, sizeof users[n_users].name, "%s", name);
        users[n_users].uid = ok ? pw.pw_uid : 0;
        users[n_users].gid = ok ? pw.pw_gid : 0;
        users[n_users].found = ok;
        n_users++;
    }
    if (!ok)
        return -1;
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

void host_sandbox_warm_user(const char *name)
{
    uid_t uid;
    gid_t gid;
    if (geteuid() == 0 && name && name[0])
        (void)lookup_user(name, &uid, &gid); /* only the cache entry is wanted */
}

/* The state's own user id (host_sandbox_assign_uid); 0 = none.  Static: set once
 * in the state's process right after the fork, read when it enters the sandbox. */
static uid_t assigned_uid;

void host_sandbox_assign_uid(uid_t uid)
{
    assigned_uid = uid;
}

/* Whether this process runs in the fork server's user namespace (see sandbox.h).
 * Static: set once in the fork server, inherited by every state's process. */
static bool in_userns;

void host_sandbox_set_userns(void)
{
    in_userns = true;
}

/* Root of the user namespace, but with no capability left in it (nor any to regain:
 * no_new_privs follows). */
static int drop_capabilities(char *err, size_t errlen)
{
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
    memset(none, 0, sizeof none);
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
            snprintf(err, errlen, "PR_CAPBSET_DROP: %s", strerror(errno));
            return -1;
        }
    if (syscall(SYS_capset, &head, none) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0) {
        snprintf(err, errlen, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int drop_user(const host_sandbox_conf *sb, const char *scratch, bool *dropped, char *err,
                     size_t errlen)
{
    *dropped = false;
    if (in_userns)
        return drop_capabilities(err, errlen);
    if (geteuid() != 0 || !sb->user[0])
        return 0;
    uid_t uid = assigned_uid;
    gid_t gid = (gid_t)assigned_uid;
    if (!assigned_uid && lookup_user(sb->user, &uid, &gid) < 0) {
        snprintf(err, errlen, "user '%s' does not exist", sb->user);
        return -1;
    }
    pid_t parent = getppid();
    if ((scratch && chown(scratch, uid, gid) < 0) || setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
        setuid(uid) < 0) {
        snprintf(err, errlen, "cannot switch to user '%s': %s", sb->user, strerror(errno));
        return -1;
    }
    /* A change of credentials clears the parent-death signal: set it again (and
     * make sure the parent did not die in between). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) {
        snprintf(err, errlen, "PR_SET_PDEATHSIG after the user switch failed");
        return -1;
    }
    *dropped = true;
    return 0;
}

static int apply_limits(const host_sandbox_conf *sb, bool dropped, char *err, size_t errlen)
{
    const rlim_t mib = 1024 * 1024;
    if (set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE", err, errlen) < 0 ||
        set_limit(RLIMIT_NOFILE, (rlim_t)sb->open_files, (rlim_t)sb->open_files, "RLIMIT_NOFILE",
                  err, errlen) < 0)
        return -1;
    if (sb->file_size_mb > 0 &&
        set_limit(RLIMIT_FSIZE, (rlim_t)sb->file_size_mb * mib, (rlim_t)sb->file_size_mb * mib,
                  "RLIMIT_FSIZE", err, errlen) < 0)
        return -1;
    if (sb->cpu_seconds > 0 &&
        set_limit(RLIMIT_CPU, (rlim_t)sb->cpu_seconds, (rlim_t)sb->cpu_seconds + 1, "RLIMIT_CPU",
                  err, errlen) < 0)
        return -1;
    if (sb->memory_mb > 0 && !HOST_UNDER_ASAN) {
        if (set_limit(RLIMIT_AS, (rlim_t)sb->memory_mb * mib, (rlim_t)sb->memory_mb * mib,
                      "RLIMIT_AS", err, errlen) < 0)
            return -1;
        memory_limited = 1;
    }
    /* RLIMIT_NPROC counts the tasks (processes and threads) of the real user: with a
     * user of its own the state's count is exact; with a shared sandbox.user it can
     * only bound processes (threads of other states would count too). */
    rlim_t tasks = assigned_uid ? (rlim_t)(1 + sb->processes + sb->max_threads)
                                : (rlim_t)(sb->processes + 1);
    if ((assigned_uid || sb->processes > 0) && dropped &&
        set_limit(RLIMIT_NPROC, tasks, tasks, "RLIMIT_NPROC", err, errlen) < 0)
        return -1;
    return 0;
}

/* The kernel's Landlock ABI, -1 until asked.  Static: asked once in the fork server
 * (host_sandbox_prepare), so that every state's process inherits the answer
 * instead of asking again (a system call per state); the kernel's does not change. */
static int known_landlock_abi = -1;

static int landlock_abi(void)
{
    if (known_landlock_abi >= 0)
        return known_landlock_abi;
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

static uint64_t landlock_write_rights(int abi)
{
    uint64_t rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                      LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                      LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2)
        rights |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
    return rights;
}

static int landlock_allow(int ruleset, const char *path, uint64_t rights)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct landlock_path_beneath_attr attr = {.allowed_access = rights, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
    close(fd);
    return rc < 0 ? -1 : 0;
}

/* Writes are allowed below the scratch directory and to /dev/null only.  The ruleset
 * is built before the user is dropped (the new user may not be able to reach the
 * scratch directory by its absolute path) and enforced after PR_SET_NO_NEW_PRIVS.
 * Returns the ruleset fd, -2 when Landlock is unavailable, -1 on error. */
static int landlock_prepare(const char *scratch, char *err, size_t errlen)
{
    int abi = landlock_abi();
    if (abi <= 0)
        return -2; /* logged once at start by host_sandbox_log_layers */
    uint64_t rights = landlock_write_rights(abi);
    struct landlock_ruleset_attr attr = {.handled_access_fs = rights};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    uint64_t file_rights = LANDLOCK_ACCESS_FS_WRITE_FILE |
                           (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0);
    if ((scratch && landlock_allow(ruleset, scratch, rights) < 0) ||
        landlock_allow(ruleset, "/dev/null", file_rights) < 0) {
        snprintf(err, errlen, "landlock_add_rule: %s", strerror(errno));
        close(ruleset);
        return -1;
    }
    return ruleset;
}

static int landlock_enforce(int ruleset, char *err, size_t errlen)
{
    if (ruleset == -2)
        return 0;
    long rc = syscall(SYS_landlock_restrict_self, ruleset, 0);
    close(ruleset);
    if (rc < 0) {
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int host_sandbox_prepare(bool notify, char *err, size_t errlen)
{
    known_landlock_abi = landlock_abi();
    return host_seccomp_prepare(notify, err, errlen);
}

static int install_crash_handlers(char *err, size_t errlen)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
    if (HOST_UNDER_ASAN) {
        /* ASan's handlers would turn a plugin's crash into "exit status 1"; the
         * outcome must name the signal as in a normal build.  (A fault kills pid 1
         * of a PID namespace as any process; abort's own SIGABRT needs the handler.) */
        const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        if (sigaction(SIGABRT, &sa, NULL) < 0) {
            snprintf(err, errlen, "sigaction: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    /* Static: the crash handler's stack must outlive this call (one per child process). */
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) < 0) {
        snprintf(err, errlen, "sigaltstack: %s", strerror(errno));
        return -1;
    }
    const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0) {
            snprintf(err, errlen, "sigaction: %s", strerror(errno));
            return -1;
        }
    return 0;
}

/* Every way out of here closes notify_sock: host_seccomp_apply does, and the early
 * returns end the process (fail_setup), which does too. */
int host_sandbox_enter(const host_sandbox_conf *sb, const char *scratch, int notify_sock,
                       char *err, size_t errlen)
{
    const char *dir = scratch ? scratch : "/";
    if (host_view_enter(err, errlen) < 0) /* the probe's view has no scratch */
        return -1;
    if (chdir(dir) < 0) {
        snprintf(err, errlen, "chdir(%s): %s", dir, strerror(errno));
        return -1;
    }
    if (setenv("TMPDIR", dir, 1) < 0 || setenv("HOME", dir, 1) < 0) {
        snprintf(err, errlen, "setenv: %s", strerror(errno));
        return -1;
    }
    int ruleset = landlock_prepare(scratch, err, errlen);
    if (ruleset == -1)
        return -1;
    bool dropped = false;
    if (drop_user(sb, scratch, &dropped, err, errlen) < 0 ||
        apply_limits(sb, dropped, err, errlen) < 0 || install_crash_handlers(err, errlen) < 0)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    if (landlock_enforce(ruleset, err, errlen) < 0)
        return -1;
    return host_seccomp_apply(sb, notify_sock, err, errlen);
}

void host_sandbox_log_layers(void)
{
    int abi = landlock_abi();
    if (abi <= 0)
        log_warn("sandbox: Landlock is not available on this kernel; writes outside the "
                 "scratch directory are limited only by file permissions");
    else
        log_debug("sandbox: Landlock ABI %d: writes confined to the scratch directory", abi);
    if (HOST_UNDER_ASAN)
        log_warn("sandbox: built with AddressSanitizer: RLIMIT_AS (memory_mb) is not applied");
    if (geteuid() != 0)
        log_info("sandbox: not running as root: states run as the host's own user");
}
