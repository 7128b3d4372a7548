#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Everything the parsing helpers need to produce "FILE:LINE: message" errors. */
typedef struct parse_ctx {
    const char *file;
    char *dir; /* directory of host.conf, for relative paths */
    char *err;
    size_t errlen;
    bool offline; /* --check / --describe: the URI and API key may be absent */
} parse_ctx;

static int fail_at(parse_ctx *pc, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(parse_ctx *pc, const config_setting_t *s, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned line = s ? config_setting_source_line(s) : 0;
    if (line > 0)
        snprintf(pc->err, pc->errlen, "%s:%u: %s", pc->file, line, msg);
    else
        snprintf(pc->err, pc->errlen, "%s: %s", pc->file, msg);
    return -1;
}

/* Rejects settings of a group that are not in `allowed` (catches typos like "worker"). */
static int check_known(parse_ctx *pc, const config_setting_t *group, const char *where,
                       const char *const *allowed)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = name && strcmp(name, *a) == 0;
        if (!known)
            return fail_at(pc, s, "unknown setting '%s'%s%s", name ? name : "?",
                           where ? " in " : "", where ? where : "");
    }
    return 0;
}

/* 1: found, 0: absent, -1: wrong type. */
static int get_string(parse_ctx *pc, const config_setting_t *group, const char *key,
                      const char *qual, const char **out)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail_at(pc, s, "%s%s must be a string", qual, key);
    *out = config_setting_get_string(s);
    return 1;
}

static int get_int(parse_ctx *pc, const config_setting_t *group, const char *key,
                   const char *qual, int64_t min, int64_t max, int64_t *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    if (!s)
        return 0;
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return fail_at(pc, s, "%s%s must be an integer", qual, key);
    long long v = config_setting_get_int64(s);
    if (v < min)
        return fail_at(pc, s, "%s%s must be at least %lld (got %lld)", qual, key, (long long)min, v);
    if (v > max)
        return fail_at(pc, s, "%s%s must be at most %lld (got %lld)", qual, key, (long long)max, v);
    *out = v;
    return 1;
}

static int get_bool(parse_ctx *pc, const config_setting_t *group, const char *key,
                    const char *qual, bool *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail_at(pc, s, "%s%s must be true or false", qual, key);
    *out = config_setting_get_bool(s) != 0;
    return 1;
}

static char *join_path(const char *dir, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, path);
    return out;
}

static int oom(parse_ctx *pc)
{
    snprintf(pc->err, pc->errlen, "%s: out of memory", pc->file);
    return -1;
}

/* Applies the settings present in a sandbox group on top of *sb. */
static int parse_sandbox(parse_ctx *pc, const config_setting_t *g, const char *qual,
                         host_sandbox_conf *sb)
{
    static const char *const keys[] = {"timeout_ms", "memory_mb", "cpu_seconds", "open_files",
                                       "file_size_mb", "processes", "output_kb", "network",
                                       "user", "max_threads", "scratch_mb", NULL};
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return fail_at(pc, g, "%s must be a group { ... }", qual);
    if (check_known(pc, g, qual, keys) < 0)
        return -1;
    char q[96];
    snprintf(q, sizeof q, "%s.", qual);
    const int64_t big = INT64_C(1) << 40;
    if (get_int(pc, g, "timeout_ms", q, 1, big, &sb->timeout_ms) < 0 ||
        get_int(pc, g, "memory_mb", q, 0, big, &sb->memory_mb) < 0 ||
        get_int(pc, g, "cpu_seconds", q, 0, big, &sb->cpu_seconds) < 0 ||
        get_int(pc, g, "open_files", q, 8, 1 << 20, &sb->open_files) < 0 ||
        get_int(pc, g, "file_size_mb", q, 0, big, &sb->file_size_mb) < 0 ||
        get_int(pc, g, "processes", q, 0, 1 << 20, &sb->processes) < 0 ||
        get_int(pc, g, "max_threads", q, 1, 1 << 20, &sb->max_threads) < 0 ||
        get_int(pc, g, "scratch_mb", q, 1, big, &sb->scratch_mb) < 0 ||
        get_int(pc, g, "output_kb", q, 1, big, &sb->output_kb) < 0 ||
        get_bool(pc, g, "network", q, &sb->network) < 0)
        return -1;
    const char *user = NULL;
    int rc = get_string(pc, g, "user", q, &user);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        const config_setting_t *us = config_setting_get_member(g, "user");
        if (strlen(user) >= sizeof sb->user)
            return fail_at(pc, us, "%suser is too long", q);
        /* Only a root host switches users: elsewhere the name is not used. */
        if (user[0] && geteuid() == 0 && !getpwnam(user))
            return fail_at(pc, us, "%suser '%s' does not exist", q, user);
        snprintf(sb->user, sizeof sb->user, "%s", user);
    }
    return 0;
}

