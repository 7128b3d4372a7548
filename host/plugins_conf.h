/* The plugins of a host.conf, loaded together. */
#ifndef EXO_HOST_PLUGINS_CONF_H
#define EXO_HOST_PLUGINS_CONF_H

#include <json-c/json.h>
#include <stddef.h>

#include "config.h"
#include "plugin.h"

/* Loads every plugin of the configuration; on failure reports every bad plugin
 * (one per line in err) and loads nothing. */
int host_plugins_load_all(const host_conf *conf, host_node **out, size_t *n_out, char *err,
                          size_t errlen);

/* What the states' and the probe's file system view (runner/view.h) take from the
 * configuration: {"hide": [state_dir, host.conf], "read": readable_paths} (exo's own
 * files hidden where they lie inside an exposed system directory, host.conf under
 * /etc say).  A new object (the caller puts it), NULL when out of memory. */
json_object *host_conf_view_paths(const host_conf *conf);

#endif
