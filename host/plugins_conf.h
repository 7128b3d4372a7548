/* The plugins of a host.conf, loaded together. */
#ifndef EXO_HOST_PLUGINS_CONF_H
#define EXO_HOST_PLUGINS_CONF_H

#include <stddef.h>

#include "config.h"
#include "plugin.h"

/* Loads every plugin of the configuration; on failure reports every bad plugin
 * (one per line in err) and loads nothing. */
int host_plugins_load_all(const host_conf *conf, host_node **out, size_t *n_out, char *err,
                          size_t errlen);

#endif