static int parse_plugin(parse_ctx *pc, host_conf *c, const config_setting_t *e, size_t index)
{
    host_plugin_conf *p = &c->plugins[index];
    p->line = (int)config_setting_source_line(e);
    p->sandbox = c->sandbox;
    const char *path = NULL;
    char qual[64];
    snprintf(qual, sizeof qual, "plugins[%zu]", index);
    if (config_setting_type(e) == CONFIG_TYPE_STRING) {
        path = config_setting_get_string(e);
    } else if (config_setting_type(e) == CONFIG_TYPE_GROUP) {
        static const char *const keys[] = {"path", "sandbox", NULL};
        if (check_known(pc, e, qual, keys) < 0)
            return -1;
        char q[80];
        snprintf(q, sizeof q, "%s.", qual);
        if (get_string(pc, e, "path", q, &path) < 0)
            return -1;
        if (!path)
            return fail_at(pc, e, "%s has no path", qual);
        const config_setting_t *sb = config_setting_get_member(e, "sandbox");
        char sq[96];
        snprintf(sq, sizeof sq, "%s.sandbox", qual);
        if (sb && parse_sandbox(pc, sb, sq, &p->sandbox) < 0)
            return -1;
    } else {
        return fail_at(pc, e, "%s must be a file name or a group { path = ...; sandbox = {...}; }",
                       qual);
    }
    if (!*path)
        return fail_at(pc, e, "%s: the plugin path is empty", qual);
    p->path = path[0] == '/' ? strdup(path) : join_path(c->plugin_dir, path);
    return p->path ? 0 : oom(pc);
}

static int parse_plugins(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    const config_setting_t *list = config_setting_get_member(root, "plugins");
    if (!list)
        return fail_at(pc, NULL, "plugins is required (a list of .so files)");
    int type = config_setting_type(list);
    if (type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY)
        return fail_at(pc, list, "plugins must be a list: plugins = ( \"a.so\", ... );");
    int n = config_setting_length(list);
    if (n == 0)
        return fail_at(pc, list, "plugins is empty: a host needs at least one plugin");
    c->plugins = calloc((size_t)n, sizeof *c->plugins);
    if (!c->plugins)
        return oom(pc);
    c->n_plugins = (size_t)n;
    for (int i = 0; i < n; i++)
        if (parse_plugin(pc, c, config_setting_get_elem(list, (unsigned)i), (size_t)i) < 0)
            return -1;
    return 0;
}

static char *read_key_file(parse_ctx *pc, const config_setting_t *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fail_at(pc, s, "cannot read state_manager.api_key_file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fail_at(pc, s, "cannot read state_manager.api_key_file '%s'", path);
        return NULL;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n == 0) {
        fail_at(pc, s, "state_manager.api_key_file '%s' is empty", path);
        return NULL;
    }
    char *key = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    if (!key)
        oom(pc);
    return key;
}

