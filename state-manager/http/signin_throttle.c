/* Sign-in throttling: a bounded table of (address, wrong keys, wait), see
 * signin_throttle.h. */
#include "signin_throttle.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define QUIET_RESET_MS (15 * 60 * 1000) /* failures older than this are forgotten */
#define KEY_LEN 64

typedef struct entry {
    char key[KEY_LEN];     /* the address (an IPv6 one as its /64); "" = free */
    int failures;
    int64_t last_failure;  /* ms */
    int64_t blocked_until; /* ms; 0 = not waiting */
} entry;

/* Process-wide on purpose: the sign-in attempts of every connection and thread
 * count together; table_lock guards it. */
static entry table[EXO_SIGNIN_ADDRESSES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* The key of an address: an IPv6 one by its first 64 bits (a client's usual
 * share), anything else as it is. */
static void address_key(const char *addr, char key[KEY_LEN])
{
    unsigned char a6[16];
    if (strchr(addr, ':') && inet_pton(AF_INET6, addr, a6) == 1) {
        memset(a6 + 8, 0, 8);
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, a6, text, sizeof text)) {
            snprintf(key, KEY_LEN, "%s/64", text);
            return;
        }
    }
    snprintf(key, KEY_LEN, "%s", addr);
}

/* The entry of key, or NULL; call with the lock held. */
static entry *find(const char *key)
{
    for (size_t i = 0; i < EXO_SIGNIN_ADDRESSES; i++)
        if (table[i].key[0] && !strcmp(table[i].key, key))
            return &table[i];
    return NULL;
}

/* A free entry, else the one whose last failure is the oldest; call with the lock held. */
static entry *make_room(void)
{
    entry *victim = &table[0];
    for (size_t i = 0; i < EXO_SIGNIN_ADDRESSES; i++) {
        if (!table[i].key[0])
            return &table[i];
        if (table[i].last_failure < victim->last_failure)
            victim = &table[i];
    }
    return victim;
}

int64_t exo_signin_wait_ms(const char *addr, int64_t now_ms)
{
    char key[KEY_LEN];
    address_key(addr, key);
    pthread_mutex_lock(&table_lock);
    entry *e = find(key);
    int64_t wait = e && e->blocked_until > now_ms ? e->blocked_until - now_ms : 0;
    pthread_mutex_unlock(&table_lock);
    return wait;
}

int64_t exo_signin_failed(const char *addr, int64_t now_ms, int *failures)
{
    char key[KEY_LEN];
    address_key(addr, key);
    pthread_mutex_lock(&table_lock);
    entry *e = find(key);
    if (!e) {
        e = make_room();
        memset(e, 0, sizeof *e);
        snprintf(e->key, KEY_LEN, "%s", key);
    }
    if (now_ms - e->last_failure > QUIET_RESET_MS)
        e->failures = 0;
    e->failures++;
    e->last_failure = now_ms;
    int64_t wait = 0;
    if (e->failures > EXO_SIGNIN_FREE_FAILURES) {
        int doublings = e->failures - EXO_SIGNIN_FREE_FAILURES - 1;
        wait = doublings >= 6 ? (int64_t)EXO_SIGNIN_MAX_WAIT_S * 1000 : (int64_t)1000 << doublings;
        if (wait > (int64_t)EXO_SIGNIN_MAX_WAIT_S * 1000)
            wait = (int64_t)EXO_SIGNIN_MAX_WAIT_S * 1000;
        e->blocked_until = now_ms + wait;
    }
    *failures = e->failures;
    pthread_mutex_unlock(&table_lock);
    return wait;
}

void exo_signin_succeeded(const char *addr)
{
    char key[KEY_LEN];
    address_key(addr, key);
    pthread_mutex_lock(&table_lock);
    entry *e = find(key);
    if (e)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&table_lock);
}

void exo_signin_reset(void)
{
    pthread_mutex_lock(&table_lock);
    memset(table, 0, sizeof table);
    pthread_mutex_unlock(&table_lock);
}
