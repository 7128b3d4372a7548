/* Command line and environment configuration of exo-state-manager. */
#ifndef EXO_SM_CONFIG_H
#define EXO_SM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "secrets_crypto.h"

#define EXO_MAX_CORS_ORIGINS 64
#define EXO_MAX_RETENTION_RULES 64

/* A namespace's own run retention (--retention-days NS=N). */
typedef struct exo_retention_rule {
    char *ns;
    int64_t keep_ms; /* 0 = keep its runs forever */
} exo_retention_rule;

typedef struct exo_sm_config {
    char listen_host[256];
    int listen_port;
    char db[4096];
    unsigned db_pool;               /* --db-pool: connections of a pooled backend */
    char *api_secret;               /* STATE_MANAGER_SECRET (required, non-empty) */
    int metrics_public;             /* --metrics-public: /metrics needs no key */
    int have_key;                   /* SECRETS_ENCRYPTION_KEY decoded successfully */
    char key_error[160];            /* why not, when !have_key */
    exo_secret_key key;
    int64_t trigger_retention_ms;   /* TRIGGER_RETENTION_HOURS (default 720) */
    int64_t default_lease_ms;       /* EXO_DEFAULT_LEASE_MS (default 1800000) */
    char *cors_origins[EXO_MAX_CORS_ORIGINS];
    size_t cors_count;
    int64_t retention_ms;           /* --retention-days N: finished runs older are deleted; 0 = keep */
    exo_retention_rule retention_rules[EXO_MAX_RETENTION_RULES]; /* --retention-days NS=N */
    size_t retention_count;
    int64_t retention_interval_ms;  /* EXO_RETENTION_INTERVAL_MS (default 60000): pause between passes */
    /* Hostile and heavy clients (docs/dev/HARDENING.md) */
    int http_threads;               /* EXO_HTTP_THREADS (default 4): MHD's epoll thread pool */
    int max_connections;            /* EXO_MAX_CONNECTIONS (default 16384; bounded by RLIMIT_NOFILE) */
    int max_connections_per_ip;     /* EXO_MAX_CONNECTIONS_PER_IP (default 4096; 0 = no cap) */
    int header_timeout_s;           /* EXO_HEADER_TIMEOUT_S (default 30): whole request head, idle included */
    int body_timeout_s;             /* EXO_BODY_TIMEOUT_S (default 120): whole request body */
    int64_t max_outputs;            /* EXO_MAX_OUTPUTS (default 10000): outputs per executed call */
} exo_sm_config;

/* Parses argv and the environment.  Returns 0, 1 when --help was printed,
 * -1 with a message in err. */
int exo_sm_config_load(exo_sm_config *cfg, int argc, char **argv, char *err, size_t errlen);
void exo_sm_config_free(exo_sm_config *cfg);

#endif
