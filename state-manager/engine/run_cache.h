/* Cache of each run's graph version and namespace.
 *
 * A run's version and namespace never change once it is stored (runs keep the
 * template they were triggered with) and run ids are never reused, so a cached
 * answer is never wrong: at worst it names a run that has since been deleted, whose
 * states are gone too.  Every report asks for its run's version; the cache saves
 * that query (a round trip on PostgreSQL).  Direct-mapped on a hash of the run id,
 * so its memory is bounded; thread-safe (its own lock). */
#ifndef EXO_SM_RUN_CACHE_H
#define EXO_SM_RUN_CACHE_H

#include <stdint.h>

typedef struct exo_run_cache exo_run_cache;

exo_run_cache *exo_run_cache_new(void);
void exo_run_cache_free(exo_run_cache *c);

/* 0 with *version and *ns (malloc'd) set on a hit, 1 on a miss, -1 out of memory. */
int exo_run_cache_get(exo_run_cache *c, const char *run_id, int64_t *version, char **ns);
/* Remembers run_id's version and namespace (a failed copy is simply not cached). */
void exo_run_cache_put(exo_run_cache *c, const char *run_id, int64_t version, const char *ns);

#endif
