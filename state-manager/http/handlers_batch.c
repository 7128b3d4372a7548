/* Batched worker calls (extension, docs/dev/API-EXTENSIONS.md): one
 * POST states/report carries several reports (executed, errored, prune,
 * re-enqueue-after) and, optionally, a claim of the next states, so that a busy
 * worker pays one round trip where it paid one per state plus one per claim.
 *
 * Each report is answered on its own, exactly as its single endpoint would answer
 * it (same validation, same engine call, same status and body): the report is run
 * through that endpoint's handler with the item's body and state id, and its
 * answer is copied into the per-item result.  A report that fails does not affect
 * the others; the claim runs after every report (so it can claim the states those
 * reports just created) and never long-polls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

#define REPORTS_CAP 1000

typedef struct report_kind {
    const char *name;
    exo_handler handler;
} report_kind;

static const report_kind kinds[] = {
    {"executed", h_executed},
    {"errored", h_errored},
    {"prune", h_prune},
    {"re-enqueue-after", h_reenqueue},
};

static exo_handler handler_of(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(kinds[i].name, kind) == 0)
            return kinds[i].handler;
    return NULL;
}

/* {"status": N, "body": ...}: a sub-request's answer (or a detail of our own). */
static json_object *item_answer(int status, json_object *body)
{
    json_object *o = json_object_new_object();
    if (!body) { /* a handler that ran out of memory leaves the body empty */
        body = json_object_new_object();
        json_object_object_add(body, "detail", json_object_new_string("internal server error"));
    }
    json_object_object_add(o, "status", json_object_new_int(status));
    json_object_object_add(o, "body", body);
    return o;
}

static json_object *item_detail(int status, const char *fmt, const char *arg)
{
    char text[256];
    snprintf(text, sizeof text, fmt, arg);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "detail", json_object_new_string(text));
    return item_answer(status, body);
}

/* Runs handler as if body had been POSTed to its endpoint (state_id: the path's
 * state, NULL for a namespace-level endpoint); returns its answer. */
static json_object *run_as_endpoint(exo_req *req, exo_handler handler, const char *state_id,
                                    json_object *body)
{
    exo_req sub = *req;
    sub.body = body;
    sub.body_raw = 0;
    sub.raw = NULL;
    sub.raw_len = 0;
    sub.params[1] = state_id;
    sub.nparams = state_id ? 2 : 1;
    exo_resp r;
    memset(&r, 0, sizeof r);
    handler(&sub, &r);
    if (r.park) { /* not expected: the claim's wait_ms was removed */
        r.park->free(r.park);
        r.park = NULL;
        exo_resp_500(&r);
    }
    int status = r.status ? r.status : 500;
    json_object *answer = item_answer(status, json_object_get(r.body));
    exo_resp_free(&r);
    return answer;
}

/* One report {"state_id": ..., "kind": ..., "body": {...}}: its result. */
static json_object *one_report(exo_req *req, json_object *item, size_t i)
{
    char where[64];
    snprintf(where, sizeof where, "reports[%zu]", i);
    if (!json_object_is_type(item, json_type_object))
        return item_detail(422, "%s is not an object", where);
    json_object *id = json_object_object_get(item, "state_id");
    json_object *kind = json_object_object_get(item, "kind");
    json_object *body = json_object_object_get(item, "body");
    if (!json_object_is_type(id, json_type_string) || json_object_get_string_len(id) == 0)
        return item_detail(422, "%s: state_id must be a non-empty string", where);
    if (!json_object_is_type(kind, json_type_string))
        return item_detail(422, "%s: kind must be a string: executed, errored, prune or re-enqueue-after",
                           where);
    exo_handler handler = handler_of(json_object_get_string(kind));
    if (!handler)
        return item_detail(422, "%s: unknown kind (executed, errored, prune or re-enqueue-after)", where);
    if (!json_object_is_type(body, json_type_object))
        return item_detail(422, "%s: body must be an object (the body of the single call)", where);
    return run_as_endpoint(req, handler, json_object_get_string(id), body);
}

/* The claim: an enqueue body, answered without waiting (wait_ms is ignored). */
static json_object *bundled_claim(exo_req *req, json_object *claim)
{
    if (!json_object_is_type(claim, json_type_object))
        return item_detail(422, "%s must be an object (the body of states/enqueue)", "claim");
    json_object *copy = NULL;
    if (json_object_deep_copy(claim, &copy, NULL) != 0 || !copy)
        return item_answer(500, NULL);
    json_object_object_del(copy, "wait_ms"); /* the reports' answers must not wait */
    json_object *answer = run_as_endpoint(req, h_enqueue, NULL, copy);
    json_object_put(copy);
    return answer;
}

void h_states_report(exo_req *req, exo_resp *resp)
{
    exo_reqcheck rc;
    exo_reqcheck_init(&rc);
    json_object *body = exo_req_body_object(req, &rc), *reports = NULL;
    if (body)
        exo_req_array(&rc, body, "reports", "body", 1, &reports);
    if (exo_reqcheck_failed(&rc)) {
        exo_resp_422(resp, &rc);
        exo_reqcheck_free(&rc);
        return;
    }
    exo_reqcheck_free(&rc);
    size_t n = json_object_array_length(reports);
    if (n > REPORTS_CAP) {
        exo_resp_detail(resp, 413, "Too many reports: at most %d per call, got %zu", REPORTS_CAP, n);
        return;
    }
    json_object *results = json_object_new_array_ext((int)n), *o = json_object_new_object();
    if (!results || !o) {
        json_object_put(results);
        json_object_put(o);
        exo_resp_500(resp);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(reports, i);
        json_object *answer = one_report(req, item, i);
        json_object *id = json_object_is_type(item, json_type_object)
                              ? json_object_object_get(item, "state_id")
                              : NULL;
        json_object_object_add(answer, "state_id",
                               json_object_is_type(id, json_type_string) ? json_object_get(id) : NULL);
        json_object_array_add(results, answer);
    }
    json_object_object_add(o, "results", results);
    json_object *claim = json_object_object_get(body, "claim");
    if (claim)
        json_object_object_add(o, "claim", bundled_claim(req, claim));
    exo_resp_json(resp, 200, o);
}
