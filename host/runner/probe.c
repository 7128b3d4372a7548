/* Loading a plugin without mapping it (plugin.h, descriptor.h): the host copies the
 * file into a sealed memfd and a sandboxed probe process (exo-host-runner --probe)
 * loads that copy and sends back the checked descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "descriptor.h"
#include "fdio.h"
#include "isolation.h"
#include "log.h"
#include "plugin.h"
#include "view.h"
#include "runner.h"
#include "sandbox.h"
#include "strfmt.h"

#define PROBE_TIMEOUT_MS 10000
#define PROBE_ANSWER_MAX (1024 * 1024)
#define PLUGIN_MAX_BYTES ((off_t)1 << 30)

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3; older headers lack it */
#endif

/* An executable memfd: asked for explicitly where vm.memfd_noexec would default
 * to non-executable, plain on kernels that do not know the flag. */
static int exec_memfd(void)
{
    int fd = memfd_create("exo-plugin", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("exo-plugin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return fd;
}

/* The file's bytes in a memfd that nobody can change any more (the states get it). */
static int copy_to_memfd(int src, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(src, &st) < 0)
        return exo_errf(err, errlen, "%s: cannot open: fstat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return exo_errf(err, errlen, "%s: not a regular file", path);
    if (st.st_size > PLUGIN_MAX_BYTES)
        return exo_errf(err, errlen, "%s: larger than 1 GiB", path);
    int fd = exec_memfd();
    if (fd < 0)
        return exo_errf(err, errlen, "%s: memfd_create: %s", path, strerror(errno));
    char buf[65536];
    for (;;) {
        ssize_t n = read(src, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && exo_write_all(fd, buf, (size_t)n) < 0)) {
            exo_errf(err, errlen, "%s: cannot copy: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        exo_errf(err, errlen, "%s: cannot seal the copy: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int open_copy(const char *path, char *err, size_t errlen)
{
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return exo_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    ssize_t n = pread(src, magic, sizeof magic, 0);
    if (n != 4 || memcmp(magic, "\177ELF", 4) != 0) {
        close(src);
        return exo_errf(err, errlen, "%s: not an ELF shared object", path);
    }
    int fd = copy_to_memfd(src, path, err, errlen);
    close(src);
    return fd;
}

/* Reads the probe's answer until EOF, the size cap or the deadline.  0, or 1 on
 * timeout. */
static int read_answer(int fd, int64_t deadline, char **text, size_t *len)
{
    size_t cap = 4096;
    char *buf = malloc(cap);
    *len = 0;
    *text = buf;
    while (buf) {
        int64_t left = deadline - exo_mono_ms();
        if (left <= 0)
            return 1;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? 1 : 0;
        if (*len + 1 >= cap) {
            if (cap >= PROBE_ANSWER_MAX)
                return 0; /* the rest is not read: the answer is then malformed */
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                return 0;
            *text = buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + *len, cap - *len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    if (buf)
        buf[*len] = '\0';
    return 0;
}

/* Waits for the probe until the deadline, then kills it.  0, or 1 when killed. */
static int wait_probe(pid_t pid, int64_t deadline, int *status)
{
    struct timespec step = {0, 2 * 1000 * 1000};
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return 0;
        if (exo_mono_ms() >= deadline)
            break;
        nanosleep(&step, NULL);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return 1;
}

/* Why the probe had no file system view, said once per process (a host loads
 * every plugin at start and again at each SIGHUP; the reason is the same each time).
 * Static: a process-wide "already said", nothing else. */
static bool said_no_view;

static void say_no_view(const char *why)
{
    if (said_no_view)
        return;
    said_no_view = true;
    log_warn("sandbox: the plugin probe has no private file system view (%s): a plugin's "
             "constructors can read what sandbox.user may read",
             why);
}

/* What the probe's answer and exit status say.  0 with out filled, or -1. */
static int interpret(const char *path, const char *text, int status, host_node *out, char *err,
                     size_t errlen)
{
    json_object *o = text && text[0] ? json_tokener_parse(text) : NULL;
    json_object *v = NULL;
    int rc = -1;
    if (o && json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string))
        exo_errf(err, errlen, "%s: %s", path, json_object_get_string(v));
    else if (o && json_object_object_get_ex(o, "kind", &v) &&
             strcmp(json_object_get_string(v), "blocked") == 0)
        exo_errf(err, errlen, "%s: blocked system call while loading: %s", path,
                 json_object_object_get_ex(o, "syscall", &v) ? json_object_get_string(v) : "?");
    else if (WIFSIGNALED(status)) {
        const char *sig = sigabbrev_np(WTERMSIG(status));
        exo_errf(err, errlen, "%s: crashed while loading (killed by SIG%s)", path,
                 sig ? sig : "?");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        exo_errf(err, errlen, "%s: crashed while loading (exit status %d)", path,
                 WEXITSTATUS(status));
    else if (o && json_object_object_get_ex(o, "node", &v))
        rc = host_descriptor_from_json(v, path, out, err, errlen);
    else
        exo_errf(err, errlen, "%s: the probe sent no descriptor", path);
    if (rc == 0 && json_object_object_get_ex(o, "no_view", &v))
        say_no_view(json_object_get_string(v));
    json_object_put(o);
    return rc;
}

/* The probe's view spec: paths ({"hide": [...], "read": [...]}, or NULL for none
 * beyond the system directories) with "root" = a new empty directory, which the
 * probe mounts a tmpfs on in its own mount namespace (the host's sees an empty
 * directory, removed after the probe).  NULL when that directory cannot be made
 * (*root NULL too): the probe then runs without a view, and says so. */
static char *probe_view_spec(const char *paths, char **root)
{
    *root = NULL;
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    if (asprintf(&dir, "%s/exo-probe-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp") < 0)
        return NULL;
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    json_object *spec = paths ? json_tokener_parse(paths) : json_object_new_object();
    char *text = NULL;
    if (spec && json_object_is_type(spec, json_type_object) &&
        json_object_object_add(spec, "root", json_object_new_string(dir)) == 0)
        text = strdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN));
    json_object_put(spec);
    if (!text) {
        rmdir(dir);
        free(dir);
        return NULL;
    }
    *root = dir;
    return text;
}

static int probe(const char *path, int so_fd, const host_sandbox_conf *sb, const char *view,
                 host_node *out, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return exo_errf(err, errlen, "%s: cannot probe: pipe: %s", path, strerror(errno));
    char *root = NULL;
    char *spec = probe_view_spec(view, &root);
    if (!spec)
        say_no_view("cannot create a directory for it");
    char *runner = host_runner_path();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        free(runner);
        close(fds[0]);
        close(fds[1]);
        if (root)
            rmdir(root);
        free(root);
        free(spec);
        return exo_errf(err, errlen, "%s: cannot probe: fork: %s", path, strerror(saved));
    }
    if (pid == 0) {
        const char *args[] = {"--probe", sb->user, spec ? spec : "", NULL};
        int child_fds[2] = {fds[1], so_fd}; /* HOST_RESULT_FD, HOST_PLUGIN_FD */
        host_runner_exec(runner, args, child_fds, 2);
    }
    free(runner);
    free(spec);
    close(fds[1]);
    int64_t deadline = exo_mono_ms() + PROBE_TIMEOUT_MS;
    char *text = NULL;
    size_t len = 0;
    int late = read_answer(fds[0], deadline, &text, &len);
    close(fds[0]);
    int status = 0;
    int killed = wait_probe(pid, late ? exo_mono_ms() : deadline, &status);
    if (root && rmdir(root) < 0)
        log_warn("cannot remove the plugin probe's directory %s: %s", root, strerror(errno));
    free(root);
    if (killed || late) {
        free(text);
        return exo_errf(err, errlen,
                        "%s: loading did not finish within %d ms (constructor hangs?)", path,
                        PROBE_TIMEOUT_MS);
    }
    int rc = interpret(path, text, status, out, err, errlen);
    free(text);
    return rc;
}

int host_plugin_load(const char *path, const host_sandbox_conf *sandbox, const char *view,
                     host_node *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->so_fd = -1;
    host_sandbox_conf sb;
    if (sandbox)
        sb = *sandbox;
    else
        host_sandbox_defaults(&sb);
    int so_fd = open_copy(path, err, errlen);
    if (so_fd < 0)
        return -1;
    if (probe(path, so_fd, &sb, view, out, err, errlen) < 0) {
        close(so_fd);
        return -1;
    }
    out->so_fd = so_fd;
    out->sandbox = sb;
    return 0;
}

/* ---- the probe's own side (exo-host-runner --probe USER) ----------------------- */

static void answer(json_object *o, int code) __attribute__((noreturn));
static void answer(json_object *o, int code)
{
    const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
    if (text)
        (void)exo_write_all(HOST_RESULT_FD, text, strlen(text));
    _exit(code);
}

static void answer_error(const char *msg) __attribute__((noreturn));
static void answer_error(const char *msg)
{
    json_object *o = json_object_new_object();
    if (o)
        json_object_object_add(o, "error", json_object_new_string(msg));
    answer(o, 2);
}

/* The states' view without a scratch directory, in a mount namespace of the
 * probe's own (a user namespace first when not root, as the fork server does).
 * NULL, or why not (a static string or buf). */
static const char *enter_view(const char *spec, char *buf, size_t len)
{
    if (!spec || !spec[0])
        return "the host could not create a directory for it";
    if (geteuid() != 0) {
        if (!host_isolation_enter_userns(false))
            return "not root, and no user namespace here";
        host_sandbox_set_userns();
    }
    if (host_view_build_probe(spec, buf, len) < 0)
        return buf;
    return NULL;
}

void host_probe_main(const char *user, const char *view)
{
    /* A sandbox like a state's, without a writable directory: the plugin's
     * constructors are node code. */
    host_sandbox_conf sb;
    host_sandbox_defaults(&sb);
    snprintf(sb.user, sizeof sb.user, "%s", user ? user : "");
    char why_buf[512];
    const char *no_view = enter_view(view, why_buf, sizeof why_buf);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0)
        answer_error("cannot open /dev/null");
    if (devnull > HOST_PLUGIN_FD)
        close(devnull);
    char err[1024];
    if (host_sandbox_enter(&sb, NULL, -1, err, sizeof err) < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "sandbox setup failed: %s", err);
        answer_error(msg);
    }
    host_node node;
    if (host_runner_load_plugin(HOST_PLUGIN_FD, &sb, &node, err, sizeof err) < 0) {
        /* Messages name /proc/self/fd/N; the host puts the plugin's path in front. */
        const char *prefix = "/proc/self/fd/4: ";
        answer_error(strncmp(err, prefix, strlen(prefix)) == 0 ? err + strlen(prefix) : err);
    }
    json_object *o = json_object_new_object();
    json_object *d = host_descriptor_to_json(&node);
    if (!o || !d)
        answer_error("out of memory");
    json_object_object_add(o, "node", d);
    if (no_view)
        json_object_object_add(o, "no_view", json_object_new_string(no_view));
    answer(o, 0);
}