/* Appends one state manager URI (http:// or https://, trailing slashes dropped). */
static int add_uri(parse_ctx *pc, host_conf *c, const config_setting_t *where, const char *uri, size_t len)
{
    if (len == 0)
        return fail_at(pc, where, "a state manager URI is empty");
    if (strncmp(uri, "http://", 7) != 0 && strncmp(uri, "https://", 8) != 0)
        return fail_at(pc, where, "state manager URI '%.*s' must start with http:// or https://", (int)len, uri);
    char **grown = realloc(c->uris, (c->n_uris + 1) * sizeof *grown);
    if (!grown)
        return oom(pc);
    c->uris = grown;
    while (len > 0 && uri[len - 1] == '/')
        len--;
    if (!(c->uris[c->n_uris] = strndup(uri, len)))
        return oom(pc);
    c->n_uris++;
    return 0;
}

/* state_manager.uris = ["http://a:8000", "http://b:8000"]: replicas to fail over between. */
static int parse_uri_list(parse_ctx *pc, host_conf *c, const config_setting_t *list)
{
    int type = config_setting_type(list);
    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return fail_at(pc, list, "state_manager.uris must be a list of strings, e.g. [\"http://a:8000\"]");
    int n = config_setting_length(list);
    if (n == 0)
        return fail_at(pc, list, "state_manager.uris is empty");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
        if (!v)
            return fail_at(pc, e, "state_manager.uris[%d] must be a string", i);
        if (add_uri(pc, c, e, v, strlen(v)) < 0)
            return -1;
    }
    return 0;
}

/* EXOSPHERE_STATE_MANAGER_URI: one URI or a comma-separated list. */
static int parse_uri_env(parse_ctx *pc, host_conf *c, const config_setting_t *where, const char *text)
{
    while (*text) {
        size_t len = strcspn(text, ",");
        const char *start = text;
        while (len > 0 && (*start == ' ' || *start == '\t'))
            start++, len--;
        while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (add_uri(pc, c, where, start, len) < 0)
            return -1;
        text += strcspn(text, ",");
        if (*text == ',')
            text++;
    }
    return 0;
}

static int parse_state_manager(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    const config_setting_t *g = config_setting_get_member(root, "state_manager");
    const char *uri = NULL, *key = NULL, *key_file = NULL, *version = NULL;
    if (g) {
        static const char *const keys[] = {"uri", "uris", "api_key", "api_key_file", "version", NULL};
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return fail_at(pc, g, "state_manager must be a group { uri = ...; }");
        if (check_known(pc, g, "state_manager", keys) < 0 ||
            get_string(pc, g, "uri", "state_manager.", &uri) < 0 ||
            get_string(pc, g, "api_key", "state_manager.", &key) < 0 ||
            get_string(pc, g, "api_key_file", "state_manager.", &key_file) < 0 ||
            get_string(pc, g, "version", "state_manager.", &version) < 0)
            return -1;
        if (key && key_file)
            return fail_at(pc, config_setting_get_member(g, "api_key_file"),
                           "state_manager.api_key and state_manager.api_key_file are both set; "
                           "keep one");
    }
    const config_setting_t *uris = g ? config_setting_get_member(g, "uris") : NULL;
    if (uri && uris)
        return fail_at(pc, uris, "state_manager.uri and state_manager.uris are both set; keep one");
    if (uris) {
        if (parse_uri_list(pc, c, uris) < 0)
            return -1;
    } else if (uri) {
        if (add_uri(pc, c, config_setting_get_member(g, "uri"), uri, strlen(uri)) < 0)
            return -1;
    } else {
        const char *env = getenv("EXOSPHERE_STATE_MANAGER_URI");
        if ((!env || !*env) && pc->offline)
            env = "http://127.0.0.1:8000"; /* checked as given when set; a placeholder otherwise */
        if (!env || !*env)
            return fail_at(pc, g, "the state manager URI is not set: set state_manager.uri, state_manager.uris or "
                                  "EXOSPHERE_STATE_MANAGER_URI");
        if (parse_uri_env(pc, c, g, env) < 0)
            return -1;
    }
    if (!(c->uri = strdup(c->uris[0])))
        return oom(pc);
    if (key_file) {
        char *path = join_path(pc->dir, key_file);
        if (!path)
            return oom(pc);
        c->api_key = read_key_file(pc, config_setting_get_member(g, "api_key_file"), path);
        free(path);
        if (!c->api_key)
            return -1;
    } else {
        if (!key)
            key = getenv("EXOSPHERE_API_KEY");
        if ((!key || !*key) && pc->offline)
            key = ""; /* validating a configuration needs no credential */
        if (!key || (!*key && !pc->offline))
            return fail_at(pc, g, "the API key is not set: set state_manager.api_key, "
                                  "state_manager.api_key_file or EXOSPHERE_API_KEY");
        if (!(c->api_key = strdup(key)))
            return oom(pc);
    }
    if (version && !*version)
        return fail_at(pc, config_setting_get_member(g, "version"),
                       "state_manager.version is empty");
    c->version = strdup(version ? version : "v0");
    return c->version ? 0 : oom(pc);
}

