/* exoctl's argument parser, value checks and table formatting (cli/args.c, cli/output.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"
#include "output.h"

static const arg_spec trigger_specs[] = {
    {"input", 'i', ARG_REPEAT, "K=V", "input"},
    {"start-delay", 0, ARG_VALUE, "MS", "delay"},
    {"wait", 'w', ARG_FLAG, NULL, "wait"},
    {NULL, 0, ARG_FLAG, NULL, NULL},
};

static int parse(char **argv, int argc, parsed_args *out, char *err)
{
    return args_parse(argc, argv, trigger_specs, out, err, 256);
}

static void mixes_global_and_command_options(void **state)
{
    (void)state;
    char *argv[] = {"g", "--json", "-i", "a=1", "--input=b=2", "-ic=3", "-nns1", "--wait",
                    "--start-delay", "10", "--", "--not-an-option"};
    parsed_args a;
    char err[256];
    int rc = parse(argv, 12, &a, err);
    if (rc != 0)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(a.positional_count, 2);
    assert_string_equal(a.positional[0], "g");
    assert_string_equal(a.positional[1], "--not-an-option");
    assert_true(args_has(&a, "json"));
    assert_true(args_has(&a, "wait"));
    assert_false(args_has(&a, "help"));
    assert_string_equal(args_value(&a, "namespace"), "ns1");
    assert_string_equal(args_value(&a, "start-delay"), "10");
    assert_string_equal(args_nth_value(&a, "input", 0), "a=1");
    assert_string_equal(args_nth_value(&a, "input", 1), "b=2");
    assert_string_equal(args_nth_value(&a, "input", 2), "c=3");
    assert_null(args_nth_value(&a, "input", 3));
    assert_null(args_value(&a, "uri"));
    args_free(&a);
}

static void last_value_wins(void **state)
{
    (void)state;
    char *argv[] = {"--start-delay", "1", "--start-delay", "2"};
    parsed_args a;
    char err[256];
    assert_int_equal(parse(argv, 4, &a, err), 0);
    assert_string_equal(args_value(&a, "start-delay"), "2");
    args_free(&a);
}

static void rejects_bad_options_by_name(void **state)
{
    (void)state;
    parsed_args a;
    char err[256];
    char *unknown[] = {"g", "--bogus"};
    assert_int_equal(parse(unknown, 2, &a, err), -1);
    assert_non_null(strstr(err, "--bogus"));
    char *unknown_short[] = {"-x"};
    assert_int_equal(parse(unknown_short, 1, &a, err), -1);
    assert_non_null(strstr(err, "-x"));
    char *missing[] = {"g", "--start-delay"};
    assert_int_equal(parse(missing, 2, &a, err), -1);
    assert_non_null(strstr(err, "--start-delay needs a value"));
    char *flag_value[] = {"--wait=yes"};
    assert_int_equal(parse(flag_value, 1, &a, err), -1);
    assert_non_null(strstr(err, "--wait takes no value"));
}

static void finds_global_options(void **state)
{
    (void)state;
    int takes;
    assert_non_null(args_find_global("--json", &takes));
    assert_int_equal(takes, 0);
    assert_non_null(args_find_global("-n", &takes));
    assert_int_equal(takes, 1);
    assert_non_null(args_find_global("--uri=http://x", &takes));
    assert_int_equal(takes, 0);
    assert_null(args_find_global("graph", &takes));
    assert_null(args_find_global("--wait", &takes));
    assert_null(args_find_global("-", &takes));
}

static void checks_numbers(void **state)
{
    (void)state;
    char err[256];
    int64_t v;
    assert_int_equal(args_parse_int("--page", "12", 1, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 12);
    assert_int_equal(args_parse_int("--page", "0", 1, 100, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "--page"));
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(args_parse_int("--page", "1x", 1, 100, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "'1x'"));
    assert_int_equal(args_parse_int("--page", "", 1, 100, &v, err, sizeof err), -1);
    assert_int_equal(args_parse_int("--page", "99999999999999999999", 1, 100, &v, err, sizeof err),
                     -1);
    assert_int_equal(args_parse_seconds("--timeout", "1.5", &v, err, sizeof err), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(args_parse_seconds("--timeout", "0", &v, err, sizeof err), -1);
    assert_int_equal(args_parse_seconds("--timeout", "nan", &v, err, sizeof err), -1);
    assert_int_equal(args_parse_seconds("--timeout", "-3", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "--timeout"));
}

static void splits_pairs(void **state)
{
    (void)state;
    char err[256];
    char *key;
    const char *value;
    assert_int_equal(args_split_pair("--input", "a=b=c", &key, &value, err, sizeof err), 0);
    assert_string_equal(key, "a");
    assert_string_equal(value, "b=c");
    free(key);
    assert_int_equal(args_split_pair("--input", "k=", &key, &value, err, sizeof err), 0);
    assert_string_equal(key, "k");
    assert_string_equal(value, "");
    free(key);
    assert_int_equal(args_split_pair("--store", "=v", &key, &value, err, sizeof err), -1);
    assert_non_null(strstr(err, "--store"));
    assert_int_equal(args_split_pair("--store", "novalue", &key, &value, err, sizeof err), -1);
    assert_non_null(strstr(err, "'novalue'"));
    assert_true(args_is_blank(" \t"));
    assert_false(args_is_blank(" x"));
}

static void aligns_table_columns(void **state)
{
    (void)state;
    static const char *const headers[] = {"NAME", "STATUS"};
    text_table *t = table_new(2, headers);
    assert_non_null(t);
    const char *row1[] = {"a-long-name", "OK"};
    const char *row2[] = {"x\ny", NULL};
    assert_int_equal(table_add_row(t, row1), 0);
    assert_int_equal(table_add_row(t, row2), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    table_print(t, out);
    fclose(out);
    assert_string_equal(buf, "NAME         STATUS\n"
                             "a-long-name  OK\n"
                             "x y          -\n");
    free(buf);
    table_free(t);
}

static void formats_json_cells(void **state)
{
    (void)state;
    json_object *o = json_tokener_parse("{\"s\":\"text\",\"n\":3,\"z\":null,\"l\":[\"a\",\"b\"],"
                                        "\"m\":{\"k\":\"v\",\"j\":\"w\"}}");
    assert_non_null(o);
    assert_string_equal(json_cell(json_member(o, "s")), "text");
    assert_string_equal(json_cell(json_member(o, "n")), "3");
    assert_string_equal(json_cell(json_member(o, "z")), "-");
    assert_string_equal(json_cell(json_member(o, "missing")), "-");
    char buf[64];
    json_join_names(json_member(o, "l"), buf, sizeof buf);
    assert_string_equal(buf, "a, b");
    json_join_names(json_member(o, "m"), buf, sizeof buf);
    assert_string_equal(buf, "k, j");
    json_join_names(json_member(o, "z"), buf, sizeof buf);
    assert_string_equal(buf, "-");
    assert_null(json_get_string(o, "n"));
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixes_global_and_command_options),
        cmocka_unit_test(last_value_wins),
        cmocka_unit_test(rejects_bad_options_by_name),
        cmocka_unit_test(finds_global_options),
        cmocka_unit_test(checks_numbers),
        cmocka_unit_test(splits_pairs),
        cmocka_unit_test(aligns_table_columns),
        cmocka_unit_test(formats_json_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
