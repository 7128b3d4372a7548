/* Reused scratch directories (see scratch.h). */
#include "scratch.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "run.h"

#define KEEP_MAX 256

/* Directories kept for reuse; the host is single-threaded and one pool serves the
 * whole process (every root it uses). */
static struct {
    char *root;
    char *path;
} kept[KEEP_MAX];
static size_t n_kept;

char *host_scratch_take(const char *root, char *err, size_t errlen)
{
    for (size_t i = n_kept; i-- > 0;) {
        if (strcmp(kept[i].root, root) != 0)
            continue;
        char *path = kept[i].path;
        free(kept[i].root);
        kept[i] = kept[--n_kept];
        return path;
    }
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

static int remove_below(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level == 0)
        return 0; /* the directory itself stays */
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
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
    return nftw(path, remove_below, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -1 : 0;
}

void host_scratch_return(const char *root, char *path, bool reusable)
{
    if (!path)
        return;
    if (reusable && n_kept < KEEP_MAX && empty_dir(path) == 0) {
        char *r = strdup(root);
        if (r) {
            kept[n_kept].root = r;
            kept[n_kept].path = path;
            n_kept++;
            return;
        }
    }
    if (host_remove_tree(path) < 0 && errno != ENOENT)
        log_warn("cannot remove scratch directory %s: %s", path, strerror(errno));
    free(path);
}

void host_scratch_release(const char *root)
{
    for (size_t i = n_kept; i-- > 0;) {
        if (strcmp(kept[i].root, root) != 0)
            continue;
        if (host_remove_tree(kept[i].path) < 0 && errno != ENOENT)
            log_warn("cannot remove scratch directory %s: %s", kept[i].path, strerror(errno));
        free(kept[i].path);
        free(kept[i].root);
        kept[i] = kept[--n_kept];
    }
}
