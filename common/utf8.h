/* UTF-8 well-formedness (Unicode's definition: no overlongs, no surrogates, nothing
 * above U+10FFFF), shared by the state manager (path parameters) and exo-host (what a
 * node sends must be valid JSON text before it is reported). */
#ifndef EXO_UTF8_H
#define EXO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the len bytes at s are well-formed UTF-8 (NUL bytes included as U+0000).
 * s[len] must be readable and NUL (as in every C string and json-c string). */
bool exo_utf8_valid(const char *s, size_t len);

/* Copy of s in which every ill-formed UTF-8 sequence is replaced by U+FFFD (one per
 * maximal invalid subpart), as Python's bytes.decode("utf-8", "replace") does —
 * the reference decodes URL paths that way.  NULL on allocation failure. */
char *exo_utf8_sanitize(const char *s);

/* The same for len bytes that may hold NULs (kept as U+0000); s[len] must be
 * readable and NUL.  *out_len gets the copy's length.  NULL on allocation failure. */
char *exo_utf8_sanitize_len(const char *s, size_t len, size_t *out_len);

/* Where to cut len bytes of valid UTF-8 so that at most max bytes remain at the
 * end: the offset of the first kept byte, never inside a character. */
size_t exo_utf8_tail_start(const char *s, size_t len, size_t max);

#endif
