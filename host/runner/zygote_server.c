/* The fork server's own side (see zygote.h): runs in exo-host-runner --zygote.
 *
 * Pre-forked processes: after it started a state, the server forks the process for
 * the next state of the same shape (network flag, user, cgroup limits) at once: it
 * gets its PID namespace, its cgroup and its user id, then blocks on a socket pair
 * until a SPAWN of that shape hands it the state's four descriptors.  So the fork,
 * the namespaces and the cgroup join leave the state's critical path; a process
 * serves exactly one state (it is the state's pid 1 and dies with it).  It never
 * held a job: like every state's process it is a copy of the server, which never
 * reads one.  EXO_HOST_PREFORK=0 turns this off (for side-by-side measurements). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "fdio.h"
#include "cgroup.h"
#include "seccomp_filter.h"
#include "seccomp_notify.h"
#include "isolation.h"
#include "view.h"
#include "log.h"
#include "sandbox.h"
#include "runner.h"
#include "zygote_proto.h"

_Static_assert(sizeof ((zy_event *)0)->blocked == HOST_SECCOMP_NAME_MAX,
               "the exit event carries a blocked call's whole name");

typedef struct child_entry {
    uint64_t token;
    pid_t pid;
    uint32_t uid_slot; /* index into the uid range + 1; 0 = none */
    int cgroup;        /* its cgroup slot, -1 = none */
    char *scratch;     /* its scratch tmpfs, unmounted after it (NULL = none) */
    int chan;          /* socket on which its seccomp listener arrives, -1 = none (any more) */
    int listener;      /* its seccomp listener (seccomp_notify.h), -1 = none (any more) */
    char blocked[HOST_SECCOMP_NAME_MAX]; /* its first refused call ("" = none) */
} child_entry;

/* The user ids handed out to states, one per running state (root only).  Every
 * host on the machine hands out the same default range: an id is also locked
 * machine-wide (flock of UID_LOCK_DIR/<uid>) for as long as a state runs as it. */
typedef struct uid_pool {
    uint32_t first, count;
    uint8_t *used; /* one byte per id: simple, and at most 1 MiB */
    int *lock;     /* per id: the descriptor holding its machine-wide lock, or -1 */
    uint32_t next; /* round robin: a freed id is the last to be reused */
    bool locking;  /* UID_LOCK_DIR is usable */
} uid_pool;

#define UID_LOCK_DIR "/run/exo-host-uids"

/* What a state's process is made of before its job exists: the states of one node
 * (one shape) can be served by the same kind of pre-forked process. */
typedef struct spawn_shape {
    uint32_t flags; /* ZY_NETWORK */
    int64_t memory_mb, tasks;
    char user[sizeof ((zy_request *)0)->user];
} spawn_shape;

/* A pre-forked state process waiting for its descriptors (see the top of this
 * file): already in its PID (and network) namespace and its cgroup, with its user
 * id reserved; used for exactly one state. */
typedef struct warm_child {
    pid_t pid; /* 0 = empty slot */
    int sock;  /* the server's end of its socket pair: SCM_RIGHTS of the 4 fds */
    spawn_shape shape;
    uint32_t uid_slot;
    int cgroup;
    uint64_t used; /* last use (a counter): the least recently used slot is replaced */
} warm_child;

/* A few shapes at once: a host runs few nodes with different limits; with more,
 * the least recently used shape loses its process (one wasted fork). */
#define WARM_MAX 4

typedef struct server {
    int sock;
    int sigfd;
    host_isolation iso;
    uid_pool uids;
    host_cgroups cgroups;
    child_entry *children;
    size_t n, cap;
    warm_child warm[WARM_MAX];
    uint64_t warm_clock;
    bool prefork; /* false: EXO_HOST_PREFORK=0 (side-by-side measurements) */
    bool notify;  /* states send their seccomp listeners (else refusals trap) */
    struct pollfd *watch; /* the poll set: host socket, signalfd, then one per state */
    size_t watch_cap;
} server;

