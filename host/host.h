/* exo-host's runtime: registration, claiming, running states in sandboxed children
 * and delivering their reports, all driven by one single-threaded event loop.
 *
 * One thread: HTTP runs through libcurl's multi interface inside the same poll loop
 * (curl_multi_poll with the state pipes, the fork server's socket and a signalfd as
 * extra descriptors), so long-polls, reports and state output all progress together
 * without threads.  (Host names are resolved by libcurl's resolver; configure an IP
 * address or a build of libcurl without the threaded resolver to keep even that
 * thread away.)  States run in processes forked by a fork server exec'ed once at
 * start-up (zygote.h), so nothing of the host's memory reaches node code. */
#ifndef EXO_HOST_HOST_H
#define EXO_HOST_HOST_H

#include "config.h"
#include "plugin.h"

/* Runs until SIGTERM/SIGINT (returns 0 after a graceful stop) or a fatal error
 * (returns 1).  Takes ownership of conf, nodes. */
int host_run_forever(host_conf *conf, host_node *nodes, size_t n_nodes);

#endif