static int parse_required_name(parse_ctx *pc, const config_setting_t *root, const char *key,
                               char **out)
{
    const char *v = NULL;
    int rc = get_string(pc, root, key, "", &v);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return fail_at(pc, NULL, "%s is required", key);
    if (!*v)
        return fail_at(pc, config_setting_get_member(root, key), "%s is empty", key);
    *out = strdup(v);
    return *out ? 0 : oom(pc);
}

static int parse_numbers(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    int64_t workers = 4, batch = 16, prefetch = 0;
    const int64_t day = 86400000;
    c->poll_interval_ms = 1000;
    c->wait_ms = 20000;
    c->lease_ms = 60000;
    c->grace_ms = 10000;
    c->register_timeout_ms = 300000;
    c->heartbeat_ms = 10000;
    if (get_int(pc, root, "workers", "", 1, 4096, &workers) < 0 ||
        get_int(pc, root, "batch_size", "", 1, 10000, &batch) < 0 ||
        get_int(pc, root, "prefetch", "", 0, 10000, &prefetch) < 0 ||
        get_int(pc, root, "poll_interval_ms", "", 1, day, &c->poll_interval_ms) < 0 ||
        get_int(pc, root, "wait_ms", "", 0, 600000, &c->wait_ms) < 0 ||
        get_int(pc, root, "lease_ms", "", 0, day, &c->lease_ms) < 0 ||
        get_int(pc, root, "grace_ms", "", 0, day, &c->grace_ms) < 0 ||
        get_int(pc, root, "register_timeout_ms", "", 0, day, &c->register_timeout_ms) < 0 ||
        get_int(pc, root, "heartbeat_ms", "", 0, 3600000, &c->heartbeat_ms) < 0)
        return -1;
    if (c->heartbeat_ms > 0 && c->heartbeat_ms < 500)
        return fail_at(pc, config_setting_get_member(root, "heartbeat_ms"),
                       "heartbeat_ms must be 0 (off) or at least 500 (got %lld)",
                       (long long)c->heartbeat_ms);
    if (c->lease_ms > 0 && c->lease_ms < 3000)
        return fail_at(pc, config_setting_get_member(root, "lease_ms"),
                       "lease_ms must be 0 (off) or at least 3000 (got %lld)",
                       (long long)c->lease_ms);
    c->workers = (int)workers;
    c->batch_size = (int)batch;
    c->prefetch = (int)prefetch;
    return 0;
}

