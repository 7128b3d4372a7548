/* Plugin loading: every way a plugin can be refused, each named with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"
#include "plugins_conf.h"

#ifndef EXO_TEST_PLUGIN_DIR
#error EXO_TEST_PLUGIN_DIR must point at the built plugins
#endif

static char path_buf[512];

static const char *plugin(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", EXO_TEST_PLUGIN_DIR, name);
    return path_buf;
}

static void expect_load_error(const char *file, const char *fragment)
{
    host_node node;
    char err[1024] = "";
    int rc = host_plugin_load(file, NULL, NULL, &node, err, sizeof err);
    if (rc == 0) {
        host_node_free(&node);
        fail_msg("%s loaded, expected an error containing '%s'", file, fragment);
    }
    if (!strstr(err, file) || !strstr(err, fragment))
        fail_msg("error '%s' does not name %s and '%s'", err, file, fragment);
}

static void test_loads_healthy_plugin(void **state)
{
    (void)state;
    host_node node;
    char err[1024];
    assert_int_equal(host_plugin_load(plugin("echo.so"), NULL, NULL, &node, err, sizeof err), 0);
    assert_string_equal(node.name, "EchoNode");
    assert_int_equal(node.inputs.count, 2);
    assert_string_equal(node.inputs.items[0].name, "text");
    assert_null(node.inputs.items[0].def);
    assert_string_equal(node.inputs.items[1].name, "suffix");
    assert_string_equal(node.inputs.items[1].def, "");
    assert_int_equal(node.outputs.count, 1);
    assert_int_equal(node.secrets.count, 0);
    assert_null(node.execute); /* the host never maps node code */
    assert_true(node.so_fd >= 0);
    host_node_free(&node);
}

static void test_missing_symbols(void **state)
{
    (void)state;
    expect_load_error(plugin("no_execute.so"), "does not export exo_execute");
    expect_load_error(plugin("no_node.so"), "does not export exo_node");
}

static void test_wrong_abi(void **state)
{
    (void)state;
    expect_load_error(plugin("bad_abi.so"), "built for plugin ABI version 99");
}

static void test_not_an_elf(void **state)
{
    (void)state;
    char path[] = "/tmp/exo-test-notelf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
    close(fd);
    expect_load_error(path, "not an ELF shared object");
    unlink(path);
    expect_load_error("/nonexistent/x.so", "cannot open");
}

static void test_constructor_crash_costs_only_the_plugin(void **state)
{
    (void)state;
    /* The probe child dies; this process survives to check the message. */
    expect_load_error(plugin("ctor_crash.so"), "crashed while loading");
}

static void test_descriptor_pointing_outside_the_plugin(void **state)
{
    (void)state;
    /* Followed in this process, these pointers would be a SIGSEGV; the probe checks
     * them against the plugin's mapped segments instead. */
    expect_load_error(plugin("bad_descriptor.so"),
                      "the node name points outside the plugin's mapped segments");
    expect_load_error(plugin("bad_descriptor_list.so"),
                      "the input list points outside the plugin's mapped segments");
}

static void test_host_never_maps_the_plugin(void **state)
{
    (void)state;
    host_node node;
    char err[1024];
    assert_int_equal(host_plugin_load(plugin("echo.so"), NULL, NULL, &node, err, sizeof err), 0);
    FILE *maps = fopen("/proc/self/maps", "r");
    assert_non_null(maps);
    char line[4096];
    while (fgets(line, sizeof line, maps)) {
        if (strstr(line, "echo.so") || strstr(line, "exo-plugin"))
            fail_msg("the plugin is mapped into the loading process: %s", line);
    }
    fclose(maps);
    host_node_free(&node);
}

static void test_bare_name_is_relative_to_the_working_directory(void **state)
{
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(EXO_TEST_PLUGIN_DIR), 0);
    host_node node;
    char err[1024];
    int rc = host_plugin_load("echo.so", NULL, NULL, &node, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("echo.so by its bare name: %s", err);
    assert_string_equal(node.name, "EchoNode");
    host_node_free(&node);
}

