/* Fresh test databases on either backend (test_db.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libpq-fe.h>

#include "test_db.h"

const char *exo_test_pg_host(void)
{
    const char *db = getenv("EXO_TEST_DB"), *host = getenv("EXO_PG_HOST");
    return db && !strcmp(db, "postgres") && host && *host ? host : NULL;
}

void exo_test_pg_exec(const char *dbname, const char *sql, char *out, size_t outlen)
{
    char uri[512];
    snprintf(uri, sizeof uri, "postgresql:///%s?host=%s&user=postgres", dbname, exo_test_pg_host());
    PGconn *c = PQconnectdb(uri);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    if (out)
        snprintf(out, outlen, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
}

static void create_pg(exo_test_db *t)
{
    char id[EXO_ID_LEN + 1], sql[96];
    assert_int_equal(exo_id_new(id), 0);
    snprintf(t->pg_name, sizeof t->pg_name, "exo_unit_%s", id);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->pg_name);
    exo_test_pg_exec("postgres", sql, NULL, 0);
    snprintf(t->path, sizeof t->path, "postgresql:///%s?host=%s&user=postgres", t->pg_name, exo_test_pg_host());
}

static void create_sqlite(exo_test_db *t, const char *tag)
{
    snprintf(t->path, sizeof t->path, "/tmp/exo-%s-XXXXXX", tag);
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    close(fd);
}

void exo_test_db_open(exo_test_db *t, const char *tag)
{
    memset(t, 0, sizeof *t);
    if (exo_test_pg_host())
        create_pg(t);
    else
        create_sqlite(t, tag);
    char err[512];
    t->db = exo_storage_open(t->path, err, sizeof err);
    if (!t->db)
        fail_msg("%s", err);
}

void exo_test_db_remove(exo_test_db *t)
{
    if (t->db)
        exo_db_close(t->db);
    t->db = NULL;
    if (t->pg_name[0]) {
        char sql[96];
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", t->pg_name);
        exo_test_pg_exec("postgres", sql, NULL, 0);
        return;
    }
    exo_test_sqlite_remove(t->path);
}

void exo_test_sqlite_remove(const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}
