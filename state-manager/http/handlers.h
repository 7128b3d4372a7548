/* Endpoint handlers (one per route of spec §3, plus exo's lease extension). */
#ifndef EXO_SM_HANDLERS_H
#define EXO_SM_HANDLERS_H

#include "http.h"

void h_health(exo_req *req, exo_resp *resp);
/* handlers_graph.c */
void h_graph_put(exo_req *req, exo_resp *resp);
void h_graph_get(exo_req *req, exo_resp *resp);
void h_graphs_list(exo_req *req, exo_resp *resp);
void h_trigger(exo_req *req, exo_resp *resp);
/* handlers_nodes.c */
void h_nodes_put(exo_req *req, exo_resp *resp);
void h_nodes_list(exo_req *req, exo_resp *resp);
void h_namespaces(exo_req *req, exo_resp *resp);
/* handlers_states.c */
void h_enqueue(exo_req *req, exo_resp *resp);
void h_lease(exo_req *req, exo_resp *resp);
void h_executed(exo_req *req, exo_resp *resp);
void h_errored(exo_req *req, exo_resp *resp);
void h_prune(exo_req *req, exo_resp *resp);
void h_reenqueue(exo_req *req, exo_resp *resp);
void h_manual_retry(exo_req *req, exo_resp *resp);
void h_secrets(exo_req *req, exo_resp *resp);
/* handlers_runs.c */
void h_runs(exo_req *req, exo_resp *resp);
void h_run_graph(exo_req *req, exo_resp *resp);
void h_node_details(exo_req *req, exo_resp *resp);

#endif
