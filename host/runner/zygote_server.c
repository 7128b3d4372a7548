/* The fork server's own side (see zygote.h): runs in exo-host-runner --zygote. */
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
#include "cgroup.h"
#include "isolation.h"
#include "view.h"
#include "log.h"
#include "sandbox.h"
#include "runner.h"
#include "zygote_proto.h"

typedef struct child_entry {
    uint64_t token;
    pid_t pid;
    uint32_t uid_slot; /* index into the uid range + 1; 0 = none */
    int cgroup;        /* its cgroup slot, -1 = none */
    char *scratch;     /* its scratch tmpfs, unmounted after it (NULL = none) */
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

typedef struct server {
    int sock;
    int sigfd;
    host_isolation iso;
    uid_pool uids;
    host_cgroups cgroups;
    child_entry *children;
    size_t n, cap;
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

static int remember(server *s, uint64_t token, pid_t pid, uint32_t uid_slot, int cgroup,
                    char *scratch)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        child_entry *grown = realloc(s->children, cap * sizeof *grown);
        if (!grown)
            return -1;
        s->children = grown;
        s->cap = cap;
    }
    s->children[s->n++] = (child_entry){token, pid, uid_slot, cgroup, scratch};
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
}

/* Receives one request and its descriptors (fds[i] = -1 when absent). */
static ssize_t receive(server *s, zy_request *req, int fds[ZY_SPAWN_FDS])
{
    union {
        char buf[CMSG_SPACE(ZY_SPAWN_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {req, sizeof *req};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    for (int i = 0; i < ZY_SPAWN_FDS; i++)
        fds[i] = -1;
    ssize_t n;
    while ((n = recvmsg(s->sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds, CMSG_DATA(c), (count > ZY_SPAWN_FDS ? ZY_SPAWN_FDS : count) * sizeof(int));
    }
    return n;
}

/* In a state's process before its descriptors are in place: the state fails with
 * msg (result_fd is its result pipe). */
static void fail_early(int result_fd, const char *msg) __attribute__((noreturn));
static void fail_early(int result_fd, const char *msg)
{
    dprintf(result_fd, "{\"kind\":\"error\",\"error\":\"%s\"}", msg);
    _exit(121);
}

static void spawn(server *s, const zy_request *req, const int fds[ZY_SPAWN_FDS])
{
    zy_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = ZY_EXITED;
    ev.token = req->token;
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || fds[3] < 0) {
        ev.start_errno = EBADF;
        send_event(s, &ev);
        return;
    }
    char user[sizeof req->user];
    memcpy(user, req->user, sizeof user);
    user[sizeof user - 1] = '\0';
    host_sandbox_warm_user(user); /* children inherit the lookup */
    /* A state that keeps running as root (sandbox.user = "") needs no id. */
    uint32_t slot = user[0] ? take_uid(&s->uids) : 0;
    if (user[0] && s->uids.count && !slot) {
        ev.start_errno = EUSERS; /* more running states than ids (host.conf prevents it) */
        send_event(s, &ev);
        return;
    }
    int cg_fds[2];
    int cgroup = host_cgroups_take(&s->cgroups, req->memory_mb, req->tasks, cg_fds);
    char scratch[sizeof req->scratch];
    memcpy(scratch, req->scratch, sizeof scratch);
    scratch[sizeof scratch - 1] = '\0';
    uid_t owner = slot ? s->uids.first + slot - 1 : 0;
    char *mounted = NULL;
    if (host_view_scratch(scratch, req->scratch_mb > 0 ? req->scratch_mb : 256, owner) > 0 &&
        !(mounted = strdup(scratch)))
        host_view_scratch_done(scratch);
    pid_t pid = host_isolation_spawn(&s->iso, (req->flags & ZY_NETWORK) != 0, fds[1]);
    if (pid == 0) {
        if (host_cgroups_join(cg_fds) < 0)
            fail_early(fds[1], "sandbox setup failed: cannot join the state's cgroup");
        if (slot)
            host_sandbox_assign_uid(s->uids.first + slot - 1);
        host_state_child(fds[0], fds[1], fds[2], fds[3]);
    }
    for (int i = 0; i < 2; i++)
        if (cg_fds[i] >= 0)
            close(cg_fds[i]);
    if (pid < 0 || remember(s, req->token, pid, slot, cgroup, mounted) < 0) {
        give_back_uid(&s->uids, slot);
        if (mounted)
            host_view_scratch_done(mounted);
        free(mounted);
        (void)host_cgroups_release(&s->cgroups, cgroup);
        ev.start_errno = pid < 0 ? errno : ENOMEM;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        send_event(s, &ev);
        return;
    }
    setpgid(pid, pid); /* also done by the child: whichever runs first wins */
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
    if (n == (ssize_t)sizeof req && req.type == ZY_SPAWN) {
        spawn(s, &req, fds);
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
}

static void reap(server *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
    }
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
        if (i == s->n)
            continue; /* an orphan of some state, re-parented to us (subreaper) */
        zy_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = ZY_EXITED;
        ev.token = s->children[i].token;
        ev.pid = pid;
        ev.status = status;
        ev.ru = ru;
        /* Reused only now: with a PID namespace nothing of the state is left. */
        give_back_uid(&s->uids, s->children[i].uid_slot);
        if (s->children[i].scratch) {
            host_view_scratch_done(s->children[i].scratch);
            free(s->children[i].scratch);
        }
        if (host_cgroups_release(&s->cgroups, s->children[i].cgroup))
            ev.limits |= ZY_LIMIT_MEMORY;
        s->children[i] = s->children[--s->n];
        send_event(s, &ev);
    }
}

void host_zygote_serve(int sock, const char *uids, const char *view)
{
    server s = {.sock = sock, .sigfd = -1};
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
    bool userns = host_isolation_enter_userns();
    if (userns)
        host_sandbox_set_userns();
    host_view_build(view); /* before any state: they inherit it */
    bool is_init = host_isolation_become_init(sock);
    host_isolation_init(&s.iso, userns, is_init);
    init_uids(&s.uids, userns ? NULL : uids);
    host_cgroups_init(&s.cgroups);
    char err[256];
    if (host_sandbox_prepare(err, sizeof err) < 0)
        dprintf(STDERR_FILENO, "exo-host fork server: %s (filters built per state)\n", err);
    struct pollfd p[2] = {{sock, POLLIN, 0}, {s.sigfd, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(5);
        }
        if (p[1].revents)
            reap(&s);
        if (p[0].revents)
            handle_request(&s);
    }
}
