/* An exo_app over a fresh SQLite file, for the unit tests of the engine layer
 * (state-manager/engine/) without HTTP.  cmocka asserts fail the calling test on
 * any error. */
#ifndef EXO_TEST_APP_H
#define EXO_TEST_APP_H

#include "app.h"

typedef struct exo_test_app {
    char path[64]; /* the database file */
    exo_app app;   /* initialised, its storage open on path */
} exo_test_app;

/* A new database file (its name starts with /tmp/exo-<tag>-) and an app on it. */
exo_test_app *exo_test_app_new(const char *tag);
/* Destroys the app and removes the database with its WAL files. */
void exo_test_app_free(exo_test_app *t);

#endif
