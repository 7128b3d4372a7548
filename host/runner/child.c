#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

#include "fdio.h"
#include "strfmt.h"
#include "sandbox.h"

/* The host side of exo_ctx: the plugin sees only `pub`. */
typedef struct host_ctx {
    exo_ctx pub;
    const host_job *job;
    json_object *outputs; /* array of objects */
    json_object *store;   /* NULL until exo_store_set */
    char *error;          /* set by exo_fail or SDK misuse */
    json_object *prune;   /* set by exo_prune */
    int64_t requeue_ms;   /* > 0 after exo_requeue_after */
} host_ctx;

static host_ctx *from_pub(exo_ctx *ctx)
{
    return (host_ctx *)ctx; /* pub is the first member */
}

static void set_error(host_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(host_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = exo_vstrfmt(fmt, ap);
    va_end(ap);
    free(c->error);
    c->error = msg ? msg : strdup("out of memory while formatting the error");
}

static void child_log(host_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void child_log(host_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[2048];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    dprintf(STDERR_FILENO, "[%s] %s\n", c->job->node->name, line);
}

static const char *api_input(exo_ctx *ctx, const char *name)
{
    host_ctx *c = from_pub(ctx);
    json_object *v = NULL;
    if (!name || !host_field_find(&c->job->node->inputs, name) ||
        !json_object_object_get_ex(c->job->inputs, name, &v))
        return NULL;
    return json_object_get_string(v);
}

static const char *api_secret(exo_ctx *ctx, const char *name)
{
    host_ctx *c = from_pub(ctx);
    json_object *v = NULL;
    if (!name || !c->job->secrets || !host_field_find(&c->job->node->secrets, name) ||
        !json_object_object_get_ex(c->job->secrets, name, &v))
        return NULL;
    return json_object_get_string(v);
}

static json_object *current_output(host_ctx *c)
{
    size_t n = json_object_array_length(c->outputs);
    if (n > 0)
        return json_object_array_get_idx(c->outputs, n - 1);
    json_object *o = json_object_new_object();
    if (!o || json_object_array_add(c->outputs, o) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* "a, b" (malloc'd; NULL when out of memory). */
static char *field_names(const host_field_list *l)
{
    char *text = strdup("");
    for (size_t i = 0; text && i < l->count; i++) {
        char *longer = exo_strfmt("%s%s%s", text, i ? ", " : "", l->items[i].name);
        free(text);
        text = longer;
    }
    return text;
}

/* An output the node does not declare fails the state (the next node would
 * otherwise miss the field it expects, far from the cause). */
static int undeclared_output(host_ctx *c, const char *name)
{
    const host_field_list *outs = &c->job->node->outputs;
    char *declared = field_names(outs);
    if (outs->count == 0)
        set_error(c, "exo_output: '%s' is not a declared output of %s (it declares no outputs)",
                  name ? name : "(null)", c->job->node->name);
    else
        set_error(c, "exo_output: '%s' is not a declared output of %s (declared: %s)",
                  name ? name : "(null)", c->job->node->name, declared ? declared : "?");
    free(declared);
    return EXO_ERROR;
}

static int api_output(exo_ctx *ctx, const char *name, const char *value)
{
    host_ctx *c = from_pub(ctx);
    if (!name || !host_field_find(&c->job->node->outputs, name))
        return undeclared_output(c, name);
    if (!value) {
        child_log(c, "exo_output: value of '%s' is NULL; ignored", name);
        return EXO_ERROR;
    }
    json_object *o = current_output(c);
    json_object *s = json_object_new_string(value);
    if (!o || !s || json_object_object_add(o, name, s) != 0) {
        json_object_put(s);
        return EXO_ERROR;
    }
    return EXO_OK;
}

static int api_voutputf(exo_ctx *ctx, const char *name, const char *fmt, va_list ap)
{
    char *value = NULL;
    if (!fmt || vasprintf(&value, fmt, ap) < 0)
        return EXO_ERROR;
    int rc = api_output(ctx, name, value);
    free(value);
    return rc;
}

static int api_next_output(exo_ctx *ctx)
{
    host_ctx *c = from_pub(ctx);
    json_object *o = json_object_new_object();
    if (!o || json_object_array_add(c->outputs, o) != 0) {
        json_object_put(o);
        return EXO_ERROR;
    }
    return EXO_OK;
}

static int api_vfail(exo_ctx *ctx, const char *fmt, va_list ap)
{
    host_ctx *c = from_pub(ctx);
    char *msg = NULL;
    if (!fmt || vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    free(c->error);
    c->error = msg;
    if (!c->error || !c->error[0]) {
        free(c->error);
        c->error = strdup("the node failed without a message");
    }
    return EXO_ERROR;
}

static int api_prune(exo_ctx *ctx, const char *json_object_text)
{
    host_ctx *c = from_pub(ctx);
    json_object *data = json_object_text ? json_tokener_parse(json_object_text)
                                         : json_object_new_object();
    if (!data || !json_object_is_type(data, json_type_object)) {
        json_object_put(data);
        set_error(c, "exo_prune: the data is not a JSON object");
        return EXO_ERROR;
    }
    json_object_put(c->prune);
    c->prune = data;
    return EXO_OK;
}

static int api_requeue_after(exo_ctx *ctx, int64_t delay_ms)
{
    host_ctx *c = from_pub(ctx);
    if (delay_ms < 1) {
        set_error(c, "Delay must be greater than 0 (exo_requeue_after got %lld ms)",
                  (long long)delay_ms);
        return EXO_ERROR;
    }
    c->requeue_ms = delay_ms;
    return EXO_OK;
}

static int api_store_set(exo_ctx *ctx, const char *key, const char *value)
{
    host_ctx *c = from_pub(ctx);
    if (!key || !*key || strchr(key, '.') || !value) {
        child_log(c, "exo_store_set: key must be non-empty without '.', value non-NULL");
        return EXO_ERROR;
    }
    if (!c->store && !(c->store = json_object_new_object()))
        return EXO_ERROR;
    json_object *s = json_object_new_string(value);
    if (!s || json_object_object_add(c->store, key, s) != 0) {
        json_object_put(s);
        return EXO_ERROR;
    }
    return EXO_OK;
}

static void api_vlog(exo_ctx *ctx, const char *fmt, va_list ap)
{
    host_ctx *c = from_pub(ctx);
    char line[2048];
    if (!fmt || vsnprintf(line, sizeof line, fmt, ap) < 0)
        return;
    child_log(c, "%s", line);
}

static const char *api_state_id(exo_ctx *ctx)
{
    return from_pub(ctx)->job->state_id;
}

static const char *api_identifier(exo_ctx *ctx)
{
    return from_pub(ctx)->job->identifier;
}

static const exo_api host_api = {
    .abi_version = EXO_ABI_VERSION,
    .struct_size = sizeof(exo_api),
    .input = api_input,
    .secret = api_secret,
    .output = api_output,
    .voutputf = api_voutputf,
    .next_output = api_next_output,
    .vfail = api_vfail,
    .prune = api_prune,
    .requeue_after = api_requeue_after,
    .store_set = api_store_set,
    .vlog = api_vlog,
    .state_id = api_state_id,
    .identifier = api_identifier,
};

static json_object *result_of(host_ctx *c, int rc)
{
    json_object *r = json_object_new_object();
    if (!r)
        return NULL;
    if (c->error) {
        json_object_object_add(r, "kind", json_object_new_string("error"));
        json_object_object_add(r, "error", json_object_new_string(c->error));
    } else if (c->prune) {
        json_object_object_add(r, "kind", json_object_new_string("prune"));
        json_object_object_add(r, "data", json_object_get(c->prune));
    } else if (c->requeue_ms > 0) {
        json_object_object_add(r, "kind", json_object_new_string("requeue"));
        json_object_object_add(r, "delay_ms", json_object_new_int64(c->requeue_ms));
    } else if (rc != EXO_OK) {
        json_object_object_add(r, "kind", json_object_new_string("error"));
        char msg[128];
        snprintf(msg, sizeof msg, "exo_execute returned %d without calling exo_fail", rc);
        json_object_object_add(r, "error", json_object_new_string(msg));
    } else {
        json_object_object_add(r, "kind", json_object_new_string("outputs"));
        json_object_object_add(r, "outputs", json_object_get(c->outputs));
        if (c->store)
            json_object_object_add(r, "store", json_object_get(c->store));
    }
    return r;
}

json_object *host_child_execute(const host_job *job)
{
    host_ctx c;
    memset(&c, 0, sizeof c);
    c.pub.api = &host_api;
    c.job = job;
    if (!(c.outputs = json_object_new_array()))
        return NULL;
    int rc = job->node->execute(&c.pub);
    json_object *r = result_of(&c, rc);
    json_object_put(c.outputs);
    json_object_put(c.store);
    json_object_put(c.prune);
    free(c.error);
    return r;
}

static void write_result(json_object *r)
{
    const char *text = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
    if (exo_write_all(HOST_RESULT_FD, text, strlen(text)) < 0)
        _exit(120); /* the host reads "exited without a result" */
}

static void fail_setup(const char *what) __attribute__((noreturn));
static void fail_setup(const char *what)
{
    json_object *r = json_object_new_object();
    char msg[600];
    snprintf(msg, sizeof msg, "%s", what);
    if (r) {
        json_object_object_add(r, "kind", json_object_new_string("error"));
        json_object_object_add(r, "error", json_object_new_string(msg));
        write_result(r);
    }
    _exit(121);
}

/* Moves fd to a number >= 10 so that the dup2 calls below cannot clobber it; one
 * above top (the highest target of those dup2 calls) stays where it is. */
static int lift_fd(int fd, int top)
{
    if (fd > top)
        return fd; /* no dup2 writes there; close_from closes the original later */
    int lifted = fcntl(fd, F_DUPFD, 10);
    if (lifted < 0)
        _exit(122);
    return lifted;
}

static void close_from(int first)
{
    if (close_range((unsigned)first, ~0U, 0) < 0) {
        for (int fd = first; fd < 65536; fd++)
            close(fd);
    }
}

/* 0 = job, 1 and 2 = output, 3 = result, 4 = plugin, 5 = the seccomp listener's
 * channel (when notify_fd >= 0); nothing else stays open: in particular no other
 * state's descriptors or listeners, which a copy of the fork server holds. */
static void setup_descriptors(int job_fd, int result_fd, int output_fd, int plugin_fd,
                              int notify_fd)
{
    int top = notify_fd >= 0 ? HOST_NOTIFY_FD : HOST_PLUGIN_FD;
    job_fd = lift_fd(job_fd, top);
    result_fd = lift_fd(result_fd, top);
    output_fd = lift_fd(output_fd, top);
    plugin_fd = lift_fd(plugin_fd, top);
    if (notify_fd >= 0)
        notify_fd = lift_fd(notify_fd, top);
    if (dup2(job_fd, STDIN_FILENO) < 0 || dup2(output_fd, STDOUT_FILENO) < 0 ||
        dup2(output_fd, STDERR_FILENO) < 0 || dup2(result_fd, HOST_RESULT_FD) < 0 ||
        dup2(plugin_fd, HOST_PLUGIN_FD) < 0 ||
        (notify_fd >= 0 && dup2(notify_fd, HOST_NOTIFY_FD) < 0))
        _exit(123);
    close_from(notify_fd >= 0 ? HOST_NOTIFY_FD + 1 : HOST_PLUGIN_FD + 1);
}

static void reset_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The runner's environment: what libc, the loader and sanitizers need, nothing
 * that could carry a credential. */
static const char *const kept_env[] = {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
                                       "LD_LIBRARY_PATH", "EXO_LOG_LEVEL", "EXO_LOG_FORMAT", "ASAN_OPTIONS",
                                       "UBSAN_OPTIONS", "LSAN_OPTIONS",
                                       "EXO_HOST_PREFORK", NULL};

char *host_runner_path(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *path = NULL;
    if (asprintf(&path, "%s/exo-host-runner", self) < 0)
        return NULL;
    if (access(path, X_OK) < 0) {
        free(path);
        return NULL;
    }
    return path;
}

void host_runner_exec(const char *runner, const char *const *args, const int *fds, size_t nfds)
{
    pid_t parent = getppid();
    setpgid(0, 0); /* a terminal's ^C goes to the host, which stops gracefully */
    reset_signals();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || nfds > 8)
        _exit(124);
    int lifted[8];
    for (size_t i = 0; i < nfds; i++)
        lifted[i] = lift_fd(fds[i], INT_MAX); /* always: only a dup2 to another number clears close-on-exec */
    for (size_t i = 0; i < nfds; i++)
        if (dup2(lifted[i], 3 + (int)i) < 0)
            _exit(123);
    close_from(3 + (int)nfds);
    char *envp[16];
    size_t n = 0;
    for (const char *const *k = kept_env; *k && n + 1 < sizeof envp / sizeof envp[0]; k++) {
        /* environ entries are "NAME=value": pass the original strings through */
        size_t len = strlen(*k);
        for (char **e = environ; *e; e++)
            if (strncmp(*e, *k, len) == 0 && (*e)[len] == '=')
                envp[n++] = *e;
    }
    envp[n] = NULL;
    const char *program = runner ? runner : "/proc/self/exe";
    char *argv[8];
    size_t argc = 0;
    argv[argc++] = runner ? "exo-host-runner" : "exo-host";
    for (size_t i = 0; args[i] && argc + 1 < sizeof argv / sizeof argv[0]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    execve(program, argv, envp);
    dprintf(STDERR_FILENO, "exo-host: cannot start %s: execve(%s): %s\n", args[0], program,
            strerror(errno));
    _exit(125);
}

/* The fork server's process: fd 3 = its socket, 0-2 as the host's, nothing else. */
void host_zygote_exec(const char *runner, int sock, const char *uids, const char *view)
{
    const char *const args[] = {"--zygote", uids ? uids : "", view ? view : "", NULL};
    host_runner_exec(runner, args, &sock, 1);
}

void host_state_child_prepare(void)
{
    pid_t parent = getppid();
    setpgid(0, 0); /* also done by the server: whichever runs first wins */
    /* The server's dispositions are the defaults (it was exec'ed with them and
     * installs no handler); only its blocked SIGCHLD must not be inherited. */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
        getppid() != parent)
        _exit(124);
}

void host_state_child_start(int job_fd, int result_fd, int output_fd, int plugin_fd,
                            int notify_fd)
{
    setup_descriptors(job_fd, result_fd, output_fd, plugin_fd, notify_fd);
    host_runner_main(notify_fd >= 0 ? HOST_NOTIFY_FD : -1);
}

void host_state_child(int job_fd, int result_fd, int output_fd, int plugin_fd, int notify_fd)
{
    host_state_child_prepare();
    host_state_child_start(job_fd, result_fd, output_fd, plugin_fd, notify_fd);
}

/* ---- job format ------------------------------------------------------------- */

static json_object *sandbox_json(const host_sandbox_conf *sb)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "timeout_ms", json_object_new_int64(sb->timeout_ms));
    json_object_object_add(o, "memory_mb", json_object_new_int64(sb->memory_mb));
    json_object_object_add(o, "cpu_seconds", json_object_new_int64(sb->cpu_seconds));
    json_object_object_add(o, "open_files", json_object_new_int64(sb->open_files));
    json_object_object_add(o, "file_size_mb", json_object_new_int64(sb->file_size_mb));
    json_object_object_add(o, "processes", json_object_new_int64(sb->processes));
    json_object_object_add(o, "max_threads", json_object_new_int64(sb->max_threads));
    json_object_object_add(o, "scratch_mb", json_object_new_int64(sb->scratch_mb));
    json_object_object_add(o, "output_kb", json_object_new_int64(sb->output_kb));
    json_object_object_add(o, "network", json_object_new_boolean(sb->network));
    json_object_object_add(o, "user", json_object_new_string(sb->user));
    return o;
}

static int64_t get_int(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void sandbox_from_json(json_object *o, host_sandbox_conf *sb)
{
    host_sandbox_defaults(sb);
    if (!o)
        return;
    sb->timeout_ms = get_int(o, "timeout_ms");
    sb->memory_mb = get_int(o, "memory_mb");
    sb->cpu_seconds = get_int(o, "cpu_seconds");
    sb->open_files = get_int(o, "open_files");
    sb->file_size_mb = get_int(o, "file_size_mb");
    sb->processes = get_int(o, "processes");
    sb->max_threads = get_int(o, "max_threads");
    sb->scratch_mb = get_int(o, "scratch_mb");
    sb->output_kb = get_int(o, "output_kb");
    json_object *v = NULL;
    sb->network = json_object_object_get_ex(o, "network", &v) && json_object_get_boolean(v);
    const char *user = get_str(o, "user");
    snprintf(sb->user, sizeof sb->user, "%s", user ? user : "");
}

char *host_job_serialize(const host_job *job, const host_sandbox_conf *sb, const char *scratch)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "plugin", json_object_new_string(job->node->path));
    json_object_object_add(o, "node", json_object_new_string(job->node->name));
    json_object_object_add(o, "state_id", json_object_new_string(job->state_id));
    if (job->identifier)
        json_object_object_add(o, "identifier", json_object_new_string(job->identifier));
    json_object_object_add(o, "inputs", json_object_get(job->inputs));
    if (job->secrets)
        json_object_object_add(o, "secrets", json_object_get(job->secrets));
    json_object_object_add(o, "scratch", json_object_new_string(scratch));
    json_object_object_add(o, "sandbox", sandbox_json(sb));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *copy = text ? strdup(text) : NULL;
    if (text) /* the serializer's buffer holds the secrets too */
        explicit_bzero((char *)text, strlen(text));
    json_object_put(o);
    return copy;
}

/* ---- the runner -------------------------------------------------------------- */

int host_runner_load_plugin(int fd, const host_sandbox_conf *sb, host_node *node, char *err,
                            size_t errlen)
{
    char so_path[64];
    snprintf(so_path, sizeof so_path, "/proc/self/fd/%d", fd);
    /* After a user switch the process is not dumpable, which makes /proc/self
     * inaccessible to it; allow it for the load only (a dumpable process could be
     * inspected by other processes of the sandbox user). */
    int dumpable = prctl(PR_GET_DUMPABLE);
    if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 1) < 0)
        return exo_errf(err, errlen, "PR_SET_DUMPABLE failed: %s", strerror(errno));
    int loaded = host_plugin_open(so_path, sb, node, err, errlen);
    if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 0) < 0) {
        if (loaded == 0)
            host_node_free(node);
        return exo_errf(err, errlen, "PR_SET_DUMPABLE failed: %s", strerror(errno));
    }
    return loaded;
}

