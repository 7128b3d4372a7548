/* A fresh test database for the storage unit tests: a new SQLite file, or with
 * EXO_TEST_DB=postgres and EXO_PG_HOST (the socket directory of the exo_pg
 * cluster, tests/pg/cluster.sh) a new database of that cluster.  cmocka asserts
 * fail the calling test on any error. */
#ifndef EXO_TEST_DB_H
#define EXO_TEST_DB_H

#include <stddef.h>

#include "storage.h"

typedef struct exo_test_db {
    char path[512];   /* the --db value: a file, or a PostgreSQL URI */
    char pg_name[40]; /* PostgreSQL: the database made for this test ("" on SQLite) */
    exo_storage *db;  /* open; a test may close it (set NULL) and reopen path */
} exo_test_db;

/* The cluster's socket directory when the tests run on PostgreSQL, else NULL. */
const char *exo_test_pg_host(void);
/* Runs one statement on database dbname of the test cluster; the first value of
 * its first row into out (when out). */
void exo_test_pg_exec(const char *dbname, const char *sql, char *out, size_t outlen);
/* Creates a fresh database (file name prefix tag on SQLite) and opens it. */
void exo_test_db_open(exo_test_db *t, const char *tag);
/* Closes t->db (when open) and removes the database. */
void exo_test_db_remove(exo_test_db *t);
/* Removes a SQLite database file with its WAL and shared-memory files. */
void exo_test_sqlite_remove(const char *path);

#endif