static void send_event(server *s, const zy_event *ev)
{
    while (send(s->sock, ev, sizeof *ev, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            _exit(0); /* the host is gone; PDEATHSIG follows */
    }
}

static void init_uids(uid_pool *p, const char *spec)
{
    memset(p, 0, sizeof *p);
    unsigned long first = 0, last = 0;
    if (!spec || !*spec)
        return;
    if (geteuid() != 0)
        return; /* the host says so at start */
    if (sscanf(spec, "%lu-%lu", &first, &last) != 2 || first == 0 || last < first ||
        last - first >= 1048576 || !(p->used = calloc(last - first + 1, 1)) ||
        !(p->lock = malloc((last - first + 1) * sizeof *p->lock))) {
        free(p->used);
        p->used = NULL;
        log_warn("sandbox: state_uids '%s' unusable: states share sandbox.user", spec);
        return;
    }
    p->first = (uint32_t)first;
    p->count = (uint32_t)(last - first + 1);
    for (uint32_t i = 0; i < p->count; i++)
        p->lock[i] = -1;
    p->locking = mkdir(UID_LOCK_DIR, 0700) == 0 || errno == EEXIST;
    if (!p->locking)
        log_warn("sandbox: cannot create %s (%s): another exo-host on this machine with the "
                 "same state_uids could give its states the same user ids",
                 UID_LOCK_DIR, strerror(errno));
}

/* Locks id i machine-wide: true when this host may use it now. */
static bool lock_uid(uid_pool *p, uint32_t i)
{
    if (!p->locking)
        return true;
    char path[64];
    snprintf(path, sizeof path, UID_LOCK_DIR "/%u", (unsigned)(p->first + i));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return true; /* cannot tell: the ids of this host stay unique among its states */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return false; /* a state of another host runs as it */
    }
    p->lock[i] = fd;
    return true;
}

/* A free slot (index + 1), or 0 when every id is taken or there is no pool. */
static uint32_t take_uid(uid_pool *p)
{
    for (uint32_t k = 0; k < p->count; k++) {
        uint32_t i = (p->next + k) % p->count;
        if (!p->used[i] && lock_uid(p, i)) {
            p->used[i] = 1;
            p->next = (i + 1) % p->count;
            return i + 1;
        }
    }
    return 0;
}

static void give_back_uid(uid_pool *p, uint32_t slot)
{
    if (slot == 0 || slot > p->count)
        return;
    p->used[slot - 1] = 0;
    if (p->lock[slot - 1] >= 0)
        close(p->lock[slot - 1]); /* the lock goes with it */
    p->lock[slot - 1] = -1;
}

/* Records a started state; chan (its listener's channel, or -1) is the entry's from
 * now on, or closed here when the entry cannot be made (-1). */
static int remember(server *s, uint64_t token, pid_t pid, uint32_t uid_slot, int cgroup,
                    char *scratch, int chan)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        child_entry *grown = realloc(s->children, cap * sizeof *grown);
        if (!grown) {
            if (chan >= 0)
                close(chan);
            return -1;
        }
        s->children = grown;
        s->cap = cap;
    }
    s->children[s->n++] = (child_entry){token, pid, uid_slot, cgroup, scratch, chan, -1, ""};
    return 0;
}

static child_entry *find_token(server *s, uint64_t token)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->children[i].token == token)
            return &s->children[i];
    return NULL;
}

static void kill_all(server *s)
{
    for (size_t i = 0; i < s->n; i++) {
        kill(-s->children[i].pid, SIGKILL);
        kill(s->children[i].pid, SIGKILL);
    }
    for (int i = 0; i < WARM_MAX; i++)
        if (s->warm[i].pid > 0)
            kill(s->warm[i].pid, SIGKILL);
}

/* Receives one request and its descriptors (fds[i] = -1 when absent). */
static ssize_t receive(server *s, zy_request *req, int fds[ZY_SPAWN_FDS])
{
    size_t got;
    return exo_recv_fds(s->sock, req, sizeof *req, fds, ZY_SPAWN_FDS, &got, MSG_CMSG_CLOEXEC);
}

/* In a state's process before its descriptors are in place: the state fails with
 * msg (result_fd is its result pipe). */
static void fail_early(int result_fd, const char *msg) __attribute__((noreturn));
static void fail_early(int result_fd, const char *msg)
{
    dprintf(result_fd, "{\"kind\":\"error\",\"error\":\"%s\"}", msg);
    _exit(121);
}

static spawn_shape shape_of(const zy_request *req)
{
    spawn_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.flags = req->flags & ZY_NETWORK;
    sh.memory_mb = req->memory_mb;
    sh.tasks = req->tasks;
    memcpy(sh.user, req->user, sizeof sh.user);
    sh.user[sizeof sh.user - 1] = '\0';
    return sh;
}

static bool same_shape(const spawn_shape *a, const spawn_shape *b)
{
    return a->flags == b->flags && a->memory_mb == b->memory_mb && a->tasks == b->tasks &&
           strcmp(a->user, b->user) == 0;
}

