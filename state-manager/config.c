#include "config.h"

#include "storage.h"
#include "version.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_MAX_MS (24LL * 3600 * 1000)

static const char *const default_origins[] = {"http://localhost:3000", "http://localhost:3001",
                                              "http://127.0.0.1:3000", "http://127.0.0.1:3001"};

static const char usage[] =
    "usage: exo-state-manager [--listen HOST:PORT] [--db PATH|postgres://...] [--db-pool N]\n"
    "                         [--retention-days [NS=]N]... [--metrics-public] [--version]\n"
    "  --listen           address to serve on (default 127.0.0.1:8000, this machine only;\n"
    "                     0.0.0.0:8000 serves every interface)\n"
    "  --db               SQLite database file (default exo.db), or a PostgreSQL URI\n"
    "                     postgres://user:password@host:port/dbname (also postgresql://; libpq's\n"
    "                     PG* environment variables fill in what it leaves out)\n"
    "  --db-pool          PostgreSQL connections per process (default 8, 1-256)\n"
    "  --retention-days   delete finished runs older than N days (a decimal; 0 keeps them, the\n"
    "                     default); NS=N sets namespace NS's own retention (repeatable)\n"
    "  --metrics-public   serve /metrics without the API key (default: the key is needed)\n"
    "  --version          print the version and exit\n"
    "environment: STATE_MANAGER_SECRET (required), SECRETS_ENCRYPTION_KEY, TRIGGER_RETENTION_HOURS,\n"
    "             CORS_ORIGINS, EXO_DEFAULT_LEASE_MS, EXO_HTTP_THREADS, EXO_MAX_CONNECTIONS,\n"
    "             EXO_MAX_CONNECTIONS_PER_IP, EXO_HEADER_TIMEOUT_S, EXO_BODY_TIMEOUT_S, EXO_MAX_OUTPUTS\n";

#define DAY_MS 86400000.0

/* "N" or "NS=N" of --retention-days: N days (a decimal >= 0) into cfg. */
static int parse_retention(exo_sm_config *cfg, const char *v, char *err, size_t errlen)
{
    const char *eq = strrchr(v, '=');
    const char *number = eq ? eq + 1 : v;
    char *end;
    errno = 0;
    double days = strtod(number, &end);
    if (errno || end == number || *end || !(days >= 0) || days > 1e6) {
        snprintf(err, errlen, "--retention-days %s: expected a number of days >= 0 (e.g. 30 or 0.5), or NS=DAYS", v);
        return -1;
    }
    int64_t keep_ms = (int64_t)(days * DAY_MS);
    if (days > 0 && keep_ms < 1)
        keep_ms = 1;
    if (!eq) {
        cfg->retention_ms = keep_ms;
        return 0;
    }
    if (eq == v) {
        snprintf(err, errlen, "--retention-days %s: the namespace before '=' is empty", v);
        return -1;
    }
    if (cfg->retention_count >= EXO_MAX_RETENTION_RULES) {
        snprintf(err, errlen, "--retention-days %s: at most %d namespace rules", v, EXO_MAX_RETENTION_RULES);
        return -1;
    }
    char *ns = strndup(v, (size_t)(eq - v));
    if (!ns) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cfg->retention_rules[cfg->retention_count].ns = ns;
    cfg->retention_rules[cfg->retention_count++].keep_ms = keep_ms;
    return 0;
}

static int parse_listen(exo_sm_config *cfg, const char *v, char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || !colon[1]) {
        snprintf(err, errlen, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8000", v);
        return -1;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 1 || port > 65535) {
        snprintf(err, errlen, "--listen %s: port must be an integer 1-65535", v);
        return -1;
    }
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof cfg->listen_host) {
        snprintf(err, errlen, "--listen %s: host too long", v);
        return -1;
    }
    memcpy(cfg->listen_host, v, hl);
    cfg->listen_host[hl] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

static int parse_pool(exo_sm_config *cfg, const char *v, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < 1 || n > (long)EXO_STORAGE_MAX_POOL) {
        snprintf(err, errlen, "--db-pool %s: expected an integer between 1 and %u", v, EXO_STORAGE_MAX_POOL);
        return -1;
    }
    cfg->db_pool = (unsigned)n;
    return 0;
}

