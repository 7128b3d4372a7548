/* The fork server's side of seccomp user notification (seccomp_notify.h). */
#include "seccomp_notify.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdio.h"
#include "seccomp_filter.h"

int host_notify_take_listener(int chan)
{
    char byte;
    int listener;
    size_t got;
    exo_recv_fds(chan, &byte, 1, &listener, 1, &got, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    return listener; /* -1 when none came; any more were closed: not ours to keep */
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