/* A state's user id slot and cgroup, taken before its process exists; false when
 * every id is taken (*slot and *cgroup are then free again). */
static bool take_resources(server *s, const spawn_shape *sh, uint32_t *slot, int *cgroup,
                           int cg_fds[2])
{
    host_sandbox_warm_user(sh->user); /* children inherit the lookup */
    /* A state that keeps running as root (sandbox.user = "") needs no id. */
    *slot = sh->user[0] ? take_uid(&s->uids) : 0;
    *cgroup = -1;
    cg_fds[0] = cg_fds[1] = -1;
    if (sh->user[0] && s->uids.count && !*slot)
        return false;
    *cgroup = host_cgroups_take(&s->cgroups, sh->memory_mb, sh->tasks, cg_fds);
    return true;
}

static void give_back_resources(server *s, uint32_t slot, int cgroup)
{
    give_back_uid(&s->uids, slot);
    (void)host_cgroups_release(&s->cgroups, cgroup);
}

#define CGROUP_JOIN_FAILED "sandbox setup failed: cannot join the state's cgroup"

/* In a new state process, right after the clone: joins its cgroup and takes its
 * user id; -1 when the join failed (the state must then fail with
 * CGROUP_JOIN_FAILED). */
static int enter_state_process(int cg_fds[2], uid_t uid)
{
    if (uid)
        host_sandbox_assign_uid(uid);
    return host_cgroups_join(cg_fds);
}

/* In a pre-forked process: waits for its state's four descriptors, then is that
 * state's process.  Ends quietly when the server gives it up (socket closed).  With
 * notify, the same socket then carries its seccomp listener back to the server. */
static void warm_wait(int sock, int cg_fds[2], uid_t uid, bool notify) __attribute__((noreturn));
static void warm_wait(int sock, int cg_fds[2], uid_t uid, bool notify)
{
    /* What needs no state is done before it arrives, off its critical path. */
    host_state_child_prepare();
    char byte;
    int fds[ZY_SPAWN_FDS];
    size_t got;
    if (exo_recv_fds(sock, &byte, 1, fds, ZY_SPAWN_FDS, &got, 0) <= 0 || got != ZY_SPAWN_FDS)
        _exit(0);
    if (!notify) {
        close(sock);
        sock = -1;
    }
    /* The cgroup is joined only now: a join (a task migration) holds the kernel's
     * cgroup_threadgroup_rwsem for writing, which stalls every fork and exit on the
     * machine; done while other states start and end, it cost them more than the
     * join costs here (measured: hop p50 3 ms -> 9 ms on a loaded machine). */
    if (enter_state_process(cg_fds, uid) < 0)
        fail_early(fds[1], CGROUP_JOIN_FAILED);
    host_state_child_start(fds[0], fds[1], fds[2], fds[3], sock);
}

static void close_notify(child_entry *c)
{
    if (c->chan >= 0)
        close(c->chan);
    if (c->listener >= 0)
        close(c->listener);
    c->chan = c->listener = -1;
}

/* Replaces the least recently used slot (or fills an empty one) with a new
 * pre-forked process of shape sh; nothing when ids or processes run out. */
static void prefork(server *s, const spawn_shape *sh)
{
    warm_child *w = &s->warm[0];
    for (int i = 0; i < WARM_MAX; i++) {
        if (s->warm[i].pid == 0) {
            w = &s->warm[i];
            break;
        }
        if (s->warm[i].used < w->used)
            w = &s->warm[i];
    }
    if (w->pid > 0) { /* a shape not used lately: its process goes */
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        close(w->sock);
        give_back_resources(s, w->uid_slot, w->cgroup);
        w->pid = 0;
    }
    int cg_fds[2], sp[2];
    uint32_t slot;
    int cgroup;
    if (!take_resources(s, sh, &slot, &cgroup, cg_fds))
        return;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        give_back_resources(s, slot, cgroup);
        return;
    }
    pid_t pid = host_isolation_spawn(&s->iso, (sh->flags & ZY_NETWORK) != 0, -1);
    if (pid == 0) {
        close(sp[0]);
        close(s->sock); /* the host must see EOF when the server dies, whoever waits */
        close(s->sigfd);
        /* Nor may it wait with the listeners of running states (they would stay
         * open after the server closed them; it closes everything else once its
         * state arrives). */
        for (size_t i = 0; i < s->n; i++)
            close_notify(&s->children[i]);
        warm_wait(sp[1], cg_fds, slot ? s->uids.first + slot - 1 : 0, s->notify);
    }
    close(sp[1]); /* cg_fds are the cgroup's own, kept open (cgroup.h) */
    if (pid < 0) {
        close(sp[0]);
        give_back_resources(s, slot, cgroup);
        return;
    }
    setpgid(pid, pid);
    *w = (warm_child){pid, sp[0], *sh, slot, cgroup, ++s->warm_clock};
}

