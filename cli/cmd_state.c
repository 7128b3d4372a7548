/* state retry */
#include <stdio.h>
#include <uuid/uuid.h>

#include "commands.h"
#include "output.h"

int cmd_state_retry(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *state_id = args->positional[0];
    /* A fresh fanout_id per request: the server rejects a reused one as a duplicate retry. */
    uuid_t uuid;
    char fanout_id[37];
    uuid_generate_random(uuid);
    uuid_unparse_lower(uuid, fanout_id);

    json_object *body = json_object_new_object();
    json_object *fanout = json_object_new_string(fanout_id);
    if (!body || !fanout || json_object_object_add(body, "fanout_id", fanout) != 0) {
        json_object_put(body);
        json_object_put(fanout);
        fprintf(stderr, "exoctl: out of memory\n");
        return EXIT_FAIL;
    }
    json_object *answer;
    int rc = client_ns_call(ctx, "retrying the state", "POST", body, &answer, "state", state_id,
                            "manual-retry", NULL);
    json_object_put(body);
    if (rc != 0)
        return EXIT_FAIL;
    if (ctx->json)
        print_json(stdout, answer);
    else
        printf("state %s retried: new state %s (%s)\n", state_id,
               json_cell(json_member(answer, "id")), json_cell(json_member(answer, "status")));
    json_object_put(answer);
    return EXIT_OK;
}
