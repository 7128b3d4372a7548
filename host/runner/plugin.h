/* Node plugins: loading, ABI and descriptor checks.
 *
 * exo-host never maps node code.  host_plugin_load (probe.c) copies the plugin file
 * into a sealed memfd (the host runs the plugin it loaded: replacing or removing the
 * file takes effect only at the next reload), loads that copy in a sandboxed probe
 * process (exo-host-runner --probe) and receives a checked, serialised copy of its
 * descriptor (descriptor.h).  The host's host_node has no code pointer: only the
 * state's own sandboxed process dlopens the memfd (host_plugin_open) and gets
 * `execute`. */
#ifndef EXO_HOST_PLUGIN_H
#define EXO_HOST_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include <exo/node.h>

#include "sandbox_conf.h"

typedef struct host_field {
    char *name;
    char *def; /* default value; NULL when the field is required */
} host_field;

typedef struct host_field_list {
    size_t count;
    host_field *items;
} host_field_list;

typedef struct host_node {
    char *name;
    char *path; /* the .so it came from */
    host_field_list inputs, outputs, secrets;
    host_sandbox_conf sandbox;
    int so_fd; /* the sealed memfd copy of the plugin file (host side); -1 when none */
    /* Set only in the process that dlopen'ed the plugin (the state's process). */
    int (*execute)(exo_ctx *ctx);
    void *dl;
} host_node;

/* Host side: copies path (a bare name is relative to the working directory, never
 * searched in library paths) into a sealed memfd, loads it in a sandboxed probe
 * process and fills out from the descriptor the probe sends back (out->so_fd is the
 * memfd; out->execute is NULL).  The probe sees the states' file system view
 * without a scratch directory (view.h); view adds its paths as JSON,
 * {"hide": [...], "read": [...]} (host_conf_view_paths), NULL for none.  Where the
 * view cannot be built the probe runs without it (logged once).  0 or -1 with
 * err = "<path>: <reason>". */
int host_plugin_load(const char *path, const host_sandbox_conf *sandbox, const char *view,
                     host_node *out, char *err, size_t errlen);

/* Checks a descriptor (ABI version, size, names, fields) and copies it into out.
 * origin names the plugin in messages. */
int host_node_from_def(const exo_node_def *def, const char *origin, host_node *out, char *err,
                       size_t errlen);

/* dlopens path in this process (the probe's or the state's, both sandboxed),
 * checks both symbols, the descriptor's bounds (descriptor.h) and its content. */
int host_plugin_open(const char *path, const host_sandbox_conf *sandbox, host_node *out,
                     char *err, size_t errlen);

void host_node_free(host_node *node);

/* Returns -1 and names the first duplicated node name (and both plugins). */
int host_nodes_check_unique(const host_node *nodes, size_t n, char *err, size_t errlen);

const host_field *host_field_find(const host_field_list *list, const char *name);

void host_nodes_free(host_node *nodes, size_t n);

#endif
