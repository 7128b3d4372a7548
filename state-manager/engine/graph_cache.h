/* Cache of parsed, analysed graph template versions.
 *
 * Stored versions are immutable, so a parsed one can be shared: the engine would
 * otherwise re-parse a template on every report.  The cache has its own lock and
 * hands out references: a graph stays valid until its holder releases it, even if
 * the cache evicts it meanwhile.  Thread-safe. */
#ifndef EXO_SM_GRAPH_CACHE_H
#define EXO_SM_GRAPH_CACHE_H

#include <stdint.h>

#include "graph.h"
#include "storage.h"

typedef struct exo_graph_cache exo_graph_cache;

exo_graph_cache *exo_graph_cache_new(void);
/* Frees every entry; no reference may be outstanding. */
void exo_graph_cache_free(exo_graph_cache *c);

/* The graph of stored version `version`, loaded through db on a miss (the caller
 * holds the right to use db).  A reference to release with exo_graph_cache_release;
 * NULL when the version is unknown, unreadable or out of memory (logged). */
const exo_graph *exo_graph_cache_get(exo_graph_cache *c, exo_storage *db, int64_t version);
/* Gives back a reference from exo_graph_cache_get; NULL is ignored. */
void exo_graph_cache_release(exo_graph_cache *c, const exo_graph *g);

#endif
