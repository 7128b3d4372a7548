/* Misbehaves: starts threads until it cannot (at most 5000) and reports how many
 * it got; they all sleep until the state ends. */
#include <exo/node.h>
#include <pthread.h>
#include <unistd.h>

EXO_NODE("ThreadBombNode", EXO_INPUTS(), EXO_OUTPUTS("threads"), EXO_SECRETS());

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int exo_execute(exo_ctx *ctx)
{
    int n = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (; n < 5000; n++) {
        pthread_t t;
        if (pthread_create(&t, &attr, sleeper, NULL) != 0)
            break;
    }
    return exo_outputf(ctx, "threads", "%d", n);
}
