/* The PostgreSQL backend's schema (pg.h): table exo_schema holds the number of
 * migrations applied; pg_migrate applies the missing ones in one transaction under an
 * advisory lock (replicas starting together migrate once) and refuses a newer schema. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "pg.h"
#include "strfmt.h"

#define MIGRATION_LOCK 7304415001LL /* advisory lock key: "exo schema" */

static const char *const schema_v1 =
    "CREATE TABLE nodes(seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE,"
    " namespace_name text NOT NULL, name text NOT NULL, runtime_name text NOT NULL,"
    " inputs_schema text NOT NULL, outputs_schema text NOT NULL, secrets text NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, UNIQUE(namespace_name, name));"
    "CREATE TABLE graphs(seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE,"
    " namespace_name text NOT NULL, name text NOT NULL, version bigint NOT NULL,"
    " validation_status text NOT NULL, validation_errors text NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, UNIQUE(namespace_name, name));"
    "CREATE TABLE graph_versions(version bigserial PRIMARY KEY,"
    " namespace_name text NOT NULL, name text NOT NULL, template text NOT NULL);"
    "CREATE TABLE runs(seq bigserial PRIMARY KEY, run_id text NOT NULL UNIQUE,"
    " namespace_name text NOT NULL, graph_name text NOT NULL, graph_version bigint NOT NULL,"
    " created_at bigint NOT NULL);"
    "CREATE INDEX runs_by_ns ON runs(namespace_name, created_at, seq);"
    /* bytea: store values keep U+0000, which PostgreSQL text cannot hold */
    "CREATE TABLE store(run_id text NOT NULL, namespace_name text NOT NULL,"
    " graph_name text NOT NULL, key text NOT NULL, value bytea NOT NULL,"
    " PRIMARY KEY(run_id, namespace_name, graph_name, key));"
    /* Every change of a state's status rewrites its row and adds an entry to each of
       its indexes that the new row belongs to: so the indexes are few, and partial
       where only some statuses are ever looked for.  seq orders a run's states and
       needs no index of its own. */
    "CREATE TABLE states(id text PRIMARY KEY, seq bigserial NOT NULL,"
    " created_at bigint NOT NULL, updated_at bigint NOT NULL, node_name text NOT NULL,"
    " namespace_name text NOT NULL, identifier text NOT NULL, graph_name text NOT NULL,"
    " run_id text NOT NULL, status text NOT NULL, inputs text NOT NULL, outputs text NOT NULL,"
    " data text NOT NULL, error text, parents text NOT NULL, does_unites integer NOT NULL,"
    " unite_key text, enqueue_after bigint NOT NULL, retry_count bigint NOT NULL,"
    " fanout_id text NOT NULL, manual_retry_fanout_id text NOT NULL, exec_group text NOT NULL,"
    " lease_expires_at bigint NOT NULL DEFAULT 0, lease_ms bigint NOT NULL DEFAULT 0,"
    " UNIQUE(node_name, namespace_name, graph_name, identifier, run_id, retry_count, fanout_id));"
    "CREATE UNIQUE INDEX states_unite_key ON states(unite_key) WHERE unite_key IS NOT NULL;"
    /* the claim's: small (only claimable rows), and the one a generic plan picks */
    "CREATE INDEX states_created ON states(namespace_name, node_name, enqueue_after) WHERE status = 'CREATED';"
    "CREATE INDEX states_run ON states(run_id);"
    "CREATE INDEX states_lease ON states(lease_expires_at) WHERE status = 'QUEUED';"
    "CREATE TABLE state_ancestors(ancestor_group text NOT NULL, state_id text NOT NULL,"
    " status text NOT NULL, PRIMARY KEY(ancestor_group, state_id));"
    "CREATE INDEX state_ancestors_status ON state_ancestors(ancestor_group, status);"
    "CREATE INDEX state_ancestors_state ON state_ancestors(state_id);"
    "CREATE TABLE triggers(id bigserial PRIMARY KEY, type text NOT NULL,"
    " expression text NOT NULL, namespace_name text NOT NULL, graph_name text NOT NULL,"
    " trigger_time bigint NOT NULL, trigger_status text NOT NULL, expires_at bigint,"
    " UNIQUE(type, expression, graph_name, namespace_name, trigger_time));"
    "CREATE INDEX triggers_due ON triggers(trigger_status, trigger_time);"
    /* every replica's long-polls hear of claimable states, whoever committed them;
       a payload too long for NOTIFY wakes every long-poll instead */
    "CREATE FUNCTION exo_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE p text := NEW.namespace_name || chr(31) || NEW.node_name;"
    " BEGIN IF octet_length(p) > 7000 THEN p := ''; END IF;"
    " PERFORM pg_notify('" WORK_CHANNEL "', p); RETURN NULL; END $$;"
    "CREATE TRIGGER states_work AFTER INSERT OR UPDATE OF status ON states FOR EACH ROW"
    " WHEN (NEW.status = 'CREATED') EXECUTE FUNCTION exo_notify_work();";

