/* The state's file system view (view.h). */
#include "view.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "strfmt.h"

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

/* The view's root once built ("" = none).  Static: set once in the fork server
 * before any state is forked; every state's process inherits it. */
static char view_root[PATH_MAX];

static const char *const system_dirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                                          "/libx32", "/etc", NULL};
static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                      "/dev/urandom", NULL};

static int mkdirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (!pathf(buf, sizeof buf, "%s", path))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int inside(const char *path, char *out, size_t len)
{
    return pathf(out, len, "%s%s", view_root, path) ? 0 : -1;
}

enum { READ_ONLY, WRITABLE, DEVICE };

static int make_mountpoint(const char *target, bool dir)
{
    if (dir)
        return mkdirs(target, 0755);
    int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* path (absolute) at the same place in the view: a symlink is copied, a directory
 * or file bind-mounted (read-only, writable, or a device node).  A path that does
 * not exist is skipped. */
static int expose(const char *path, int how, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : exo_errf(err, errlen, "%s: %s", path, strerror(errno));
    char target[PATH_MAX];
    if (inside(path, target, sizeof target) < 0)
        return exo_errf(err, errlen, "%s: path too long", path);
    char parent[PATH_MAX];
    pathf(parent, sizeof parent, "%s", target);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (mkdirs(parent, 0755) < 0)
            return exo_errf(err, errlen, "mkdir %s: %s", parent, strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
        char link[PATH_MAX];
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n < 0)
            return exo_errf(err, errlen, "readlink %s: %s", path, strerror(errno));
        link[n] = '\0';
        if (symlink(link, target) < 0 && errno != EEXIST)
            return exo_errf(err, errlen, "symlink %s: %s", target, strerror(errno));
        return 0;
    }
    if (make_mountpoint(target, S_ISDIR(st.st_mode)) < 0)
        return exo_errf(err, errlen, "%s: %s", target, strerror(errno));
    unsigned long flags = MS_BIND | (how == READ_ONLY ? MS_REC : 0);
    if (mount(path, target, NULL, flags, NULL) < 0)
        return exo_errf(err, errlen, "bind %s: %s", path, strerror(errno));
    unsigned long again = MS_REMOUNT | MS_BIND | MS_NOSUID | (how == DEVICE ? 0 : MS_NODEV) |
                          (how == READ_ONLY ? MS_RDONLY : 0);
    /* In a user namespace flags of the original mount are locked: keep noexec too. */
    if (mount(NULL, target, NULL, again, NULL) < 0 &&
        mount(NULL, target, NULL, again | MS_NOEXEC, NULL) < 0 &&
        (how != DEVICE || mount(NULL, target, NULL, again | MS_NOEXEC | MS_NODEV, NULL) < 0))
        return exo_errf(err, errlen, "remount %s: %s", target, strerror(errno));
    return 0;
}

/* Something exo keeps for itself, inside an exposed directory: covered. */
static int hide(const char *path, char *err, size_t errlen)
{
    char target[PATH_MAX];
    struct stat st;
    if (inside(path, target, sizeof target) < 0 || lstat(target, &st) < 0)
        return 0; /* not in the view at all */
    int rc = S_ISDIR(st.st_mode)
                 ? mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
                 : mount("/dev/null", target, NULL, MS_BIND, NULL);
    if (rc < 0)
        return exo_errf(err, errlen, "cannot hide %s: %s", path, strerror(errno));
    return 0;
}

/* quiet: the plugin probe's view (one per plugin load: the fork server's lines say
 * the same once). */
static int mount_proc(bool quiet, char *err, size_t errlen)
{
    char target[PATH_MAX];
    if (inside("/proc", target, sizeof target) < 0 || mkdirs(target, 0555) < 0)
        return exo_errf(err, errlen, "mkdir /proc in the view: %s", strerror(errno));
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount("proc", target, "proc", flags, "hidepid=invisible") == 0 ||
        mount("proc", target, "proc", flags, "hidepid=2") == 0)
        return 0;
    /* In a user namespace that does not own the PID namespace a new proc is refused:
     * the host's, as it is (other processes visible; they are not signalable). */
    if (mount("/proc", target, NULL, MS_BIND | MS_REC, NULL) == 0) {
        if (!quiet)
            log_info("sandbox: states see the host's /proc (a private one is not allowed here)");
        return 0;
    }
    return exo_errf(err, errlen, "mount proc: %s", strerror(errno));
}

