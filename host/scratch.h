/* Private scratch directories of states, reused.
 *
 * Creating and removing a directory per state costs more than the rest of the
 * host's work for it on ext4 (inode allocation skips recently deleted inodes, and
 * scanning for them gets slower the more a file system churns).  So a directory a
 * state is done with is emptied and kept for a later state: what one state left in
 * it is gone before the next one gets it.  A directory that cannot be emptied, or
 * whose state was allowed to start processes (one may have escaped its process
 * group and still write there), is removed instead. */
#ifndef EXO_HOST_SCRATCH_H
#define EXO_HOST_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>

/* A fresh or emptied directory below root (malloc'd path), or NULL with err. */
char *host_scratch_take(const char *root, char *err, size_t errlen);

/* The state is done with path (taken from root): emptied and kept, or removed.
 * Frees path. */
void host_scratch_return(const char *root, char *path, bool reusable);

/* Removes every kept directory below root (host shutdown). */
void host_scratch_release(const char *root);

#endif