static int parse_paths(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    const char *plugin_dir = NULL, *state_dir = NULL, *scratch_dir = NULL;
    if (get_string(pc, root, "plugin_dir", "", &plugin_dir) < 0 ||
        get_string(pc, root, "state_dir", "", &state_dir) < 0 ||
        get_string(pc, root, "scratch_dir", "", &scratch_dir) < 0)
        return -1;
    const char *tmp = getenv("TMPDIR");
    if (!scratch_dir || !*scratch_dir)
        scratch_dir = tmp && *tmp ? tmp : "/tmp";
    c->scratch_dir = join_path(pc->dir, scratch_dir);
    c->plugin_dir = join_path(pc->dir, plugin_dir && *plugin_dir ? plugin_dir : ".");
    c->state_dir = join_path(pc->dir, state_dir && *state_dir ? state_dir : "exo-host-state");
    return c->plugin_dir && c->state_dir && c->scratch_dir ? 0 : oom(pc);
}

/* Far above any real account and the usual subordinate-id ranges (/etc/subuid). */
#define DEFAULT_STATE_UIDS "1900000000-1900065535"

static int parse_state_uids(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    const char *v = NULL;
    if (get_string(pc, root, "state_uids", "", &v) < 0)
        return -1;
    if (!v)
        v = DEFAULT_STATE_UIDS;
    if (*v) {
        unsigned long first = 0, last = 0;
        char tail = 0;
        if (sscanf(v, "%lu-%lu%c", &first, &last, &tail) != 2 || first == 0 || last < first ||
            last >= 4294967295UL || last - first >= 1048576)
            return fail_at(pc, config_setting_get_member(root, "state_uids"),
                           "state_uids must be \"FIRST-LAST\" (user ids above 0, at most "
                           "1048576 of them) or \"\" (off), got \"%s\"",
                           v);
        if (last - first + 1 < (unsigned long)c->workers)
            return fail_at(pc, config_setting_get_member(root, "state_uids"),
                           "state_uids has %lu ids for %d workers (one per running state)",
                           last - first + 1, c->workers);
    }
    c->state_uids = strdup(v);
    return c->state_uids ? 0 : oom(pc);
}

static int parse_readable_paths(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    const config_setting_t *list = config_setting_get_member(root, "readable_paths");
    if (!list)
        return 0;
    int type = config_setting_type(list);
    if (type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY)
        return fail_at(pc, list, "readable_paths must be a list of paths: [ \"/data\", ... ]");
    int n = config_setting_length(list);
    if (n > 0 && !(c->readable_paths = calloc((size_t)n, sizeof *c->readable_paths)))
        return oom(pc);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *path = config_setting_get_string(e);
        if (!path || !*path)
            return fail_at(pc, e, "readable_paths #%d must be a non-empty string", i + 1);
        if (!(c->readable_paths[i] = join_path(pc->dir, path)))
            return oom(pc);
        c->n_readable_paths = (size_t)i + 1;
    }
    return 0;
}

/* "IP:PORT" with a numeric IPv4 address or a bracketed IPv6 one ("[::1]:9464"). */
static bool listen_address_valid(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return false;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535)
        return false;
    char host[64];
    size_t len = (size_t)(colon - v);
    if (len >= sizeof host)
        return false;
    memcpy(host, v, len);
    host[len] = '\0';
    unsigned char addr[16];
    if (host[0] == '[' && host[len - 1] == ']') {
        host[len - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, addr) == 1;
    }
    return inet_pton(AF_INET, host, addr) == 1;
}

static int parse_observability(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    const char *format = NULL, *listen = NULL;
    if (get_string(pc, root, "log_format", "", &format) < 0 ||
        get_string(pc, root, "metrics_listen", "", &listen) < 0)
        return -1;
    c->log_format = EXO_LOG_TEXT;
    if (format && (c->log_format = exo_log_format_from_name(format)) < 0)
        return fail_at(pc, config_setting_get_member(root, "log_format"),
                       "log_format must be \"text\" or \"json\", got \"%s\"", format);
    if (!listen || !*listen)
        return 0;
    if (!listen_address_valid(listen))
        return fail_at(pc, config_setting_get_member(root, "metrics_listen"),
                       "metrics_listen must be \"IP:PORT\" (e.g. \"127.0.0.1:9464\" or "
                       "\"[::1]:9464\"), got \"%s\"",
                       listen);
    c->metrics_listen = strdup(listen);
    return c->metrics_listen ? 0 : oom(pc);
}

