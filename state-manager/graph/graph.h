/* The graph layer of the state manager (state-manager/graph/): graph templates
 * (spec §2.3, §3.2, §5) — the in-memory model, its parsing from a PUT body (422
 * field rules through reqcheck) and from the stored form, JSON serialisation,
 * the synchronous graph-level validation of §5.1 with exo's section-0 changes,
 * ancestor sets, and the background verification of §5.2.  Placeholders, retry
 * policies and cron expressions have their own headers (template.h, retry.h,
 * cron.h).
 *
 * Contract:
 *  - Pure: no HTTP, no database, no files.  Registered nodes reach the
 *    verification through a caller-supplied lookup (exo_registered_lookup_fn);
 *    the only outside input is the jitter of retry delays (OpenSSL's RNG).
 *  - Thread-safety: no global state; functions are safe on distinct graphs from
 *    any thread, and a parsed graph is read-only (safe to share) for every
 *    function taking a const exo_graph *.  validate/analyze write the analysis
 *    fields, so they need the graph to themselves.
 *  - Ownership: a returned exo_graph * belongs to the caller (exo_graph_free);
 *    a returned json_object * is a new reference (json_object_put); a returned
 *    char * is malloc'd (free).  Arguments are borrowed and never retained.
 *
 * Ancestors (exo §0): over the "parent edges" A->m for every m in A.next_nodes
 * that has no unites, and T->U for every uniting node U (unites target T; the
 * nodes that list U do not count as its parents), X is an ancestor of N iff X
 * lies on every path from the root to N (strict dominator).  Independent of
 * next_nodes order.  A uniting node is reachable (connected) only when its target
 * is reachable and some reachable node lists it in next_nodes. */
#ifndef EXO_SM_GRAPH_H
#define EXO_SM_GRAPH_H

#include <json-c/json.h>
#include <stddef.h>

#include "reqcheck.h"
#include "retry.h"

/* Largest accepted graph (422 beyond): validation needs node_count^2 bytes transiently
 * (100 MB at the cap) and a cached version node_count^2 bits. */
#define EXO_GRAPH_MAX_NODES 10000
/* Largest sum of next_nodes lengths (422 beyond): with the node cap, bounds the
 * upsert's validation and the first trigger's load of a version (measured in
 * docs/dev/HARDENING.md). */
#define EXO_GRAPH_MAX_EDGES 100000

typedef enum exo_unites_strategy { EXO_UNITES_ALL_SUCCESS, EXO_UNITES_ALL_DONE } exo_unites_strategy;

typedef struct exo_node_tpl {
    char *node_name;        /* trimmed, non-empty */
    char *namespace_name;   /* as given */
    char *identifier;       /* trimmed, non-empty, not "store" */
    json_object *inputs;    /* owned object; values should be strings (checked in §5.1 B4) */
    char **next_nodes;      /* trimmed identifiers; count may be 0 (null / omitted => []) */
    size_t next_count;
    char *unites;           /* unites target identifier (trimmed), NULL when none */
    exo_unites_strategy unites_strategy;
} exo_node_tpl;

typedef struct exo_graph {
    exo_node_tpl *nodes;
    size_t node_count;
    json_object *secrets;         /* owned object name -> string (plain text from a PUT
                                     body, ciphertext in the stored form) */
    exo_retry_policy retry_policy;
    char **required_keys;         /* store_config.required_keys, trimmed, unique */
    size_t required_count;
    json_object *default_values;  /* owned object key(trimmed) -> string */
    json_object *triggers;        /* owned array [{"type":"CRON","value":{...,"expression":..}}] */
    /* Analysis (filled by exo_graph_validate / exo_graph_analyze): */
    int root;                     /* index of the root node, -1 when unknown */
    int *ident_order;             /* node indices sorted by (identifier, index), for exo_graph_find */
    unsigned char *ancestors;     /* bitset of node_count*node_count bits: bit n*node_count+a = a is an
                                     ancestor of n (read it through exo_graph_is_ancestor) */
} exo_graph;

/* Parses a PUT /graph body (loc prefix "body").  Records every field-level problem
 * in rc (§2.3.1-§2.3.4, triggers with the cron check, required "secrets"/"nodes";
 * a non-object body gives one "model_attributes_type" error at ["body"]).
 * Returns the graph when rc recorded nothing new, else NULL (also NULL on OOM,
 * with an error of type "internal", msg "Out of memory", or rc->oom set).
 * Node inputs are deep-copied; the body is not retained. */
