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

json_object *host_conf_view_paths(const host_conf *conf)
{
    json_object *spec = json_object_new_object(), *hide = json_object_new_array(),
                *read = json_object_new_array();
    char *conf_file = conf->file ? realpath(conf->file, NULL) : NULL;
    bool ok = spec && hide && read;
    if (ok && conf->state_dir)
        ok = json_object_array_add(hide, json_object_new_string(conf->state_dir)) == 0;
    if (ok && conf_file)
        ok = json_object_array_add(hide, json_object_new_string(conf_file)) == 0;
    for (size_t i = 0; ok && i < conf->n_readable_paths; i++)
        ok = json_object_array_add(read, json_object_new_string(conf->readable_paths[i])) == 0;
    free(conf_file);
    if (ok && json_object_object_add(spec, "hide", hide) == 0) {
        hide = NULL;
        ok = json_object_object_add(spec, "read", read) == 0;
        read = NULL;
    } else {
        ok = false;
    }
    json_object_put(hide);
    json_object_put(read);
    if (!ok) {
        json_object_put(spec);
        return NULL;
    }
    return spec;
}

int host_plugins_load_all(const host_conf *conf, host_node **out, size_t *n_out, char *err,
                          size_t errlen)
{
    *out = NULL;
    *n_out = 0;
    err[0] = '\0';
    host_node *nodes = calloc(conf->n_plugins, sizeof *nodes);
    json_object *paths = host_conf_view_paths(conf);
    const char *view = paths ? json_object_to_json_string_ext(paths, JSON_C_TO_STRING_PLAIN) : NULL;
    if (!nodes || !view) {
        free(nodes);
        json_object_put(paths);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t loaded = 0;
    bool failed = false;
    for (size_t i = 0; i < conf->n_plugins; i++) {
        char one[1024];
        const host_plugin_conf *p = &conf->plugins[i];
        if (host_plugin_load(p->path, &p->sandbox, view, &nodes[loaded], one, sizeof one) < 0) {
            char line[1200];
            snprintf(line, sizeof line, "%s:%d: plugin %s", conf->file, p->line, one);
            append_line(err, errlen, line);
            failed = true;
            continue;
        }
        loaded++;
    }
    json_object_put(paths);
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
