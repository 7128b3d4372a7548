/* Internal state of the host event loop, shared by host*.c only. */
#ifndef EXO_HOST_INTERNAL_H
#define EXO_HOST_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "metrics_http.h"
#include "log.h"
#include "plugin.h"
#include "run.h"
#include "scratch.h"
#include "spool.h"

/* The nodes of one configuration generation; states keep the set they started
 * with alive across a SIGHUP reload. */
typedef struct plugin_set {
    host_node *nodes;
    size_t n;
    int refs;
} plugin_set;

typedef enum {
    PH_WAITING,   /* claimed, waiting for a worker */
    PH_SECRETS,   /* fetching secrets (occupies a worker slot) */
    PH_RUNNING,   /* child running */
    PH_REPORTING, /* report being delivered */
} state_phase;

typedef struct report report;

typedef struct host host;

/* One POST states/report in flight (host_reports.c): several reports and maybe a
 * bundled claim.  Its reports point at it (report.batch) with their position. */
typedef struct host_batch {
    host *owner;
    bool inflight;
    unsigned long req;
    size_t count;              /* reports in it */
    struct host_claim *claim;  /* the bundled claim, NULL: none */
} host_batch;

#define HOST_MAX_BATCHES 2
#define HOST_BATCH_REPORTS 100 /* reports per batch at most */

typedef struct hstate {
    host *owner;
    char *id;
    char *node_name;
    char *identifier;
    char *run_id;     /* from exo's extended claim answer; NULL from other servers */
    char *graph_name; /* likewise */
    json_object *inputs; /* as received */
    state_phase phase;
    plugin_set *set;
    const host_node *node;
    json_object *valid_inputs;
    json_object *secrets;
    unsigned long secrets_req;
    host_run run;
    bool has_run;
    int64_t claimed_ms;
    int64_t start_ms;
    bool lease_lost; /* the state manager gave the state up: run it no further */
    struct hstate *next;
} hstate;

struct report {
    char *file;     /* spool file; NULL when spooling failed */
    char *state_id;
    char *node;
    char *path;     /* "/v0/namespace/ns/state/ID/executed" */
    char *body;
    int attempts;
    int64_t next_ms;
    bool inflight;
    bool synced;      /* the spool file reached the disk (fsync) */
    int64_t sync_ms;  /* fsync the spool file at this time if still undelivered */
    /* Called once the state manager answered for good (not at host_reports_free);
     * NULL for replayed reports.  Reports know no states: states use reports. */
    void (*on_done)(host *h, void *arg);
    void *done_arg;
    host *owner;
    host_batch *batch; /* the batch it travels in (inflight), NULL: alone or none */
    size_t batch_pos;  /* its index in that batch's reports */
    struct report *next;
};

typedef enum { REG_PENDING, REG_INFLIGHT, REG_DONE } reg_phase;

#define HOST_MAX_CLAIMS 2
#define HOST_MAX_WAIT_FDS 1024 /* descriptors polled besides libcurl's */

typedef struct host_claim {
    host *owner;
    bool inflight;
    bool bundled;            /* sent with a batch of reports: answered at once, no long-poll */
    unsigned long req;
    int want;                /* batch_size it asked for */
    int64_t sent_ms;
    int64_t cancel_ms;       /* cancel it at this time (0: keep it) */
    bool cancelling;         /* its failure is our own cancel, not an error */
} host_claim;

struct host {
    host_conf conf;
    plugin_set *plugins;
    host_http *http;
    int sigfd;
    int state_lock_fd;           /* flock of state_dir/lock: one host per state_dir (-1: none) */
    char *spool_dir;
    host_spool spool;            /* below spool_dir */
    char *scratch_dir;
    host_scratch_pool scratch;   /* below scratch_dir */
    char *view_root;             /* scratch_dir/.view: where the fork server builds the view */
    char *view_spec;             /* its JSON spec (runner/view.h) */
    char *runner;   /* exo-host-runner; NULL: exec this program with --zygote */
    host_zygote *zygote; /* parent of every state's process; NULL until (re)started */
    hstate *states; /* arrival order */
    report *reports;
    size_t uri_index;            /* conf.uris[uri_index] gets the requests (failover) */

    reg_phase reg;
    int reg_attempts;
    int64_t reg_next_ms;
    int64_t reg_started_ms;
    bool reg_fatal_on_reject; /* startup: a rejected registration ends the host */

    /* Claims (POST states/enqueue) in flight: a second one goes out while the first
     * is on the wire when the last answer was full (the server has a backlog), so
     * that free workers do not wait a whole round trip per batch. */
    host_claim claims[HOST_MAX_CLAIMS];
    /* How long a state occupies a worker (start to outcome), a moving average; 0
     * until one ran.  Backpressure: claims beyond the free workers (prefetch) are
     * limited to what the busy workers get to within half a lease. */
    int64_t state_ms_avg;
    bool poll_backlog;       /* the last claim got every state it asked for */
    int64_t poll_next_ms;
    int poll_failures;

