/* Misbehaves: 32 threads make refused system calls (io_uring_setup) in a loop,
 * all at once, to flood the fork server that reads the state's seccomp
 * notifications.  The first one read must end the state as "blocked system call:
 * io_uring_setup", and the server must go on serving the other states. */
#include <exo/node.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

EXO_NODE("BlockedFloodNode", EXO_INPUTS(), EXO_OUTPUTS("survived"), EXO_SECRETS());

#define THREADS 32

static pthread_barrier_t start;

static void refuse_forever(void)
{
    unsigned char params[120]; /* struct io_uring_params */
    for (;;) {
        memset(params, 0, sizeof params);
        syscall(SYS_io_uring_setup, 4, params);
    }
}

static void *flood(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    refuse_forever();
    return NULL;
}

int exo_execute(exo_ctx *ctx)
{
    if (pthread_barrier_init(&start, NULL, THREADS + 1) != 0)
        return exo_fail(ctx, "pthread_barrier_init failed");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, flood, NULL) != 0)
            return exo_fail(ctx, "pthread_create failed after %d threads", i);
    }
    pthread_barrier_wait(&start);
    refuse_forever();
    return exo_output(ctx, "survived", "yes");
}
