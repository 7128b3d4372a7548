/* Node plugins: probe-loading in a child, dlopen, ABI and descriptor checks.
 *
 * A plugin is first opened in a throw-away child process (host_plugin_probe) so
 * that a crash in its constructors costs only that plugin; then it is dlopen'ed in
 * the host and its exo_node descriptor is copied into a host_node, which the rest
 * of the host uses (the descriptor's strings are copied: nothing points into the
 * plugin except `execute`). */
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
    int (*execute)(exo_ctx *ctx);
    void *dl; /* dlopen handle; NULL for nodes built from a descriptor in tests */
} host_node;

/* Opens path in a child process and reports whether that survived.  0 or -1 with
 * err = "<path>: <reason>". */
int host_plugin_probe(const char *path, char *err, size_t errlen);

/* Probe, dlopen, check the ABI and both symbols, copy the descriptor. */
int host_plugin_load(const char *path, const host_sandbox_conf *sandbox, host_node *out,
                     char *err, size_t errlen);

/* Checks a descriptor (ABI version, size, names, fields) and copies it into out.
 * origin names the plugin in messages. */
int host_node_from_def(const exo_node_def *def, const char *origin, host_node *out, char *err,
                       size_t errlen);

/* The same without the probe (for a process that may crash: the state runner). */
int host_plugin_open(const char *path, const host_sandbox_conf *sandbox, host_node *out,
                     char *err, size_t errlen);

void host_node_free(host_node *node);

/* Returns -1 and names the first duplicated node name (and both plugins). */
int host_nodes_check_unique(const host_node *nodes, size_t n, char *err, size_t errlen);

const host_field *host_field_find(const host_field_list *list, const char *name);

void host_nodes_free(host_node *nodes, size_t n);

#endif
