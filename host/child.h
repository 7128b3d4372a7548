/* What runs for one state, outside the host process.
 *
 * The host forks, and the child immediately execs the state runner (exo-host-runner,
 * a small program linked without libcurl so that it starts fast; `exo-host
 * --run-state` is the fallback): the runner starts with a clean address
 * space, so neither the API key nor another state's secrets (which the host's heap
 * may still hold in freed memory) can be found by node code.  Descriptors of the
 * runner: 0 = the job (JSON, read to the end, then replaced by /dev/null),
 * 1 and 2 = printed output, HOST_RESULT_FD = the result.  The environment is reduced
 * to a few harmless variables (never EXOSPHERE_API_KEY).
 *
 * Job (written by the host): {"plugin": path, "state_id": ..., "identifier": ...,
 *   "inputs": {...}, "secrets": {...}, "scratch": dir, "sandbox": {limits}}
 *
 * Result: the runner writes exactly one JSON object to HOST_RESULT_FD and exits;
 * the parent decides the outcome from that object and the exit status:
 *   {"kind":"outputs","outputs":[{...},...],"store":{...}}   (store only when set)
 *   {"kind":"error","error":"text"}
 *   {"kind":"prune","data":{...}}
 *   {"kind":"requeue","delay_ms":N}
 *   {"kind":"blocked","syscall":"socket"}   (written by the SIGSYS handler)
 *   {"kind":"memory"}                        (crash right after an allocation failed) */
#ifndef EXO_HOST_CHILD_H
#define EXO_HOST_CHILD_H

#include <json-c/json.h>

#include "config.h"
#include "plugin.h"

#define HOST_RESULT_FD 3

typedef struct host_job {
    const host_node *node;
    const char *state_id;
    const char *identifier; /* may be NULL */
    json_object *inputs;    /* every declared input as a string (already validated) */
    json_object *secrets;   /* declared secrets only; may be NULL */
} host_job;

/* The job text for the runner (contains the secrets: wipe it after use). */
char *host_job_serialize(const host_job *job, const host_sandbox_conf *sb, const char *scratch);

/* Called in the child right after fork(): new process group, parent-death signal,
 * descriptors in place (everything else closed), then exec of runner (the lean
 * exo-host-runner program; NULL: this program's own --run-state mode).  On failure
 * writes an error result and exits.  Never returns. */
void host_child_exec(const char *runner, int job_fd, int result_fd, int output_fd)
    __attribute__((noreturn));

/* The runner (`exo-host-runner --run-state`, or `exo-host --run-state`): reads the
 * job, loads the plugin, enters the sandbox, runs the node, writes the result.
 * Never returns. */
void host_runner_main(void) __attribute__((noreturn));

/* Path of exo-host-runner next to the running program, or NULL when it is not
 * there (malloc'd). */
char *host_runner_path(void);

/* Runs exo_execute with a fresh context and returns the result object above
 * (used by host_child_main; separate so it can be unit tested without fork). */
json_object *host_child_execute(const host_job *job);

#endif
