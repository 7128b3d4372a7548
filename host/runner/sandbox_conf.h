/* The limits of one state's process (host.conf's sandbox group, or a plugin's
 * override): filled by the host, carried in the job, applied by the runner. */
#ifndef EXO_HOST_SANDBOX_CONF_H
#define EXO_HOST_SANDBOX_CONF_H

#include <stdbool.h>
#include <stdint.h>

/* Limits applied to one state's child process (sandbox group, or a plugin's override). */
typedef struct host_sandbox_conf {
    int64_t timeout_ms;   /* wall clock; the process group is killed after it */
    int64_t memory_mb;    /* RLIMIT_AS; 0 = unlimited */
    int64_t cpu_seconds;  /* RLIMIT_CPU; 0 = unlimited */
    int64_t open_files;   /* RLIMIT_NOFILE */
    int64_t file_size_mb; /* RLIMIT_FSIZE */
    int64_t processes;    /* extra processes a state may create; 0 = fork/clone blocked */
    int64_t max_threads;  /* threads of the state's processes, all together */
    int64_t scratch_mb;   /* the scratch directory's size (a tmpfs, counted as memory) */
    int64_t output_kb;    /* limit of the result and of printed output, each */
    bool network;         /* false: socket creation is a blocked system call */
    char user[64];        /* user to run as when the host runs as root ("" = stay) */
} host_sandbox_conf;

/* The defaults of the sandbox group (config parsing, --describe, and a job that
 * lacks some limit). */
void host_sandbox_defaults(host_sandbox_conf *sb);

#endif
