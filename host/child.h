/* What runs inside the forked child of one state: the exo_api routine table the
 * plugin calls, and the result written back to the host.
 *
 * Result channel: the child writes exactly one JSON object to fd HOST_RESULT_FD and
 * exits; the parent decides the outcome from that object and the exit status:
 *   {"kind":"outputs","outputs":[{...},...],"store":{...}}   (store only when set)
 *   {"kind":"error","error":"text"}
 *   {"kind":"prune","data":{...}}
 *   {"kind":"requeue","delay_ms":N}
 *   {"kind":"blocked","syscall":"socket"}   (written by the SIGSYS handler)
 *   {"kind":"memory"}                        (crash right after an allocation failed)
 * stdout and stderr of the child go to a second pipe that the parent logs and counts. */
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

/* Called in the child right after fork(): moves the pipes into place, closes every
 * other descriptor, enters the sandbox, runs the node and exits.  Never returns. */
void host_child_main(const host_job *job, const host_sandbox_conf *sb, const char *scratch,
                     int result_fd, int output_fd) __attribute__((noreturn));

/* Runs exo_execute with a fresh context and returns the result object above
 * (used by host_child_main; separate so it can be unit tested without fork). */
json_object *host_child_execute(const host_job *job);

#endif
