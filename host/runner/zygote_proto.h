/* Wire format between exo-host and its fork server (zygote.h), over a
 * SOCK_SEQPACKET socket pair: one fixed-size message per packet. */
#ifndef EXO_HOST_ZYGOTE_PROTO_H
#define EXO_HOST_ZYGOTE_PROTO_H

#include <stdint.h>
#include <sys/resource.h>

enum {
    ZY_SPAWN = 1,  /* host -> server; carries job, result, output and plugin fds (SCM_RIGHTS) */
    ZY_KILL = 2,   /* host -> server: kill the state's process group */
    ZY_EXITED = 3, /* server -> host: the state's process was reaped (or never started);
                    * blocked names the refused call it was ended for */
};

#define ZY_SPAWN_FDS 4 /* job (read end), result, output (write ends), plugin memfd */

#define ZY_NETWORK 1u
#define ZY_LIMIT_MEMORY 1u /* spawn flag: the state may use the network (sandbox.network) */

typedef struct zy_request {
    uint32_t type;
    uint32_t flags; /* ZY_NETWORK */
    uint64_t token;
    int64_t memory_mb; /* the state's cgroup limits (cgroup.h); 0 = unlimited */
    int64_t tasks;
    int64_t scratch_mb; /* size of the state's scratch tmpfs (view.h) */
    char scratch[512];  /* the state's scratch directory ("" = none mounted) */
    char user[64]; /* sandbox.user, resolved by the server before the fork */
} zy_request;

typedef struct zy_event {
    uint32_t type;
    uint64_t token;
    int32_t pid;
    int32_t status;      /* wait status */
    int32_t start_errno; /* != 0: the process could not be created (status unused) */
    uint32_t limits;     /* ZY_LIMIT_MEMORY: the OOM killer acted in the state's cgroup */
    struct rusage ru;
    char blocked[64]; /* the refused system call that ended it ("" = none; seccomp_notify.h) */
} zy_event;

#endif
