/* Loading the plugins host.conf names (host side: the runner knows no host.conf). */
#include "plugins_conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append_line(char *err, size_t errlen, const char *line)
{
    size_t used = strlen(err);
    if (used + 2 >= errlen)
        return;
    snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", line);
}

int host_plugins_load_all(const host_conf *conf, host_node **out, size_t *n_out, char *err,
                          size_t errlen)
{
    *out = NULL;
    *n_out = 0;
    err[0] = '\0';
    host_node *nodes = calloc(conf->n_plugins, sizeof *nodes);
    if (!nodes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t loaded = 0;
    bool failed = false;
    for (size_t i = 0; i < conf->n_plugins; i++) {
        char one[1024];
        const host_plugin_conf *p = &conf->plugins[i];
        if (host_plugin_load(p->path, &p->sandbox, &nodes[loaded], one, sizeof one) < 0) {
            char line[1200];
            snprintf(line, sizeof line, "%s:%d: plugin %s", conf->file, p->line, one);
            append_line(err, errlen, line);
            failed = true;
            continue;
        }
        loaded++;
    }
    char dup[1024];
    if (!failed && host_nodes_check_unique(nodes, loaded, dup, sizeof dup) < 0) {
        char line[1200];
        snprintf(line, sizeof line, "%s: %s", conf->file, dup);
        append_line(err, errlen, line);
        failed = true;
    }
    if (failed) {
        host_nodes_free(nodes, loaded);
        return -1;
    }
    *out = nodes;
    *n_out = loaded;
    return 0;
}
