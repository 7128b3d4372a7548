/* Execution engine (spec §6, §7, §9 with exo's section-0 rules).
 *
 * Every function here runs inside the caller's write transaction, with the db lock
 * held, so a report and all of its consequences (fan-out siblings, next states,
 * unite creation, SUCCESS / NEXT_CREATED_ERROR marking, retries) commit together.
 * Return: 0 ok, -1 database/allocation failure (caller rolls back -> 500). */
#ifndef EXO_SM_ENGINE_H
#define EXO_SM_ENGINE_H

#include <json-c/json.h>
#include <stdint.h>

#include "app.h"
#include "graph.h"
#include "storage.h"

/* The parsed, analysed graph template version a run was triggered with (cached;
 * borrowed, valid while the db lock is held).  *ns_out (optional) receives the
 * run's namespace (malloc'd).  NULL when the run/version is unknown. */
const exo_graph *exo_engine_run_graph(exo_app *app, const char *run_id, char **ns_out);
/* Parsed, analysed graph of a stored version (cached, borrowed as above). */
const exo_graph *exo_engine_version_graph(exo_app *app, int64_t version);
void exo_engine_cache_free(void);

/* Fills a fresh CREATED state (new id, fanout_id, timestamps = now); strings copied.
 * Returns 0 or -1 on allocation failure. */
int exo_state_init(exo_state_row *st, const char *node_name, const char *ns, const char *identifier,
                   const char *graph_name, const char *run_id, int64_t now);

/* executed (§3.8): st is QUEUED; outputs is the validated array of objects of
 * strings; store (nullable) the validated store writes. */
int exo_engine_executed(exo_app *app, exo_state_row *st, json_object *outputs, json_object *store, int64_t now);

/* errored (§3.9): st is QUEUED.  Applies the retry policy of the run's graph
 * version; *retry_created tells the outcome.  Evaluates unites when final. */
int exo_engine_errored(exo_app *app, exo_state_row *st, const char *error, int64_t now, int *retry_created);

/* prune (§3.10): st is QUEUED. */
int exo_engine_pruned(exo_app *app, exo_state_row *st, json_object *data, int64_t now);

#endif
