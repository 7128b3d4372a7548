/* exo-test-with-listener PROGRAM [ARGS...]: runs PROGRAM under a seccomp filter that
 * allows everything but has a user-notification listener, as a supervisor that
 * watches its children this way would (LXD, sysbox, a tracer).  The kernel allows
 * one listener per filter chain, so nothing PROGRAM starts can install a filter
 * with a listener of its own (EBUSY): the tests use it to see exo-host fall back to
 * trapping refused calls, and say so at start.  The listener stays open (at fd
 * 100, without close-on-exec) for as long as PROGRAM runs; it never notifies. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LISTENER_FD 100

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exo-test-with-listener PROGRAM [ARGS...]\n");
        return 2;
    }
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = 1, .filter = &allow};
    /* Root may install a filter without no_new_privs (CAP_SYS_ADMIN); others must
     * set it, which exo-host does for its states anyway. */
    if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "exo-test-with-listener: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
        return 1;
    }
    long listener =
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0) {
        fprintf(stderr, "exo-test-with-listener: seccomp: %s\n", strerror(errno));
        return 1;
    }
    if (dup2((int)listener, LISTENER_FD) < 0) { /* dup2 leaves close-on-exec off */
        fprintf(stderr, "exo-test-with-listener: dup2: %s\n", strerror(errno));
        return 1;
    }
    close((int)listener);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "exo-test-with-listener: %s: %s\n", argv[1], strerror(errno));
    return 127;
}
