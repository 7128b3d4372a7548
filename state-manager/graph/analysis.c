/* Structural analysis of a graph template (exo §0, see graph.h): node index and
 * root, reachability from the root over parent edges, dominators (the ancestor
 * sets) and cycle detection.  validate.c states the rules on top of these;
 * exo_graph_analyze stores the result for a graph loaded from storage. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

/* ------------------------------------------------------------------ index and root */

void graph_analysis_free(analysis *a)
{
    if (a->next)
        for (size_t i = 0; i < a->n; i++)
            free(a->next[i]);
    free(a->next);
    free(a->target);
    free(a->zero);
    free(a->reached);
    free(a->listed);
    free(a->dom);
    memset(a, 0, sizeof *a);
}

/* Indexes, in-degrees and the root (rule R1).  -1 on OOM. */
static int analysis_index(const exo_graph *g, analysis *a)
{
    size_t n = g->node_count;
    a->n = n;
    a->root = -1;
    a->target = calloc(n + 1, sizeof *a->target);
    a->next = calloc(n + 1, sizeof *a->next);
    a->zero = calloc(n + 1, sizeof *a->zero);
    int *indeg = calloc(n + 1, sizeof *indeg);
    if (!a->target || !a->next || !a->zero || !indeg) {
        free(indeg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const exo_node_tpl *node = &g->nodes[i];
        a->target[i] = node->unites ? exo_graph_find(g, node->unites) : -1;
        if (node->unites && a->target[i] < 0)
            a->target[i] = -2;
        if (node->unites)
            indeg[i]++;
        a->next[i] = calloc(node->next_count + 1, sizeof **a->next);
        if (!a->next[i]) {
            free(indeg);
            return -1;
        }
        for (size_t k = 0; k < node->next_count; k++) {
            int m = exo_graph_find(g, node->next_nodes[k]);
            a->next[i][k] = m;
            if (m >= 0)
                indeg[m]++;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            a->zero[a->zero_count++] = (int)i;
    if (a->zero_count == 1)
        a->root = a->zero[0];
    free(indeg);
    return 0;
}

/* ------------------------------------------------------------------ edge lists */

/* Adjacency lists in CSR form: the lists of node v are to[first[v] .. first[v+1]). */
typedef struct csr {
    size_t *first; /* n+1 offsets into to[] */
    int *to;
} csr;

/* Where an edge enumeration goes: counted per node (to == NULL, into slot[from + 1]),
 * then placed (to[slot[from]++]). */
typedef struct csr_sink {
    size_t *slot;
    int *to;
} csr_sink;

static void csr_put(csr_sink *s, int from, int to)
{
    if (s->to)
        s->to[s->slot[from]++] = to;
    else
        s->slot[from + 1]++;
}

static void csr_free(csr *c)
{
    free(c->first);
    free(c->to);
    memset(c, 0, sizeof *c);
}

/* Enumerates edges into a sink, the same ones in the same order on every call.
 * -1 on OOM. */
typedef int (*edge_enum_fn)(const exo_graph *g, const analysis *a, csr_sink *sink);

/* The lists of the edges each_edge enumerates (run twice: count, then place); a
 * node's list keeps the enumeration order.  -1 on OOM (c is then empty). */
static int csr_build(const exo_graph *g, const analysis *a, edge_enum_fn each_edge, csr *c)
{
    size_t n = a->n;
    c->first = calloc(n + 2, sizeof *c->first);
    c->to = NULL;
    size_t *fill = malloc((n + 1) * sizeof *fill);
    csr_sink counter = {c->first, NULL};
    int ok = c->first && fill && each_edge(g, a, &counter) == 0;
    if (ok) {
        for (size_t v = 0; v < n; v++)
            c->first[v + 1] += c->first[v];
        c->to = malloc((c->first[n] + 1) * sizeof *c->to);
        ok = c->to != NULL;
    }
    if (ok) {
        memcpy(fill, c->first, n * sizeof *fill);
        csr_sink placer = {fill, c->to};
        ok = each_edge(g, a, &placer) == 0;
    }
    free(fill);
    if (!ok)
        csr_free(c);
    return ok ? 0 : -1;
}

/* T->U for every uniting node U with an existing target T, by U. */
static int uniting_edges(const exo_graph *g, const analysis *a, csr_sink *sink)
{
    (void)g;
    for (size_t u = 0; u < a->n; u++)
        if (a->target[u] >= 0)
            csr_put(sink, a->target[u], (int)u);
    return 0;
}

/* v->m for every existing m in v.next_nodes (only the m without unites when plain_only). */
static void next_node_edges(const exo_graph *g, const analysis *a, int plain_only, csr_sink *sink)
{
    for (size_t v = 0; v < a->n; v++)
        for (size_t k = 0; k < g->nodes[v].next_count; k++)
            if (a->next[v][k] >= 0 && (!plain_only || a->target[a->next[v][k]] == -1))
                csr_put(sink, (int)v, a->next[v][k]);
}

/* Parent edges as children lists: p->m for a plain m in p.next_nodes, T->U. */
static int parent_edges_down(const exo_graph *g, const analysis *a, csr_sink *sink)
{
    next_node_edges(g, a, 1, sink);
    return uniting_edges(g, a, sink);
}

/* Parent edges as predecessor lists: for a plain node m every reached p with m in
 * p.next_nodes; for a uniting node its target. */
static int parent_edges_up(const exo_graph *g, const analysis *a, csr_sink *sink)
{
    size_t n = a->n;
    int *last_pred = malloc((n + 1) * sizeof *last_pred); /* an edge p->m listed twice counts once */
    if (!last_pred)
        return -1;
    for (size_t m = 0; m < n; m++)
        last_pred[m] = -1;
    for (size_t p = 0; p < n; p++)
        for (size_t k = 0; a->reached[p] && k < g->nodes[p].next_count; k++) {
            int m = a->next[p][k];
            if (m >= 0 && a->target[m] == -1 && last_pred[m] != (int)p) {
                last_pred[m] = (int)p;
                csr_put(sink, m, (int)p);
            }
        }
    free(last_pred);
    for (size_t m = 0; m < n; m++)
        if (a->target[m] >= 0)
            csr_put(sink, (int)m, a->target[m]);
    return 0;
}

/* Successor lists over real edges plus T->U edges (the cycle rule's graph). */
static int successor_edges(const exo_graph *g, const analysis *a, csr_sink *sink)
{
    next_node_edges(g, a, 0, sink);
    return uniting_edges(g, a, sink);
}

/* ------------------------------------------------------------------ reachability, dominators */

/* The worklist of analysis_reach, O(n + E): a uniting node is reached when its
 * target is reached and a reached node lists it, whichever happens last. */
static void reach_from_root(const exo_graph *g, analysis *a, const csr *by_target, int *queue)
{
    size_t head = 0, tail = 0;
    a->reached[a->root] = 1;
    queue[tail++] = a->root;
    while (head < tail) {
        size_t v = (size_t)queue[head++];
        for (size_t k = 0; k < g->nodes[v].next_count; k++) {
            int m = a->next[v][k];
            if (m < 0 || a->reached[m])
                continue;
            if (g->nodes[m].unites) {
                a->listed[m] = 1;
                if (a->target[m] < 0 || !a->reached[a->target[m]])
                    continue;
            }
            a->reached[m] = 1;
            queue[tail++] = m;
        }
        for (size_t k = by_target->first[v]; k < by_target->first[v + 1]; k++) {
            int u = by_target->to[k];
            if (a->listed[u] && !a->reached[u]) {
                a->reached[u] = 1;
                queue[tail++] = u;
            }
        }
    }
}

/* Reachability from the root over parent edges (A->m for plain m; T->U for a uniting
 * U, active once a reached node lists U). */
static int analysis_reach(const exo_graph *g, analysis *a)
{
    size_t n = a->n;
    a->reached = calloc(n + 1, 1);
    a->listed = calloc(n + 1, 1);
    if (!a->reached || !a->listed)
        return -1;
    if (a->root < 0)
        return 0;
    csr by_target = {0};
    int *queue = malloc((n + 1) * sizeof *queue);
    int ok = queue && csr_build(g, a, uniting_edges, &by_target) == 0;
    if (ok)
        reach_from_root(g, a, &by_target, queue);
    csr_free(&by_target);
    free(queue);
    return ok ? 0 : -1;
}

/* Reached nodes in reverse postorder of a depth-first walk from the root over parent
 * edges (reached nodes the walk misses, if any, follow).  order has n entries; *count set. */
static int reverse_postorder(const exo_graph *g, const analysis *a, int *order, size_t *count)
{
    size_t n = a->n, top = 0, done = 0;
    /* children of a uniting node's target include the uniting node */
    csr children = {0};
    int *stack = malloc((n + 1) * sizeof *stack);
    size_t *cursor = calloc(n + 1, sizeof *cursor);
    unsigned char *seen = calloc(n + 1, 1);
    int *post = malloc((n + 1) * sizeof *post);
    int ok = stack && cursor && seen && post && csr_build(g, a, parent_edges_down, &children) == 0;
    if (ok) {
        memcpy(cursor, children.first, n * sizeof *cursor); /* next child to visit */
        if (a->root >= 0) {
            stack[top++] = a->root;
            seen[a->root] = 1;
        }
        while (top > 0) {
            int v = stack[top - 1];
            if (cursor[v] < children.first[v + 1]) {
                int c = children.to[cursor[v]++];
                if (!seen[c] && a->reached[c]) {
                    seen[c] = 1;
                    stack[top++] = c;
                }
                continue;
            }
            post[done++] = v;
            top--;
        }
        size_t k = 0;
        for (size_t i = done; i > 0; i--)
            order[k++] = post[i - 1];
        for (size_t m = 0; m < n; m++)
            if (a->reached[m] && !seen[m])
                order[k++] = (int)m;
        *count = k;
    }
    csr_free(&children);
    free(stack);
    free(cursor);
    free(seen);
    free(post);
    return ok ? 0 : -1;
}

/* The fixpoint of analysis_dominators; reached is the bitset of reached nodes,
 * tmp a scratch row. */
static void dominators_fixpoint(analysis *a, const csr *preds, const int *order, size_t count,
                                const uint64_t *reached, uint64_t *tmp)
{
    size_t n = a->n, w = a->words;
    for (size_t m = 0; m < n; m++) {
        if (!a->reached[m])
            continue;
        if ((int)m == a->root)
            a->dom[m * w + m / 64] = (uint64_t)1 << (m % 64);
        else
            memcpy(a->dom + m * w, reached, w * sizeof *reached);
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < count; i++) {
            size_t m = (size_t)order[i];
            if ((int)m == a->root)
                continue;
            memset(tmp, 0xff, w * sizeof *tmp);
            for (size_t k = preds->first[m]; k < preds->first[m + 1]; k++) {
                const uint64_t *row = a->dom + (size_t)preds->to[k] * w;
                for (size_t x = 0; x < w; x++)
                    tmp[x] &= row[x];
            }
            for (size_t x = 0; x < w; x++) /* keep the bits past n clear */
                tmp[x] &= reached[x];
            tmp[m / 64] |= (uint64_t)1 << (m % 64);
            if (memcmp(tmp, a->dom + m * w, w * sizeof *tmp) != 0) {
                memcpy(a->dom + m * w, tmp, w * sizeof *tmp);
                changed = 1;
            }
        }
    }
}

/* Dominators over parent edges, iterated to a fixpoint (order independent result).
 * Visiting nodes in reverse postorder with predecessor lists makes an acyclic graph
 * converge in one pass (plus one to confirm): O(n * (n + E)), not O(n^2 * E). */
static int analysis_dominators(const exo_graph *g, analysis *a)
{
    size_t n = a->n, count = 0, w = (n + 63) / 64;
    a->words = w;
    a->dom = calloc(n * w + 1, sizeof *a->dom);
    uint64_t *tmp = malloc((w + 1) * sizeof *tmp), *reached = calloc(w + 1, sizeof *reached);
    int *order = malloc((n + 1) * sizeof *order);
    csr preds = {0};
    int ok = a->dom && tmp && reached && order && csr_build(g, a, parent_edges_up, &preds) == 0 &&
             reverse_postorder(g, a, order, &count) == 0;
    if (ok) {
        for (size_t x = 0; x < n; x++)
            if (a->reached[x])
                reached[x / 64] |= (uint64_t)1 << (x % 64);
        dominators_fixpoint(a, &preds, order, count, reached, tmp);
    }
    free(tmp);
    free(reached);
    free(order);
    csr_free(&preds);
    return ok ? 0 : -1;
}

int graph_analysis_run(const exo_graph *g, analysis *a)
{
    memset(a, 0, sizeof *a);
    if (analysis_index(g, a) != 0 || analysis_reach(g, a) != 0 || analysis_dominators(g, a) != 0) {
        graph_analysis_free(a);
        return -1;
    }
    return 0;
}

int graph_is_strict_ancestor(const analysis *a, int node, int anc)
{
    return node != anc && a->reached[node] &&
           ((a->dom[(size_t)node * a->words + (size_t)anc / 64] >> ((size_t)anc % 64)) & 1);
}

int graph_store_analysis(exo_graph *g, const analysis *a)
{
    size_t n = a->n;
    /* a bitset: graphs stay cached per version (engine.c), so n*n bytes would add up */
    unsigned char *anc = calloc((n * n + 7) / 8 + 1, 1);
    if (!anc)
        return -1;
    for (size_t m = 0; m < n; m++)
        for (size_t x = 0; x < n; x++)
            if (graph_is_strict_ancestor(a, (int)m, (int)x))
                anc[(m * n + x) / 8] |= (unsigned char)(1u << ((m * n + x) % 8));
    free(g->ancestors);
    g->ancestors = anc;
    g->root = a->root;
    return 0;
}

int exo_graph_analyze(exo_graph *g)
{
    analysis a;
    if (graph_analysis_run(g, &a) != 0)
        return -1;
    int rc = a.root >= 0 && graph_store_analysis(g, &a) == 0 ? 0 : -1;
    graph_analysis_free(&a);
    return rc;
}

/* ------------------------------------------------------------------ cycles */

/* Marks on_cycle[v] for every node on a cycle (a self-edge or a strongly connected
 * component of two or more nodes): iterative Tarjan, O(n + E). */
static int mark_cycles(const csr *e, size_t n, unsigned char *on_cycle)
{
    int *index = malloc((n + 1) * sizeof *index), *low = malloc((n + 1) * sizeof *low);
    int *stack = malloc((n + 1) * sizeof *stack), *call = malloc((n + 1) * sizeof *call);
    size_t *cursor = malloc((n + 1) * sizeof *cursor);
    unsigned char *on_stack = calloc(n + 1, 1);
    int ok = index && low && stack && call && cursor && on_stack;
    size_t top = 0, depth = 0;
    int next_index = 0;
    for (size_t v = 0; ok && v < n; v++)
        index[v] = -1;
    for (size_t root = 0; ok && root < n; root++) {
        if (index[root] >= 0)
            continue;
        call[depth++] = (int)root;
        index[root] = low[root] = next_index++;
        cursor[root] = e->first[root];
        stack[top++] = (int)root;
        on_stack[root] = 1;
        while (depth > 0) {
            size_t v = (size_t)call[depth - 1];
            if (cursor[v] < e->first[v + 1]) {
                size_t w = (size_t)e->to[cursor[v]++];
                if (w == v)
                    on_cycle[v] = 1;
                if (index[w] < 0) {
                    index[w] = low[w] = next_index++;
                    cursor[w] = e->first[w];
                    stack[top++] = (int)w;
                    on_stack[w] = 1;
                    call[depth++] = (int)w;
                } else if (on_stack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            depth--;
            if (depth > 0 && low[v] < low[call[depth - 1]])
                low[call[depth - 1]] = low[v];
            if (low[v] != index[v])
                continue;
            size_t size = 0, start = top;
            do {
                start--;
                size++;
            } while ((size_t)stack[start] != v);
            for (size_t k = start; k < top; k++) {
                on_stack[stack[k]] = 0;
                if (size > 1)
                    on_cycle[stack[k]] = 1;
            }
            top = start;
        }
    }
    free(index);
    free(low);
    free(stack);
    free(call);
    free(cursor);
    free(on_stack);
    return ok ? 0 : -1;
}

int graph_find_cycles(const exo_graph *g, const analysis *a, unsigned char *on_cycle)
{
    csr successors = {0};
    int ok = csr_build(g, a, successor_edges, &successors) == 0 && mark_cycles(&successors, a->n, on_cycle) == 0;
    csr_free(&successors);
    return ok ? 0 : -1;
}
