/* Misbehaves: calls getpid through the x32 ABI (number | 0x40000000). */
#include <exo/node.h>
#include <unistd.h>

EXO_NODE("X32Node", EXO_INPUTS(), EXO_OUTPUTS("pid"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
#if defined(__x86_64__)
    long ret = 0x40000000L + 39; /* __X32_SYSCALL_BIT + __NR_getpid */
    __asm__ volatile("syscall" : "+a"(ret) : : "rcx", "r11", "memory");
    return exo_outputf(ctx, "pid", "%ld", ret);
#else
    return exo_fail(ctx, "x32 exists only on x86-64");
#endif
}
