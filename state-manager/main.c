/* exo-state-manager: the Exosphere-compatible state manager (HTTP API on
 * libmicrohttpd, SQLite storage, background verification / cron / lease reaper). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app.h"
#include "background.h"
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "listen_probe.h"
#include "log.h"
#include "server.h"

/* Signal flag: set by the SIGTERM/SIGINT handler, read by the main loop. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* Every connection costs a descriptor: take all the process may have. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        log_warn("cannot raise the descriptor limit from %llu to %llu: %s", (unsigned long long)was,
                 (unsigned long long)rl.rlim_max, strerror(errno));
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int main(int argc, char **argv)
{
    exo_log_init("exo-state-manager");
    static exo_app app; /* process-wide context; static only to keep it off the stack */
    char err[1024];
    if (exo_app_init(&app) != 0) {
        log_error("cannot initialise the process context (out of memory or synchronisation primitives)");
        return 1;
    }
    int rc = exo_sm_config_load(&app.cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            log_error("%s", err);
        exo_sm_config_free(&app.cfg);
        return rc < 0 ? 2 : 0;
    }
    if (!app.cfg.have_key)
        log_warn("SECRETS_ENCRYPTION_KEY: %s; graphs with secrets will be refused until it is set", app.cfg.key_error);
    /* a busy port fails before the database file is created */
    if (exo_listen_probe(app.cfg.listen_host, app.cfg.listen_port, err, sizeof err) != 0) {
        log_error("%s", err);
        exo_sm_config_free(&app.cfg);
        exo_app_destroy(&app);
        return 1;
    }
    exo_storage_options opt = {.pool_size = app.cfg.db_pool};
    exo_storage *db = exo_storage_open_with(app.cfg.db, &opt, err, sizeof err);
    if (!db) {
        log_error("%s", err);
        exo_sm_config_free(&app.cfg);
        exo_app_destroy(&app);
        return 1;
    }
    if (exo_app_set_storage(&app, db) != 0) {
        log_error("cannot start the database's work notifications");
        exo_sm_config_free(&app.cfg);
        exo_app_destroy(&app);
        return 1;
    }
    exo_engine_check_secrets(&app); /* a key that cannot read the stored secrets: say so now and on /health */
    raise_nofile_limit();
    if (install_signals() != 0) {
        log_error("cannot install signal handlers");
        return 1;
    }
    exo_background *bg = exo_background_start(&app, err, sizeof err);
    exo_server *srv = bg ? exo_server_start(&app, err, sizeof err) : NULL;
    if (!srv) {
        log_error("%s", err);
        atomic_store(&app.stopping, 1);
        exo_background_stop(bg);
        exo_sm_config_free(&app.cfg);
        exo_app_destroy(&app);
        return 1;
    }
    char shown[sizeof app.cfg.db];
    exo_storage_describe(app.cfg.db, shown, sizeof shown); /* never a password in the log */
    log_info("listening on %s:%d, database %s (%s)", app.cfg.listen_host, app.cfg.listen_port, shown,
             exo_db_backend(app.db));
    while (!stop_signal)
        pause();
    log_info("signal %d received: shutting down", (int)stop_signal);
    atomic_store(&app.stopping, 1);
    exo_app_notify_work(&app, NULL, NULL); /* release long-polling requests */
    exo_server_stop(srv);
    exo_background_stop(bg);
    exo_app_destroy(&app); /* every thread that used the database has ended */
    exo_sm_config_free(&app.cfg);
    log_info("stopped");
    return 0;
}
