/* Background threads of the state manager:
 *  - verification: checks PENDING graphs against the registered nodes (§5.2) and,
 *    after node (re-)registration, re-checks every graph (exo §0); creates the cron
 *    records of graphs that become VALID (§11.2);
 *  - scheduler: every ~500 ms reaps expired leases (errored path) and fires due
 *    cron trigger records (§11.3, catch-up fires once); with --retention-days it
 *    deletes expired finished runs, one batch per tick. */
#ifndef EXO_SM_BACKGROUND_H
#define EXO_SM_BACKGROUND_H

#include "app.h"

typedef struct exo_background exo_background;

exo_background *exo_background_start(exo_app *app, char *err, size_t errlen);
/* Call after app->stopping was set; joins the threads. */
void exo_background_stop(exo_background *bg);

/* One pass of each job (used by the threads; exposed for clarity). */
void exo_verify_pass(exo_app *app, int all);
void exo_reap_leases(exo_app *app);
void exo_cron_pass(exo_app *app);

#endif
