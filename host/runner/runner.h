/* The runner layer of exo-host: everything that runs in the fork server
 * (exo-host-runner --zygote) and in each state's sandboxed process.
 *
 * Contract: this layer never links libcurl or libconfig and never holds a
 * credential (the API key stays in the host; a state's secrets reach only that
 * state's process, through its job pipe).  It knows no host.conf: the host hands
 * it a host_sandbox_conf and paths.  It depends only on common/ and the SDK; the
 * host's core (host/) depends on it, never the other way round.
 *
 *   child.h        the state's process: job, result, exo_api table
 *   sandbox.h      what the state's process applies to itself before node code runs
 *   sandbox_conf.h the limits of one state and their defaults
 *   plugin.h       node plugins: the memfd copy, the probe (probe.c), dlopen and checks
 *   descriptor.h   the node descriptor: bounds checks, the probe's JSON copy
 *   zygote_proto.h wire format between the host (zygote.c) and the fork server */
#ifndef EXO_HOST_RUNNER_H
#define EXO_HOST_RUNNER_H

/* The fork server's main loop (exo-host-runner --zygote [FIRST-LAST [VIEW]]; sock
 * is its socket to the host, HOST_ZYGOTE_FD; uids the range of per-state user ids,
 * view the file system view's JSON spec (view.h); NULL or "" for none).  See
 * zygote.h for the host's side. */
void host_zygote_serve(int sock, const char *uids, const char *view) __attribute__((noreturn));

/* The plugin probe (exo-host-runner --probe USER [VIEW]; see plugin.h): builds the
 * file system view VIEW (view.h, without scratch; "" or NULL: none) in a mount
 * namespace of its own, loads the plugin on HOST_PLUGIN_FD inside a sandbox without
 * a writable directory and writes {"node": descriptor} (with "no_view": why, when
 * it had none) or {"error": text} to HOST_RESULT_FD. */
void host_probe_main(const char *user, const char *view) __attribute__((noreturn));

#endif
