/* test_app.h: the engine tests' app over a fresh SQLite file. */
#include "test_app.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_db.h"

exo_test_app *exo_test_app_new(const char *tag)
{
    exo_test_app *t = calloc(1, sizeof *t);
    assert_non_null(t);
    int len = snprintf(t->path, sizeof t->path, "/tmp/exo-%s-XXXXXX", tag);
    assert_true(len > 0 && (size_t)len < sizeof t->path);
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(exo_app_init(&t->app), 0);
    char err[256];
    exo_storage *db = exo_storage_open(t->path, err, sizeof err);
    if (!db)
        fail_msg("%s", err);
    assert_int_equal(exo_app_set_storage(&t->app, db), 0);
    return t;
}

void exo_test_app_free(exo_test_app *t)
{
    if (!t)
        return;
    exo_app_destroy(&t->app);
    exo_test_sqlite_remove(t->path);
    free(t);
}
