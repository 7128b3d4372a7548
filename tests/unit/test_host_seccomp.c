/* The names of refused system calls as outcomes show them (host_seccomp_describe,
 * shared by the SIGSYS handler and the fork server's notification reader): the
 * native ABI, i386's int 0x80, x32, numbers without a name, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/audit.h>
#include <string.h>
#include <sys/syscall.h>

#include "seccomp_filter.h"

static int setup(void **state)
{
    (void)state;
    char err[256];
    return host_seccomp_prepare(false, err, sizeof err); /* fills the name tables */
}

static void expect_name(uint32_t arch, uint64_t nr, const char *want)
{
    char name[HOST_SECCOMP_NAME_MAX];
    host_seccomp_describe(arch, nr, name, sizeof name);
    assert_string_equal(name, want);
}

static void test_native_and_unknown(void **state)
{
    (void)state;
#if defined(__x86_64__)
    expect_name(AUDIT_ARCH_X86_64, SYS_socket, "socket");
    expect_name(AUDIT_ARCH_X86_64, SYS_io_uring_setup, "io_uring_setup");
    expect_name(AUDIT_ARCH_X86_64, 999, "number 999");
    expect_name(AUDIT_ARCH_AARCH64, 5, "number 5 (foreign ABI)");
#else
    skip();
#endif
}

static void test_other_abis_of_x86_64(void **state)
{
    (void)state;
#if defined(__x86_64__)
    expect_name(AUDIT_ARCH_I386, 20, "getpid (i386 ABI, int 0x80)");
    expect_name(AUDIT_ARCH_X86_64, 0x40000000u + 39, "getpid (x32 ABI)");
#else
    skip();
#endif
}

static void test_truncated_not_overrun(void **state)
{
    (void)state;
    char name[8];
    memset(name, 'x', sizeof name);
    host_seccomp_describe(AUDIT_ARCH_I386, 20, name, sizeof name);
    assert_string_equal(name, "getpid ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_and_unknown),
        cmocka_unit_test(test_other_abis_of_x86_64),
        cmocka_unit_test(test_truncated_not_overrun),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
