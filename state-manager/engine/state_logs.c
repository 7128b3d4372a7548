/* State logs (exo's extension): what a state's node printed, as its host reports it
 * in the optional "logs" field of executed / errored.  Stored with the state in the
 * report's own transaction; read by GET state/{id}/logs (engine.h). */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "log.h"
#include "strfmt.h"
#include "utf8.h"

#define CUT_MARKER "[exo-state-manager: earlier output cut, the last %zu bytes follow]\n"

int exo_state_logs_store(exo_app *app, const char *state_id, const char *logs, size_t len)
{
    if (!logs)
        return 0;
    size_t at = exo_utf8_tail_start(logs, len, EXO_STATE_LOGS_MAX);
    if (at == 0)
        return exo_db_state_logs_set(app->db, state_id, logs, len) < 0 ? -1 : 0;
    /* a client other than exo-host sent more than the cap: keep the end, say so */
    char *marker = exo_strfmt(CUT_MARKER, len - at);
    size_t mlen = marker ? strlen(marker) : 0;
    char *kept = marker ? malloc(mlen + (len - at) + 1) : NULL;
    if (!kept) {
        free(marker);
        log_error("out of memory storing the logs of state %s", state_id);
        return -1;
    }
    memcpy(kept, marker, mlen);
    memcpy(kept + mlen, logs + at, len - at);
    kept[mlen + len - at] = '\0';
    int rc = exo_db_state_logs_set(app->db, state_id, kept, mlen + len - at);
    free(kept);
    free(marker);
    return rc < 0 ? -1 : 0;
}

exo_result exo_engine_state_logs(exo_app *app, const char *ns, const char *state_id, exo_state_row *row,
                                 char **logs, size_t *len)
{
    *logs = NULL;
    *len = 0;
    char id[EXO_ID_LEN + 1];
    if (exo_id_canonical(state_id, id) != 0)
        return EXO_RESULT_NOT_FOUND;
    exo_app_db_enter(app);
    int rc = exo_db_state_get(app->db, id, row);
    if (rc == 0 && strcmp(row->namespace_name, ns) != 0)
        rc = 1; /* another namespace's state is not found here */
    if (rc == 0)
        rc = exo_db_state_logs_get(app->db, ns, id, logs, len);
    exo_app_db_leave(app);
    if (rc != 0)
        exo_state_row_free(row);
    return exo_result_of(rc);
}
