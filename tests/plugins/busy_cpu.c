/* Misbehaves: burns CPU on two threads (RLIMIT_CPU counts all of them). */
#include <exo/node.h>
#include <pthread.h>

EXO_NODE("BusyCpuNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());

static void *spin(void *arg)
{
    volatile unsigned long *n = arg;
    for (;;)
        (*n)++;
    return NULL;
}

int exo_execute(exo_ctx *ctx)
{
    static volatile unsigned long a, b;
    pthread_t t;
    if (pthread_create(&t, NULL, spin, (void *)&a) != 0)
        return exo_fail(ctx, "pthread_create failed");
    spin((void *)&b);
    return EXO_OK;
}
