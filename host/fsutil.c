/* Directory helpers (see fsutil.h). */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int host_mkdirs(const char *path, mode_t mode)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST) {
            free(copy);
            return -1;
        }
        *p = '/';
    }
    int rc = mkdir(copy, mode) < 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}

/* One directory on the way down: the directory above it (device, inode) and its
 * name there. */
typedef struct level {
    dev_t dev;
    ino_t ino;
    char *name;
} level;

typedef struct walk {
    level *stack;
    size_t depth, cap;
} walk;

static int push(walk *w, const struct stat *parent, const char *name)
{
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        level *grown = realloc(w->stack, cap * sizeof *grown);
        if (!grown)
            return -1;
        w->stack = grown;
        w->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    w->stack[w->depth++] = (level){parent->st_dev, parent->st_ino, copy};
    return 0;
}

/* The first entry of d that unlinkat could not remove because it is a directory
 * (malloc'd name), or NULL once only what cannot be removed is left. */
static char *remove_files(DIR *d, int *failed)
{
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
            continue;
        if (errno == EISDIR)
            return strdup(e->d_name);
        *failed = 1;
    }
    return NULL;
}

/* Empties the directory open on fd (closes it).  Any depth: one directory is open
 * at a time, the way back up is "..", checked against the device and inode seen on
 * the way down (a tree moved meanwhile stops the walk); symbolic links are removed,
 * never followed. */
static int empty_fd(int fd)
{
    walk w = {0};
    int failed = 0;
    for (;;) {
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            failed = 1;
            break;
        }
        char *sub = remove_files(d, &failed);
        struct stat here;
        if (sub) {
            int child = openat(dirfd(d), sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int ok = child >= 0 && fstat(dirfd(d), &here) == 0 && push(&w, &here, sub) == 0;
            free(sub);
            closedir(d);
            if (!ok) {
                if (child >= 0)
                    close(child);
                failed = 1;
                break;
            }
            fd = child;
            continue;
        }
        if (w.depth == 0) {
            closedir(d);
            break;
        }
        int parent = openat(dirfd(d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        closedir(d);
        level *top = &w.stack[w.depth - 1];
        struct stat up;
        if (parent < 0 || fstat(parent, &up) < 0 || up.st_dev != top->dev ||
            up.st_ino != top->ino || unlinkat(parent, top->name, AT_REMOVEDIR) < 0) {
            if (parent >= 0)
                close(parent);
            failed = 1;
            break;
        }
        free(top->name);
        w.depth--;
        fd = parent;
    }
    for (size_t i = 0; i < w.depth; i++)
        free(w.stack[i].name);
    free(w.stack);
    if (failed && errno == 0)
        errno = EIO;
    return failed ? -1 : 0;
}

int host_empty_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -1 : empty_fd(fd);
}

int host_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    if (host_empty_dir(path) < 0)
        return -1;
    return rmdir(path);
}

/* The pid written in an open lock file, or 0 when it holds none. */
static long lock_holder(int fd)
{
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    return strtol(text, NULL, 10);
}

int host_lock_dir(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/lock", dir) >= sizeof path) {
        snprintf(err, errlen, "state_dir %s: path too long", dir);
        return -1;
    }
    if (host_mkdirs(dir, 0700) < 0) {
        snprintf(err, errlen, "cannot create state_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        long other = e == EWOULDBLOCK ? lock_holder(fd) : 0;
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "state_dir %s is in use by another exo-host (pid %ld): two hosts sharing one spool could "
                     "deliver a result twice; give each host its own state_dir",
                     dir, other);
        else
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
