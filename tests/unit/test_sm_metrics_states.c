/* The state counters of engine/metrics.h: label pairs are bounded (later pairs
 * count under _other), and counts made inside a transaction wait for its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static const exo_node_counters *find(const exo_metrics *m, const char *ns, const char *node)
{
    size_t used = atomic_load(&m->states->used);
    for (size_t i = 0; i < used; i++)
        if (m->states->slot[i].ns && !strcmp(m->states->slot[i].ns, ns) && !strcmp(m->states->slot[i].node, node))
            return &m->states->slot[i];
    return NULL;
}

static void test_pairs_are_bounded(void **state)
{
    (void)state;
    exo_metrics m;
    exo_metrics_init(&m);
    assert_non_null(m.states);
    char node[32];
    for (int i = 0; i < EXO_METRICS_MAX_NODES + 100; i++) {
        snprintf(node, sizeof node, "N%d", i);
        exo_metrics_state_created(&m, "ns", node);
        exo_metrics_state_created(&m, "ns", node);
    }
    assert_int_equal(atomic_load(&m.states->used), EXO_METRICS_MAX_NODES + 1);
    const exo_node_counters *first = find(&m, "ns", "N0");
    assert_non_null(first);
    assert_int_equal(atomic_load(&first->created), 2);
    assert_null(find(&m, "ns", "N600")); /* past the bound: no label of its own */
    const exo_node_counters *other = find(&m, EXO_METRICS_OTHER, EXO_METRICS_OTHER);
    assert_non_null(other);
    assert_int_equal(atomic_load(&other->created), 200);
    exo_metrics_free(&m);
}

static void test_counts_wait_for_the_commit(void **state)
{
    (void)state;
    exo_metrics m;
    exo_metrics_init(&m);
    exo_metrics_tx_begin();
    exo_metrics_state_finished(&m, "ns", "A", 5);
    exo_metrics_state_finished(&m, "ns", "A", 5);
    const exo_node_counters *a = find(&m, "ns", "A");
    assert_int_equal(atomic_load(&a->finished[5]), 0);
    exo_metrics_tx_discard(); /* the attempt was retried */
    exo_metrics_state_finished(&m, "ns", "A", 5);
    exo_metrics_tx_end(&m, 1);
    assert_int_equal(atomic_load(&a->finished[5]), 1);
    exo_metrics_tx_begin();
    exo_metrics_state_created(&m, "ns", "A");
    exo_metrics_tx_end(&m, 0); /* rolled back */
    assert_int_equal(atomic_load(&a->created), 0);
    exo_metrics_state_created(&m, "ns", "A"); /* outside a transaction: at once */
    assert_int_equal(atomic_load(&a->created), 1);
    exo_metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_are_bounded),
        cmocka_unit_test(test_counts_wait_for_the_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
