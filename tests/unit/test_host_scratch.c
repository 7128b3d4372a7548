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

#include "fsutil.h"
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

static void test_remove_tree_any_depth_without_following_links(void **state)
{
    (void)state;
    char top[] = "/tmp/exo-test-deep-XXXXXX", canary[] = "/tmp/exo-test-canary-XXXXXX";
    assert_non_null(mkdtemp(top));
    assert_non_null(mkdtemp(canary));
    char kept[64];
    snprintf(kept, sizeof kept, "%s/kept", canary);
    int k = open(kept, O_WRONLY | O_CREAT, 0600);
    assert_true(k >= 0);
    close(k);
    /* 2,500 levels: far deeper than PATH_MAX allows to name at once. */
    int fd = open(top, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 2500; i++) {
        assert_int_equal(mkdirat(fd, "deeper-and-deeper", 0700), 0);
        int next = openat(fd, "deeper-and-deeper", O_RDONLY | O_DIRECTORY);
        assert_true(next >= 0);
        if (i % 100 == 0) {
            int f = openat(next, "file", O_WRONLY | O_CREAT, 0600);
            assert_true(f >= 0);
            close(f);
        }
        close(fd);
        fd = next;
    }
    assert_int_equal(symlinkat(canary, fd, "link-out"), 0);
    close(fd);
    assert_int_equal(host_remove_tree(top), 0);
    struct stat st;
    assert_int_equal(lstat(top, &st), -1);
    assert_int_equal(stat(kept, &st), 0); /* the link was removed, not followed */
    unlink(kept);
    rmdir(canary);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reused_directory_is_empty_and_private),
        cmocka_unit_test(test_remove_tree_any_depth_without_following_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