static int env_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || *end || end == v || n < min || n > max) {
        snprintf(err, errlen, "%s=%s: expected an integer between %lld and %lld", name, v, (long long)min,
                 (long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

static int add_origin(exo_sm_config *cfg, const char *start, size_t len)
{
    while (len && isspace((unsigned char)*start)) {
        start++;
        len--;
    }
    while (len && isspace((unsigned char)start[len - 1]))
        len--;
    if (!len || cfg->cors_count >= EXO_MAX_CORS_ORIGINS)
        return 0;
    char *o = strndup(start, len);
    if (!o)
        return -1;
    cfg->cors_origins[cfg->cors_count++] = o;
    return 0;
}

static int load_cors(exo_sm_config *cfg)
{
    const char *v = getenv("CORS_ORIGINS");
    if (v) {
        const char *p = v;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (add_origin(cfg, p, len) != 0)
                return -1;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    if (cfg->cors_count == 0)
        for (size_t i = 0; i < sizeof default_origins / sizeof *default_origins; i++)
            if (add_origin(cfg, default_origins[i], strlen(default_origins[i])) != 0)
                return -1;
    return 0;
}

static int env_small(const char *name, int def, int min, int max, int *out, char *err, size_t errlen)
{
    int64_t v;
    if (env_int(name, def, min, max, &v, err, errlen) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* The limits that keep hostile or heavy clients from taking the server down. */
static int load_limits(exo_sm_config *cfg, char *err, size_t errlen)
{
    if (env_small("EXO_HTTP_THREADS", 4, 1, 256, &cfg->http_threads, err, errlen) != 0 ||
        env_small("EXO_MAX_CONNECTIONS", 16384, 16, 1000000, &cfg->max_connections, err, errlen) != 0 ||
        env_small("EXO_MAX_CONNECTIONS_PER_IP", 4096, 0, 1000000, &cfg->max_connections_per_ip, err, errlen) != 0 ||
        env_small("EXO_HEADER_TIMEOUT_S", 30, 1, 3600, &cfg->header_timeout_s, err, errlen) != 0 ||
        env_small("EXO_BODY_TIMEOUT_S", 120, 1, 3600, &cfg->body_timeout_s, err, errlen) != 0 ||
        env_int("EXO_MAX_OUTPUTS", 10000, 1, 10000000, &cfg->max_outputs, err, errlen) != 0)
        return -1;
    return 0;
}

/* Loads KEY=VALUE lines of ./.env into the environment without overriding
 * variables that are already set (§13).  A missing file is fine. */
static void load_dotenv(void)
{
    FILE *f = fopen(".env", "r");
    if (!f)
        return;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || !*p)
            continue;
        if (!strncmp(p, "export ", 7))
            p += 7;
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *key = p, *val = eq + 1;
        size_t kl = strlen(key);
        while (kl && isspace((unsigned char)key[kl - 1]))
            key[--kl] = '\0';
        size_t vl = strlen(val);
        while (vl && isspace((unsigned char)val[vl - 1]))
            val[--vl] = '\0';
        while (isspace((unsigned char)*val)) {
            val++;
            vl--;
        }
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = '\0';
            val++;
        }
        if (kl)
            setenv(key, val, 0);
    }
    fclose(f);
}

int exo_sm_config_load(exo_sm_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1"); /* wider only when asked */
    cfg->listen_port = 8000;
    snprintf(cfg->db, sizeof cfg->db, "exo.db");
    cfg->db_pool = EXO_STORAGE_DEFAULT_POOL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 1;
        }
        if (!strcmp(a, "--version")) {
            exo_version_print(stdout, "exo-state-manager");
            return 1;
        }
        if (!strcmp(a, "--metrics-public")) {
            cfg->metrics_public = 1;
            continue;
        }
        int is_listen = !strcmp(a, "--listen"), is_db = !strcmp(a, "--db"), is_pool = !strcmp(a, "--db-pool");
        int is_retention = !strcmp(a, "--retention-days");
        if (!is_listen && !is_db && !is_pool && !is_retention && strcmp(a, "--mode") != 0) {
            snprintf(err, errlen, "unknown argument '%s'\n%s", a, usage);
            return -1;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "%s needs a value\n%s", a, usage);
            return -1;
        }
        const char *v = argv[++i];
        if (is_listen && parse_listen(cfg, v, err, errlen) != 0)
            return -1;
        if (is_pool && parse_pool(cfg, v, err, errlen) != 0)
            return -1;
        if (is_retention && parse_retention(cfg, v, err, errlen) != 0)
            return -1;
        if (is_db) {
            if (!*v || strlen(v) >= sizeof cfg->db) {
                snprintf(err, errlen, "--db: expected a file path or postgres:// URI");
                return -1;
            }
            snprintf(cfg->db, sizeof cfg->db, "%s", v);
        }
    }
    load_dotenv();
    const char *secret = getenv("STATE_MANAGER_SECRET");
    if (!secret || !*secret) {
        snprintf(err, errlen, "STATE_MANAGER_SECRET is not set or empty: set it to the API key clients must send "
                              "in the x-api-key header");
        return -1;
    }
    cfg->api_secret = strdup(secret);
    if (!cfg->api_secret) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cfg->have_key = exo_secret_key_from_env(&cfg->key, cfg->key_error, sizeof cfg->key_error) == 0;
    if (env_int("TRIGGER_RETENTION_HOURS", 720, 0, 1000000, &cfg->trigger_retention_ms, err, errlen) != 0 ||
        env_int("EXO_DEFAULT_LEASE_MS", 1800000, 1, LEASE_MAX_MS, &cfg->default_lease_ms, err, errlen) != 0 ||
        env_int("EXO_RETENTION_INTERVAL_MS", 60000, 100, LEASE_MAX_MS, &cfg->retention_interval_ms, err, errlen) != 0)
        return -1;
    cfg->trigger_retention_ms *= 3600 * 1000;
    if (load_limits(cfg, err, errlen) != 0)
        return -1;
    if (load_cors(cfg) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void exo_sm_config_free(exo_sm_config *cfg)
{
    free(cfg->api_secret);
    for (size_t i = 0; i < cfg->cors_count; i++)
        free(cfg->cors_origins[i]);
    for (size_t i = 0; i < cfg->retention_count; i++)
        free(cfg->retention_rules[i].ns);
    memset(cfg, 0, sizeof *cfg);
}
