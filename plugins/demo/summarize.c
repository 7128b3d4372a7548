/* Summarize: counts the words and characters of a text and writes a one-line
 * report for a user.  The last node of the demo chain. */
#include <ctype.h>
#include <stddef.h>

#include <exo/node.h>

EXO_NODE("Summarize",
         EXO_INPUTS("text", "status", "user"),
         EXO_OUTPUTS("summary", "words", "chars"),
         EXO_SECRETS());

static size_t count_words(const char *s)
{
    size_t words = 0;
    int in_word = 0;
    for (; *s; s++) {
        int space = isspace((unsigned char)*s);
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

/* Characters, not bytes: UTF-8 continuation bytes are not counted. */
static size_t count_chars(const char *s)
{
    size_t chars = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            chars++;
    return chars;
}

int exo_execute(exo_ctx *ctx)
{
    const char *text = exo_input(ctx, "text");
    size_t words = count_words(text), chars = count_chars(text);
    if (exo_outputf(ctx, "words", "%zu", words) != EXO_OK
        || exo_outputf(ctx, "chars", "%zu", chars) != EXO_OK
        || exo_outputf(ctx, "summary", "for %s: %zu words, %zu characters, upstream %s: %s",
                       exo_input(ctx, "user"), words, chars, exo_input(ctx, "status"), text)
               != EXO_OK)
        return exo_fail(ctx, "cannot set the outputs");
    return EXO_OK;
}