static void test_plugin_replaced_after_load(void **state)
{
    (void)state;
    /* The node keeps the bytes it was loaded from: a sealed copy. */
    char path[] = "/tmp/exo-test-plugin-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *src = fopen(plugin("echo.so"), "rb");
    assert_non_null(src);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, src)) > 0)
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
    fclose(src);
    close(fd);
    host_node node;
    char err[1024];
    assert_int_equal(host_plugin_load(path, NULL, NULL, &node, err, sizeof err), 0);
    struct stat before;
    assert_int_equal(fstat(node.so_fd, &before), 0);
    assert_int_equal(unlink(path), 0);
    assert_true(write(node.so_fd, "x", 1) < 0); /* sealed: no state can change it */
    struct stat after;
    assert_int_equal(fstat(node.so_fd, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    host_node_free(&node);
}

static void test_bad_field_name(void **state)
{
    (void)state;
    expect_load_error(plugin("bad_field.so"), "input name 'user id' is not valid");
}

static void test_duplicate_node(void **state)
{
    (void)state;
    host_node nodes[2];
    char err[1024];
    assert_int_equal(host_plugin_load(plugin("echo.so"), NULL, NULL, &nodes[0], err, sizeof err), 0);
    assert_int_equal(host_plugin_load(plugin("echo_duplicate.so"), NULL, NULL, &nodes[1], err, sizeof err), 0);
    assert_int_equal(host_nodes_check_unique(nodes, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate node name 'EchoNode'"));
    assert_non_null(strstr(err, "echo.so"));
    assert_non_null(strstr(err, "echo_duplicate.so"));
    host_node_free(&nodes[0]);
    host_node_free(&nodes[1]);
}

static void test_load_all_reports_every_bad_plugin(void **state)
{
    (void)state;
    host_conf conf;
    memset(&conf, 0, sizeof conf);
    host_plugin_conf plugins[3];
    memset(plugins, 0, sizeof plugins);
    char p0[512], p1[512], p2[512];
    snprintf(p0, sizeof p0, "%s", plugin("echo.so"));
    snprintf(p1, sizeof p1, "%s", plugin("bad_abi.so"));
    snprintf(p2, sizeof p2, "%s", plugin("no_node.so"));
    plugins[0].path = p0;
    plugins[1].path = p1;
    plugins[2].path = p2;
    for (int i = 0; i < 3; i++) {
        plugins[i].line = 10 + i;
        host_sandbox_defaults(&plugins[i].sandbox);
    }
    conf.file = "host.conf";
    conf.plugins = plugins;
    conf.n_plugins = 3;
    host_node *nodes = NULL;
    size_t n = 0;
    char err[4096];
    assert_int_equal(host_plugins_load_all(&conf, &nodes, &n, err, sizeof err), -1);
    assert_null(nodes);
    assert_non_null(strstr(err, "host.conf:11: plugin"));
    assert_non_null(strstr(err, "ABI version"));
    assert_non_null(strstr(err, "host.conf:12: plugin"));
    assert_non_null(strstr(err, "exo_node"));
}

static int noop_execute(exo_ctx *ctx)
{
    (void)ctx;
    return EXO_OK;
}

static void test_descriptor_checks(void **state)
{
    (void)state;
    host_node node;
    char err[1024];
    const exo_node_def dup = {EXO_ABI_VERSION, sizeof(exo_node_def), "Dup",
                              EXO_INPUTS("a", "b", "a"), EXO_OUTPUTS(), EXO_SECRETS()};
    assert_int_equal(host_node_from_def(&dup, "dup.so", &node, err, sizeof err), -1);
    assert_non_null(strstr(err, "input 'a' is declared twice"));
    const exo_node_def secret_default = {EXO_ABI_VERSION, sizeof(exo_node_def), "S", EXO_INPUTS(),
                                         EXO_OUTPUTS(), EXO_SECRETS("k=v")};
    assert_int_equal(host_node_from_def(&secret_default, "s.so", &node, err, sizeof err), -1);
    assert_non_null(strstr(err, "secret 'k' cannot have a default"));
    const exo_node_def unnamed = {EXO_ABI_VERSION, sizeof(exo_node_def), "", EXO_INPUTS(),
                                  EXO_OUTPUTS(), EXO_SECRETS()};
    assert_int_equal(host_node_from_def(&unnamed, "u.so", &node, err, sizeof err), -1);
    assert_non_null(strstr(err, "no name"));
    const exo_node_def small = {EXO_ABI_VERSION, 8, "Small", EXO_INPUTS(), EXO_OUTPUTS(),
                                EXO_SECRETS()};
    assert_int_equal(host_node_from_def(&small, "small.so", &node, err, sizeof err), -1);
    assert_non_null(strstr(err, "too small"));
    const exo_node_def ok = {EXO_ABI_VERSION, sizeof(exo_node_def), "Ok",
                             EXO_INPUTS("a", EXO_DEFAULT("b", "x=y")), EXO_OUTPUTS("o"),
                             EXO_SECRETS("s")};
    assert_int_equal(host_node_from_def(&ok, "ok.so", &node, err, sizeof err), 0);
    assert_string_equal(node.inputs.items[1].def, "x=y"); /* split at the first '=' only */
    node.execute = noop_execute;
    host_node_free(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_healthy_plugin),
        cmocka_unit_test(test_missing_symbols),
        cmocka_unit_test(test_wrong_abi),
        cmocka_unit_test(test_not_an_elf),
        cmocka_unit_test(test_constructor_crash_costs_only_the_plugin),
        cmocka_unit_test(test_bad_field_name),
        cmocka_unit_test(test_descriptor_pointing_outside_the_plugin),
        cmocka_unit_test(test_host_never_maps_the_plugin),
        cmocka_unit_test(test_bare_name_is_relative_to_the_working_directory),
        cmocka_unit_test(test_plugin_replaced_after_load),
        cmocka_unit_test(test_duplicate_node),
        cmocka_unit_test(test_load_all_reports_every_bad_plugin),
        cmocka_unit_test(test_descriptor_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
