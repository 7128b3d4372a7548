/* exo-host-bench-sandbox: what the sandbox costs per state.
 *
 *   exo-host-bench-sandbox PLUGIN.so [N]
 *
 * Times, in the same run: N bare fork+_exit+waitpid; N complete state runs of the
 * plugin's node through the host's own code path (scratch dir, pipes, request to
 * the fork server, its namespaces, cgroup, scratch tmpfs, fork, sandbox, plugin
 * load, run, result, exit status back, outcome, cleanup) with the node's inputs all
 * set to "x"; N/4 runs of `bwrap --unshare-all --ro-bind / / true` (when bwrap is
 * installed); and, for where the time goes, the pieces alone: a fork with a new PID
 * namespace, with a new network namespace (what a shared one saves), and a tmpfs
 * mount + unmount.  Prints microseconds per state for each, then one JSON line
 * {"sandbox_ms":..,"bare_fork_ms":..,"bwrap_ms":..,"ratio":..,"bwrap_ratio":..}. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "plugin.h"
#include "run.h"
#include "runner.h"
#include "scratch.h"
#include "zygote.h"

static int wait_run(host_run *r, host_zygote *z)
{
    while (!host_run_finished(r, exo_mono_ms())) {
        struct pollfd p[3] = {{r->result_fd, POLLIN, 0}, {r->output_fd, POLLIN, 0},
                              {host_zygote_fd(z), POLLIN, 0}};
        poll(p, 3, 1000);
        if (r->result_fd >= 0 && p[0].revents)
            host_run_on_readable(r, r->result_fd);
        if (r->output_fd >= 0 && p[1].revents)
            host_run_on_readable(r, r->output_fd);
        host_zygote_exit ex;
        int rc;
        while ((rc = host_zygote_next(z, &ex)) > 0)
            if (ex.token == r->token)
                host_run_reaped(r, &ex);
        if (rc < 0) {
            fprintf(stderr, "the fork server died\n");
            return -1;
        }
    }
    return 0;
}

/* n forks (with extra clone flags) of a child that exits at once; -1 when the
 * flags are not allowed here. */
static int64_t forks(int n, unsigned long flags)
{
    int64_t t0 = exo_mono_us();
    for (int i = 0; i < n; i++) {
        pid_t pid = flags ? (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL)
                          : fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid)
            return -1;
    }
    return exo_mono_us() - t0;
}

/* n runs of bubblewrap with every namespace, running true; -1 without bwrap. */
static int64_t bwrap_runs(int n)
{
    char *const argv[] = {"bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                          "--dev", "/dev", "--proc", "/proc", "true", NULL};
    int64_t t0 = exo_mono_us();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, STDERR_FILENO);
            execvp("bwrap", argv);
            _exit(127);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            return -1;
    }
    return exo_mono_us() - t0;
}

/* n tmpfs mounts + lazy unmounts in a private mount namespace (in a child). */
static int64_t tmpfs_mounts(int n)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char dir[] = "/tmp/exo-bench-mnt-XXXXXX";
        int64_t spent = -1;
        if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
            mkdtemp(dir)) {
            int64_t t0 = exo_mono_us();
            for (int i = 0; i < n; i++)
                if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=0700") < 0 ||
                    umount2(dir, MNT_DETACH) < 0)
                    break;
            spent = exo_mono_us() - t0;
            rmdir(dir);
        }
        (void)!write(p[1], &spent, sizeof spent);
        _exit(0);
    }
    close(p[1]);
    int64_t spent = -1;
    if (pid < 0 || read(p[0], &spent, sizeof spent) != (ssize_t)sizeof spent)
        spent = -1;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return spent;
}

static void print_us(const char *what, int64_t total, int n)
{
    if (total < 0)
        printf("%-34s %8s\n", what, "n/a");
    else
        printf("%-34s %8.1f us/state\n", what, (double)total / n);
}

