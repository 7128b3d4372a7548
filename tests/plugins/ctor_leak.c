/* Misbehaves while probed: its constructor reads exo's own configuration and
 * encodes the first bytes in the name of its input, which the host would register
 * with the state manager ("leak_<hex>").  It tries the configuration at
 * LEAK_TARGET (where the test puts one, readable by anyone) and the `-c FILE` of its
 * parent's command line (exo-host's, for the probe).  Where it can read neither, the
 * input is called "sealed".  The probe's file system view must leave it "sealed". */
#include <exo/node.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LEAK_TARGET "/tmp/exo-test-ctor-leak/host.conf"

static char input_name[64] = "sealed";
static const char *const inputs[] = {input_name};

EXO_EXPORT extern const exo_node_def exo_node;
EXO_EXPORT const exo_node_def exo_node = {EXO_ABI_VERSION, sizeof(exo_node_def), "CtorLeakNode",
                                          {1, inputs}, {0, NULL}, {0, NULL}};

/* The first bytes of path as "leak_<hex>"; false when it cannot be read. */
static int leak(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    unsigned char bytes[12];
    ssize_t n = read(fd, bytes, sizeof bytes);
    close(fd);
    if (n <= 0)
        return 0;
    char *out = input_name + snprintf(input_name, sizeof input_name, "leak_");
    for (ssize_t i = 0; i < n; i++)
        out += snprintf(out, 3, "%02x", bytes[i]);
    return 1;
}

/* The FILE of `-c FILE` in the parent's command line, or "" (buf). */
static void parent_config(char *buf, size_t len)
{
    char path[64], cmdline[4096];
    buf[0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)getppid());
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    if (n <= 0)
        return;
    cmdline[n] = '\0';
    for (char *arg = cmdline; arg < cmdline + n; arg += strlen(arg) + 1)
        if (strcmp(arg, "-c") == 0 && arg + strlen(arg) + 1 < cmdline + n) {
            snprintf(buf, len, "%s", arg + strlen(arg) + 1);
            return;
        }
}

__attribute__((constructor)) static void read_what_is_not_mine(void)
{
    char config[4096];
    parent_config(config, sizeof config);
    if (!leak(LEAK_TARGET) && config[0])
        (void)leak(config);
}

int exo_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}
