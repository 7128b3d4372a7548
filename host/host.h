/* exo-host's runtime: registration, claiming, running states in sandboxed children
 * and delivering their reports, all driven by one single-threaded event loop.
 *
 * Fork safety (why one thread): every state runs in a child forked from the host.
 * fork() in a multi-threaded process copies only the calling thread, so locks held
 * by other threads (malloc, stdio, libcurl, json-c) would stay locked forever in the
 * child.  The host therefore never starts a thread of its own: HTTP runs through
 * libcurl's multi interface inside the same poll loop (curl_multi_poll with the
 * child pipes and a signalfd as extra descriptors), so long-polls, reports and
 * child output all progress together without threads.  (Host names are resolved by
 * libcurl's resolver; configure an IP address or a build of libcurl without the
 * threaded resolver to keep even that thread away.)  The child execs the state
 * runner right away (child.h), so nothing of the host's memory reaches node code. */
#ifndef EXO_HOST_HOST_H
#define EXO_HOST_HOST_H

#include "config.h"
#include "plugin.h"

/* Runs until SIGTERM/SIGINT (returns 0 after a graceful stop) or a fatal error
 * (returns 1).  Takes ownership of conf, nodes. */
int host_run_forever(host_conf *conf, host_node *nodes, size_t n_nodes);

#endif
