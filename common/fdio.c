#include "fdio.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int exo_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Control space for EXO_FDS_MAX descriptors, aligned as a cmsghdr. */
typedef union {
    char buf[CMSG_SPACE(EXO_FDS_MAX * sizeof(int))];
    struct cmsghdr align;
} fds_control;

ssize_t exo_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n)
{
    if (n > EXO_FDS_MAX || len == 0) {
        errno = EINVAL;
        return -1;
    }
    fds_control ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {(void *)data, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    }
    ssize_t sent;
    while ((sent = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    return sent;
}

ssize_t exo_recv_fds(int sock, void *data, size_t len, int *fds, size_t max, size_t *got, int flags)
{
    *got = 0;
    for (size_t i = 0; i < max; i++)
        fds[i] = -1;
    fds_control ctl;
    struct iovec iov = {data, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    while ((n = recvmsg(sock, &msg, flags)) < 0 && errno == EINTR) {
    }
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (*got < max)
                fds[(*got)++] = fd;
            else
                close(fd);
        }
    }
    return n;
}
