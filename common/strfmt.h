/* printf into a freshly allocated string, and the one way to report an error message.
 *
 * Error convention (CONTRIBUTING.md): a function that can fail with a message takes
 * `char *err, size_t errlen` as its last two parameters, returns 0 (or a pointer) on
 * success and -1 (or NULL) on failure, and then has written one line naming what is
 * wrong into err with exo_errf.  err may be NULL (errlen 0) when the caller does not
 * want the text. */
#ifndef EXO_STRFMT_H
#define EXO_STRFMT_H

#include <stdarg.h>
#include <stddef.h>

/* Returns a malloc'd string, or NULL when out of memory. */
char *exo_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *exo_vstrfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Formats into err (truncating, always terminated; nothing when err is NULL or
 * errlen 0).  Returns -1, so that `return exo_errf(err, errlen, ...);` ends a failing
 * function. */
int exo_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
