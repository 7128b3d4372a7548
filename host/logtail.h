/* The end of what a state's process printed (stdout, stderr, exo_log lines), kept
 * for its report's optional "logs" field.
 *
 * Contract: a ring of at most HOST_LOGTAIL_MAX bytes, allocated at the first byte
 * printed, so whatever a node prints costs the host at most that much memory and a
 * copy per byte.  host_logtail_text() gives the kept text as valid UTF-8 (ill-formed
 * bytes as U+FFFD, NULs kept), preceded by one line saying how many earlier bytes
 * were not kept when the node printed more than the ring holds. */
#ifndef EXO_HOST_LOGTAIL_H
#define EXO_HOST_LOGTAIL_H

#include <stddef.h>
#include <stdint.h>

#define HOST_LOGTAIL_MAX (64 * 1024)

typedef struct host_logtail {
    char *ring;     /* HOST_LOGTAIL_MAX bytes once anything was printed */
    size_t start;   /* oldest kept byte */
    size_t len;     /* bytes kept */
    uint64_t total; /* bytes printed in all */
    int failed;     /* the ring could not be allocated: nothing is kept */
} host_logtail;

/* Appends n printed bytes (keeps only the last HOST_LOGTAIL_MAX). */
void host_logtail_append(host_logtail *t, const char *buf, size_t n);

/* The kept text, malloc'd and NUL-terminated (*len without the NUL); NULL when
 * nothing was printed or out of memory. */
char *host_logtail_text(const host_logtail *t, size_t *len);

void host_logtail_free(host_logtail *t);

#endif
