/* The precise outcome texts of a state's process (run.c), from exit status, result
 * and the host's own kills, without starting processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

static host_node node;

static int setup(void **state)
{
    (void)state;
    exo_node_def def = {EXO_ABI_VERSION, sizeof(exo_node_def), "N", EXO_INPUTS(),
                        EXO_OUTPUTS("text"), EXO_SECRETS()};
    char err[256];
    return host_node_from_def(&def, "n.so", &node, err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    host_node_free(&node);
    return 0;
}

static host_run make_run(int wait_status, const char *result)
{
    host_run r;
    memset(&r, 0, sizeof r);
    host_sandbox_defaults(&r.sb);
    r.sb.timeout_ms = 30000;
    r.exited = true;
    r.status = wait_status;
    r.result_fd = r.output_fd = -1;
    if (result) {
        r.result = strdup(result);
        r.result_len = strlen(result);
    }
    return r;
}

#define EXITED(code) ((code) << 8)
#define SIGNALED(sig) (sig)

static void expect(host_run r, host_report_kind kind, const char *json_body)
{
    host_outcome out;
    host_run_outcome(&r, &node, &out);
    free(r.result);
    assert_int_equal(out.kind, kind);
    json_object *want = json_tokener_parse(json_body);
    if (!json_object_equal(out.body, want))
        fail_msg("got %s want %s", json_object_to_json_string(out.body), json_body);
    json_object_put(want);
    json_object_put(out.body);
}

static void test_host_kills(void **state)
{
    (void)state;
    host_run r = make_run(SIGNALED(SIGKILL), NULL);
    r.timed_out = true;
    expect(r, HOST_REPORT_ERRORED, "{\"error\": \"timed out after 30000 ms\"}");
    r = make_run(SIGNALED(SIGKILL), NULL);
    r.output_exceeded = true;
    expect(r, HOST_REPORT_ERRORED, "{\"error\": \"output larger than 1 MiB\"}");
    r = make_run(SIGNALED(SIGKILL), NULL);
    r.output_exceeded = true;
    r.sb.output_kb = 512;
    expect(r, HOST_REPORT_ERRORED, "{\"error\": \"output larger than 512 KiB\"}");
    r = make_run(SIGNALED(SIGKILL), NULL);
    r.killed_by_host = true;
    host_outcome out;
    host_run_outcome(&r, &node, &out);
    assert_non_null(strstr(json_object_get_string(json_object_object_get(out.body, "error")),
                           "grace period"));
    json_object_put(out.body);
}

static void test_signals_and_limits(void **state)
{
    (void)state;
    expect(make_run(SIGNALED(SIGSEGV), NULL), HOST_REPORT_ERRORED, "{\"error\": \"killed by SIGSEGV\"}");
    expect(make_run(SIGNALED(SIGABRT), NULL), HOST_REPORT_ERRORED, "{\"error\": \"killed by SIGABRT\"}");
    expect(make_run(SIGNALED(SIGXCPU), NULL), HOST_REPORT_ERRORED,
           "{\"error\": \"CPU time limit 60 s exceeded\"}");
    host_run r = make_run(SIGNALED(SIGKILL), NULL);
    r.ru.ru_utime.tv_sec = 61; /* the hard CPU limit's SIGKILL */
    expect(r, HOST_REPORT_ERRORED, "{\"error\": \"CPU time limit 60 s exceeded\"}");
    expect(make_run(SIGNALED(SIGSEGV), "{\"kind\":\"memory\"}"), HOST_REPORT_ERRORED,
           "{\"error\": \"memory limit 256 MiB exceeded\"}");
    expect(make_run(EXITED(0), "{\"kind\":\"blocked\",\"syscall\":\"socket\"}"), HOST_REPORT_ERRORED,
           "{\"error\": \"blocked system call: socket\"}");
    expect(make_run(EXITED(3), NULL), HOST_REPORT_ERRORED, "{\"error\": \"exited without a result\"}");
    expect(make_run(EXITED(0), "{\"kind\":\"outp"), HOST_REPORT_ERRORED,
           "{\"error\": \"the node sent an unreadable result\"}");
    /* A result followed by a crash (e.g. in a destructor) does not count. */
    expect(make_run(SIGNALED(SIGSEGV), "{\"kind\":\"outputs\",\"outputs\":[{\"text\":\"x\"}]}"),
           HOST_REPORT_ERRORED, "{\"error\": \"killed by SIGSEGV\"}");
}

