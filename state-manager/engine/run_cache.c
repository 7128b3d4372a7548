/* Run version cache (run_cache.h): a fixed table of slots; a new run takes the
 * slot of its hash, evicting whatever was there. */
#include "run_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sm_util.h"

#define RUN_CACHE_SLOTS 4096 /* ~4,000 runs in flight at once before misses grow */

typedef struct run_slot {
    char run_id[EXO_UUID_LEN + 1]; /* "" = empty */
    int64_t version;
    char *ns;
} run_slot;

struct exo_run_cache {
    pthread_mutex_t lock;
    run_slot slots[RUN_CACHE_SLOTS];
};

exo_run_cache *exo_run_cache_new(void)
{
    exo_run_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void exo_run_cache_free(exo_run_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < RUN_CACHE_SLOTS; i++)
        free(c->slots[i].ns);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static run_slot *slot_of(exo_run_cache *c, const char *run_id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)run_id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return &c->slots[h % RUN_CACHE_SLOTS];
}

int exo_run_cache_get(exo_run_cache *c, const char *run_id, int64_t *version, char **ns)
{
    if (strlen(run_id) > EXO_UUID_LEN)
        return 1;
    int rc = 1;
    pthread_mutex_lock(&c->lock);
    run_slot *s = slot_of(c, run_id);
    if (s->ns && !strcmp(s->run_id, run_id)) {
        *ns = strdup(s->ns);
        *version = s->version;
        rc = *ns ? 0 : -1;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void exo_run_cache_put(exo_run_cache *c, const char *run_id, int64_t version, const char *ns)
{
    if (strlen(run_id) > EXO_UUID_LEN)
        return;
    char *copy = strdup(ns);
    if (!copy)
        return;
    pthread_mutex_lock(&c->lock);
    run_slot *s = slot_of(c, run_id);
    free(s->ns);
    s->ns = copy;
    s->version = version;
    strcpy(s->run_id, run_id);
    pthread_mutex_unlock(&c->lock);
}
