/* host.conf: parsing, defaults, environment fallback and validation.
 *
 * Contract: host_conf_load() either fills *out completely (every default applied,
 * URI and API key resolved, every path absolute) and returns 0, or returns -1 with
 * err holding one line "FILE:LINE: what is wrong" (or "FILE: ..." when the problem
 * has no line, e.g. a missing setting).  Relative paths in host.conf are resolved
 * against the directory of host.conf. */
#ifndef EXO_HOST_CONFIG_H
#define EXO_HOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox_conf.h"

typedef struct host_plugin_conf {
    char *path; /* absolute path of the .so */
    int line;   /* line in host.conf, for messages */
    host_sandbox_conf sandbox;
} host_plugin_conf;

typedef struct host_conf {
    char *file;           /* host.conf as given */
    char *namespace_;
    char *name;           /* runtime name */
    char *uri;            /* the first state manager base URI, without trailing slashes */
    char **uris;          /* every one (state_manager.uris or a comma list): replicas to fail over between */
    size_t n_uris;
    char *api_key;
    char *version;        /* API version, "v0" */
    int workers;
    int batch_size;
    int prefetch;         /* claims beyond free workers (default 0) */
    int64_t poll_interval_ms;
    int64_t wait_ms;      /* long-poll time sent to states/enqueue; 0 = plain polling */
    int64_t lease_ms;     /* lease asked for and kept alive; 0 = do not send */
    int64_t grace_ms;     /* shutdown: running states get this long to finish */
    int64_t register_timeout_ms; /* give up registering after this long; 0 = never */
    int64_t heartbeat_ms; /* worker-registry heartbeat period (default 10000); 0 = do not send */
    char *state_dir;      /* the spool lives here */
    char *scratch_dir;    /* per-state scratch directories are made below it */
    char *plugin_dir;
    char *state_uids;     /* "FIRST-LAST": one user id per running state (root only); "" = off */
    char **readable_paths; /* absolute; what states may read besides the system dirs */
    size_t n_readable_paths;
    int log_format;       /* exo_log_format: log_format = "text" (default) or "json" */
    char *metrics_listen; /* "IP:PORT" of the Prometheus endpoint; NULL = none */
    host_plugin_conf *plugins;
    size_t n_plugins;
    host_sandbox_conf sandbox;
} host_conf;

int host_conf_load(const char *path, host_conf *out, char *err, size_t errlen);
/* The same for validating a configuration (--check, --describe): the state manager
 * URI and the API key may be absent (then a placeholder URI and an empty key);
 * whatever is set is still checked. */
int host_conf_load_offline(const char *path, host_conf *out, char *err, size_t errlen);
void host_conf_free(host_conf *conf);

#endif
