/* What runs for one state, outside the host process.
 *
 * Each state runs in a process forked by the fork server (zygote.h), which is
 * exo-host-runner exec'ed once at host start-up (a small program linked without
 * libcurl; `exo-host --zygote` is the fallback): its address space never held the
 * API key or any state's secrets (the host's heap may still hold them in freed
 * memory), so node code cannot find them.  Descriptors of the state's process:
 * 0 = the job (JSON, read to the end, then replaced by /dev/null), 1 and 2 =
 * printed output, HOST_RESULT_FD = the result, HOST_PLUGIN_FD = the plugin (the
 * host's sealed memfd copy, loaded after the sandbox is in place), HOST_NOTIFY_FD =
 * a socket to the fork server that takes the seccomp filter's listener (closed
 * before the plugin is loaded; absent where refusals trap).  The environment is reduced to a
 * few harmless variables (never EXOSPHERE_API_KEY).
 *
 * Job (written by the host): {"plugin": path (for messages: the code is the memfd
 *   on HOST_PLUGIN_FD), "node": name, "state_id": ..., "identifier": ...,
 *   "inputs": {...}, "secrets": {...}, "scratch": dir, "sandbox": {limits}}
 *
 * Result: the runner writes exactly one JSON object to HOST_RESULT_FD and exits;
 * the parent decides the outcome from that object and the exit status:
 *   {"kind":"outputs","outputs":[{...},...],"store":{...}}   (store only when set)
 *   {"kind":"error","error":"text"}
 *   {"kind":"prune","data":{...}}
 *   {"kind":"requeue","delay_ms":N}
 *   {"kind":"blocked","syscall":"socket"}   (written by the SIGSYS handler, where refusals
 *                                             trap; else the fork server names the call
 *                                             in the exit event, seccomp_notify.h)
 *   {"kind":"memory"}                        (crash right after an allocation failed)
 *   {"kind":"signal","signal":N}             (pid 1 of its PID namespace: a signal it
 *                                             cannot die of, e.g. abort's SIGABRT) */
#ifndef EXO_HOST_CHILD_H
#define EXO_HOST_CHILD_H

#include <json-c/json.h>

#include "sandbox_conf.h"
#include "plugin.h"

#define HOST_RESULT_FD 3
#define HOST_PLUGIN_FD 4
#define HOST_NOTIFY_FD 5

typedef struct host_job {
    const host_node *node;
    const char *state_id;
    const char *identifier; /* may be NULL */
    json_object *inputs;    /* every declared input as a string (already validated) */
    json_object *secrets;   /* declared secrets only; may be NULL */
} host_job;

/* The job text for the runner (contains the secrets: wipe it after use). */
char *host_job_serialize(const host_job *job, const host_sandbox_conf *sb, const char *scratch);

#define HOST_ZYGOTE_FD 3 /* the fork server's socket (zygote.h) */

/* Called in the child right after fork(): new process group, parent-death signal,
 * fds[i] moved to 3 + i (everything else but 0-2 closed), reduced environment, then
 * exec of runner (exo-host-runner; NULL: this program) with args (NULL-terminated,
 * e.g. {"--zygote", NULL}).  Never returns. */
void host_runner_exec(const char *runner, const char *const *args, const int *fds, size_t nfds)
    __attribute__((noreturn));

/* host_runner_exec(runner, {"--zygote", uids, view}, {sock}) (see runner.h). */
void host_zygote_exec(const char *runner, int sock, const char *uids, const char *view)
    __attribute__((noreturn));

/* A state's process, in the fork server right after fork(): host_state_child_prepare,
 * then host_state_child_start.  Never returns. */
void host_state_child(int job_fd, int result_fd, int output_fd, int plugin_fd, int notify_fd)
    __attribute__((noreturn));

/* The part of a state's process that needs no state: new process group, no blocked
 * signal, parent-death signal (exits 124 when the parent is already gone).  A
 * pre-forked process does it before its state arrives. */
void host_state_child_prepare(void);

/* The rest, after host_state_child_prepare: descriptors in place (everything else
 * closed), then host_runner_main.  notify_fd: the seccomp listener's channel to the
 * fork server, or -1.  Never returns. */
void host_state_child_start(int job_fd, int result_fd, int output_fd, int plugin_fd,
                            int notify_fd) __attribute__((noreturn));

/* In a sandboxed process: dlopens the plugin open on fd (through /proc/self/fd)
 * and checks it (host_plugin_open).  0 or -1 with err. */
int host_runner_load_plugin(int fd, const host_sandbox_conf *sb, host_node *node, char *err,
                            size_t errlen);

/* The state's process after host_state_child: reads the job, opens the plugin,
 * enters the sandbox (notify_fd: HOST_NOTIFY_FD or -1, see host_sandbox_enter),
 * loads the plugin, runs the node, writes the result.  Never returns. */
void host_runner_main(int notify_fd) __attribute__((noreturn));

/* Path of exo-host-runner next to the running program, or NULL when it is not
 * there (malloc'd). */
char *host_runner_path(void);

/* Runs exo_execute with a fresh context and returns the result object above
 * (used by host_child_main; separate so it can be unit tested without fork). */
json_object *host_child_execute(const host_job *job);

#endif