/* The pre-forked process of this shape, taken out of its slot (pid 0: none). */
static warm_child take_warm(server *s, const spawn_shape *sh)
{
    warm_child none = {0};
    for (int i = 0; i < WARM_MAX; i++) {
        if (s->warm[i].pid > 0 && same_shape(&s->warm[i].shape, sh)) {
            warm_child w = s->warm[i];
            s->warm[i].pid = 0;
            return w;
        }
    }
    return none;
}

/* A pre-forked process that died before it got a state (reap): its slot is free. */
static bool forget_warm(server *s, pid_t pid)
{
    for (int i = 0; i < WARM_MAX; i++) {
        if (s->warm[i].pid == pid) {
            close(s->warm[i].sock);
            give_back_resources(s, s->warm[i].uid_slot, s->warm[i].cgroup);
            s->warm[i].pid = 0;
            return true;
        }
    }
    return false;
}

/* Hands the state's descriptors to a pre-forked process: 0, or -1 when it is gone
 * (it was killed, or ended: its exit is reaped as an orphan's).  w->sock stays open
 * (with notify it is the state's listener channel). */
static int hand_over(warm_child *w, const int fds[ZY_SPAWN_FDS])
{
    return exo_send_fds(w->sock, "j", 1, fds, ZY_SPAWN_FDS) == 1 ? 0 : -1;
}

/* Mounts the state's scratch tmpfs (owned by its user id): the malloc'd path to
 * unmount after it, or NULL (none mounted). */
static char *mount_scratch(server *s, const zy_request *req, uint32_t slot)
{
    char scratch[sizeof req->scratch];
    memcpy(scratch, req->scratch, sizeof scratch);
    scratch[sizeof scratch - 1] = '\0';
    uid_t owner = slot ? s->uids.first + slot - 1 : 0;
    char *mounted = NULL;
    if (host_view_scratch(scratch, req->scratch_mb > 0 ? req->scratch_mb : 256, owner) > 0 &&
        !(mounted = strdup(scratch)))
        host_view_scratch_done(scratch);
    return mounted;
}

/* The state's process from a pre-forked one of its shape: its pid, or 0 when there
 * is none (or it is gone); then the caller creates one. */
static pid_t start_warm(server *s, const zy_request *req, const spawn_shape *sh,
                        const int fds[ZY_SPAWN_FDS])
{
    warm_child w = take_warm(s, sh);
    if (w.pid == 0)
        return 0;
    char *mounted = mount_scratch(s, req, w.uid_slot);
    int handed = hand_over(&w, fds);
    if (!s->notify || handed < 0) {
        close(w.sock);
        w.sock = -1;
    }
    if (handed < 0 || remember(s, req->token, w.pid, w.uid_slot, w.cgroup, mounted, w.sock) < 0) {
        /* Killed now; reaped as an orphan (it is no longer in a slot). */
        kill(w.pid, SIGKILL);
        give_back_resources(s, w.uid_slot, w.cgroup);
        if (mounted)
            host_view_scratch_done(mounted);
        free(mounted);
        return 0;
    }
    return w.pid;
}

/* Starts the state of req; true when a process of its shape should be pre-forked
 * next (after the caller closed the state's descriptors: the next process must
 * not inherit them). */
