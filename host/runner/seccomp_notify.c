/* The fork server's side of seccomp user notification (seccomp_notify.h). */
#include "seccomp_notify.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "seccomp_filter.h"

int host_notify_take_listener(int chan)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    while ((n = recvmsg(chan, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    int listener = -1;
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (listener < 0)
                listener = fd;
            else
                close(fd); /* one was sent; anything more is not ours to keep */
        }
    }
    return listener;
}

int host_notify_first_call(int listener, char *name, size_t len)
{
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    if (seccomp_notify_alloc(&req, &resp) != 0)
        return -1;
    int rc = seccomp_notify_receive(listener, req);
    if (rc != 0) {
        seccomp_notify_free(req, resp);
        return rc == -ENOENT ? 0 : -1;
    }
    host_seccomp_describe(req->data.arch, (uint64_t)(uint32_t)req->data.nr, name, len);
    resp->id = req->id;
    resp->val = 0;
    resp->error = -EPERM;
    resp->flags = 0;
    /* ENOENT: the thread is gone already (the state is being killed anyway). */
    (void)seccomp_notify_respond(listener, resp);
    seccomp_notify_free(req, resp);
    return 1;
}
