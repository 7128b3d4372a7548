/* Misbehaves: sends bytes that are not UTF-8 where the report needs text, chosen by
 * its input "where": output, error, store or prune. */
#include <exo/node.h>
#include <string.h>

EXO_NODE("BadUtf8Node", EXO_INPUTS("where"), EXO_OUTPUTS("text"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    const char *where = exo_input(ctx, "where");
    if (strcmp(where, "output") == 0)
        return exo_output(ctx, "text", "caf\xe9");
    if (strcmp(where, "error") == 0)
        return exo_fail(ctx, "bad \xff byte");
    if (strcmp(where, "store") == 0) {
        exo_store_set(ctx, "k", "\xc3");
        return exo_output(ctx, "text", "ok");
    }
    return exo_prune(ctx, "{\"why\": \"\xed\xa0\x80\"}"); /* a UTF-16 surrogate */
}
