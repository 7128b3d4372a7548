#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"
#include "log.h"
#include "scratch.h"
#include "strfmt.h"
#include "utf8.h"
#include "validate.h"

#define FORWARD_LIMIT (4 * 1024) /* printed bytes copied into the host log per state */

void host_format_kib(int64_t kib, char *buf, size_t len)
{
    if (kib % 1024 == 0)
        snprintf(buf, len, "%lld MiB", (long long)(kib / 1024));
    else
        snprintf(buf, len, "%lld KiB", (long long)kib);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void kill_group(host_run *r);

int host_run_start(host_run *r, const host_job *job, const host_sandbox_conf *sb,
                   host_zygote *zygote, host_scratch_pool *scratch, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->result_fd = r->output_fd = -1;
    r->pid = -1;
    r->sb = *sb;
    r->zygote = zygote;
    int res[2] = {-1, -1}, outp[2] = {-1, -1}, jobp[2] = {-1, -1};
    char *job_text = NULL;
    if (asprintf(&r->log_prefix, "state %s (%s)", job->state_id, job->node->name) < 0) {
        r->log_prefix = NULL;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    r->state_id = job->state_id;
    r->node_name = job->node->name;
    r->scratch_pool = scratch;
    if (!(r->scratch = host_scratch_take(scratch, err, errlen)))
        goto fail;
    if (!(job_text = host_job_serialize(job, sb, r->scratch))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pipe2(res, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(jobp, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (fcntl(res[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0) {
        snprintf(err, errlen, "fcntl(O_NONBLOCK): %s", strerror(errno));
        goto fail;
    }
    r->started_ms = exo_mono_ms();
    r->deadline_ms = r->started_ms + sb->timeout_ms;
    /* Only the descriptors travel; the job (inputs, secrets) goes straight from
     * here to the state's process through the pipe. */
    if (job->node->so_fd < 0) {
        snprintf(err, errlen, "node %s has no loaded plugin", job->node->name);
        goto fail;
    }
    host_zygote_limits limits = {sb->network, sb->memory_mb, 1 + sb->processes + sb->max_threads,
                                 sb->scratch_mb, r->scratch};
    r->token = host_zygote_spawn(zygote, sb->user, &limits, jobp[0], res[1], outp[1],
                                 job->node->so_fd, err, errlen);
    if (!r->token)
        goto fail;
    close_fd(&res[1]);
    close_fd(&outp[1]);
    close_fd(&jobp[0]);
    r->result_fd = res[0];
    r->output_fd = outp[0];
    res[0] = outp[0] = -1;
    /* The process reads its whole job first; one that died early shows up as EPIPE
     * here (SIGPIPE is ignored) and as its exit status later.  A pipe that holds the
     * whole job spares the loop from waiting for the process to start reading. */
    size_t job_len = strlen(job_text);
    if (job_len >= 65536 && job_len <= 1024 * 1024)
        (void)fcntl(jobp[1], F_SETPIPE_SZ, (int)job_len + 1); /* best effort */
    if (exo_write_all(jobp[1], job_text, job_len) < 0)
        log_debug("state %s: job not fully written: %s", job->state_id, strerror(errno));
    close_fd(&jobp[1]);
    explicit_bzero(job_text, strlen(job_text));
    free(job_text);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&res[i]);
        close_fd(&outp[i]);
        close_fd(&jobp[i]);
    }
    if (job_text) {
        explicit_bzero(job_text, strlen(job_text));
        free(job_text);
    }
    host_run_cleanup(r);
    return -1;
}

void host_run_set_context(host_run *r, const char *run_id, const char *graph_name)
{
    r->run_id = run_id;
    r->graph_name = graph_name;
    char *prefix = NULL;
    if (!run_id || !graph_name ||
        asprintf(&prefix, "state %s run %s graph %s (%s)", r->state_id, run_id, graph_name,
                 r->node_name) < 0)
        return; /* the plain prefix stays */
    free(r->log_prefix);
    r->log_prefix = prefix;
}

static void kill_group(host_run *r)
{
    if (r->token && !r->exited)
        host_zygote_kill(r->zygote, r->token);
}

static size_t output_limit(const host_run *r)
{
    return (size_t)r->sb.output_kb * 1024;
}

/* Node text for the host's log: control characters (ESC, CR, ...) as \xHH, so that
 * a node cannot forge log lines or drive the operator's terminal.  out gets at most
 * outlen - 1 characters (always terminated). */
static void escape_for_log(const char *in, size_t len, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static void forward_line(host_run *r)
{
    if (r->line_len == 0)
        return;
    char text[sizeof r->line * 4 + 1];
    escape_for_log(r->line, r->line_len, text, sizeof text);
    exo_log_field fields[] = {{"state_id", r->state_id}, {"run_id", r->run_id},
                              {"graph", r->graph_name}, {"node", r->node_name},
                              {"stream", "output"}};
    size_t nf = sizeof fields / sizeof *fields;
    if (r->forwarded < FORWARD_LIMIT)
        exo_logf_fields(EXO_LOG_INFO, fields, nf, "%s: %s", r->log_prefix, text);
    else if (r->forwarded - r->line_len < FORWARD_LIMIT)
        exo_logf_fields(EXO_LOG_INFO, fields, nf, "%s: (further output not logged)", r->log_prefix);
    r->line_len = 0;
}

static void forward_output(host_run *r, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        r->forwarded++;
        if (buf[i] == '\n' || r->line_len == sizeof r->line) {
            forward_line(r);
            if (buf[i] == '\n')
                continue;
        }
        r->line[r->line_len++] = buf[i];
    }
}

/* The result or the printed output outgrew its limit: the state ends with
 * "output larger than ...". */
static void stop_over_limit(host_run *r, int *fd)
{
    r->output_exceeded = true;
    kill_group(r);
    close_fd(fd);
}

static void read_result(host_run *r)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(r->result_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN: more later */
        if (n == 0) {
            close_fd(&r->result_fd);
            return;
        }
        if (r->result_len + (size_t)n > output_limit(r)) {
            stop_over_limit(r, &r->result_fd);
            return;
        }
        char *grown = realloc(r->result, r->result_len + (size_t)n + 1);
        if (!grown) {
            kill_group(r);
            close_fd(&r->result_fd);
            return;
        }
        memcpy(grown + r->result_len, buf, (size_t)n);
        r->result_len += (size_t)n;
        grown[r->result_len] = '\0';
        r->result = grown;
    }
}

static void read_output(host_run *r)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(r->output_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        if (n == 0) {
            forward_line(r);
            close_fd(&r->output_fd);
            return;
        }
        r->output_len += (size_t)n;
        host_logtail_append(&r->logs, buf, (size_t)n);
        if (r->output_len > output_limit(r)) {
            stop_over_limit(r, &r->output_fd);
            return;
        }
        forward_output(r, buf, (size_t)n);
    }
}

void host_run_on_readable(host_run *r, int fd)
{
    if (fd == r->result_fd)
        read_result(r);
    else if (fd == r->output_fd)
        read_output(r);
}

void host_run_reaped(host_run *r, const host_zygote_exit *ex)
{
    r->exited = true;
    r->pid = ex->pid;
    r->status = ex->status;
    r->exited_ms = exo_mono_ms();
    r->ru = ex->ru;
    if (ex->start_errno)
        snprintf(r->lost, sizeof r->lost, "the host could not start the state: fork: %s",
                 strerror(ex->start_errno));
    r->memory_exceeded = ex->memory_exceeded;
    snprintf(r->blocked, sizeof r->blocked, "%s", ex->blocked);
}

void host_run_lost(host_run *r, const char *reason)
{
    r->exited = true;
    r->exited_ms = exo_mono_ms();
    snprintf(r->lost, sizeof r->lost, "%s", reason);
}

void host_run_check_deadline(host_run *r, int64_t now_ms)
{
    if (!r->exited && !r->timed_out && now_ms >= r->deadline_ms) {
        r->timed_out = true;
        kill_group(r);
    }
}

void host_run_kill(host_run *r)
{
    if (!r->exited) {
        r->killed_by_host = true;
        kill_group(r);
    }
}

bool host_run_finished(const host_run *r, int64_t now_ms)
{
    if (!r->exited)
        return false;
    if (r->result_fd < 0 && r->output_fd < 0)
        return true;
    return now_ms - r->exited_ms > 1000; /* a escaped grandchild keeps a pipe open */
}

void host_outcome_errored(host_outcome *out, const char *message)
{
    out->kind = HOST_REPORT_ERRORED;
    out->reason = HOST_OUTCOME_NODE_ERROR; /* callers name other reasons */
    out->body = json_object_new_object();
    if (out->body)
        json_object_object_add(out->body, "error", json_object_new_string(message));
    char text[401];
    escape_for_log(message, strnlen(message, 400), text, sizeof text); /* long messages are cut */
    snprintf(out->summary, sizeof out->summary, "errored: %s", text);
}

/* The node's own error message is not valid UTF-8: the state still fails at once
 * (not after a lease, which a refused report would cost), with the bytes shown. */
static void errored_not_utf8(host_outcome *out, const char *text)
{
    char *clean = exo_utf8_sanitize(text);
    char *msg = exo_strfmt("the node's error message is not valid UTF-8 (invalid bytes shown "
                           "as U+FFFD): %s", clean ? clean : "");
    host_outcome_errored(out, msg ? msg : "the node's error message is not valid UTF-8");
    free(msg);
    free(clean);
}

static void signal_outcome(const host_run *r, int sig, host_outcome *out);

static void outcome_from_result(const host_run *r, const host_node *node, json_object *res,
                                host_outcome *out)
{
    json_object *kind_obj = NULL;
    const char *kind = json_object_object_get_ex(res, "kind", &kind_obj)
                           ? json_object_get_string(kind_obj)
                           : "";
    char msg[1024];
    json_object *v = NULL;
    if (strcmp(kind, "error") == 0) {
        json_object_object_get_ex(res, "error", &v);
        const char *text = v ? json_object_get_string(v) : NULL;
        if (text && !exo_utf8_valid(text, (size_t)json_object_get_string_len(v))) {
            errored_not_utf8(out, text);
            return;
        }
        host_outcome_errored(out, text && *text ? text : "the node failed without a message");
    } else if (strcmp(kind, "blocked") == 0) {
        json_object_object_get_ex(res, "syscall", &v);
        snprintf(msg, sizeof msg, "blocked system call: %s", v ? json_object_get_string(v) : "?");
        host_outcome_errored(out, msg);
        out->reason = HOST_OUTCOME_BLOCKED_SYSCALL;
    } else if (strcmp(kind, "signal") == 0) {
        /* pid 1 of its PID namespace reports a signal it could not die of */
        json_object_object_get_ex(res, "signal", &v);
        signal_outcome(r, v ? json_object_get_int(v) : 0, out);
    } else if (strcmp(kind, "memory") == 0) {
        snprintf(msg, sizeof msg, "memory limit %lld MiB exceeded", (long long)r->sb.memory_mb);
        host_outcome_errored(out, msg);
        out->reason = HOST_OUTCOME_MEMORY;
    } else if (strcmp(kind, "prune") == 0) {
        json_object_object_get_ex(res, "data", &v);
        if (!v || !json_object_is_type(v, json_type_object)) {
            host_outcome_errored(out, "exo_prune: the data is not a JSON object");
            return;
        }
        if (!host_json_utf8_valid(v)) {
            host_outcome_errored(out, "exo_prune: the data is not valid UTF-8");
            return;
        }
        out->kind = HOST_REPORT_PRUNE;
        out->reason = HOST_OUTCOME_PRUNED;
        out->body = json_object_new_object();
        if (out->body)
            json_object_object_add(out->body, "data", json_object_get(v));
        snprintf(out->summary, sizeof out->summary, "pruned");
    } else if (strcmp(kind, "requeue") == 0) {
        json_object_object_get_ex(res, "delay_ms", &v);
        int64_t ms = v ? json_object_get_int64(v) : 0;
        if (ms < 1) {
            host_outcome_errored(out, "Delay must be greater than 0");
            return;
        }
        out->kind = HOST_REPORT_REQUEUE;
        out->reason = HOST_OUTCOME_REQUEUED;
        out->body = json_object_new_object();
        if (out->body)
            json_object_object_add(out->body, "enqueue_after", json_object_new_int64(ms));
        snprintf(out->summary, sizeof out->summary, "re-enqueue after %lld ms", (long long)ms);
    } else if (strcmp(kind, "outputs") == 0) {
        json_object *outputs = NULL, *clean = NULL, *store = NULL;
        json_object_object_get_ex(res, "outputs", &outputs);
        if (host_validate_outputs(node, outputs, &clean, msg, sizeof msg) < 0) {
            host_outcome_errored(out, msg);
            return;
        }
        if (json_object_object_get_ex(res, "store", &store) &&
            host_validate_store(store, msg, sizeof msg) < 0) {
            json_object_put(clean);
            host_outcome_errored(out, msg);
            return;
        }
        out->kind = HOST_REPORT_EXECUTED;
        out->reason = HOST_OUTCOME_SUCCESS;
        out->body = json_object_new_object();
        if (!out->body) {
            json_object_put(clean);
            return;
        }
        size_t n = json_object_array_length(clean);
        json_object_object_add(out->body, "outputs", clean);
        if (store)
            json_object_object_add(out->body, "store", json_object_get(store));
        snprintf(out->summary, sizeof out->summary, "executed (%zu output%s%s)", n,
                 n == 1 ? "" : "s", store ? ", store" : "");
    } else {
        snprintf(msg, sizeof msg, "the node sent a result of unknown kind '%s'", kind);
        host_outcome_errored(out, msg);
    }
}

static void signal_outcome(const host_run *r, int sig, host_outcome *out)
{
    double cpu = (double)r->ru.ru_utime.tv_sec + (double)r->ru.ru_stime.tv_sec +
                 (double)(r->ru.ru_utime.tv_usec + r->ru.ru_stime.tv_usec) / 1e6;
    char msg[256];
    bool cpu_spent = r->sb.cpu_seconds > 0 && cpu >= (double)r->sb.cpu_seconds;
    if (sig == SIGXCPU || (sig == SIGKILL && cpu_spent)) {
        snprintf(msg, sizeof msg, "CPU time limit %lld s exceeded", (long long)r->sb.cpu_seconds);
    } else if (sig == SIGSYS) {
        /* Only where refusals trap (no seccomp user notification): the sandbox's
         * handler names the call, but a program the node exec'd lost the handler. */
        snprintf(msg, sizeof msg, "blocked system call in a program the node executed "
                                  "(killed by SIGSYS)");
    } else if (sig == SIGXFSZ) {
        snprintf(msg, sizeof msg, "file size limit %lld MiB exceeded",
                 (long long)r->sb.file_size_mb);
    } else {
        const char *name = sigabbrev_np(sig);
        if (name)
            snprintf(msg, sizeof msg, "killed by SIG%s", name);
        else
            snprintf(msg, sizeof msg, "killed by signal %d", sig);
    }
    host_outcome_errored(out, msg);
    out->reason = sig == SIGXCPU || (sig == SIGKILL && cpu_spent) ? HOST_OUTCOME_CPU
                  : sig == SIGSYS                                 ? HOST_OUTCOME_BLOCKED_SYSCALL
                                                                  : HOST_OUTCOME_SIGNAL;
}

static void decide_outcome(const host_run *r, const host_node *node, host_outcome *out)
{
    char msg[256], size[32];
    if (r->lost[0]) {
        host_outcome_errored(out, r->lost);
        out->reason = HOST_OUTCOME_HOST_ERROR;
        return;
    }
    if (r->killed_by_host) {
        host_outcome_errored(out, "host shutting down: the state did not finish within the "
                                  "grace period");
        out->reason = HOST_OUTCOME_HOST_ERROR;
        return;
    }
    if (r->blocked[0]) {
        /* The fork server read the state's first refused call (any of its processes,
         * exec'd programs included) and killed it for it. */
        snprintf(msg, sizeof msg, "blocked system call: %s", r->blocked);
        host_outcome_errored(out, msg);
        out->reason = HOST_OUTCOME_BLOCKED_SYSCALL;
        return;
    }
    if (r->timed_out) {
        snprintf(msg, sizeof msg, "timed out after %lld ms", (long long)r->sb.timeout_ms);
        host_outcome_errored(out, msg);
        out->reason = HOST_OUTCOME_TIMEOUT;
        return;
    }
    if (r->memory_exceeded) {
        snprintf(msg, sizeof msg, "memory limit %lld MiB exceeded", (long long)r->sb.memory_mb);
        host_outcome_errored(out, msg);
        out->reason = HOST_OUTCOME_MEMORY;
        return;
    }
    if (r->output_exceeded) {
        host_format_kib(r->sb.output_kb, size, sizeof size);
        snprintf(msg, sizeof msg, "output larger than %s", size);
        host_outcome_errored(out, msg);
        out->reason = HOST_OUTCOME_OUTPUT;
        return;
    }
    json_object *res = r->result_len ? json_tokener_parse(r->result) : NULL;
    bool has_kind = res && json_object_is_type(res, json_type_object) &&
                    json_object_object_get_ex(res, "kind", NULL);
    if (has_kind && (WIFEXITED(r->status) ||
                     strcmp(json_object_get_string(json_object_object_get(res, "kind")),
                            "memory") == 0)) {
        outcome_from_result(r, node, res, out);
    } else if (WIFSIGNALED(r->status)) {
        signal_outcome(r, WTERMSIG(r->status), out);
    } else if (r->result_len && !has_kind) {
        host_outcome_errored(out, "the node sent an unreadable result");
    } else {
        host_outcome_errored(out, "exited without a result");
        if (WIFEXITED(r->status))
            snprintf(out->summary, sizeof out->summary,
                     "errored: exited without a result (exit status %d)", WEXITSTATUS(r->status));
    }
    json_object_put(res);
}

void host_run_outcome(const host_run *r, const host_node *node, host_outcome *out)
{
    memset(out, 0, sizeof *out);
    decide_outcome(r, node, out);
}

void host_run_attach_logs(const host_run *r, host_outcome *out)
{
    if (!out->body || (out->kind != HOST_REPORT_EXECUTED && out->kind != HOST_REPORT_ERRORED))
        return;
    size_t len = 0;
    char *text = host_logtail_text(&r->logs, &len);
    json_object *logs = text ? json_object_new_string_len(text, (int)len) : NULL;
    if (logs && json_object_object_add(out->body, "logs", logs) != 0)
        json_object_put(logs);
    free(text);
}

void host_run_cleanup(host_run *r)
{
    host_logtail_free(&r->logs);
    close_fd(&r->result_fd);
    close_fd(&r->output_fd);
    if (r->scratch) {
        /* A process that may have escaped the group could still write to it. */
        bool reusable = r->exited && !r->lost[0] && r->sb.processes == 0;
        host_scratch_return(r->scratch_pool, r->scratch, reusable);
        r->scratch = NULL;
    }
    free(r->result);
    r->result = NULL;
    free(r->log_prefix);
    r->log_prefix = NULL;
}
