/* Starting a run (§3.4), shared by the trigger endpoint and the cron scheduler. */
#ifndef EXO_SM_TRIGGER_H
#define EXO_SM_TRIGGER_H

#include <json-c/json.h>
#include <stdint.h>

#include "app.h"
#include "sm_util.h"

/* Runs inside the caller's transaction (db lock held).  store/inputs: validated
 * string maps or NULL.  Returns 0 (run created, *status 200), 1 (refused: *status
 * 400/404 and *message malloc'd) or -1 (database error, *status 500).  Nothing is
 * written unless 0 is returned and the caller commits. */
int exo_trigger_start(exo_app *app, const char *ns, const char *graph_name, json_object *store,
                      json_object *inputs, int64_t start_delay, int64_t now,
                      char run_id[EXO_UUID_LEN + 1], int *status, char **message);

#endif
