/* Per-state cgroups (cgroup.h). */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* snprintf that says whether all of it fit (paths here are bounded, but say so). */
static bool pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool pathf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len;
}

static int write_file(const char *dir, const char *file, const char *text)
{
    char path[700];
    if (!pathf(path, sizeof path, "%s/%s", dir, file)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n >= 0 && (size_t)n == len ? 0 : -1;
}

static int read_file(const char *dir, const char *file, char *buf, size_t len)
{
    char path[700];
    if (!pathf(path, sizeof path, "%s/%s", dir, file))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* This process's group in hierarchy `name` ("memory", "pids", "" for v2). */
static int own_group(const char *name, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return -1;
    char line[1024];
    int rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        line[strcspn(line, "\n")] = '\0';
        b[1 + strcspn(b + 1, "\n")] = '\0';
        bool match = name[0] ? strstr(a + 1, name) != NULL && strlen(a + 1) >= strlen(name)
                             : a[1] == '\0';
        if (match && pathf(out, len, "%s", b + 1))
            rc = 0;
    }
    fclose(f);
    return rc;
}

/* This process's pid as the machine sees it (the fork server is pid 1 of its own
 * PID namespace): the first NSpid of /proc/self/status (/proc is the host's). */
static long outer_pid(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long pid = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "NSpid: %ld", &pid) == 1)
            break;
    if (f)
        fclose(f);
    return pid > 0 ? pid : (long)getpid();
}

/* Whether a process of the machine's (/proc's) PID namespace exists. */
static bool machine_pid_alive(long pid)
{
    char path[64];
    struct stat st;
    return pathf(path, sizeof path, "/proc/%ld", pid) && stat(path, &st) == 0;
}

/* Removes the groups of hosts that are gone (their fork server died before it could). */
static void remove_stale(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = 0;
        if (sscanf(e->d_name, "exo-host-%ld", &pid) != 1 || pid <= 0 || machine_pid_alive(pid))
            continue;
        char dir[700];
        if (!pathf(dir, sizeof dir, "%s/%s", parent, e->d_name))
            continue;
        DIR *sub = opendir(dir);
        struct dirent *s;
        while (sub && (s = readdir(sub))) {
            char child[1000];
            if (pathf(child, sizeof child, "%s/%s", dir, s->d_name) && s->d_name[0] != '.' &&
                s->d_type == DT_DIR)
                (void)rmdir(child);
        }
        if (sub)
            closedir(sub);
        (void)rmdir(dir);
    }
    closedir(d);
}

