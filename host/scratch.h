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

#define HOST_SCRATCH_KEEP_MAX 256

/* The directories below one root kept for reuse; owned by the host (one per
 * process, single-threaded). */
typedef struct host_scratch_pool {
    const char *root; /* borrowed: must outlive the pool */
    char *kept[HOST_SCRATCH_KEEP_MAX];
    size_t n_kept;
} host_scratch_pool;

/* An empty pool for directories below root. */
void host_scratch_init(host_scratch_pool *pool, const char *root);

/* A fresh or emptied directory below the pool's root (malloc'd path), or NULL
 * with err. */
char *host_scratch_take(host_scratch_pool *pool, char *err, size_t errlen);

/* The state is done with path (taken from pool): emptied and kept, or removed.
 * Frees path. */
void host_scratch_return(host_scratch_pool *pool, char *path, bool reusable);

/* Removes every kept directory (host shutdown); the pool is empty afterwards.
 * Safe on a zeroed pool. */
void host_scratch_release(host_scratch_pool *pool);

#endif
