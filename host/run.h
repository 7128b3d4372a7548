/* Parent side of one state's child process: start it, collect its result and its
 * printed output through two non-blocking pipes, enforce the wall-clock and output
 * limits, and turn what happened into the report to send.
 *
 * Lifecycle: host_run_start -> (host_run_on_readable on POLLIN of either fd,
 * host_run_reaped when waitpid returned it, host_run_check_deadline on timer) ...
 * -> host_run_finished() -> host_run_outcome -> host_run_cleanup. */
#ifndef EXO_HOST_RUN_H
#define EXO_HOST_RUN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "child.h"
#include "config.h"
#include "logtail.h"
#include "metrics.h"
#include "scratch.h"
#include "zygote.h"

typedef enum {
    HOST_REPORT_EXECUTED,
    HOST_REPORT_ERRORED,
    HOST_REPORT_PRUNE,
    HOST_REPORT_REQUEUE,
} host_report_kind;

/* The report for a state: which endpoint and the body to send. */
typedef struct host_outcome {
    host_report_kind kind;
    json_object *body;
    char summary[512]; /* for the one log line per state */
    host_outcome_reason reason; /* for exo_host_state_outcomes_total */
} host_outcome;

typedef struct host_run {
    host_zygote *zygote; /* the fork server that started (and reaps) the process */
    uint64_t token;      /* the process's name in the fork server's messages */
    pid_t pid;           /* known once it exited; -1 before */
    int result_fd; /* -1 once closed */
    int output_fd;
    char *scratch;
    host_scratch_pool *scratch_pool;
    char *log_prefix; /* "state <id> [run <run> graph <graph> ](<node>)" for forwarded output */
    /* For the fields of JSON log lines; borrowed from the job and the state, which
     * outlive the run (NULL: unknown). */
    const char *state_id, *node_name, *run_id, *graph_name;
    host_sandbox_conf sb;
    int64_t started_ms;
    int64_t deadline_ms;
    int64_t exited_ms;
    char *result;
    size_t result_len;
    size_t output_len;
    char line[256]; /* partial line of printed output */
    size_t line_len;
    size_t forwarded;
    host_logtail logs;  /* the end of the printed output, for the report */
    bool exited;
    int status;
    struct rusage ru;
    bool timed_out;
    bool output_exceeded;
    bool memory_exceeded; /* its cgroup's OOM killer acted */
    char blocked[64];     /* the refused system call the fork server ended it for ("" = none) */
    bool killed_by_host; /* shutdown grace expired */
    char lost[256];      /* why the process never ran or was lost ("" = it was not) */
} host_run;

/* Asks the fork server for the state's process (see zygote.h, child.h) and hands
 * that process the job through a pipe.  scratch: the pool the private scratch
 * directory is taken from (and returned to by host_run_cleanup). */
int host_run_start(host_run *r, const host_job *job, const host_sandbox_conf *sb,
                   host_zygote *zygote, host_scratch_pool *scratch, char *err, size_t errlen);

/* Names the state's run and graph (when the state manager said) in the lines of
 * forwarded output; both borrowed, NULL when unknown. */
void host_run_set_context(host_run *r, const char *run_id, const char *graph_name);

/* Reads what is available on fd (one of the run's pipes).  Kills the child when the
 * output limit is exceeded. */
void host_run_on_readable(host_run *r, int fd);

/* The fork server reported the process's end (or that it could not be created). */
void host_run_reaped(host_run *r, const host_zygote_exit *ex);

/* The process is gone without an exit status (its fork server died): reason is
 * the outcome's text. */
void host_run_lost(host_run *r, const char *reason);

/* Kills the child's process group when its deadline has passed. */
void host_run_check_deadline(host_run *r, int64_t now_ms);

/* Kills the process group now (shutdown); the outcome names the reason. */
void host_run_kill(host_run *r);

/* Done: the child was reaped and both pipes are at EOF (or 1 s passed since exit). */
bool host_run_finished(const host_run *r, int64_t now_ms);

/* Decides the report from the run and the node's declared outputs. */
void host_run_outcome(const host_run *r, const host_node *node, host_outcome *out);

/* Adds the end of what the process printed (logtail.h) to an executed or errored
 * report as "logs" (exo's extension), when it printed anything. */
void host_run_attach_logs(const host_run *r, host_outcome *out);

/* Closes the pipes and removes the scratch directory. */
void host_run_cleanup(host_run *r);

/* Outcome helpers also used for states that never ran. */
void host_outcome_errored(host_outcome *out, const char *message);

/* "1 MiB", "512 KiB" */
void host_format_kib(int64_t kib, char *buf, size_t len);

#endif
