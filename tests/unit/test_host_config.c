/* host.conf parsing: defaults, environment fallback, and errors that name file,
 * line and problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/exo-test-config-XXXXXX";
static char conf_path[256];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(conf_path, sizeof conf_path, "%s/host.conf", dir);
    unsetenv("EXOSPHERE_STATE_MANAGER_URI");
    unsetenv("EXOSPHERE_API_KEY");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define BASE                                                                              \
    "namespace = \"MyProject\";\n"                                                        \
    "name = \"DataProcessor\";\n"

/* Loads text as host.conf; returns the rc and leaves the error in err. */
static int load(const char *text, host_conf *conf, char *err, size_t errlen)
{
    write_file(conf_path, text);
    err[0] = '\0';
    return host_conf_load(conf_path, conf, err, errlen);
}

static void expect_error(const char *text, const char *line_prefix, const char *fragment)
{
    host_conf conf;
    char err[1024];
    assert_int_equal(load(text, &conf, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s%s", conf_path, line_prefix);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, fragment))
        fail_msg("error '%s' does not start with '%s' and contain '%s'", err, want, fragment);
}

static void test_defaults(void **state)
{
    (void)state;
    host_conf conf;
    char err[1024];
    int rc = load(BASE "state_manager = { uri = \"http://127.0.0.1:8000/\"; api_key = \"k\"; };\n"
                       "plugins = ( \"sample.so\" );\n",
                  &conf, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(conf.namespace_, "MyProject");
    assert_string_equal(conf.name, "DataProcessor");
    assert_string_equal(conf.uri, "http://127.0.0.1:8000"); /* trailing slash dropped */
    assert_string_equal(conf.api_key, "k");
    assert_string_equal(conf.version, "v0");
    assert_int_equal(conf.workers, 4);
    assert_int_equal(conf.batch_size, 16);
    assert_int_equal(conf.poll_interval_ms, 1000);
    assert_int_equal(conf.heartbeat_ms, 10000);
    assert_int_equal(conf.n_plugins, 1);
    char want[300];
    snprintf(want, sizeof want, "%s/sample.so", dir);
    /* /tmp may be a symlink: compare the tail only */
    assert_non_null(strstr(conf.plugins[0].path, "/sample.so"));
    assert_int_equal(conf.plugins[0].sandbox.timeout_ms, 30000);
    assert_int_equal(conf.plugins[0].sandbox.memory_mb, 256);
    assert_false(conf.plugins[0].sandbox.network);
    host_conf_free(&conf);
}

static void test_environment_fallback(void **state)
{
    (void)state;
    setenv("EXOSPHERE_STATE_MANAGER_URI", "http://env:1", 1);
    setenv("EXOSPHERE_API_KEY", "env-key", 1);
    host_conf conf;
    char err[1024];
    assert_int_equal(load(BASE "plugins = ( \"a.so\" );\n", &conf, err, sizeof err), 0);
    assert_string_equal(conf.uri, "http://env:1");
    assert_string_equal(conf.api_key, "env-key");
    host_conf_free(&conf);
    /* host.conf wins over the environment */
    assert_int_equal(load(BASE "state_manager = { uri = \"http://conf:2\"; api_key = \"conf-key\"; };\n"
                               "plugins = ( \"a.so\" );\n",
                          &conf, err, sizeof err),
                     0);
    assert_string_equal(conf.uri, "http://conf:2");
    assert_string_equal(conf.api_key, "conf-key");
    host_conf_free(&conf);
    unsetenv("EXOSPHERE_STATE_MANAGER_URI");
    unsetenv("EXOSPHERE_API_KEY");
}

/* Replicas: a uris list, or a comma list in the environment; each one checked. */
static void test_uri_lists(void **state)
{
    (void)state;
    host_conf conf;
    char err[1024];
    assert_int_equal(load(BASE "state_manager = { uris = [\"http://a:1/\", \"https://b:2\"]; api_key = \"k\"; };\n"
                               "plugins = ( \"a.so\" );\n",
                          &conf, err, sizeof err),
                     0);
    assert_int_equal(conf.n_uris, 2);
    assert_string_equal(conf.uris[0], "http://a:1");
    assert_string_equal(conf.uris[1], "https://b:2");
    assert_string_equal(conf.uri, "http://a:1");
    host_conf_free(&conf);
    setenv("EXOSPHERE_STATE_MANAGER_URI", "http://e1:1, http://e2:2", 1);
    assert_int_equal(load(BASE "state_manager = { api_key = \"k\"; };\nplugins = ( \"a.so\" );\n", &conf, err,
                          sizeof err),
                     0);
    assert_int_equal(conf.n_uris, 2);
    assert_string_equal(conf.uris[1], "http://e2:2");
    host_conf_free(&conf);
    setenv("EXOSPHERE_STATE_MANAGER_URI", "http://e1:1,ftp://x", 1);
    expect_error(BASE "state_manager = { api_key = \"k\"; };\nplugins = ( \"a.so\" );\n", ":3:", "ftp://x");
    unsetenv("EXOSPHERE_STATE_MANAGER_URI");
    expect_error(BASE "state_manager = { uris = []; api_key = \"k\"; };\nplugins = ( \"a.so\" );\n", ":3:",
                 "state_manager.uris is empty");
    expect_error(BASE "state_manager = { uris = [\"x\"]; api_key = \"k\"; };\nplugins = ( \"a.so\" );\n", ":3:",
                 "must start with http://");
    expect_error(BASE "state_manager = { uri = \"http://a:1\"; uris = [\"http://b:1\"]; api_key = \"k\"; };\n"
                      "plugins = ( \"a.so\" );\n",
                 ":3:", "both set");
}

static void test_missing_uri_and_key(void **state)
{
    (void)state;
    expect_error(BASE "plugins = ( \"a.so\" );\n", "", "EXOSPHERE_STATE_MANAGER_URI");
    expect_error(BASE "state_manager = { uri = \"http://x:1\"; };\nplugins = ( \"a.so\" );\n", ":3:",
                 "EXOSPHERE_API_KEY");
    setenv("EXOSPHERE_API_KEY", "", 1); /* empty counts as not set */
    expect_error(BASE "state_manager = { uri = \"http://x:1\"; };\nplugins = ( \"a.so\" );\n", ":3:",
                 "API key is not set");
    unsetenv("EXOSPHERE_API_KEY");
}

static void test_api_key_file(void **state)
{
    (void)state;
    char key_path[300];
    snprintf(key_path, sizeof key_path, "%s/key.txt", dir);
    write_file(key_path, "from-file\n");
    host_conf conf;
    char err[1024];
    assert_int_equal(load(BASE "state_manager = { uri = \"http://x:1\"; api_key_file = \"key.txt\"; };\n"
                               "plugins = ( \"a.so\" );\n",
                          &conf, err, sizeof err),
                     0);
    assert_string_equal(conf.api_key, "from-file");
    host_conf_free(&conf);
    expect_error(BASE "state_manager = { uri = \"http://x:1\"; api_key_file = \"nope.txt\"; };\n"
                      "plugins = ( \"a.so\" );\n",
                 ":3:", "cannot read state_manager.api_key_file");
    expect_error(BASE "state_manager = { uri = \"http://x:1\"; api_key = \"a\";\n"
                      "  api_key_file = \"key.txt\"; };\nplugins = ( \"a.so\" );\n",
                 ":4:", "both set");
}

static void test_syntax_error(void **state)
{
    (void)state;
    expect_error(BASE "workers = ;\n", ":3:", "syntax error");
}

static void test_bad_values(void **state)
{
    (void)state;
#define SM "state_manager = { uri = \"http://x:1\"; api_key = \"k\"; };\n"
    expect_error(BASE SM "workers = 0;\nplugins = ( \"a.so\" );\n", ":4:",
                 "workers must be at least 1 (got 0)");
    expect_error(BASE SM "batch_size = \"16\";\nplugins = ( \"a.so\" );\n", ":4:",
                 "batch_size must be an integer");
    expect_error(BASE SM "poll_interval_ms = 0;\nplugins = ( \"a.so\" );\n", ":4:",
                 "poll_interval_ms must be at least 1");
    expect_error(BASE SM "heartbeat_ms = 100;\nplugins = ( \"a.so\" );\n", ":4:",
                 "heartbeat_ms must be 0 (off) or at least 500 (got 100)");
    expect_error(BASE SM "heartbeat_ms = 3600001;\nplugins = ( \"a.so\" );\n", ":4:", "heartbeat_ms must be");
    expect_error(BASE SM "worker = 3;\nplugins = ( \"a.so\" );\n", ":4:", "unknown setting 'worker'");
    expect_error(BASE SM "plugins = ( \"a.so\" );\nsandbox = { timeout = 5; };\n", ":5:",
                 "unknown setting 'timeout' in sandbox");
    expect_error(BASE SM "plugins = ( { path = \"a.so\"; sandbox = { network = 1; }; } );\n", ":4:",
                 "plugins[0].sandbox.network must be true or false");
    expect_error(BASE SM "plugins = ( );\n", ":4:", "plugins is empty");
    if (geteuid() == 0)
        expect_error(BASE SM "plugins = ( \"a.so\" );\nsandbox = { user = \"no-such-user-x\"; };\n",
                     ":5:", "sandbox.user 'no-such-user-x' does not exist");
    expect_error(BASE SM, "", "plugins is required");
    expect_error("name = \"x\";\n" SM "plugins = ( \"a.so\" );\n", "", "namespace is required");
    expect_error("namespace = \"\";\nname = \"x\";\n" SM "plugins = ( \"a.so\" );\n", ":1:",
                 "namespace is empty");
    expect_error(BASE "state_manager = { uri = \"ftp://x\"; api_key = \"k\"; };\nplugins = ( \"a.so\" );\n",
                 ":3:", "must start with http://");
#undef SM
}

static void test_plugin_overrides(void **state)
{
    (void)state;
    host_conf conf;
    char err[1024];
    int rc = load(BASE "state_manager = { uri = \"http://x:1\"; api_key = \"k\"; };\n"
                       "plugin_dir = \"/opt/plugins\";\n"
                       "sandbox = { timeout_ms = 5000; memory_mb = 128; };\n"
                       "plugins = ( \"a.so\", { path = \"fetch.so\"; sandbox = { network = true; timeout_ms = 60000; }; },\n"
                       "            \"/abs/b.so\" );\n",
                  &conf, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(conf.n_plugins, 3);
    assert_string_equal(conf.plugins[0].path, "/opt/plugins/a.so");
    assert_int_equal(conf.plugins[0].sandbox.timeout_ms, 5000);
    assert_false(conf.plugins[0].sandbox.network);
    assert_string_equal(conf.plugins[1].path, "/opt/plugins/fetch.so");
    assert_true(conf.plugins[1].sandbox.network);
    assert_int_equal(conf.plugins[1].sandbox.timeout_ms, 60000);
    assert_int_equal(conf.plugins[1].sandbox.memory_mb, 128); /* inherited */
    assert_string_equal(conf.plugins[2].path, "/abs/b.so");
    assert_int_equal(conf.plugins[1].line, 6);
    host_conf_free(&conf);
}

static void test_missing_file(void **state)
{
    (void)state;
    host_conf conf;
    char err[1024];
    assert_int_equal(host_conf_load("/nonexistent/host.conf", &conf, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/host.conf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_environment_fallback),
        cmocka_unit_test(test_missing_uri_and_key), cmocka_unit_test(test_uri_lists), cmocka_unit_test(test_api_key_file),
        cmocka_unit_test(test_syntax_error),     cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_plugin_overrides), cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