/* Migration 2 (run controls, registry): a run's cancel mark; when a node was last
 * registered; indexes for the filtered run listing (by graph), for retention
 * (finished runs of every namespace, oldest first), for graph deletion, and for
 * the PENDING run listing: CREATED and QUEUED states are found through the claim
 * and lease indexes, EXECUTED ones (few, short-lived) through a partial index of
 * their own.  runs.seq (bigserial since version 1) is the listing's tie-break. */
static const char *const schema_v2 =
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS cancelled_at bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS cancelled_by text;"
    "ALTER TABLE nodes ADD COLUMN IF NOT EXISTS registered_at bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX IF NOT EXISTS runs_by_graph ON runs(namespace_name, graph_name, created_at, seq);"
    "CREATE INDEX IF NOT EXISTS runs_by_time ON runs(created_at, seq);"
    "CREATE INDEX IF NOT EXISTS graph_versions_by_name ON graph_versions(namespace_name, name);"
    "CREATE INDEX IF NOT EXISTS runs_by_version ON runs(graph_version);"
    "CREATE INDEX IF NOT EXISTS states_executed ON states(namespace_name) WHERE status = 'EXECUTED';";

/* Migration 3 (worker registry): the runtime that claimed a state; the runtimes
 * table of heartbeats (nodes as a JSON array of names). */
static const char *const schema_v3 =
    "ALTER TABLE states ADD COLUMN IF NOT EXISTS claimed_by text;"
    "CREATE TABLE IF NOT EXISTS runtimes(namespace_name text NOT NULL, name text NOT NULL,"
    " version text NOT NULL, hostname text NOT NULL, pid bigint NOT NULL, slots bigint NOT NULL,"
    " running bigint NOT NULL, interval_ms bigint NOT NULL, first_seen bigint NOT NULL,"
    " last_seen bigint NOT NULL, nodes text NOT NULL, PRIMARY KEY(namespace_name, name));"
    "CREATE INDEX IF NOT EXISTS runtimes_by_seen ON runtimes(namespace_name, last_seen);";

/* Migration 4 (the dashboard): every replica's live views hear of the states
 * inserted or changing status, whoever committed them (NOTIFY folds the identical
 * payloads of one transaction, so a fan-out is one notification per run; a payload
 * too long for NOTIFY wakes every live view instead).  And each run keeps the
 * number of its states, of those unfinished and of those failed (n_states,
 * n_pending, n_failed), maintained by a trigger in the transaction that writes the
 * states, so a run's status is a condition on its own row; the FAILED and the
 * CANCELLED runs have partial indexes.  (The count update locks the run's row until
 * the transaction ends: reports of one run's states that change its counts commit
 * one at a time.  Migration 6 removes n_states and n_pending again.) */
