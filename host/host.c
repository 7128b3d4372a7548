/* The event loop: one thread, one poll (curl_multi_poll) over libcurl's sockets, the
 * child pipes and a signalfd.  See host.h for why there is no other thread. */
#include "host.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "child.h"
#include "host_internal.h"
#include "log.h"
#include "plugins_conf.h"
#include "run.h"
#include "sandbox.h"
#include "scratch.h"
#include "fsutil.h"
#include "spool.h"

#define SHUTDOWN_DELIVERY_MS 15000

static int open_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void begin_shutdown(host *h, int sig)
{
    if (h->stopping) {
        log_info("%s again: still stopping", sigabbrev_np(sig) ? sigabbrev_np(sig) : "signal");
        return;
    }
    int64_t now = exo_mono_ms();
    h->stopping = true;
    h->stop_kill_ms = now + h->conf.grace_ms;
    if (h->stop_kill_ms == now)
        h->stop_kill_ms = now + 1; /* 0 means "not set" */
    h->stop_give_up_ms = h->stop_kill_ms + SHUTDOWN_DELIVERY_MS;
    log_info("SIG%s: stopping: no new claims, %zu running state(s) get %lld ms",
             sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", host_states_count(h, PH_RUNNING),
             (long long)h->conf.grace_ms);
    /* An in-flight claim may already hold states (its answer may be on the wire):
     * give it a moment to arrive so that they are released rather than left to
     * their lease; a long-poll that is still waiting then gets cancelled. */
    host_claim_make_stale(h, now);
    host_states_release_waiting(h);
}

/* SIGHUP: a new configuration and plugin set for states that start from now on;
 * running states keep the plugin set they started with. */
static void reload(host *h)
{
    host_conf conf;
    char err[4096];
    if (host_conf_load(h->conf.file, &conf, err, sizeof err) < 0) {
        log_error("SIGHUP: reload failed, keeping the running configuration: %s", err);
        return;
    }
    host_node *nodes = NULL;
    size_t n = 0;
    if (host_plugins_load_all(&conf, &nodes, &n, err, sizeof err) < 0) {
        log_error("SIGHUP: reload failed, keeping the running configuration:\n%s", err);
        host_conf_free(&conf);
        return;
    }
    plugin_set *set = plugin_set_new(nodes, n);
    if (!set) {
        log_error("SIGHUP: out of memory");
        host_nodes_free(nodes, n);
        host_conf_free(&conf);
        return;
    }
    plugin_set_release(h->plugins);
    h->plugins = set;
    if ((conf.metrics_listen || h->conf.metrics_listen) &&
        (!conf.metrics_listen || !h->conf.metrics_listen || strcmp(conf.metrics_listen, h->conf.metrics_listen)))
        log_warn("SIGHUP: metrics_listen changes take effect at the next start; still serving %s",
                 h->metrics_http ? h->conf.metrics_listen : "nothing");
    char *serving = h->conf.metrics_listen; /* kept: it names what is served */
    h->conf.metrics_listen = NULL;
    host_conf_free(&h->conf);
    free(conf.metrics_listen);
    conf.metrics_listen = serving;
    h->conf = conf;
    exo_log_set_format((exo_log_format)h->conf.log_format); /* the fork server keeps its own */
    h->lease_enabled = h->conf.lease_ms > 0;
    log_info("SIGHUP: reloaded %s (%zu node%s); registering again", h->conf.file, n,
             n == 1 ? "" : "s");
    host_claim_make_stale(h, exo_mono_ms()); /* it names the old node set */
    host_register_now(h);
}

static void handle_signals(host *h)
{
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(h->sigfd, &si, sizeof si);
        if (n != (ssize_t)sizeof si)
            return;
        switch (si.ssi_signo) {
        case SIGCHLD:
            host_states_reap(h);
            break;
        case SIGTERM:
        case SIGINT:
            begin_shutdown(h, (int)si.ssi_signo);
            break;
        case SIGHUP:
            if (!h->stopping)
                reload(h);
            break;
        default:
            break;
        }
    }
}

