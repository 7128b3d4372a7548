/* exo-test-blocked-call CALL: a program (not a plugin) that a node exec's and that
 * makes one refused system call, named by CALL:
 *   io_uring  io_uring_setup (would bypass every other rule of the sandbox)
 *   unshare   unshare(CLONE_NEWUSER | CLONE_NEWNET)
 *   int80     getpid through the i386 ABI (int 0x80)
 *   x32       getpid through the x32 ABI (number | 0x40000000)
 * It exits 0 if the call returned (it must not: the state is ended while the call
 * waits), 2 for an unknown CALL. */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *call = argc > 1 ? argv[1] : "";
    long ret;
    if (strcmp(call, "io_uring") == 0) {
        unsigned char params[120]; /* struct io_uring_params */
        memset(params, 0, sizeof params);
        ret = syscall(SYS_io_uring_setup, 4, params);
    } else if (strcmp(call, "unshare") == 0) {
        ret = unshare(CLONE_NEWUSER | CLONE_NEWNET);
#if defined(__x86_64__)
    } else if (strcmp(call, "int80") == 0) {
        ret = 20; /* __NR_getpid of i386 */
        __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
    } else if (strcmp(call, "x32") == 0) {
        ret = 0x40000000L + 39; /* __X32_SYSCALL_BIT + __NR_getpid */
        __asm__ volatile("syscall" : "+a"(ret) : : "rcx", "r11", "memory");
#endif
    } else {
        fprintf(stderr, "unknown call '%s'\n", call);
        return 2;
    }
    printf("%s returned %ld\n", call, ret);
    return 0;
}