#define PG_PENDING(x) "(" x ".status IN ('CREATED','QUEUED','EXECUTED'))::int"
#define PG_FAILED(x) "(" x ".status IN ('ERRORED','NEXT_CREATED_ERROR'))::int"
static const char *const schema_v4 =
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS n_states bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS n_pending bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS n_failed bigint NOT NULL DEFAULT 0;"
    "UPDATE runs SET n_states=c.n, n_pending=c.p, n_failed=c.f FROM (SELECT s.run_id, count(*) AS n,"
    " sum(" PG_PENDING("s") ") AS p, sum(" PG_FAILED("s") ") AS f FROM states s GROUP BY s.run_id) c"
    " WHERE runs.run_id=c.run_id;"
    "CREATE FUNCTION exo_count_states() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP='INSERT' THEN UPDATE runs SET n_states=n_states+1, n_pending=n_pending+" PG_PENDING("NEW") ","
    "  n_failed=n_failed+" PG_FAILED("NEW") " WHERE run_id=NEW.run_id;"
    " ELSIF TG_OP='DELETE' THEN UPDATE runs SET n_states=n_states-1, n_pending=n_pending-" PG_PENDING("OLD") ","
    "  n_failed=n_failed-" PG_FAILED("OLD") " WHERE run_id=OLD.run_id;"
    " ELSIF " PG_PENDING("OLD") "<>" PG_PENDING("NEW") " OR " PG_FAILED("OLD") "<>" PG_FAILED("NEW") " THEN"
    "  UPDATE runs SET n_pending=n_pending+" PG_PENDING("NEW") "-" PG_PENDING("OLD") ","
    "  n_failed=n_failed+" PG_FAILED("NEW") "-" PG_FAILED("OLD") " WHERE run_id=NEW.run_id;"
    " END IF; RETURN NULL; END $$;"
    "CREATE TRIGGER states_count AFTER INSERT OR DELETE OR UPDATE OF status ON states FOR EACH ROW"
    " EXECUTE FUNCTION exo_count_states();"
    "CREATE INDEX IF NOT EXISTS runs_failed ON runs(namespace_name, created_at, seq)"
    " WHERE cancelled_at=0 AND n_pending=0 AND (n_failed>0 OR n_states=0);"
    "CREATE INDEX IF NOT EXISTS runs_cancelled ON runs(namespace_name, created_at, seq) WHERE cancelled_at>0;"
    "CREATE FUNCTION exo_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE p text := NEW.namespace_name || chr(31) || NEW.run_id;"
    " BEGIN IF octet_length(p) > 7000 THEN p := ''; END IF;"
    " PERFORM pg_notify('" CHANGE_CHANNEL "', p); RETURN NULL; END $$;"
    "CREATE TRIGGER states_change_insert AFTER INSERT ON states FOR EACH ROW"
    " EXECUTE FUNCTION exo_notify_change();"
    "CREATE TRIGGER states_change_status AFTER UPDATE OF status ON states FOR EACH ROW"
    " WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION exo_notify_change();";

/* Migration 5 (state logs): what a state's node printed, as its host reported it
 * with executed/errored; bytea because node output may hold NUL bytes. */
static const char *const schema_v5 = "ALTER TABLE states ADD COLUMN IF NOT EXISTS logs bytea;";

/* Ordered migrations: entry i brings the schema from version i to i + 1.  Append
 * only; never edit one that has shipped. */
/* Migration 6 (throughput): migration 4's counters cost every state insert and
 * every finish an UPDATE (and a lock) of its run's row, so a run's reports committed
 * one at a time (1.14x the transitions/s on one replica, 1.36x on two without them,
 * measured side by side).  Only n_failed stays, kept by triggers that fire on the
 * rare transitions into or out of a failed status (their WHEN clauses are checked
 * without calling the function), so the FAILED filter still walks its partial index;
 * whether a run has an unfinished state is probed in states_run(run_id, status). */