static unsigned collect_fds(host *h, struct curl_waitfd *fds)
{
    unsigned n = 0;
    fds[n++] = (struct curl_waitfd){h->sigfd, CURL_WAIT_POLLIN, 0};
    if (h->zygote)
        fds[n++] = (struct curl_waitfd){host_zygote_fd(h->zygote), CURL_WAIT_POLLIN, 0};
    n += host_metrics_http_fds(h->metrics_http, fds + n, HOST_MAX_WAIT_FDS / 2 - n);
    for (hstate *s = h->states; s && n + 2 <= HOST_MAX_WAIT_FDS; s = s->next) {
        if (!s->has_run)
            continue;
        if (s->run.result_fd >= 0)
            fds[n++] = (struct curl_waitfd){s->run.result_fd, CURL_WAIT_POLLIN, 0};
        if (s->run.output_fd >= 0)
            fds[n++] = (struct curl_waitfd){s->run.output_fd, CURL_WAIT_POLLIN, 0};
    }
    return n;
}

static int wait_timeout(const host *h, int64_t now)
{
    int64_t next = host_claims_next_ms(h);
    int64_t t = host_states_next_ms(h);
    if (t < next)
        next = t;
    t = host_reports_next_ms(h);
    if (t < next)
        next = t;
    if (h->stopping && h->stop_give_up_ms < next)
        next = h->stop_give_up_ms;
    t = host_claims_cancel_ms(h);
    if (t < next)
        next = t;
    t = host_heartbeat_next_ms(h);
    if (t < next)
        next = t;
    int64_t wait = next == INT64_MAX ? 1000 : next - now;
    if (wait < 0)
        wait = 0;
    return wait > 1000 ? 1000 : (int)wait;
}

static bool finished_stopping(host *h, int64_t now)
{
    if (!h->stopping)
        return false;
    if (!h->states && !h->reports && !host_claims_inflight(h))
        return true;
    if (now >= h->stop_give_up_ms && host_states_count(h, PH_RUNNING) == 0) {
        size_t left = 0;
        for (report *r = h->reports; r; r = r->next)
            left++;
        log_warn("stopping with %zu undelivered report(s); they stay in the spool (%s) and are "
                 "delivered at the next start",
                 left, h->spool_dir);
        return true;
    }
    return false;
}

static int loop(host *h)
{
    struct curl_waitfd *fds = h->wait_fds;
    for (;;) {
        int64_t now = exo_mono_ms();
        host_states_dispatch(h, now);
        host_reports_tick(h, now); /* first: a due claim can travel with the reports */
        host_claims_tick(h, now);
        host_heartbeat_tick(h, now);
        if (h->fatal)
            return 1;
        if (finished_stopping(h, now))
            return 0;
        unsigned n = collect_fds(h, fds);
        if (host_http_wait(h->http, fds, n, wait_timeout(h, exo_mono_ms())) < 0)
            return 1;
        for (unsigned i = 1; i < n; i++) {
            if (!fds[i].revents || (h->zygote && fds[i].fd == host_zygote_fd(h->zygote)))
                continue;
            if (host_metrics_http_owns(h->metrics_http, fds[i].fd))
                host_metrics_http_ready(h->metrics_http, fds[i].fd, fds[i].revents, exo_mono_ms());
            else
                host_states_readable(h, fds[i].fd);
        }
        host_metrics_http_tick(h->metrics_http, exo_mono_ms());
        /* Exits after output: a state's last words are read before it counts as done. */
        host_states_zygote_events(h);
        if (fds[0].revents)
            handle_signals(h);
        host_states_tick(h, exo_mono_ms());
    }
}

/* Scratch roots of hosts that were killed (kill -9 leaves them behind) are named
 * exo-host-<pid> with no such process any more.  They are renamed out of the way
 * (exo-host-stale-...) and removed by a child process: whatever they hold (300k
 * files, a 2,500-deep tree), the start does not wait for it. */