    /* The state manager offers POST states/report (the X-Exo-Extensions header of
     * its registration answer): reports travel in batches, with a claim bundled
     * when one is due.  Off for the reference, after a 404/405 of the call, and
     * with EXO_HOST_BATCH_REPORTS=0 (for side-by-side measurements). */
    bool batch_reports;
    host_batch batches[HOST_MAX_BATCHES];

    bool lease_enabled;
    bool lease_inflight;
    int64_t lease_next_ms;

    /* Heartbeats to the worker registry (host_heartbeat.c). */
    bool hb_disabled;        /* the state manager has no registry (the reference): stop */
    bool hb_inflight;
    bool hb_failing;         /* the last one failed (logged once per failing stretch) */
    int64_t hb_next_ms;
    host_metrics metrics;           /* what metrics_listen serves */
    host_metrics_http *metrics_http; /* NULL: no metrics_listen */
    int64_t started_unix_s;

    bool stopping;
    int64_t stop_kill_ms;    /* running children are killed at this time */
    int64_t stop_give_up_ms; /* undelivered reports stay spooled after this */
    bool fatal;

    struct curl_waitfd wait_fds[HOST_MAX_WAIT_FDS]; /* the loop's, reused every iteration */
};

/* host_util.c; backoff: base_ms * 2^(attempt-1), capped, plus up to 25 % jitter */
int64_t host_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms);
char *host_ns_path(const host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *host_url(const host *h, const char *path);
/* host_http observer: moves to the next state manager URI after a connection
 * failure or a 502/503/504 from the current one. */
void host_failover_observe(void *arg, const char *url, const host_http_result *res);
plugin_set *plugin_set_new(host_node *nodes, size_t n);
void plugin_set_release(plugin_set *set);
const host_node *plugin_set_find(const plugin_set *set, const char *name);

/* host_claims.c: registration, enqueue (claims), lease keep-alive */
void host_claims_tick(host *h, int64_t now);
int64_t host_claims_next_ms(const host *h);
void host_register_now(host *h);
bool host_claims_inflight(const host *h);
int64_t host_claims_cancel_ms(const host *h); /* earliest planned cancel, INT64_MAX: none */
/* The in-flight claims (if any) are stale: let an answer on the wire arrive for
 * HOST_STALE_CLAIM_MS, then cancel it. */
void host_claim_make_stale(host *h, int64_t now);
#define HOST_STALE_CLAIM_MS 1000
/* A claim to send with a batch of reports (host_reports.c) when one is due now: the
 * claim's slot, marked in flight, and its states/enqueue body (without wait_ms, in
 * *body, the caller's); NULL when no claim is due. */
host_claim *host_claim_bundle(host *h, int64_t now, json_object **body);
/* The bundled claim's answer (status and body of the claim part, or the batch
 * request's own failure). */
void host_claim_answered(host_claim *c, const host_http_result *res);

/* host_heartbeat.c: POST runtimes/heartbeat every conf.heartbeat_ms once registered */
void host_heartbeat_tick(host *h, int64_t now);
int64_t host_heartbeat_next_ms(const host *h);

/* host_states.c: dispatch, secrets, children */
/* A log line about state s: "state ID [run RUN graph GRAPH ]node NODE" then the
 * message (which brings its own separator: ": started", " 12 ms: executed"); in
 * the JSON format the state's id, run, graph and node are members of the line. */
void host_state_log(exo_log_level level, const hstate *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void host_states_dispatch(host *h, int64_t now);
void host_states_reap(host *h);
void host_states_zygote_events(host *h);
int host_zygote_ensure(host *h);
void host_states_readable(host *h, int fd);
void host_states_tick(host *h, int64_t now);
int64_t host_states_next_ms(const host *h);
size_t host_states_count(const host *h, state_phase phase);
hstate *host_state_add(host *h, json_object *claim);
void host_state_remove(host *h, hstate *s);
void host_state_finish(host *h, hstate *s, host_outcome *out, int64_t now);
void host_states_release_waiting(host *h);
void host_states_lease_lost(host *h, json_object *ids);

/* host_reports.c: spool + delivery with retries.  host_report_create returns -1 when
 * out of memory (logged; on_done is then never called). */
typedef void (*host_report_done_fn)(host *h, void *arg);
int host_report_create(host *h, const char *state_id, const char *node, host_report_kind kind,
                       json_object *body, host_report_done_fn on_done, void *done_arg);
void host_reports_free(host *h);
void host_reports_replay(host *h);
void host_reports_tick(host *h, int64_t now);
int64_t host_reports_next_ms(const host *h);

#endif