static int make_base(const char *mount, const char *group, char *out, size_t len)
{
    char parent[600];
    if (!pathf(parent, sizeof parent, "%s%s", mount, strcmp(group, "/") == 0 ? "" : group))
        return -1;
    remove_stale(parent);
    if (!pathf(out, len, "%s/exo-host-%ld", parent, outer_pid()))
        return -1;
    return mkdir(out, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static bool init_v2(host_cgroups *cg)
{
    const char *mounts[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup", NULL};
    char group[400], buf[256];
    if (own_group("", group, sizeof group) < 0)
        return false;
    for (const char *const *m = mounts; *m; m++) {
        char dir[600];
        if (!pathf(dir, sizeof dir, "%s%s", *m, strcmp(group, "/") == 0 ? "" : group) ||
            read_file(dir, "cgroup.subtree_control", buf, sizeof buf) < 0 ||
            !strstr(buf, "memory") || !strstr(buf, "pids"))
            continue;
        char server[700];
        if (make_base(*m, group, cg->mem, sizeof cg->mem) < 0)
            continue;
        /* A group with children may hold no process: the server moves to a leaf. */
        if (!pathf(server, sizeof server, "%s/server", cg->mem) || (mkdir(server, 0755) < 0 && errno != EEXIST) ||
            write_file(server, "cgroup.procs", "0") < 0 ||
            write_file(cg->mem, "cgroup.subtree_control", "+memory +pids") < 0)
            continue;
        pathf(cg->pids, sizeof cg->pids, "%s", cg->mem);
        cg->version = 2;
        return true;
    }
    return false;
}

static bool init_v1(host_cgroups *cg)
{
    char mg[400], pg[400];
    if (own_group("memory", mg, sizeof mg) < 0 || own_group("pids", pg, sizeof pg) < 0 ||
        make_base("/sys/fs/cgroup/memory", mg, cg->mem, sizeof cg->mem) < 0 ||
        make_base("/sys/fs/cgroup/pids", pg, cg->pids, sizeof cg->pids) < 0)
        return false;
    char path[700];
    pathf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", cg->mem);
    cg->memsw = access(path, F_OK) == 0;
    cg->version = 1;
    return true;
}

void host_cgroups_init(host_cgroups *cg)
{
    memset(cg, 0, sizeof *cg);
    if (init_v2(cg) || init_v1(cg)) {
        log_debug("sandbox: cgroup v%d memory and pids groups per state below %s", cg->version,
                  cg->mem);
        return;
    }
    cg->version = 0;
    log_warn("sandbox: no cgroup memory and pids controllers usable here: memory_mb is "
             "RLIMIT_AS (memfd and tmpfs pages not counted) and max_threads needs a user per "
             "state");
}

static void slot_dir(const host_cgroups *cg, const char *base, int slot, char *out, size_t len)
{
    (void)cg;
    pathf(out, len, "%s/s%d", base, slot);
}

/* The group's OOM kill count from its kept descriptor: pread at offset 0 makes
 * cgroupfs generate the file anew (seq_file restarts at 0), so no open per read. */
static uint64_t oom_kills(const host_cgroups *cg, int slot)
{
    char buf[1024];
    int fd = cg->slots[slot].events;
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0)
        return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, "oom_kill ");
    return p ? strtoull(p + 9, NULL, 10) : 0;
}

static int open_in(const char *dir, const char *file, int flags)
{
    char path[800];
    if (!pathf(path, sizeof path, "%s/%s", dir, file)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, flags | O_CLOEXEC);
}

static void close_slot_fds(host_cgroup_slot *s)
{
    int *fds[] = {&s->procs[0], &s->procs[1], &s->events};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0)
            (void)close(*fds[i]); /* read-only use or an unused write end: nothing to lose */
        *fds[i] = -1;
    }
}

/* The descriptors a group keeps (host_cgroup_slot): -1 when one cannot be opened
 * (then none is kept). */
static int open_slot_fds(const host_cgroups *cg, host_cgroup_slot *s, const char *mem,
                         const char *pids)
{
    s->procs[0] = open_in(mem, "cgroup.procs", O_WRONLY);
    s->procs[1] = cg->version == 1 ? open_in(pids, "cgroup.procs", O_WRONLY) : -1;
    s->events = open_in(mem, cg->version == 2 ? "memory.events" : "memory.oom_control",
                        O_RDONLY);
    if (s->procs[0] < 0 || (cg->version == 1 && s->procs[1] < 0) || s->events < 0) {
        int saved = errno;
        close_slot_fds(s);
        errno = saved;
        return -1;
    }
    return 0;
}