static bool stale_root(const char *root, const char *name, char *path, size_t len)
{
    struct stat st;
    snprintf(path, len, "%s/%s", root, name);
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

static bool move_aside(const char *root, const char *path)
{
    /* Static: a counter that keeps the names of one process's renames apart. */
    static unsigned serial;
    char aside[4096];
    snprintf(aside, sizeof aside, "%s/exo-host-stale-%ld-%u", root, (long)getpid(), serial++);
    if (rename(path, aside) == 0)
        return true;
    log_warn("cannot move the stale scratch directory %s aside: %m", path);
    return false;
}

/* In a child process (reaped by the loop's waitpid): removes every exo-host-stale-*. */
static void remove_aside_in_background(const char *root)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        log_warn("cannot start removing stale scratch directories: fork: %m");
    if (pid != 0)
        return;
    (void)close_range(3, ~0U, 0); /* the fork server's socket, curl's: not ours to hold */
    DIR *d = opendir(root);
    struct dirent *e;
    char path[4096];
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "exo-host-stale-", 15) == 0 &&
            stale_root(root, e->d_name, path, sizeof path))
            (void)host_remove_tree(path);
    _exit(0);
}

static void remove_stale_scratch(const char *root, const char *own)
{
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *e;
    bool any = false;
    char path[4096];
    while ((e = readdir(d))) {
        char *end = NULL;
        if (strncmp(e->d_name, "exo-host-stale-", 15) == 0) {
            any = true;
            continue;
        }
        if (strncmp(e->d_name, "exo-host-", 9) != 0)
            continue;
        long pid = strtol(e->d_name + 9, &end, 10);
        if (pid <= 0 || *end || !stale_root(root, e->d_name, path, sizeof path))
            continue;
        bool mine = strcmp(path, own) == 0; /* a pid of an earlier run: stale too */
        if (!mine && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        if (move_aside(root, path)) {
            log_info("removing the stale scratch directory %s in the background", path);
            any = true;
        }
    }
    closedir(d);
    if (any)
        remove_aside_in_background(root);
}

/* What the fork server needs to build the states' file system view: the scratch
 * directory (writable) and the configuration's paths (host_conf_view_paths). */
static int prepare_view(host *h)
{
    json_object *spec = host_conf_view_paths(&h->conf);
    int rc = -1;
    if (asprintf(&h->view_root, "%s/.view", h->scratch_dir) < 0) {
        h->view_root = NULL;
        goto done;
    }
    if (!spec || (mkdir(h->view_root, 0755) < 0 && errno != EEXIST)) {
        log_error("cannot prepare %s: %m", h->view_root);
        goto done;
    }
    json_object_object_add(spec, "root", json_object_new_string(h->view_root));
    json_object_object_add(spec, "scratch", json_object_new_string(h->scratch_dir));
    h->view_spec = strdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN));
    rc = h->view_spec ? 0 : -1;
done:
    json_object_put(spec);
    return rc;
}

