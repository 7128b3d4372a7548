/* Descriptor I/O helpers shared by the programs. */
#ifndef EXO_FDIO_H
#define EXO_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all of buf, retrying after EINTR and short writes.
 * Returns 0, or -1 with errno set (a write of 0 bytes counts as EIO). */
int exo_write_all(int fd, const void *buf, size_t len);

/* Descriptor passing over a unix socket (SCM_RIGHTS), at most EXO_FDS_MAX per message. */
#define EXO_FDS_MAX 8

/* Sends len bytes of data (len >= 1) with fds[0..n) in one message, retrying after
 * EINTR, never raising SIGPIPE.  Returns the bytes sent, or -1 with errno set. */
ssize_t exo_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n);

/* Receives one message: up to len bytes into data and up to max descriptors into
 * fds (the unfilled slots set to -1, *got = how many arrived; descriptors beyond max
 * are closed, never kept by accident).  flags go to recvmsg (MSG_CMSG_CLOEXEC,
 * MSG_DONTWAIT); EINTR is retried.  Returns the bytes received (0: the peer closed),
 * or -1 with errno set. */
ssize_t exo_recv_fds(int sock, void *data, size_t len, int *fds, size_t max, size_t *got, int flags);

#endif
