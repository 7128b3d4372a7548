/* Reused scratch directories (see scratch.h). */
#include "scratch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "fsutil.h"

void host_scratch_init(host_scratch_pool *pool, const char *root)
{
    memset(pool, 0, sizeof *pool);
    pool->root = root;
}

char *host_scratch_take(host_scratch_pool *pool, char *err, size_t errlen)
{
    if (pool->n_kept > 0)
        return pool->kept[--pool->n_kept];
    const char *root = pool->root;
    size_t n = strlen(root) + 32;
    char *path = malloc(n);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, n, "%s/state-XXXXXX", root);
    if (!mkdtemp(path)) {
        snprintf(err, errlen, "cannot create scratch directory in %s: %s", root, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

/* Empty again, ours (a dropped-privilege state got it chowned) and mode 0700, as
 * mkdtemp made it. */
static int empty_dir(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return -1;
    if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
        chown(path, geteuid(), getegid()) < 0)
        return -1;
    if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0)
        return -1;
    return host_empty_dir(path);
}

static void remove_dir(const char *path)
{
    if (host_remove_tree(path) < 0 && errno != ENOENT)
        log_warn("cannot remove scratch directory %s: %s", path, strerror(errno));
}

void host_scratch_return(host_scratch_pool *pool, char *path, bool reusable)
{
    if (!path)
        return;
    if (reusable && pool->n_kept < HOST_SCRATCH_KEEP_MAX && empty_dir(path) == 0) {
        pool->kept[pool->n_kept++] = path;
        return;
    }
    remove_dir(path);
    free(path);
}

void host_scratch_release(host_scratch_pool *pool)
{
    while (pool->n_kept > 0) {
        char *path = pool->kept[--pool->n_kept];
        remove_dir(path);
        free(path);
    }
}
