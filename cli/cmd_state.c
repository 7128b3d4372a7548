/* state retry, state logs */
#include <stdio.h>
#include <string.h>
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

/* Node output on a terminal: control characters other than newline and tab as
 * \xHH, so that what a node printed cannot move the cursor, clear the screen or
 * fake exoctl's own lines.  len bytes (a NUL is shown as \x00). */
static void print_escaped(FILE *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    if (len > 0 && text[len - 1] != '\n')
        fputc('\n', out);
}

int cmd_state_logs(const command *cmd, cli_ctx *ctx, const parsed_args *args)
{
    (void)cmd;
    const char *state_id = args->positional[0];
    long status = 0;
    json_object *answer = NULL;
    if (client_ns_call_status(ctx, "reading the state's logs", "GET", NULL, &status, &answer, "state", state_id,
                              "logs", NULL) != 0)
        return EXIT_FAIL;
    if (status == 404 && !json_get_string(answer, "detail")) {
        fprintf(stderr, "exoctl: reading the state's logs: the state manager has no state logs (HTTP 404)\n");
        json_object_put(answer);
        return EXIT_FAIL;
    }
    if (status < 200 || status > 299) {
        const char *detail = json_get_string(answer, "detail");
        fprintf(stderr, "exoctl: reading the state's logs: HTTP %ld%s%s\n", status, detail ? ": " : "",
                detail ? detail : "");
        json_object_put(answer);
        return EXIT_FAIL;
    }
    if (ctx->json) {
        print_json(stdout, answer);
        json_object_put(answer);
        return EXIT_OK;
    }
    json_object *logs = json_member(answer, "logs");
    if (!logs || !json_object_is_type(logs, json_type_string)) {
        fprintf(stderr, "state %s (%s, %s): no logs were reported\n", state_id,
                json_cell(json_member(answer, "node_name")), json_cell(json_member(answer, "status")));
    } else {
        print_escaped(stdout, json_object_get_string(logs), (size_t)json_object_get_string_len(logs));
    }
    json_object_put(answer);
    return EXIT_OK;
}
