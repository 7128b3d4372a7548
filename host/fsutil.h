/* Directory helpers of the host's core (spool, scratch directories, start-up). */
#ifndef EXO_HOST_FSUTIL_H
#define EXO_HOST_FSUTIL_H

#include <sys/types.h>

/* mkdir -p */
int host_mkdirs(const char *path, mode_t mode);

/* rm -rf: any depth (openat/unlinkat, one directory open at a time), never follows
 * a symbolic link.  0, or -1 with errno. */
int host_remove_tree(const char *path);

/* The same for everything below path; path itself stays. */
int host_empty_dir(const char *path);

#endif