static int prepare_dirs(host *h)
{
    char err[512];
    h->state_lock_fd = host_lock_dir(h->conf.state_dir, err, sizeof err);
    if (h->state_lock_fd < 0) {
        log_error("%s", err);
        return -1;
    }
    if (asprintf(&h->spool_dir, "%s/spool", h->conf.state_dir) < 0 ||
        asprintf(&h->scratch_dir, "%s/exo-host-%ld", h->conf.scratch_dir, (long)getpid()) < 0) {
        log_error("out of memory");
        return -1;
    }
    host_scratch_init(&h->scratch, h->scratch_dir);
    if (host_spool_init(&h->spool, h->spool_dir, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    /* Also this process's own root when an earlier run had the same pid. */
    remove_stale_scratch(h->conf.scratch_dir, h->scratch_dir);
    if (host_mkdirs(h->scratch_dir, 0711) < 0 || chmod(h->scratch_dir, 0711) < 0) {
        log_error("cannot create the scratch directory %s: %m", h->scratch_dir);
        return -1;
    }
    return prepare_view(h);
}

/* GET /metrics: the counters with the gauges the loop knows now. */
static char *render_metrics(void *arg, size_t *len)
{
    host *h = arg;
    host_metrics_gauges g = {.workers = h->conf.workers, .running = host_states_count(h, PH_RUNNING),
                             .waiting = host_states_count(h, PH_WAITING), .name = h->conf.name,
                             .namespace_ = h->conf.namespace_, .started_unix_s = h->started_unix_s};
    g.busy = g.running + host_states_count(h, PH_SECRETS);
    for (const report *r = h->reports; r; r = r->next) {
        g.reports_pending++;
        g.spool_depth += r->file != NULL;
    }
    h->metrics.scrapes++;
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (!out)
        return NULL;
    int rc = host_metrics_render(&h->metrics, &g, out);
    if (fclose(out) != 0 || rc < 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int open_metrics(host *h)
{
    host_metrics_init(&h->metrics);
    h->started_unix_s = (int64_t)time(NULL);
    if (!h->conf.metrics_listen)
        return 0;
    char err[512];
    if (!(h->metrics_http = host_metrics_http_open(h->conf.metrics_listen, render_metrics, h, err, sizeof err))) {
        log_error("%s", err);
        return -1;
    }
    log_info("metrics at http://%s/metrics", h->conf.metrics_listen);
    return 0;
}

static void host_free(host *h)
{
    host_metrics_http_close(h->metrics_http);
    host_reports_free(h);
    while (h->states)
        host_state_remove(h, h->states);
    host_zygote_free(h->zygote);
    host_spool_release(&h->spool);
    host_scratch_release(&h->scratch);
    host_http_free(h->http);
    plugin_set_release(h->plugins);
    if (h->view_root && rmdir(h->view_root) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %m", h->view_root);
    free(h->view_root);
    free(h->view_spec);
    if (h->scratch_dir && rmdir(h->scratch_dir) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %m", h->scratch_dir);
    host_conf_free(&h->conf);
    free(h->spool_dir);
    free(h->scratch_dir);
    free(h->runner);
    if (h->sigfd >= 0)
        close(h->sigfd);
    if (h->state_lock_fd >= 0)
        close(h->state_lock_fd); /* releases the state_dir lock */
}

int host_run_forever(host_conf *conf, host_node *nodes, size_t n_nodes)
{
    host h;
    memset(&h, 0, sizeof h);
    h.conf = *conf;
    memset(conf, 0, sizeof *conf);
    h.sigfd = -1;
    h.state_lock_fd = -1;
    h.plugins = plugin_set_new(nodes, n_nodes);
    h.lease_enabled = h.conf.lease_ms > 0;
    h.reg_fatal_on_reject = true;
    int rc = 1;
    if (!h.plugins) {
        host_nodes_free(nodes, n_nodes);
        goto done;
    }
    if ((h.sigfd = open_signalfd()) < 0) {
        log_error("signalfd: %m");
        goto done;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h.http = host_http_new())) {
        log_error("cannot initialise libcurl");
        goto done;
    }
    host_http_set_observer(h.http, host_failover_observe, &h);
    if (prepare_dirs(&h) < 0 || open_metrics(&h) < 0)
        goto done;
    /* Processes a state leaves behind are re-parented to the host and reaped by
     * its wait4(-1) instead of piling up under init. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("PR_SET_CHILD_SUBREAPER: %m");
    host_sandbox_log_layers();
    h.runner = host_runner_path();
    if (!h.runner)
        log_info("exo-host-runner is not installed next to exo-host: the fork server is "
                 "exo-host --zygote");
    /* Started now, before the first state; restarted by host_zygote_ensure. */
    if (host_zygote_ensure(&h) < 0)
        goto done;
    log_info("exo-host %s: %zu node(s), %d worker(s), state manager %s, namespace %s",
             h.conf.name, n_nodes, h.conf.workers, h.conf.uri, h.conf.namespace_);
    host_reports_replay(&h);
    h.reg_started_ms = exo_mono_ms();
    host_register_now(&h);
    rc = loop(&h);
    if (rc == 0)
        log_info("stopped");
done:
    host_free(&h);
    curl_global_cleanup();
    return rc;
}
