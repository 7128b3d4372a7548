/* The dashboard's files (state-manager/dashboard/), compiled into the binary by
 * cmake/embed_assets.cmake: one program to install, nothing read from disk at run
 * time.  The table ends with an entry whose path is NULL. */
#ifndef EXO_SM_DASHBOARD_ASSETS_H
#define EXO_SM_DASHBOARD_ASSETS_H

#include <stddef.h>

typedef struct exo_dashboard_asset {
    const char *path;         /* "index.html", "app.js" (relative to the dashboard folder) */
    const char *content_type;
    const char *etag;         /* quoted, e.g. "\"3f2a...\"" */
    const unsigned char *data;
    size_t len;
} exo_dashboard_asset;

extern const exo_dashboard_asset exo_dashboard_assets[];

#endif
