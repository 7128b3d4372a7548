/* The fork server ("zygote"): where every state's process comes from.
 *
 * Why: a state's process must not be a copy of the host (the host's memory holds
 * the API key and, in freed heap, other states' secrets), and exec'ing a fresh
 * runner per state costs the dynamic loader and libc start-up every time.  So the
 * host execs exo-host-runner once, in server mode (`--zygote`, fd 3 = a unix
 * socket), at start-up: a small single-threaded process whose memory image never
 * held a credential.  It prepares what every state needs (seccomp filters compiled
 * to BPF, user lookups) and forks one child per state.
 *
 * Per state the host sends SPAWN with the job pipe's read end, the result pipe's
 * and the output pipe's write ends and the plugin's memfd (SCM_RIGHTS): the server never reads the job
 * (inputs, secrets); the child reads it itself, enters the sandbox, loads the plugin
 * and runs the node (child.h).  The server is the child's parent: it puts it in a
 * process group of its own, kills that group on KILL, reaps it (wait4), kills what
 * is left of the group, and sends EXITED(token, pid, wait status, rusage).
 *
 * Death: the server has PR_SET_PDEATHSIG = SIGKILL towards the host, each child
 * towards the server.  A server that dies takes its running states with it; the
 * host notices (EOF on the socket or SIGCHLD), reports those states errored and
 * starts a new server. */
#ifndef EXO_HOST_ZYGOTE_H
#define EXO_HOST_ZYGOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef struct host_zygote host_zygote;

typedef struct host_zygote_exit {
    uint64_t token;
    pid_t pid;
    int status;      /* wait status */
    int start_errno; /* != 0: fork failed in the server; status is meaningless */
    bool memory_exceeded; /* the OOM killer acted in the state's cgroup */
    struct rusage ru;
    char blocked[64]; /* the refused system call the server ended it for ("" = none) */
} host_zygote_exit;

/* Starts the server: runner = exo-host-runner (NULL: this program, which must
 * handle `--zygote [UIDS [VIEW]]` by calling host_zygote_serve); uids = "FIRST-LAST",
 * the user ids the server hands out, one per running state; view = the JSON spec of
 * the states' file system view (runner/view.h); NULL or "": none.  NULL with err on
 * failure. */
host_zygote *host_zygote_start(const char *runner, const char *uids, const char *view,
                               char *err, size_t errlen);

/* The socket to poll for POLLIN (EXITED messages, or EOF when the server died). */
int host_zygote_fd(const host_zygote *z);
pid_t host_zygote_pid(const host_zygote *z);

/* Asks for a new state process.  The fds are only sent (the caller closes its
 * copies; plugin_fd is the node's sealed memfd, kept by the host).  Returns the
 * state's token (never 0), or 0 with err. */
/* The limits the fork server applies to a state itself (its cgroup; runner/cgroup.h). */
typedef struct host_zygote_limits {
    bool network;
    int64_t memory_mb; /* 0 = unlimited */
    int64_t tasks;     /* processes and threads together */
    int64_t scratch_mb; /* its scratch directory becomes a tmpfs of this size */
    const char *scratch;
} host_zygote_limits;

uint64_t host_zygote_spawn(host_zygote *z, const char *user, const host_zygote_limits *limits,
                           int job_fd, int result_fd, int output_fd, int plugin_fd, char *err,
                           size_t errlen);

/* Kills the process group of token's state (no-op once it was reaped). */
void host_zygote_kill(host_zygote *z, uint64_t token);

/* Reads one pending EXITED message without blocking: 1 = *out filled, 0 = none
 * pending, -1 = the server is gone (EOF or error). */
int host_zygote_next(host_zygote *z, host_zygote_exit *out);

/* Marks the server's process as already reaped by the caller (wait4(-1)). */
void host_zygote_reaped(host_zygote *z, int status);

/* After EOF on the socket: waits up to timeout_ms for the dying server's exit
 * status (so that host_zygote_describe_end can name it). */
void host_zygote_await_end(host_zygote *z, int timeout_ms);

/* How the server ended ("killed by SIGKILL", "exit status 3", "running"). */
void host_zygote_describe_end(const host_zygote *z, char *buf, size_t len);

/* Closes the socket, kills the server (and so its children) and reaps it. */
void host_zygote_free(host_zygote *z);

#endif
