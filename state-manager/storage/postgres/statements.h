/* The PostgreSQL backend's statements, by number (ST_name): every query any op runs.
 * Each connection prepares a statement the first time it runs it (conn.c); the ops
 * (postgres.c) name them.  Columns are listed once per table, in the order the row
 * readers expect. */
#ifndef EXO_STORAGE_PG_STATEMENTS_H
#define EXO_STORAGE_PG_STATEMENTS_H

#define NODE_COLS "id, created_at, updated_at, name, namespace_name, runtime_name, inputs_schema, outputs_schema," \
                  " secrets, registered_at"
#define RUN_COLS "run_id, graph_name, namespace_name, created_at, seq, cancelled_at, cancelled_by"
#define GRAPH_COLS "g.id, g.created_at, g.updated_at, g.namespace_name, g.name, g.version, v.template," \
                   " g.validation_status, g.validation_errors"
#define STATE_COLS "id, created_at, updated_at, node_name, namespace_name, identifier, graph_name, run_id," \
                   " status, inputs, outputs, data, error, parents, does_unites, unite_key, enqueue_after,"  \
                   " retry_count, fanout_id, manual_retry_fanout_id, exec_group, lease_expires_at, lease_ms," \
                   " claimed_by"
#define RUNTIME_COLS "namespace_name, name, version, hostname, pid, slots, running, interval_ms, first_seen," \
                     " last_seen, nodes"

