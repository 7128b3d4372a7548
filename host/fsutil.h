/* Directory helpers of the host's core (spool, scratch directories, start-up). */
#ifndef EXO_HOST_FSUTIL_H
#define EXO_HOST_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p */
int host_mkdirs(const char *path, mode_t mode);

/* rm -rf: any depth (openat/unlinkat, one directory open at a time), never follows
 * a symbolic link.  0, or -1 with errno. */
int host_remove_tree(const char *path);

/* Takes the lock of a directory: dir/lock, held with flock for the life of the
 * returned descriptor (close-on-exec) and holding this process's pid.  dir is
 * created when missing.  Returns the descriptor, or -1 with err: a message naming
 * the other holder's pid when another process has the lock. */
int host_lock_dir(const char *dir, char *err, size_t errlen);
/* The same for everything below path; path itself stays. */
int host_empty_dir(const char *path);

#endif
