/* exo-host-bench-sandbox: what the sandbox costs per state.
 *
 *   exo-host-bench-sandbox PLUGIN.so [N]
 *
 * Times N bare fork+_exit+waitpid against N complete state runs of the plugin's
 * node through the host's own code path (scratch dir, pipes, request to the fork
 * server, fork there, sandbox, plugin load, run, result, exit status back from the
 * fork server, outcome, cleanup), with the node's inputs all set to "x", both in
 * the same run.  Prints microseconds per state for both, then one JSON line
 * {"sandbox_ms":..,"bare_fork_ms":..,"ratio":..}. */
#include <poll.h>
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

static int64_t bare_forks(int n)
{
    int64_t t0 = exo_mono_us();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid)
            return -1;
    }
    return exo_mono_us() - t0;
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
    if (host_plugin_load(plugin, NULL, &node, err, sizeof err) < 0) {
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
    host_zygote *z = host_zygote_start(runner, getenv("EXO_BENCH_UIDS"), getenv("EXO_BENCH_VIEW"),
                                       err, sizeof err);
    if (!z) {
        fprintf(stderr, "cannot start the fork server: %s\n", err);
        return 1;
    }
    sandboxed_runs(&node, z, &pool, n < 20 ? n : 20); /* warm-up: caches, first faults */
    int64_t bare = bare_forks(n);
    int64_t full = sandboxed_runs(&node, z, &pool, n);
    host_zygote_free(z);
    host_scratch_release(&pool);
    rmdir(scratch);
    free(runner);
    free(plugin);
    if (bare >= 0 && full >= 0) {
        double bare_ms = (double)bare / n / 1000.0, full_ms = (double)full / n / 1000.0;
        printf("bare fork+waitpid:          %8.1f us/state\n", (double)bare / n);
        printf("sandboxed state (%s): %8.1f us/state\n", node.name, (double)full / n);
        printf("{\"sandbox_ms\":%.4f,\"bare_fork_ms\":%.4f,\"ratio\":%.2f}\n", full_ms, bare_ms,
               full_ms / bare_ms);
    }
    host_node_free(&node);
    return bare < 0 || full < 0;
}