static char *read_job(void)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                break;
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (n == 0) {
            buf[len] = '\0';
            return buf;
        }
        len += (size_t)n;
    }
    free(buf);
    return NULL;
}

void host_runner_main(int notify_fd)
{
    char *text = read_job();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0)
        fail_setup("cannot open /dev/null");
    if (devnull != STDIN_FILENO)
        close(devnull);
    json_object *job_json = text ? json_tokener_parse(text) : NULL;
    if (!job_json || !json_object_is_type(job_json, json_type_object))
        fail_setup("the state runner received no readable job");
    const char *plugin = get_str(job_json, "plugin");
    const char *scratch = get_str(job_json, "scratch");
    const char *state_id = get_str(job_json, "state_id");
    if (!plugin || !scratch || !state_id)
        fail_setup("the job lacks plugin, scratch or state_id");
    host_sandbox_conf sb;
    sandbox_from_json(json_object_object_get(job_json, "sandbox"), &sb);
    char err[1024];
    if (host_sandbox_enter(&sb, scratch, notify_fd, err, sizeof err) < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "sandbox setup failed: %s", err);
        fail_setup(msg);
    }
    host_node node;
    int loaded = host_runner_load_plugin(HOST_PLUGIN_FD, &sb, &node, err, sizeof err);
    close(HOST_PLUGIN_FD);
    if (loaded < 0) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: %s", plugin, err);
        fail_setup(msg);
    }
    const char *expected = get_str(job_json, "node");
    if (!expected || strcmp(expected, node.name) != 0)
        fail_setup("the plugin file changed since the host loaded it (send SIGHUP to reload)");
    host_job job = {&node, state_id, get_str(job_json, "identifier"),
                    json_object_object_get(job_json, "inputs"),
                    json_object_object_get(job_json, "secrets")};
    json_object *r = host_child_execute(&job);
    fflush(NULL); /* what the node printf'ed is in stdio buffers; _exit would drop it */
    if (!r)
        fail_setup("out of memory");
    write_result(r);
    _exit(0);
}
