/* printf into a freshly allocated string. */
#ifndef EXO_STRFMT_H
#define EXO_STRFMT_H

#include <stdarg.h>

/* Returns a malloc'd string, or NULL when out of memory. */
char *exo_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *exo_vstrfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
