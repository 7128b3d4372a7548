/* Graph version cache (graph_cache.h): a short list of entries, least recently used
 * evicted first among those nobody holds. */
#include "graph_cache.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"

/* Entries kept when nobody holds them; more live while they are held. */
#define CACHE_CAPACITY 32

typedef struct cache_entry {
    int64_t version;
    exo_graph *graph;
    unsigned refs;
    uint64_t used;   /* LRU stamp */
    struct cache_entry *next;
} cache_entry;

struct exo_graph_cache {
    pthread_mutex_t lock;
    cache_entry *entries;
    size_t count;
    uint64_t clock;
};

exo_graph_cache *exo_graph_cache_new(void)
{
    exo_graph_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void exo_graph_cache_free(exo_graph_cache *c)
{
    if (!c)
        return;
    for (cache_entry *e = c->entries, *next; e; e = next) {
        next = e->next;
        exo_graph_free(e->graph);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Evicts unheld entries, oldest first, down to the capacity.  Lock held. */
static void trim(exo_graph_cache *c)
{
    while (c->count > CACHE_CAPACITY) {
        cache_entry **victim = NULL;
        for (cache_entry **p = &c->entries; *p; p = &(*p)->next)
            if ((*p)->refs == 0 && (!victim || (*p)->used < (*victim)->used))
                victim = p;
        if (!victim)
            return; /* all held: trimmed on a later release */
        cache_entry *e = *victim;
        *victim = e->next;
        exo_graph_free(e->graph);
        free(e);
        c->count--;
    }
}

/* The entry of version, referenced; NULL when absent.  Lock held. */
static const exo_graph *take(exo_graph_cache *c, int64_t version)
{
    for (cache_entry *e = c->entries; e; e = e->next) {
        if (e->version != version)
            continue;
        e->refs++;
        e->used = ++c->clock;
        return e->graph;
    }
    return NULL;
}

static exo_graph *load(exo_storage *db, int64_t version)
{
    json_object *tpl = NULL;
    if (exo_db_graph_version(db, version, &tpl) != 0)
        return NULL;
    char *err = NULL;
    exo_graph *g = exo_graph_from_stored(tpl, &err);
    json_object_put(tpl);
    if (!g) {
        log_error("stored graph version %lld cannot be loaded: %s", (long long)version, err ? err : "out of memory");
        free(err);
        return NULL;
    }
    if (exo_graph_analyze(g) != 0) {
        log_error("stored graph version %lld has no valid structure", (long long)version);
        exo_graph_free(g);
        return NULL;
    }
    return g;
}

const exo_graph *exo_graph_cache_get(exo_graph_cache *c, exo_storage *db, int64_t version)
{
    pthread_mutex_lock(&c->lock);
    const exo_graph *hit = take(c, version);
    pthread_mutex_unlock(&c->lock);
    if (hit)
        return hit;
    /* parsed outside the lock: a large template must not stall other lookups */
    exo_graph *g = load(db, version);
    if (!g)
        return NULL;
    cache_entry *e = calloc(1, sizeof *e);
    pthread_mutex_lock(&c->lock);
    hit = take(c, version); /* another thread may have loaded it meanwhile */
    if (hit || !e) {
        pthread_mutex_unlock(&c->lock);
        exo_graph_free(g);
        free(e);
        return hit;
    }
    *e = (cache_entry){.version = version, .graph = g, .refs = 1, .used = ++c->clock, .next = c->entries};
    c->entries = e;
    c->count++;
    trim(c);
    pthread_mutex_unlock(&c->lock);
    return g;
}

void exo_graph_cache_release(exo_graph_cache *c, const exo_graph *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&c->lock);
    for (cache_entry *e = c->entries; e; e = e->next) {
        if (e->graph != g)
            continue;
        if (e->refs > 0)
            e->refs--;
        break;
    }
    trim(c);
    pthread_mutex_unlock(&c->lock);
}