static int each_string(json_object *list, int (*fn)(const char *, int, char *, size_t),
                       int how, char *err, size_t errlen)
{
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        const char *p = json_object_get_string(json_object_array_get_idx(list, i));
        if (p && p[0] == '/' && fn(p, how, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int hide_one(const char *path, int unused, char *err, size_t errlen)
{
    (void)unused;
    return hide(path, err, errlen);
}

/* scratch NULL: nothing writable (the probe's view). */
static int populate(json_object *spec, const char *scratch, bool quiet, char *err,
                    size_t errlen)
{
    for (const char *const *d = system_dirs; *d; d++)
        if (expose(*d, READ_ONLY, err, errlen) < 0)
            return -1;
    if (each_string(json_object_object_get(spec, "read"), expose, READ_ONLY, err, errlen) < 0)
        return -1;
    for (const char *const *d = devices; *d; d++)
        if (expose(*d, DEVICE, err, errlen) < 0)
            return -1;
    if ((scratch && expose(scratch, WRITABLE, err, errlen) < 0) ||
        mount_proc(quiet, err, errlen) < 0)
        return -1;
    if (each_string(json_object_object_get(spec, "hide"), hide_one, 0, err, errlen) < 0)
        return -1;
    if (mount(NULL, view_root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return exo_errf(err, errlen, "remount the view read-only: %s", strerror(errno));
    return 0;
}

static int build(json_object *spec, bool need_scratch, char *err, size_t errlen)
{
    json_object *root = json_object_object_get(spec, "root");
    json_object *scratch = json_object_object_get(spec, "scratch");
    if (!json_object_is_type(root, json_type_string) ||
        (need_scratch && !json_object_is_type(scratch, json_type_string)))
        return exo_errf(err, errlen, "the view spec lacks root or scratch");
    if (unshare(CLONE_NEWNS) < 0)
        return exo_errf(err, errlen, "no mount namespace: %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return exo_errf(err, errlen, "make / private: %s", strerror(errno));
    const char *dir = json_object_get_string(root);
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
        return exo_errf(err, errlen, "tmpfs on %s: %s", dir, strerror(errno));
    pathf(view_root, sizeof view_root, "%s", dir);
    if (populate(spec, need_scratch ? json_object_get_string(scratch) : NULL, !need_scratch, err,
                 errlen) < 0) {
        view_root[0] = '\0';
        return -1;
    }
    return 0;
}

int host_view_build(const char *spec_text)
{
    if (!spec_text || !*spec_text)
        return 0;
    json_object *spec = json_tokener_parse(spec_text);
    char err[512] = "";
    int rc = spec ? build(spec, true, err, sizeof err) : exo_errf(err, sizeof err, "bad view spec");
    json_object_put(spec);
    if (rc < 0)
        log_warn("sandbox: no private file system view for states (%s): they can read what "
                 "their user may read on the host",
                 err);
    return rc;
}

int host_view_build_probe(const char *spec_text, char *err, size_t errlen)
{
    json_object *spec = json_tokener_parse(spec_text);
    int rc = spec ? build(spec, false, err, errlen) : exo_errf(err, errlen, "bad view spec");
    json_object_put(spec);
    return rc;
}

int host_view_scratch(const char *scratch, int64_t size_mb, uid_t uid)
{
    char target[PATH_MAX], opts[128];
    if (!view_root[0] || !scratch[0])
        return 0;
    if (inside(scratch, target, sizeof target) < 0)
        return -1;
    pathf(opts, sizeof opts, "size=%lldm,mode=0700,uid=%u,gid=%u", (long long)size_mb,
             (unsigned)uid, (unsigned)uid);
    if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
        log_warn("sandbox: cannot mount the scratch tmpfs on %s: %s", scratch, strerror(errno));
        return -1;
    }
    return 1;
}

void host_view_scratch_done(const char *scratch)
{
    char target[PATH_MAX];
    /* ENOENT: the host removed the directory first (the fork server unmounts after
     * it sent the state's exit), which detached the mount already. */
    if (view_root[0] && scratch[0] && inside(scratch, target, sizeof target) == 0 &&
        umount2(target, MNT_DETACH) < 0 && errno != ENOENT)
        log_warn("sandbox: cannot unmount the scratch tmpfs on %s: %s", scratch, strerror(errno));
}

int host_view_enter(char *err, size_t errlen)
{
    if (!view_root[0])
        return 0;
    if (chroot(view_root) < 0)
        return exo_errf(err, errlen, "chroot(%s): %s", view_root, strerror(errno));
    return 0;
}
