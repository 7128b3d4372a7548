/* TextTransform: rewrites a text: mode "upper" (default), "lower" or "reverse".
 * Shows a node with a defaulted input and an error for a bad input value. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <exo/node.h>

EXO_NODE("TextTransform",
         EXO_INPUTS("text", EXO_DEFAULT("mode", "upper")),
         EXO_OUTPUTS("text"),
         EXO_SECRETS());

static void change_case(char *s, int (*convert)(int))
{
    for (; *s; s++)
        *s = (char)convert((unsigned char)*s);
}

static void reverse(char *s)
{
    for (size_t i = 0, j = strlen(s); i + 1 < j; i++, j--) {
        char t = s[i];
        s[i] = s[j - 1];
        s[j - 1] = t;
    }
}

int exo_execute(exo_ctx *ctx)
{
    const char *mode = exo_input(ctx, "mode");
    const char *input = exo_input(ctx, "text");
    if (!mode || !input)
        return exo_fail(ctx, "the host passed no value for 'text' or 'mode'");
    char *text = strdup(input);
    if (!text)
        return exo_fail(ctx, "out of memory copying the text");
    if (strcmp(mode, "upper") == 0) {
        change_case(text, toupper);
    } else if (strcmp(mode, "lower") == 0) {
        change_case(text, tolower);
    } else if (strcmp(mode, "reverse") == 0) {
        reverse(text);
    } else {
        free(text);
        return exo_fail(ctx, "unknown mode '%s' (expected upper, lower or reverse)", mode);
    }
    int rc = exo_output(ctx, "text", text);
    free(text);
    return rc == EXO_OK ? EXO_OK : exo_fail(ctx, "cannot set output 'text'");
}