/* The fork server read the state's refused call and killed it (seccomp user
 * notification): the call's name wins over the SIGKILL and over whatever the node
 * wrote before. */
static void test_blocked_by_the_fork_server(void **state)
{
    (void)state;
    host_run r = make_run(SIGNALED(SIGKILL), NULL);
    snprintf(r.blocked, sizeof r.blocked, "io_uring_setup");
    expect(r, HOST_REPORT_ERRORED, "{\"error\": \"blocked system call: io_uring_setup\"}");
    r = make_run(SIGNALED(SIGKILL), "{\"kind\":\"outputs\",\"outputs\":[{\"text\":\"x\"}]}");
    snprintf(r.blocked, sizeof r.blocked, "getpid (x32 ABI)");
    expect(r, HOST_REPORT_ERRORED, "{\"error\": \"blocked system call: getpid (x32 ABI)\"}");
    /* Without a name (refusals trap), an exec'd program's SIGSYS stays unnamed. */
    expect(make_run(SIGNALED(SIGSYS), NULL), HOST_REPORT_ERRORED,
           "{\"error\": \"blocked system call in a program the node executed (killed by "
           "SIGSYS)\"}");
}

static void test_results(void **state)
{
    (void)state;
    expect(make_run(EXITED(0), "{\"kind\":\"outputs\",\"outputs\":[{\"text\":\"a\",\"junk\":\"x\"}],"
                               "\"store\":{\"k\":\"v\"}}"),
           HOST_REPORT_EXECUTED, "{\"outputs\": [{\"text\": \"a\"}], \"store\": {\"k\": \"v\"}}");
    expect(make_run(EXITED(0), "{\"kind\":\"outputs\",\"outputs\":[{}]}"), HOST_REPORT_ERRORED,
           "{\"error\": \"output 'text' is required\"}");
    expect(make_run(EXITED(0), "{\"kind\":\"outputs\",\"outputs\":[{\"text\":\"a\"}],\"store\":{\"a.b\":\"v\"}}"),
           HOST_REPORT_ERRORED, "{\"error\": \"store key 'a.b' is empty or contains '.'\"}");
    expect(make_run(EXITED(0), "{\"kind\":\"prune\",\"data\":{\"why\":[1,2]}}"), HOST_REPORT_PRUNE,
           "{\"data\": {\"why\": [1, 2]}}");
    expect(make_run(EXITED(0), "{\"kind\":\"requeue\",\"delay_ms\":1500}"), HOST_REPORT_REQUEUE,
           "{\"enqueue_after\": 1500}");
    expect(make_run(EXITED(0), "{\"kind\":\"requeue\",\"delay_ms\":0}"), HOST_REPORT_ERRORED,
           "{\"error\": \"Delay must be greater than 0\"}");
    expect(make_run(EXITED(0), "{\"kind\":\"error\",\"error\":\"boom\"}"), HOST_REPORT_ERRORED,
           "{\"error\": \"boom\"}");
    expect(make_run(EXITED(0), "{\"kind\":\"error\",\"error\":\"\"}"), HOST_REPORT_ERRORED,
           "{\"error\": \"the node failed without a message\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_kills),
        cmocka_unit_test(test_signals_and_limits),
        cmocka_unit_test(test_blocked_by_the_fork_server),
        cmocka_unit_test(test_results),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