static int64_t sandboxed_runs(const host_node *node, host_zygote *z, host_scratch_pool *scratch,
                              int n)
{
    json_object *inputs = json_object_new_object();
    for (size_t i = 0; inputs && i < node->inputs.count; i++)
        json_object_object_add(inputs, node->inputs.items[i].name, json_object_new_string("x"));
    host_job job = {node, "000000000000000000000000", "bench", inputs, NULL};
    int64_t t0 = exo_mono_us();
    for (int i = 0; i < n; i++) {
        host_run r;
        char err[512];
        if (host_run_start(&r, &job, &node->sandbox, z, scratch, err, sizeof err) < 0) {
            fprintf(stderr, "cannot start: %s\n", err);
            return -1;
        }
        if (wait_run(&r, z) < 0)
            return -1;
        host_outcome out;
        host_run_outcome(&r, node, &out);
        json_object_put(out.body);
        host_run_cleanup(&r);
        if (out.kind == HOST_REPORT_ERRORED) {
            fprintf(stderr, "the state failed: %s\n", out.summary);
            return -1;
        }
    }
    json_object_put(inputs);
    return exo_mono_us() - t0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && argc <= 4 && strcmp(argv[1], "--zygote") == 0)
        host_zygote_serve(HOST_ZYGOTE_FD, argc >= 3 ? argv[2] : NULL, argc == 4 ? argv[3] : NULL);
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN.so [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 300;
    if (n < 1)
        n = 1;
    signal(SIGPIPE, SIG_IGN);
    host_node node;
    char err[1024];
    char *plugin = realpath(argv[1], NULL); /* the runner works in its scratch directory */
    if (!plugin) {
        perror(argv[1]);
        return 1;
    }
    if (host_plugin_load(plugin, NULL, NULL, &node, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char scratch[] = "/tmp/exo-bench-sandbox-XXXXXX";
    if (!mkdtemp(scratch) || chmod(scratch, 0711) < 0) {
        perror("scratch directory");
        return 1;
    }
    host_scratch_pool pool;
    host_scratch_init(&pool, scratch);
    char *runner = host_runner_path();
    /* The full isolation, as exo-host sets it up: a user per state and the view. */
    char view_root[64], view[256];
    snprintf(view_root, sizeof view_root, "%s/.view", scratch);
    snprintf(view, sizeof view, "{\"root\":\"%s\",\"scratch\":\"%s\",\"hide\":[],\"read\":[]}",
             view_root, scratch);
    if (mkdir(view_root, 0755) < 0) {
        perror(view_root);
        return 1;
    }
    host_zygote *z = host_zygote_start(runner, "1900000000-1900065535", view, err, sizeof err);
    if (!z) {
        fprintf(stderr, "cannot start the fork server: %s\n", err);
        return 1;
    }
    sandboxed_runs(&node, z, &pool, n < 20 ? n : 20); /* warm-up: caches, first faults */
    int64_t bare = forks(n, 0);
    int64_t full = sandboxed_runs(&node, z, &pool, n);
    int nb = n / 4 > 0 ? n / 4 : 1;
    int64_t bwrap = bwrap_runs(nb);
    int64_t pidns = forks(n, CLONE_NEWPID), netns = forks(nb, CLONE_NEWNET);
    int64_t mounts = tmpfs_mounts(n);
    host_zygote_free(z);
    host_scratch_release(&pool);
    rmdir(view_root);
    rmdir(scratch);
    free(runner);
    free(plugin);
    if (bare >= 0 && full >= 0) {
        double bare_ms = (double)bare / n / 1000.0, full_ms = (double)full / n / 1000.0;
        double bwrap_ms = bwrap >= 0 ? (double)bwrap / nb / 1000.0 : -1;
        print_us("bare fork+waitpid:", bare, n);
        print_us("sandboxed state:", full, n);
        print_us("bwrap --unshare-all true:", bwrap, nb);
        printf("where the time goes (each alone):\n");
        print_us("  fork with a new PID namespace:", pidns, n);
        print_us("  fork with a new network namespace:", netns, nb);
        print_us("  tmpfs mount + unmount:", mounts, n);
        printf("{\"sandbox_ms\":%.4f,\"bare_fork_ms\":%.4f,\"bwrap_ms\":%.4f,\"ratio\":%.2f,"
               "\"bwrap_ratio\":%.2f}\n",
               full_ms, bare_ms, bwrap_ms, full_ms / bare_ms,
               bwrap_ms > 0 ? bwrap_ms / full_ms : 0.0);
    }
    host_node_free(&node);
    return bare < 0 || full < 0;
}