#define PG_IS_FAILED(x) "(" x ".status IN ('ERRORED','NEXT_CREATED_ERROR'))"
static const char *const schema_v6 =
    "DROP TRIGGER IF EXISTS states_count ON states;"
    "DROP FUNCTION IF EXISTS exo_count_states();"
    "DROP INDEX IF EXISTS runs_failed;"
    "ALTER TABLE runs DROP COLUMN IF EXISTS n_states, DROP COLUMN IF EXISTS n_pending;"
    "DROP INDEX IF EXISTS states_run;"
    "CREATE INDEX states_run ON states(run_id, status);"
    "CREATE FUNCTION exo_count_failed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP='INSERT' THEN UPDATE runs SET n_failed=n_failed+1 WHERE run_id=NEW.run_id;"
    " ELSIF TG_OP='DELETE' THEN UPDATE runs SET n_failed=n_failed-1 WHERE run_id=OLD.run_id;"
    " ELSE UPDATE runs SET n_failed=n_failed+" PG_IS_FAILED("NEW") "::int-" PG_IS_FAILED("OLD") "::int"
    "  WHERE run_id=NEW.run_id;"
    " END IF; RETURN NULL; END $$;"
    "CREATE TRIGGER states_failed_insert AFTER INSERT ON states FOR EACH ROW WHEN " PG_IS_FAILED("NEW")
    " EXECUTE FUNCTION exo_count_failed();"
    "CREATE TRIGGER states_failed_update AFTER UPDATE OF status ON states FOR EACH ROW"
    " WHEN (" PG_IS_FAILED("OLD") " IS DISTINCT FROM " PG_IS_FAILED("NEW") ") EXECUTE FUNCTION exo_count_failed();"
    "CREATE TRIGGER states_failed_delete AFTER DELETE ON states FOR EACH ROW WHEN " PG_IS_FAILED("OLD")
    " EXECUTE FUNCTION exo_count_failed();"
    "CREATE INDEX runs_failed ON runs(namespace_name, created_at, seq) WHERE cancelled_at=0 AND n_failed>0;";

static const char *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4, schema_v5, schema_v6};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

/* libpq's message as one line (its messages end in a newline and may span lines). */
const char *pg_one_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg ? msg : "");
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
        buf[n - 1] = '\0';
    return buf;
}

/* One command of the migration transaction; 0 ok, -1 with the server's message. */
static int migrate_exec(PGconn *c, const char *sql, PGresult **out, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        exo_errf(err, errlen, "cannot initialise the PostgreSQL database: %s",
                 pg_one_line(PQresultErrorMessage(r), msg, sizeof msg));
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* Brings the schema to SCHEMA_VERSION in one transaction; refuses a newer one. */
int pg_migrate(PGconn *c, char *err, size_t errlen)
{
    char sql[160];
    PGresult *r = NULL;
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", MIGRATION_LOCK);
    if (migrate_exec(c, sql, NULL, err, errlen) != 0 ||
        migrate_exec(c, "CREATE TABLE IF NOT EXISTS exo_schema(version integer NOT NULL)", NULL, err, errlen) != 0 ||
        migrate_exec(c, "SELECT max(version) FROM exo_schema", &r, err, errlen) != 0)
        goto failed;
    int version = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (version > SCHEMA_VERSION) {
        exo_errf(err, errlen,
                 "the PostgreSQL database has schema version %d, newer than this exo-state-manager knows (%d): "
                 "run the newer exo-state-manager that wrote it",
                 version, SCHEMA_VERSION);
        goto failed;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        if (migrate_exec(c, migrations[v], NULL, err, errlen) != 0)
            goto failed;
        log_info("PostgreSQL database: schema migrated to version %d", v + 1);
    }
    snprintf(sql, sizeof sql, "DELETE FROM exo_schema; INSERT INTO exo_schema VALUES(%d); COMMIT", SCHEMA_VERSION);
    if (migrate_exec(c, sql, NULL, err, errlen) != 0)
        goto failed;
    return 0;
failed:
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
}
