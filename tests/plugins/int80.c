/* Misbehaves: calls getpid through the i386 ABI (int 0x80), which a filter that
 * checks only x86_64 numbers would let through under other numbers. */
#include <exo/node.h>

EXO_NODE("Int80Node", EXO_INPUTS(), EXO_OUTPUTS("pid"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
#if defined(__x86_64__)
    long ret = 20; /* __NR_getpid of i386 */
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
    return exo_outputf(ctx, "pid", "%ld", ret);
#else
    return exo_fail(ctx, "int 0x80 exists only on x86");
#endif
}
