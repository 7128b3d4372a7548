/* Descriptor I/O helpers shared by the programs. */
#ifndef EXO_FDIO_H
#define EXO_FDIO_H

#include <stddef.h>

/* Writes all of buf, retrying after EINTR and short writes.
 * Returns 0, or -1 with errno set (a write of 0 bytes counts as EIO). */
int exo_write_all(int fd, const void *buf, size_t len);

#endif