exo_graph *exo_graph_from_body(json_object *body, exo_reqcheck *rc);
/* Loads the stored form (exo_graph_to_json(g, 1)).  NULL with *err (malloc'd) on failure. */
exo_graph *exo_graph_from_stored(json_object *stored, char **err);
void exo_graph_free(exo_graph *g);

/* Serialises: {"nodes":[...],"secrets":{...},"retry_policy":{...},"store_config":{...},"triggers":[...]}.
 * full = 0: secrets map name -> true (the §3.2/§3.3 response shape);
 * full = 1: secret values as held (for storage / the §3.14 list).  New object. */
json_object *exo_graph_to_json(const exo_graph *g, int full);
/* The normalised node list alone (each node with next_nodes [] and unites null/{..}). */
json_object *exo_graph_nodes_to_json(const exo_graph *g);

/* Synchronous validation (§5.1, groups A then B, exo §0 rules).  name/ns: graph
 * name and namespace (trimmed here).  Returns NULL when valid (and fills the
 * analysis fields), or the malloc'd pydantic-style diagnostic
 *   "N validation error(s) for GraphTemplate\n..."  containing each failing
 * rule's message verbatim.  The server answers 400 with
 *   "Error validating graph template: " + diagnostic.
 * Order: A1 name, A2 namespace, A3 unique identifiers (then A4 next_nodes exist);
 * then B1 unites targets, B2 root / disconnected / connected, B3 acyclic,
 * B3b (exo) unites target strictly ancestor of every node listing the uniting
 * node, B4 input dependencies; finally A5 "Secrets cannot be empty" (evaluated
 * last, as on create in the reference).  Out of memory => "Out of memory". */
char *exo_graph_validate(exo_graph *g, const char *name, const char *ns);
/* Same, for replacing an existing graph (is_update = 1): A5 is then evaluated
 * with A1-A4 (reported after them) and a failure stops group B, as in the
 * reference, whose update path validates the secrets field with the others. */
char *exo_graph_validate_ex(exo_graph *g, const char *name, const char *ns, int is_update);

/* Computes root + ancestors for an already validated graph (e.g. loaded from
 * storage).  0 ok, -1 when the graph has no valid root / OOM. */
int exo_graph_analyze(exo_graph *g);

/* Index of the node with that identifier, or -1. */
int exo_graph_find(const exo_graph *g, const char *identifier);
/* Root node index (after validate/analyze), or -1. */
int exo_graph_root(const exo_graph *g);
/* 1 when node index anc is an ancestor of node index node (after analyze). */
int exo_graph_is_ancestor(const exo_graph *g, int node, int anc);
/* JSON array of the ancestor identifiers of node (in node order).  New object. */
json_object *exo_graph_ancestors_json(const exo_graph *g, int node);
/* Distinct CRON expressions of the triggers, in order.  New array of strings. */
json_object *exo_graph_cron_expressions(const exo_graph *g);
/* 1 when key is in required_keys and has no default value (must be given at trigger). */
int exo_graph_store_key_mandatory(const exo_graph *g, const char *key);
/* 1 when the graph reads store key `key`: a required key, a default, or a
 * `${{ store.key }}` placeholder in some node's inputs (a trigger's other keys are
 * stored but nothing reads them). */
int exo_graph_uses_store_key(const exo_graph *g, const char *key);

/* Registered-node source for §5.2: return a NEW reference to
 * {"inputs_schema":{..},"outputs_schema":{..},"secrets":[..]} for (name, ns),
 * or NULL when no such node is registered. */
typedef json_object *(*exo_registered_lookup_fn)(void *ud, const char *node_name,
                                                 const char *namespace_name);

/* Background verification (§5.2) plus exo's cron rule (a graph with a CRON trigger
 * and a required store key without default is INVALID: "Store key 'k' is required
 * but has no default value, so cron trigger runs cannot start").
 * Returns a new JSON array of error strings: empty => VALID.  An unexpected
 * failure yields the single error "Validation failed due to unexpected error: <text>".
 * NULL only on allocation failure. */
json_object *exo_graph_verify(const exo_graph *g, exo_registered_lookup_fn lookup, void *ud);

/* §5.2 "string type" rule for one JSON-schema property: 1 string, 0 not a string,
 * -1 unexpected (no "type": *err_text set to static "'type'"). */
int exo_schema_is_string(json_object *prop, const char **err_text);

#endif
