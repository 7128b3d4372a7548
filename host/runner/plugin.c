#include "plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "descriptor.h"


static bool valid_field_name(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static void free_fields(host_field_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        free(l->items[i].def);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Copies one exo_field_list, splitting "name=default" and checking names. */
static int copy_fields(const exo_field_list *in, const char *kind, bool allow_default,
                       const char *origin, host_field_list *out, char *err, size_t errlen)
{
    out->count = 0;
    out->items = NULL;
    if (in->count == 0)
        return 0;
    if (!in->names || in->count > 4096) {
        snprintf(err, errlen, "%s: the %s list is malformed", origin, kind);
        return -1;
    }
    if (!(out->items = calloc(in->count, sizeof *out->items))) {
        snprintf(err, errlen, "%s: out of memory", origin);
        return -1;
    }
    for (size_t i = 0; i < in->count; i++) {
        const char *entry = in->names[i];
        if (!entry) {
            snprintf(err, errlen, "%s: %s #%zu is NULL", origin, kind, i + 1);
            goto fail;
        }
        const char *eq = strchr(entry, '=');
        size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
        if (!valid_field_name(entry, len)) {
            snprintf(err, errlen, "%s: %s name '%.*s' is not valid (want [A-Za-z][A-Za-z0-9_]*)",
                     origin, kind, (int)len, entry);
            goto fail;
        }
        if (eq && !allow_default) {
            snprintf(err, errlen, "%s: %s '%.*s' cannot have a default", origin, kind, (int)len,
                     entry);
            goto fail;
        }
        host_field *f = &out->items[i];
        f->name = strndup(entry, len);
        f->def = eq ? strdup(eq + 1) : NULL;
        out->count = i + 1;
        if (!f->name || (eq && !f->def)) {
            snprintf(err, errlen, "%s: out of memory", origin);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out->items[j].name, f->name) == 0) {
                snprintf(err, errlen, "%s: %s '%s' is declared twice", origin, kind, f->name);
                goto fail;
            }
        }
    }
    return 0;
fail:
    free_fields(out);
    return -1;
}

int host_node_from_def(const exo_node_def *def, const char *origin, host_node *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->so_fd = -1;
    if (def->abi_version != EXO_ABI_VERSION) {
        snprintf(err, errlen, "%s: built for plugin ABI version %u, this host supports version %u",
                 origin, def->abi_version, EXO_ABI_VERSION);
        return -1;
    }
    size_t need = offsetof(exo_node_def, secrets) + sizeof def->secrets;
    if (def->struct_size < need) {
        snprintf(err, errlen, "%s: exo_node descriptor is too small (%u bytes, need %zu)", origin,
                 def->struct_size, need);
        return -1;
    }
    if (!def->name || !def->name[0]) {
        snprintf(err, errlen, "%s: the node has no name", origin);
        return -1;
    }
    for (const char *p = def->name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == '/' || *p == '"' || *p == '\\') {
            snprintf(err, errlen, "%s: node name '%s' contains a character that is not allowed",
                     origin, def->name);
            return -1;
        }
    }
    if (!(out->name = strdup(def->name)) || !(out->path = strdup(origin))) {
        snprintf(err, errlen, "%s: out of memory", origin);
        goto fail;
    }
    if (copy_fields(&def->inputs, "input", true, origin, &out->inputs, err, errlen) < 0 ||
        copy_fields(&def->outputs, "output", true, origin, &out->outputs, err, errlen) < 0 ||
        copy_fields(&def->secrets, "secret", false, origin, &out->secrets, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    host_node_free(out);
    return -1;
}

int host_plugin_open(const char *path, const host_sandbox_conf *sandbox, host_node *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->so_fd = -1;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        snprintf(err, errlen, "%s: cannot load: %s", path, e ? e : "dlopen failed");
        return -1;
    }
    const exo_node_def *def = dlsym(dl, "exo_node");
    if (!def) {
        snprintf(err, errlen, "%s: does not export exo_node (declare the node with EXO_NODE)", path);
        dlclose(dl);
        return -1;
    }
    void *exec = dlsym(dl, "exo_execute");
    if (!exec) {
        snprintf(err, errlen, "%s: does not export exo_execute", path);
        dlclose(dl);
        return -1;
    }
    char why[512];
    if (host_descriptor_check_bounds(dl, def, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        dlclose(dl);
        return -1;
    }
    if (host_node_from_def(def, path, out, err, errlen) < 0) {
        dlclose(dl);
        return -1;
    }
    /* POSIX leaves object-to-function pointer conversion to the implementation;
     * dlsym on Linux guarantees it. */
    memcpy(&out->execute, &exec, sizeof exec);
    out->dl = dl;
    if (sandbox)
        out->sandbox = *sandbox;
    else
        host_sandbox_defaults(&out->sandbox);
    return 0;
}

void host_node_free(host_node *node)
{
    if (!node)
        return;
    free(node->name);
    free(node->path);
    free_fields(&node->inputs);
    free_fields(&node->outputs);
    free_fields(&node->secrets);
    if (node->so_fd >= 0)
        close(node->so_fd);
    /* The handle is deliberately not dlclose'd: forked children of an older plugin
     * set may still be described by it, and unloading buys nothing in a host. */
    memset(node, 0, sizeof *node);
    node->so_fd = -1;
}

void host_nodes_free(host_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        host_node_free(&nodes[i]);
    free(nodes);
}

int host_nodes_check_unique(const host_node *nodes, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(nodes[i].name, nodes[j].name) == 0) {
                snprintf(err, errlen, "duplicate node name '%s': declared by %s and by %s",
                         nodes[i].name, nodes[j].path, nodes[i].path);
                return -1;
            }
    return 0;
}

const host_field *host_field_find(const host_field_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, name) == 0)
            return &list->items[i];
    return NULL;
}