static bool spawn(server *s, const zy_request *req, const int fds[ZY_SPAWN_FDS])
{
    zy_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ZY_EXITED;
    ev.token = req->token;
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || fds[3] < 0) {
        ev.start_errno = EBADF;
        send_event(s, &ev);
        return false;
    }
    spawn_shape sh = shape_of(req);
    if (s->prefork && start_warm(s, req, &sh, fds) > 0)
        return true;
    int cg_fds[2];
    uint32_t slot;
    int cgroup;
    if (!take_resources(s, &sh, &slot, &cgroup, cg_fds)) {
        ev.start_errno = EUSERS; /* more running states than ids (host.conf prevents it) */
        send_event(s, &ev);
        return false;
    }
    char *mounted = mount_scratch(s, req, slot);
    /* The channel for its seccomp listener (a pre-forked process has its socket). */
    int chan[2] = {-1, -1};
    pid_t pid = -1;
    if (!s->notify || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) == 0)
        pid = host_isolation_spawn(&s->iso, (req->flags & ZY_NETWORK) != 0, fds[1]);
    if (pid == 0) {
        if (enter_state_process(cg_fds, slot ? s->uids.first + slot - 1 : 0) < 0)
            fail_early(fds[1], CGROUP_JOIN_FAILED);
        host_state_child(fds[0], fds[1], fds[2], fds[3], chan[1]);
    }
    int start_errno = pid < 0 ? errno : ENOMEM; /* cg_fds stay open: the cgroup's own */
    if (chan[1] >= 0)
        close(chan[1]);
    if (pid < 0 && chan[0] >= 0)
        close(chan[0]);
    if (pid < 0 || remember(s, req->token, pid, slot, cgroup, mounted, chan[0]) < 0) {
        give_back_resources(s, slot, cgroup);
        if (mounted)
            host_view_scratch_done(mounted);
        free(mounted);
        ev.start_errno = start_errno;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        send_event(s, &ev);
        return false;
    }
    setpgid(pid, pid); /* also done by the child: whichever runs first wins */
    return s->prefork;
}

/* The killed states, reaped for up to half a second so that their groups are empty. */
static void reap_for_exit(void)
{
    struct timespec step = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 100; i++) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            return;
        if (r <= 0)
            nanosleep(&step, NULL);
    }
}

static void handle_request(server *s)
{
    zy_request req;
    int fds[ZY_SPAWN_FDS];
    ssize_t n = receive(s, &req, fds);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        kill_all(s); /* the host closed the socket: it is gone or stopping */
        reap_for_exit();
        host_cgroups_free(&s->cgroups); /* empty now; what is left, the next start removes */
        _exit(0);
    }
    bool next = false;
    if (n == (ssize_t)sizeof req && req.type == ZY_SPAWN) {
        next = spawn(s, &req, fds);
    } else if (n == (ssize_t)sizeof req && req.type == ZY_KILL) {
        child_entry *c = find_token(s, req.token);
        if (c) {
            kill(-c->pid, SIGKILL);
            kill(c->pid, SIGKILL);
        }
    }
    for (int i = 0; i < ZY_SPAWN_FDS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (next) { /* the next state of this node: prepared while this one runs */
        spawn_shape sh = shape_of(&req);
        prefork(s, &sh);
    }
}

/* Activity on a state's channel or listener (revents of its poll entry). */
static void on_notify(child_entry *c, short revents)
{
    if (c->chan >= 0) {
        /* Its listener (or EOF: it ended first, or its refusals trap). */
        c->listener = host_notify_take_listener(c->chan);
        close(c->chan);
        c->chan = -1;
        return;
    }
    if (c->listener < 0)
        return;
    if (!(revents & POLLIN)) { /* POLLHUP: nothing of the state can call any more */
        close_notify(c);
        return;
    }
    int got = host_notify_first_call(c->listener, c->blocked, sizeof c->blocked);
    if (got == 0)
        return; /* the caller died before the read; the state ends or calls again */
    if (got < 0)
        log_warn("sandbox: cannot read a seccomp notification of state process %d: %s",
                 (int)c->pid, strerror(errno));
    if (got < 0 && !c->blocked[0])
        snprintf(c->blocked, sizeof c->blocked, "(unreadable notification)");
    /* The first refused call ends the state: nothing more is read from it. */
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
    close_notify(c);
}

/* The poll set for this turn: host socket, signalfd, then each state's channel or
 * listener (entries of states with neither are -1, which poll skips).  false when
 * it cannot be grown (then only the first two are watched this turn). */
static bool build_watch(server *s, size_t *count)
{
    size_t need = 2 + s->n;
    bool grown_enough = true;
    if (need > s->watch_cap) {
        size_t cap = need < 64 ? 64 : need * 2;
        struct pollfd *grown = realloc(s->watch, cap * sizeof *grown);
        if (grown) {
            s->watch = grown;
            s->watch_cap = cap;
        }
        grown_enough = grown != NULL;
    }
    *count = 0;
    if (s->watch_cap < 2)
        return false;
    s->watch[0] = (struct pollfd){s->sock, POLLIN, 0};
    s->watch[1] = (struct pollfd){s->sigfd, POLLIN, 0};
    *count = 2;
    if (!grown_enough)
        return false;
    for (size_t i = 0; i < s->n; i++) {
        const child_entry *c = &s->children[i];
        s->watch[2 + i] = (struct pollfd){c->chan >= 0 ? c->chan : c->listener, POLLIN, 0};
    }
    *count = need;
    return true;
}

