/* Reused scratch directories (host/scratch.h): what one state left behind is gone
 * before the next state gets the directory; a directory that must not be reused is
 * removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch.h"

static void touch(const char *dir, const char *name)
{
    char path[600];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n >= 0 && (size_t)n < sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "left", 4), 4);
    close(fd);
}

static bool is_empty(const char *dir)
{
    char cmd[700];
    int n = snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 0", dir);
    assert_true(n >= 0 && (size_t)n < sizeof cmd);
    return system(cmd) == 0;
}

static void test_reused_directory_is_empty_and_private(void **state)
{
    (void)state;
    char root[] = "/tmp/exo-test-scratch-XXXXXX";
    assert_non_null(mkdtemp(root));
    char err[256];
    host_scratch_pool pool;
    host_scratch_init(&pool, root);
    char *first = host_scratch_take(&pool, err, sizeof err);
    assert_non_null(first);
    char kept_path[600];
    snprintf(kept_path, sizeof kept_path, "%s", first);
    touch(first, "file");
    char sub[700];
    snprintf(sub, sizeof sub, "%s/sub", first);
    assert_int_equal(mkdir(sub, 0700), 0);
    touch(sub, "deeper");
    assert_int_equal(chmod(first, 0777), 0);
    host_scratch_return(&pool, first, true);

    char *again = host_scratch_take(&pool, err, sizeof err);
    assert_non_null(again);
    assert_string_equal(again, kept_path); /* the same directory ... */
    assert_true(is_empty(again));          /* ... emptied */
    struct stat st;
    assert_int_equal(stat(again, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, geteuid());

    char *other = host_scratch_take(&pool, err, sizeof err); /* none kept: a new one */
    assert_non_null(other);
    assert_string_not_equal(other, again);
    host_scratch_return(&pool, other, true);
    host_scratch_release(&pool); /* removes the kept one */
    assert_false(is_empty(root)); /* `again` is still there */

    touch(again, "file");
    host_scratch_return(&pool, again, false); /* not reusable: removed with its content */
    assert_true(is_empty(root));
    assert_int_equal(rmdir(root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reused_directory_is_empty_and_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
