/* exo-host: command line.  -c host.conf runs the host; --check validates the
 * configuration and the plugins; --describe x.so prints a node's registration JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "zygote.h"
#include "config.h"
#include "plugins_conf.h"
#include "host.h"
#include "log.h"
#include "plugin.h"
#include "plugins_conf.h"
#include "runner.h"
#include "schema.h"
#include "version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: exo-host -c host.conf          run the host\n"
            "       exo-host --check -c host.conf  validate host.conf and load every plugin\n"
            "       exo-host --describe x.so [-c host.conf]\n"
            "                                      print the node's registration JSON\n"
            "       exo-host --version             print the version\n"
            "environment: EXOSPHERE_STATE_MANAGER_URI, EXOSPHERE_API_KEY (used when host.conf\n"
            "leaves them out), EXO_LOG_LEVEL (debug, info, warn, error)\n");
}

static int describe(const char *so, const char *conf_path)
{
    char err[2048];
    host_conf conf;
    const char *ns = NULL;
    bool have_conf = false;
    if (conf_path) {
        if (host_conf_load_offline(conf_path, &conf, err, sizeof err) < 0) {
            fprintf(stderr, "exo-host: %s\n", err);
            return 1;
        }
        ns = conf.namespace_;
        have_conf = true;
    }
    host_node node;
    int rc = 1;
    /* with a configuration, a bare name is the plugin_dir's plugin (as in plugins = (...)) */
    char *in_dir = NULL;
    if (have_conf && !strchr(so, '/') && asprintf(&in_dir, "%s/%s", conf.plugin_dir, so) < 0) {
        fprintf(stderr, "exo-host: out of memory\n");
        goto done;
    }
    json_object *paths = have_conf ? host_conf_view_paths(&conf) : NULL;
    const char *view = paths ? json_object_to_json_string_ext(paths, JSON_C_TO_STRING_PLAIN) : NULL;
    int loaded = host_plugin_load(in_dir ? in_dir : so, NULL, view, &node, err, sizeof err);
    json_object_put(paths);
    if (loaded < 0) {
        fprintf(stderr, "exo-host: plugin %s\n", err);
        free(in_dir);
        goto done;
    }
    free(in_dir);
    json_object *reg = host_node_registration(&node, ns);
    if (reg) {
        printf("%s\n", json_object_to_json_string_ext(reg, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_SPACED));
        rc = 0;
    }
    json_object_put(reg);
    host_node_free(&node);
done:
    if (have_conf)
        host_conf_free(&conf);
    return rc;
}

static int load(const char *conf_path, bool check, host_conf *conf, host_node **nodes, size_t *n)
{
    char err[8192];
    if ((check ? host_conf_load_offline : host_conf_load)(conf_path, conf, err, sizeof err) < 0) {
        fprintf(stderr, "exo-host: %s\n", err);
        return -1;
    }
    exo_log_set_format((exo_log_format)conf->log_format);
    /* the fork server logs in the same format (its environment keeps this variable) */
    if (conf->log_format == EXO_LOG_JSON && setenv("EXO_LOG_FORMAT", "json", 1) < 0)
        fprintf(stderr, "exo-host: setenv: %s\n", strerror(errno));
    if (host_plugins_load_all(conf, nodes, n, err, sizeof err) < 0) {
        fprintf(stderr, "exo-host: cannot load plugins:\n%s\n", err);
        host_conf_free(conf);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* Internal: the fork server (zygote.h) when exo-host-runner is not installed. */
    if (argc >= 2 && argc <= 4 && strcmp(argv[1], "--zygote") == 0)
        host_zygote_serve(HOST_ZYGOTE_FD, argc >= 3 ? argv[2] : NULL, argc == 4 ? argv[3] : NULL);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--probe") == 0)
        host_probe_main(argv[2], argc == 4 ? argv[3] : NULL);
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"describe", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *conf_path = NULL, *describe_so = NULL;
    bool check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf_path = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'd':
            describe_so = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            exo_version_print(stdout, "exo-host");
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "exo-host: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    exo_log_init("exo-host");
    if (describe_so)
        return describe(describe_so, conf_path);
    if (!conf_path) {
        fprintf(stderr, "exo-host: -c host.conf is required\n");
        usage(stderr);
        return 2;
    }
    host_conf conf;
    host_node *nodes = NULL;
    size_t n = 0;
    if (load(conf_path, check, &conf, &nodes, &n) < 0)
        return 1;
    if (check) {
        if (!conf.api_key[0]) /* fine for a check (CI has no credential), not for a run */
            fprintf(stderr, "exo-host: note: the API key is not set (state_manager.api_key, "
                            "state_manager.api_key_file or EXOSPHERE_API_KEY): running this host needs it\n");
        printf("%s: OK: %zu node%s:", conf_path, n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            printf(" %s", nodes[i].name);
        printf("\n");
        host_nodes_free(nodes, n);
        host_conf_free(&conf);
        return 0;
    }
    return host_run_forever(&conf, nodes, n);
}