/* Every statement, by number: each connection prepares one the first time it runs it. */
#define STATEMENTS(X)                                                                                           \
    X(NODE_UPSERT, "INSERT INTO nodes(" NODE_COLS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"                    \
                   " ON CONFLICT(namespace_name, name) DO UPDATE SET runtime_name=excluded.runtime_name,"       \
                   " inputs_schema=excluded.inputs_schema, outputs_schema=excluded.outputs_schema,"             \
                   " secrets=excluded.secrets, registered_at=excluded.registered_at")                          \
    X(NODE_GET, "SELECT " NODE_COLS " FROM nodes WHERE namespace_name=$1 AND name=$2")                          \
    X(NODE_LIST, "SELECT " NODE_COLS " FROM nodes WHERE namespace_name=$1 ORDER BY seq")                        \
    X(NAMESPACES, "SELECT DISTINCT namespace_name COLLATE \"C\" AS n FROM nodes WHERE namespace_name <> ''"     \
                  " ORDER BY n")                                                                               \
    X(GRAPH_GET, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"           \
                 " WHERE g.namespace_name=$1 AND g.name=$2")                                                    \
    X(GRAPH_VERSION_INSERT, "INSERT INTO graph_versions(namespace_name, name, template) VALUES($1,$2,$3)"       \
                            " RETURNING version")                                                              \
    X(GRAPH_UPSERT, "INSERT INTO graphs(id, created_at, updated_at, namespace_name, name, version,"             \
                    " validation_status, validation_errors) VALUES($1,$2,$3,$4,$5,$6,$7,$8)"                    \
                    " ON CONFLICT(namespace_name, name) DO UPDATE SET updated_at=excluded.updated_at,"          \
                    " version=excluded.version, validation_status=excluded.validation_status,"                 \
                    " validation_errors=excluded.validation_errors")                                           \
    X(GRAPH_SET_VALIDATION, "UPDATE graphs SET validation_status=$1, validation_errors=$2, updated_at=$3"       \
                            " WHERE namespace_name=$4 AND name=$5 AND version=$6"                               \
                            " AND (validation_status<>$1 OR validation_errors<>$2)")                            \
    X(GRAPH_LIST_NS, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"       \
                     " WHERE g.namespace_name=$1 ORDER BY g.seq")                                               \
    X(GRAPH_LIST_ALL, "SELECT " GRAPH_COLS " FROM graphs g JOIN graph_versions v ON v.version = g.version"      \
                      " ORDER BY g.seq")                                                                       \
    X(GRAPH_VERSION, "SELECT template FROM graph_versions WHERE version=$1")                                    \
    X(GRAPH_DELETE, "DELETE FROM graphs WHERE namespace_name=$1 AND name=$2")                                   \
    X(GRAPH_DELETE_TRIGGERS, "DELETE FROM triggers WHERE namespace_name=$1 AND graph_name=$2")                  \
    X(GRAPH_LOCK_VERSIONS, "SELECT version FROM graph_versions WHERE namespace_name=$1 AND name=$2 FOR UPDATE") \
    X(GRAPH_DELETE_VERSIONS, "DELETE FROM graph_versions v WHERE namespace_name=$1 AND name=$2"                 \
                             " AND NOT EXISTS(SELECT 1 FROM runs WHERE runs.graph_version=v.version)")          \
    /* the version row is key-share locked (when it exists): a graph_delete of     \
       another replica waits for this run to commit and then keeps the version */  \
    X(RUN_INSERT, "INSERT INTO runs(run_id, namespace_name, graph_name, graph_version, created_at)"             \
                  " SELECT $1::text, $2::text, $3::text, $4::bigint, $5::bigint FROM (SELECT 1) one"           \
                  " LEFT JOIN (SELECT version FROM graph_versions WHERE version=$4::bigint FOR KEY SHARE) v"    \
                  " ON true")                                                                                  \
    X(RUN_VERSION, "SELECT graph_version, namespace_name FROM runs WHERE run_id=$1")                            \
    X(RUN_COUNT, "SELECT count(*) FROM runs WHERE namespace_name=$1")                                           \
    X(RUN_PAGE, "SELECT " RUN_COLS " FROM runs WHERE namespace_name=$1"                                          \
                " ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3")                                       \
    /* the counts of several runs at once: u.i is the run's 1-based place in $1 */ \
    X(RUN_COUNTS, "SELECT u.i, s.status, count(*) FROM unnest($1::text[]) WITH ORDINALITY u(id, i)"            \
                  " JOIN states s ON s.run_id=u.id GROUP BY u.i, s.status")                                     \
    X(RUN_GET, "SELECT " RUN_COLS " FROM runs WHERE run_id=$1 AND namespace_name=$2")                           \
    X(RUN_GET_SHARE, "SELECT " RUN_COLS " FROM runs WHERE run_id=$1 AND namespace_name=$2 FOR SHARE")           \
    X(RUN_MARK_CANCELLED, "UPDATE runs SET cancelled_at=$1, cancelled_by=$2 WHERE run_id=$3 AND cancelled_at=0")\
    /* a run another replica is deleting (or holds locked) is skipped, not waited for;      \
       with $2<>0 an unfinished one is kept: checked in the statement that takes the lock, \
       whose snapshot sees every retry committed before it */                               \
    X(RUN_DELETE, "WITH r AS (DELETE FROM runs WHERE run_id = (SELECT run_id FROM runs WHERE run_id=$1"         \
                  " AND ($2=0 OR cancelled_at>0 OR NOT EXISTS(SELECT 1 FROM states s WHERE s.run_id=$1"       \
                  " AND s.status IN ('CREATED','QUEUED','EXECUTED'))) FOR UPDATE SKIP LOCKED) RETURNING run_id)," \
                  " st AS (DELETE FROM states WHERE run_id IN (SELECT run_id FROM r) RETURNING id),"            \
                  " a AS (DELETE FROM state_ancestors WHERE state_id IN (SELECT id FROM st)),"                  \
                  " k AS (DELETE FROM store WHERE run_id IN (SELECT run_id FROM r))"                            \
                  " SELECT count(*) FROM r")                                                                   \
    X(STORE_PUT, "INSERT INTO store(run_id, namespace_name, graph_name, key, value) VALUES($1,$2,$3,$4,$5)"     \
                 " ON CONFLICT(run_id, namespace_name, graph_name, key) DO UPDATE SET value=excluded.value")    \
    X(STORE_GET, "SELECT value FROM store WHERE run_id=$1 AND namespace_name=$2 AND graph_name=$3 AND key=$4")  \
    X(STATE_INSERT, "INSERT INTO states(" STATE_COLS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14," \
                    "$15,$16,$17,$18,$19,$20,$21,$22,$23,$24) ON CONFLICT DO NOTHING")                              \
    X(STATE_GET, "SELECT " STATE_COLS " FROM states WHERE id=$1")                                               \
    /* with the run's version and namespace (the run's row is not locked) */            \
    X(STATE_LOCK, "SELECT " STATE_COLS ", (SELECT graph_version FROM runs r WHERE r.run_id=states.run_id),"    \
                  " (SELECT namespace_name FROM runs r WHERE r.run_id=states.run_id)"                           \
                  " FROM states WHERE id=$1 FOR UPDATE")                                                       \
    X(STATE_UPDATE, "WITH m AS (UPDATE state_ancestors SET status=$2 WHERE state_id=$11 AND status<>$2)"        \
                    " UPDATE states SET updated_at=$1, status=$2, inputs=$3, outputs=$4, data=$5, error=$6,"    \
                    " parents=$7, enqueue_after=$8, exec_group=$9, lease_expires_at=$10 WHERE id=$11")          \
    /* per node, the oldest due states in the order of the claim index (states_created): \
       with ORDER BY the generic plan always reads that index and stops after $6 rows;   \
       without, it chose a sequential scan (or a bitmap AND with the unique index) that  \
       read every finished state before the claimable ones.  The nodes' candidates are  \
       then merged oldest first, so one node's backlog does not starve another's.       \
       The UPDATE itself has no status condition: the rows are locked (FOR UPDATE, which \
       re-checks status='CREATED' on the newest version) until it ends, so none changed; \
       such a condition matched the claim index's predicate, and the generic plan        \
       ANDed the primary key's bitmap with a scan of the whole claim index. */          \
    X(STATE_CLAIM, "WITH c AS (UPDATE states SET status='QUEUED', lease_expires_at=$4, lease_ms=$5, claimed_by=$7" \
                   " WHERE id = ANY(ARRAY(SELECT d.id FROM (SELECT DISTINCT unnest($2::text[]) AS name) n,"    \
                   " LATERAL (SELECT id, enqueue_after FROM states WHERE namespace_name=$1 AND node_name=n.name" \
                   " AND status='CREATED' AND enqueue_after<=$3 ORDER BY enqueue_after LIMIT $6"               \
                   " FOR UPDATE SKIP LOCKED) d ORDER BY d.enqueue_after LIMIT $6))"                            \
                   " RETURNING " STATE_COLS "),"                                                               \
                   " m AS (UPDATE state_ancestors SET status='QUEUED'"                                          \
                   " WHERE state_id = ANY(ARRAY(SELECT id FROM c)))"                                            \
                   " SELECT " STATE_COLS " FROM c")                                                            \
    X(STATE_NEXT_DUE, "SELECT min(enqueue_after) FROM states WHERE namespace_name=$1 AND status='CREATED'"      \
                      " AND node_name = ANY($2::text[]) AND enqueue_after>$3")                                  \
    X(ANCESTORS_COPY, "INSERT INTO state_ancestors(ancestor_group, state_id, status)"                           \
                      " SELECT a.ancestor_group, s.id, s.status FROM state_ancestors a, states s"               \
                      " WHERE a.state_id=$1 AND s.id=$2 ON CONFLICT DO NOTHING")                                \
    X(ANCESTOR_ADD, "INSERT INTO state_ancestors(ancestor_group, state_id, status)"                             \
                    " SELECT $1, id, status FROM states WHERE id=$2 ON CONFLICT DO NOTHING")                    \
    X(GROUP_LOCK, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")                                      \
    X(GROUP_HAS_STATUS, "SELECT 1 FROM state_ancestors WHERE ancestor_group=$1 AND status = ANY($2::text[])"    \
                        " LIMIT 1")                                                                            \
    X(UNITE_EXISTS, "SELECT 1 FROM states WHERE unite_key=$1 AND unite_key IS NOT NULL")                                                  \
    X(STATES_OF_RUN, "SELECT " STATE_COLS " FROM states WHERE run_id=$1 AND namespace_name=$2 ORDER BY seq")    \
    X(LEASE_RENEW, "UPDATE states SET lease_expires_at=$1, lease_ms=$2 WHERE id=$3 AND namespace_name=$4"       \
                   " AND status='QUEUED'")                                                                     \
    X(QUEUE_DEPTH, "SELECT namespace_name COLLATE \"C\" AS ns, node_name COLLATE \"C\" AS node,"              \
                   " SUM(CASE WHEN status='CREATED' THEN 1 ELSE 0 END),"                                       \
                   " SUM(CASE WHEN status='CREATED' AND enqueue_after<=$1 THEN 1 ELSE 0 END),"                 \
                   " SUM(CASE WHEN status='QUEUED' THEN 1 ELSE 0 END) FROM states"                             \
                   " WHERE status IN ('CREATED', 'QUEUED') GROUP BY 1, 2 ORDER BY 1, 2 LIMIT $2")            \
    X(STATE_LOGS_SET, "UPDATE states SET logs=$1 WHERE id=$2")                                                \
    X(STATE_LOGS_GET, "SELECT logs FROM states WHERE id=$1 AND namespace_name=$2")                            \
    X(RUN_FINISHED, "SELECT created_at FROM runs WHERE run_id=$1 AND NOT EXISTS (SELECT 1 FROM states"          \
                    " WHERE run_id=$1 AND status IN ('CREATED', 'QUEUED', 'EXECUTED'))")                       \
    X(LEASE_EXPIRED, "SELECT id FROM states WHERE status='QUEUED' AND lease_expires_at>0"                       \
                     " AND lease_expires_at<=$1 LIMIT $2 FOR UPDATE SKIP LOCKED")                               \
    X(TRIGGER_INSERT, "INSERT INTO triggers(type, expression, namespace_name, graph_name, trigger_time,"        \
                      " trigger_status, expires_at) VALUES('CRON',$1,$2,$3,$4,'PENDING',$5)"                    \
                      " ON CONFLICT DO NOTHING")                                                               \
    X(TRIGGER_DELETE_PENDING, "DELETE FROM triggers WHERE trigger_status='PENDING' AND type='CRON'"             \
                              " AND namespace_name=$1 AND graph_name=$2 AND expression=$3")                     \
    X(TRIGGER_CLAIM, "UPDATE triggers SET trigger_status='TRIGGERING' WHERE id = (SELECT id FROM triggers"      \
                     " WHERE trigger_status='PENDING' AND trigger_time<=$1 ORDER BY trigger_time LIMIT 1"      \
                     " FOR UPDATE SKIP LOCKED) RETURNING id, expression, namespace_name, graph_name,"          \
                     " trigger_time")                                                                          \
    X(TRIGGER_FINISH, "UPDATE triggers SET trigger_status=$1, expires_at=$2 WHERE id=$3")                       \
    X(TRIGGER_RESET, "UPDATE triggers SET trigger_status='PENDING' WHERE trigger_status='TRIGGERING'")          \
    X(TRIGGER_EXPIRE, "DELETE FROM triggers WHERE trigger_status IN ('TRIGGERED','FAILED')"                     \
                      " AND (expires_at IS NULL OR expires_at<=$1)")                                            \
    /* the worker registry (runtimes.c) */                                                                 \
    X(RUNTIME_FORGET, "DELETE FROM runtimes WHERE namespace_name=$1 AND last_seen<$2")                          \
    X(RUNTIME_KNOWN, "SELECT 1 FROM runtimes WHERE namespace_name=$1 AND name=$2")                              \
    X(RUNTIME_COUNT, "SELECT count(*) FROM runtimes WHERE namespace_name=$1")                                   \
    X(RUNTIME_UPSERT, "INSERT INTO runtimes(" RUNTIME_COLS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"       \
                      " ON CONFLICT(namespace_name, name) DO UPDATE SET version=excluded.version,"              \
                      " hostname=excluded.hostname, pid=excluded.pid, slots=excluded.slots,"                    \
                      " running=excluded.running, interval_ms=excluded.interval_ms, nodes=excluded.nodes,"      \
                      " last_seen=excluded.last_seen")                                                         \
    X(RUNTIME_LIST, "SELECT " RUNTIME_COLS " FROM runtimes WHERE namespace_name=$1 ORDER BY name COLLATE \"C\"") \
    X(PING, "SELECT 1")

#define STMT_ENUM(name, sql) ST_##name,
typedef enum { STATEMENTS(STMT_ENUM) ST_COUNT } stmt_id;
#undef STMT_ENUM

#endif
