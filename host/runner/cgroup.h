/* Limits that count everything a state creates (fork server side): one cgroup per
 * running state, reused, with
 *   memory: memory_mb for all its processes together, page cache, tmpfs and memfd
 *           pages included (RLIMIT_AS counts none of those), no swap beyond it;
 *   pids:   1 + processes + max_threads tasks (processes and threads).
 * cgroup v2 where this process's cgroup delegates memory and pids to it, else cgroup
 * v1 memory and pids hierarchies where it may create groups below its own; where
 * neither works, one line at start says so and the rlimits remain (RLIMIT_AS,
 * RLIMIT_NPROC of a per-state user, RLIMIT_FSIZE).
 *
 * A state's process joins its group itself, first thing after the fork (it writes
 * "0" to descriptors the server opened for it), so nothing it does escapes it. */
#ifndef EXO_HOST_CGROUP_H
#define EXO_HOST_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct host_cgroup_slot {
    bool created, in_use;
    uint64_t oom_kills; /* the group's count when the state started */
    int64_t memory_mb, tasks; /* limits written last (rewritten only when they change) */
    /* Opened once, when the group is created, and kept for the server's lifetime: a
     * path lookup in cgroupfs per state (open + close, twice for v1's two
     * hierarchies, and the OOM count read twice) cost more than the writes and
     * reads themselves.  procs[1] is -1 for v2 (one hierarchy). */
    int procs[2]; /* its cgroup.procs files (memory, pids) */
    int events;   /* memory.events (v2) or memory.oom_control (v1), read with pread */
} host_cgroup_slot;

typedef struct host_cgroups {
    int version;      /* 0 = none, 1, 2 */
    char mem[512];    /* the host's parent group (v1: memory hierarchy; v2: the group) */
    char pids[512];   /* v1: pids hierarchy (v2: = mem) */
    bool memsw;       /* v1: memory.memsw.* exists (swap accounting) */
    host_cgroup_slot *slots;
    size_t n_slots;
} host_cgroups;

/* At start, in the fork server: finds a usable hierarchy and creates the host's
 * parent groups; logs what is missing. */
void host_cgroups_init(host_cgroups *cg);

/* A free group configured for one state: its index, or -1 (no cgroups, or an
 * error, logged).  fds[0..1] get descriptors of its cgroup.procs files (-1 when
 * unused) for the child.  They are the group's own (kept open by the server): the
 * caller must not close them; the child's copies are closed by host_cgroups_join. */
int host_cgroups_take(host_cgroups *cg, int64_t memory_mb, int64_t tasks, int fds[2]);

/* In the state's process: joins the group (writes "0" to each fd, closes its
 * copies).
 * 0, or -1 when a write failed. */
int host_cgroups_join(int fds[2]);

/* After the state's process was reaped: whether the OOM killer acted in its group;
 * the group is free again. */
bool host_cgroups_release(host_cgroups *cg, int slot);

/* Removes the groups (server exit). */
void host_cgroups_free(host_cgroups *cg);

#endif