static int parse_root(parse_ctx *pc, host_conf *c, const config_setting_t *root)
{
    static const char *const keys[] = {
        "namespace", "name", "state_manager", "workers", "batch_size", "prefetch",
        "poll_interval_ms", "wait_ms", "lease_ms", "grace_ms", "register_timeout_ms", "heartbeat_ms",
        "state_dir", "scratch_dir", "plugin_dir", "plugins", "sandbox", "state_uids",
        "readable_paths", "log_format", "metrics_listen", NULL};
    if (check_known(pc, root, NULL, keys) < 0 ||
        parse_required_name(pc, root, "namespace", &c->namespace_) < 0 ||
        parse_required_name(pc, root, "name", &c->name) < 0 || parse_numbers(pc, c, root) < 0 ||
        parse_state_manager(pc, c, root) < 0 || parse_paths(pc, c, root) < 0 ||
        parse_state_uids(pc, c, root) < 0 || parse_readable_paths(pc, c, root) < 0 ||
        parse_observability(pc, c, root) < 0)
        return -1;
    host_sandbox_defaults(&c->sandbox);
    const config_setting_t *sb = config_setting_get_member(root, "sandbox");
    if (sb && parse_sandbox(pc, sb, "sandbox", &c->sandbox) < 0)
        return -1;
    return parse_plugins(pc, c, root);
}

static char *dir_of(const char *path)
{
    char *abs = realpath(path, NULL);
    if (!abs)
        return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    return abs;
}

static int conf_load(const char *path, host_conf *out, bool offline, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    parse_ctx pc = {path, NULL, err, errlen, offline};
    config_t cfg;
    config_init(&cfg);
    int rc = -1;
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        else
            snprintf(err, errlen, "%s:%d: %s",
                     config_error_file(&cfg) ? config_error_file(&cfg) : path,
                     config_error_line(&cfg), config_error_text(&cfg));
        goto done;
    }
    if (!(pc.dir = dir_of(path))) {
        snprintf(err, errlen, "%s: cannot resolve its directory: %s", path, strerror(errno));
        goto done;
    }
    if (!(out->file = strdup(path))) {
        oom(&pc);
        goto done;
    }
    rc = parse_root(&pc, out, config_root_setting(&cfg));
done:
    config_destroy(&cfg);
    free(pc.dir);
    if (rc < 0)
        host_conf_free(out);
    return rc;
}

int host_conf_load(const char *path, host_conf *out, char *err, size_t errlen)
{
    return conf_load(path, out, false, err, errlen);
}

int host_conf_load_offline(const char *path, host_conf *out, char *err, size_t errlen)
{
    return conf_load(path, out, true, err, errlen);
}

void host_conf_free(host_conf *c)
{
    if (!c)
        return;
    if (c->api_key)
        explicit_bzero(c->api_key, strlen(c->api_key));
    free(c->file);
    free(c->namespace_);
    free(c->name);
    free(c->uri);
    for (size_t i = 0; i < c->n_uris; i++)
        free(c->uris[i]);
    free(c->uris);
    free(c->api_key);
    free(c->version);
    free(c->state_dir);
    free(c->scratch_dir);
    free(c->plugin_dir);
    free(c->state_uids);
    free(c->metrics_listen);
    for (size_t i = 0; i < c->n_readable_paths; i++)
        free(c->readable_paths[i]);
    free(c->readable_paths);
    for (size_t i = 0; i < c->n_plugins; i++)
        free(c->plugins[i].path);
    free(c->plugins);
    memset(c, 0, sizeof *c);
}
