#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"
#include "fsutil.h"
#include "log.h"
#include "strfmt.h"

/* Spare files of an earlier run are not known to this one: remove them. */
static void remove_old_spares(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && unlinkat(dirfd(d), e->d_name, 0) < 0)
            log_warn("spool: cannot remove %s/%s: %m", dir, e->d_name);
    closedir(d);
}

int host_spool_init(host_spool *sp, const char *dir, char *err, size_t errlen)
{
    host_spool_release(sp);
    if (host_mkdirs(dir, 0700) < 0)
        return exo_errf(err, errlen, "cannot create spool directory %s: %s", dir,
                        strerror(errno));
    if (!(sp->dir = strdup(dir)))
        return exo_errf(err, errlen, "out of memory");
    if (asprintf(&sp->spare_dir, "%s.spare", dir) < 0)
        sp->spare_dir = NULL;
    if (sp->spare_dir && host_mkdirs(sp->spare_dir, 0700) < 0) {
        free(sp->spare_dir); /* an optimisation only: delete delivered entries instead */
        sp->spare_dir = NULL;
    }
    if (sp->spare_dir)
        remove_old_spares(sp->spare_dir);
    return 0;
}

/* Writes text over the file's old content.  A shorter text is padded with spaces
 * (JSON allows trailing white space) instead of truncating the file: on ext4 a
 * truncated and rewritten file is flushed at close (auto_da_alloc), which costs
 * more than the rest of the write. */
static int write_padded(int fd, const char *text, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    size_t old = (size_t)st.st_size;
    if (old > 2 * len + 4096) { /* much larger: not worth rewriting */
        if (ftruncate(fd, 0) < 0)
            return -1;
        old = 0;
    }
    if (exo_write_all(fd, text, len) < 0)
        return -1;
    char spaces[512];
    memset(spaces, ' ', sizeof spaces);
    for (size_t left = old > len ? old - len : 0; left > 0;) {
        size_t n = left < sizeof spaces ? left : sizeof spaces;
        if (exo_write_all(fd, spaces, n) < 0)
            return -1;
        left -= n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

char *host_spool_write(host_spool *sp, const char *state_id, const char *node, const char *path,
                       json_object *body)
{
    json_object *entry = json_object_new_object();
    if (!entry)
        return NULL;
    json_object_object_add(entry, "state_id", json_object_new_string(state_id));
    json_object_object_add(entry, "node", json_object_new_string(node ? node : ""));
    json_object_object_add(entry, "path", json_object_new_string(path));
    json_object_object_add(entry, "body", json_object_get(body));
    const char *text = json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN);
    char *file = NULL, *tmp = NULL;
    int fd = -1;
    if (asprintf(&file, "%s/%013lld-%06u.json", sp->dir, (long long)exo_now_ms(),
                 sp->seq++ % 1000000) < 0)
        file = NULL;
    if (!file)
        goto fail;
    if (sp->n_spare > 0)
        tmp = sp->spare[--sp->n_spare];
    else if (asprintf(&tmp, "%s.tmp", file) < 0)
        goto fail;
    fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || write_padded(fd, text, strlen(text)) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, file) < 0)
        goto fail;
    free(tmp);
    json_object_put(entry);
    return file;
fail: {
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(file);
    json_object_put(entry);
    errno = saved;
    return NULL;
}
}

int host_spool_sync(const host_spool *sp, char *const *files, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT) /* already delivered and removed: nothing to keep */
                rc = -1;
            continue;
        }
        if (fsync(fd) < 0)
            rc = -1;
        close(fd);
    }
    if (fsync_dir(sp->dir) < 0)
        rc = -1;
    return rc;
}

int host_spool_remove(host_spool *sp, const char *file)
{
    char *aside = NULL;
    const char *base = strrchr(file, '/');
    if (sp->spare_dir && sp->n_spare < HOST_SPOOL_SPARE_MAX &&
        asprintf(&aside, "%s/%s", sp->spare_dir, base ? base + 1 : file) >= 0) {
        if (rename(file, aside) == 0) {
            sp->spare[sp->n_spare++] = aside;
            return 0;
        }
        free(aside);
    }
    return unlink(file) < 0 && errno != ENOENT ? -1 : 0;
}

void host_spool_release(host_spool *sp)
{
    while (sp->n_spare > 0) {
        char *file = sp->spare[--sp->n_spare];
        unlink(file);
        free(file);
    }
    free(sp->spare_dir);
    free(sp->dir);
    memset(sp, 0, sizeof *sp);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_entry(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int host_spool_replay(const host_spool *sp, host_spool_fn fn, void *arg)
{
    const char *dir = sp->dir;
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_entry, by_name);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char *file = NULL;
        if (asprintf(&file, "%s/%s", dir, names[i]->d_name) >= 0) {
            json_object *entry = json_object_from_file(file);
            if (entry && json_object_is_type(entry, json_type_object))
                fn(arg, file, entry);
            else
                log_warn("spool: %s is not a valid entry; left in place", file);
            json_object_put(entry);
            free(file);
        }
        free(names[i]);
    }
    free(names);
    return n;
}