static int configure(host_cgroups *cg, int slot, int64_t memory_mb, int64_t tasks)
{
    char mem[700], pids[700], bytes[32], count[32];
    slot_dir(cg, cg->mem, slot, mem, sizeof mem);
    slot_dir(cg, cg->pids, slot, pids, sizeof pids);
    if (!cg->slots[slot].created) {
        if ((mkdir(mem, 0755) < 0 && errno != EEXIST) ||
            (cg->version == 1 && mkdir(pids, 0755) < 0 && errno != EEXIST) ||
            open_slot_fds(cg, &cg->slots[slot], mem, pids) < 0)
            return -1;
        cg->slots[slot].created = true;
        cg->slots[slot].memory_mb = cg->slots[slot].tasks = -1;
    }
    if (cg->slots[slot].memory_mb == memory_mb && cg->slots[slot].tasks == tasks)
        return 0; /* a reused group: writing limits costs more than the rest of it */
    cg->slots[slot].memory_mb = memory_mb;
    cg->slots[slot].tasks = tasks;
    pathf(count, sizeof count, "%lld", (long long)tasks);
    if (cg->version == 2) {
        pathf(bytes, sizeof bytes, "%lld", (long long)memory_mb * 1024 * 1024);
        (void)write_file(mem, "memory.swap.max", "0");
        return write_file(mem, "memory.max", memory_mb > 0 ? bytes : "max") < 0 ||
                       write_file(pids, "pids.max", count) < 0
                   ? -1
                   : 0;
    }
    pathf(bytes, sizeof bytes, "%lld", memory_mb > 0 ? (long long)memory_mb * 1024 * 1024 : -1LL);
    if (cg->memsw)
        (void)write_file(mem, "memory.memsw.limit_in_bytes", "-1");
    if (write_file(mem, "memory.limit_in_bytes", bytes) < 0) {
        /* What the last state left charged (page cache) is above the new limit. */
        (void)write_file(mem, "memory.force_empty", "0");
        if (write_file(mem, "memory.limit_in_bytes", bytes) < 0)
            return -1;
    }
    if (cg->memsw && write_file(mem, "memory.memsw.limit_in_bytes", bytes) < 0)
        return -1;
    return write_file(pids, "pids.max", count);
}

int host_cgroups_take(host_cgroups *cg, int64_t memory_mb, int64_t tasks, int fds[2])
{
    fds[0] = fds[1] = -1;
    if (cg->version == 0)
        return -1;
    size_t slot = 0;
    while (slot < cg->n_slots && cg->slots[slot].in_use)
        slot++;
    if (slot == cg->n_slots) {
        host_cgroup_slot *grown = realloc(cg->slots, (cg->n_slots + 1) * sizeof *grown);
        if (!grown)
            return -1;
        cg->slots = grown;
        cg->slots[cg->n_slots++] = (host_cgroup_slot){.procs = {-1, -1}, .events = -1};
    }
    if (configure(cg, (int)slot, memory_mb, tasks) < 0) {
        cg->slots[slot].memory_mb = cg->slots[slot].tasks = -1; /* written again next time */
        log_warn("sandbox: cannot configure cgroup s%zu: %s", slot, strerror(errno));
        return -1;
    }
    fds[0] = cg->slots[slot].procs[0];
    fds[1] = cg->slots[slot].procs[1];
    cg->slots[slot].in_use = true;
    cg->slots[slot].oom_kills = oom_kills(cg, (int)slot);
    return (int)slot;
}

int host_cgroups_join(int fds[2])
{
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0)
            continue;
        if (write(fds[i], "0", 1) != 1)
            rc = -1;
        close(fds[i]);
        fds[i] = -1;
    }
    return rc;
}

bool host_cgroups_release(host_cgroups *cg, int slot)
{
    if (slot < 0 || (size_t)slot >= cg->n_slots)
        return false;
    bool oom = oom_kills(cg, slot) > cg->slots[slot].oom_kills;
    cg->slots[slot].in_use = false;
    return oom;
}

void host_cgroups_free(host_cgroups *cg)
{
    for (size_t i = 0; i < cg->n_slots; i++) {
        close_slot_fds(&cg->slots[i]);
        char dir[700];
        slot_dir(cg, cg->mem, (int)i, dir, sizeof dir);
        (void)rmdir(dir);
        if (cg->version == 1) {
            slot_dir(cg, cg->pids, (int)i, dir, sizeof dir);
            (void)rmdir(dir);
        }
    }
    free(cg->slots);
    cg->slots = NULL;
    cg->n_slots = 0;
}