static void reap(server *s)
{
    /* One read empties it: SIGCHLD is not queued (at most one pending), and the
     * waitid loop below reaps every exited child whatever the count. */
    struct signalfd_siginfo si;
    if (read(s->sigfd, &si, sizeof si) < 0 && errno != EAGAIN && errno != EINTR)
        log_warn("sandbox: cannot read the fork server's signalfd: %s", strerror(errno));
    for (;;) {
        /* Peek first: while the exited process is a zombie its pid cannot be reused,
         * so killing what is left of its group cannot hit a stranger. */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
            return;
        pid_t pid = si.si_pid;
        size_t i = 0;
        while (i < s->n && s->children[i].pid != pid)
            i++;
        if (i < s->n)
            kill(-pid, SIGKILL); /* what the state left behind in its group */
        int status = 0;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        if (wait4(pid, &status, 0, &ru) != pid)
            return;
        if (i == s->n) {
            /* A pre-forked process that ended unused, or an orphan of some state,
             * re-parented to us (subreaper). */
            forget_warm(s, pid);
            continue;
        }
        zy_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = ZY_EXITED;
        ev.token = s->children[i].token;
        ev.pid = pid;
        ev.status = status;
        ev.ru = ru;
        /* Reused only now: with a PID namespace nothing of the state is left. */
        give_back_uid(&s->uids, s->children[i].uid_slot);
        char *scratch = s->children[i].scratch;
        if (host_cgroups_release(&s->cgroups, s->children[i].cgroup))
            ev.limits |= ZY_LIMIT_MEMORY;
        memcpy(ev.blocked, s->children[i].blocked, sizeof ev.blocked);
        close_notify(&s->children[i]);
        s->children[i] = s->children[--s->n];
        send_event(s, &ev);
        /* The scratch tmpfs goes after the event: an unmount waits for an RCU grace
         * period (a tmpfs mount + unmount costs 0.06-0.12 ms in exo-host-bench-sandbox),
         * which the host now spends on the outcome and the next state's set-up.
         * Nothing can use the tmpfs meanwhile (its state's PID namespace is empty, and
         * its user id is not handed out before the next request, read only after
         * this). */
        if (scratch) {
            host_view_scratch_done(scratch);
            free(scratch);
        }
    }
}

void host_zygote_serve(int sock, const char *uids, const char *view)
{
    server s = {.sock = sock, .sigfd = -1};
    const char *prefork_env = getenv("EXO_HOST_PREFORK");
    s.prefork = !prefork_env || strcmp(prefork_env, "0") != 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        _exit(3);
    /* Processes that escape a state's group are re-parented here and reaped. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        _exit(4);
    exo_log_init("exo-host fork server");
    /* Not root: the host's user becomes root of a user namespace, with that one user
     * id mapped (no ids to hand out to states). */
    bool userns = host_isolation_enter_userns(true);
    if (userns)
        host_sandbox_set_userns();
    host_view_build(view); /* before any state: they inherit it */
    bool is_init = host_isolation_become_init(sock);
    host_isolation_init(&s.iso, userns, is_init);
    init_uids(&s.uids, userns ? NULL : uids);
    host_cgroups_init(&s.cgroups);
    char err[256];
    s.notify = host_seccomp_notify_usable(err, sizeof err);
    if (!s.notify)
        log_warn("sandbox: no seccomp user notification here (%s): a blocked system call in a "
                 "program a node executes ends its state as \"killed by SIGSYS\", unnamed",
                 err);
    if (host_sandbox_prepare(s.notify, err, sizeof err) < 0) {
        dprintf(STDERR_FILENO, "exo-host fork server: %s (filters built per state)\n", err);
        s.notify = false;
    }
    for (;;) {
        size_t count = 0;
        if (!build_watch(&s, &count) && count == 0)
            _exit(5);
        if (poll(s.watch, count, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(5);
        }
        /* States first: a refused call is named before the state's exit is reaped
         * (the kill follows the read), and reap reorders the children. */
        for (size_t i = 0; i + 2 < count && i < s.n; i++)
            if (s.watch[2 + i].revents)
                on_notify(&s.children[i], s.watch[2 + i].revents);
        if (s.watch[1].revents)
            reap(&s);
        if (s.watch[0].revents)
            handle_request(&s);
    }
}
