/* Private to the graph layer (state-manager/graph/): helpers shared between its
 * files, not part of the layer's contract (graph.h).  Nothing outside graph/ may
 * include this header. */
#ifndef EXO_SM_GRAPH_INTERNAL_H
#define EXO_SM_GRAPH_INTERNAL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "reqcheck.h"

/* ------------------------------------------------------------------ strvec.c */

/* A growable list of owned strings; remembers allocation failure. */
typedef struct strvec {
    char **items;
    size_t count, cap;
    int oom;
} strvec;

/* Appends owned (taken over; NULL marks the list oom). */
void strvec_push(strvec *v, char *owned);
void strvec_pushf(strvec *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strvec_contains(const strvec *v, const char *s);
/* The items joined by sep; malloc'd, NULL on OOM. */
char *strvec_join(const strvec *v, const char *sep);
/* Frees the items and leaves v empty (reusable). */
void strvec_free(strvec *v);
/* 1 when one of items[0..count) equals s. */
int graph_strings_contain(char *const *items, size_t count, const char *s);

/* ------------------------------------------------------------------ parse.c */

/* pydantic's "model_type" error for a nested model given something that is not an
 * object (also used by retry.c for the retry policy). */
void graph_add_model_type_error(exo_reqcheck *rc, const char *loc, const char *class_name, json_object *input);
/* pydantic's "enum" error; expected is the member list as the message shows it
 * ("'A' or 'B'"), at most 512 characters. */
void graph_add_enum_error(exo_reqcheck *rc, const char *loc, const char *expected, json_object *input);

/* ------------------------------------------------------------------ graph.c */

/* Deep copy (json-c >= 0.13); NULL input gives NULL. */
json_object *graph_json_copy(json_object *src);
/* New JSON array of copies of items[0..count). */
json_object *graph_string_array(char *const *items, size_t count);
/* Builds g->ident_order for exo_graph_find.  -1 on OOM. */
int graph_build_ident_index(exo_graph *g);
/* store_config: key has a default value / key is in required_keys. */
int graph_has_default(const exo_graph *g, const char *key);
int graph_is_required(const exo_graph *g, const char *key);

/* ------------------------------------------------------------------ analysis.c */

/* Structure of a graph whose identifiers are unique and whose next_nodes exist. */
typedef struct analysis {
    size_t n;
    int *target;             /* unites target index, -1 none, -2 target missing */
    int **next;              /* next[i][k]: index of nodes[i].next_nodes[k] */
    int root;                /* -1 unless exactly one node has in-degree 0 */
    size_t zero_count;
    int *zero;               /* nodes with in-degree 0 */
    unsigned char *reached;  /* reachable from the root over parent edges */
    unsigned char *listed;   /* uniting node listed by a reached node */
    uint64_t *dom;           /* n rows of words bits: bit a of row m = a on every root path to m
                                (a == m included) */
    size_t words;            /* 64-bit words per dom row */
} analysis;

/* Fills a (index, root, reachability, dominators).  -1 on OOM (a is then freed). */
int graph_analysis_run(const exo_graph *g, analysis *a);
void graph_analysis_free(analysis *a);
/* 1 when anc lies on every root path to node (node != anc, node reached). */
int graph_is_strict_ancestor(const analysis *a, int node, int anc);
/* Stores root and ancestor matrix from a into g.  -1 on OOM. */
int graph_store_analysis(exo_graph *g, const analysis *a);
/* Sets on_cycle[v] (n entries, zeroed by the caller) for every node on a cycle over
 * next_nodes edges plus target->uniting node edges.  -1 on OOM. */
int graph_find_cycles(const exo_graph *g, const analysis *a, unsigned char *on_cycle);

#endif
