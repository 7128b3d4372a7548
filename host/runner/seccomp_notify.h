/* In the fork server: the seccomp listeners of running states (seccomp_filter.h).
 *
 * A state's process loads its filter with a listener and sends the listener over a
 * socket pair (its "channel") to the server before any node code runs; the server
 * polls it.  The first refused call of any process of the state (the node, or a
 * program it exec'd) is read here, answered EPERM and named; the server then kills
 * the state and closes the listener (later notifications, a flood from a hostile
 * state included, are answered ENOSYS by the kernel as the state dies): one read per
 * state, so no state can keep the server busy. */
#ifndef EXO_HOST_SECCOMP_NOTIFY_H
#define EXO_HOST_SECCOMP_NOTIFY_H

#include <stddef.h>

/* The listener a state's process sent on chan (readable or hung up), or -1 when it
 * sent none (it ended before its filter was loaded, or its refusals trap).  Never
 * blocks; chan stays open (the caller closes it). */
int host_notify_take_listener(int chan);

/* Reads one notification from listener (poll said readable), answers it with EPERM
 * and writes the call's name (host_seccomp_describe) to name: 1; 0 when it vanished
 * before it was read (its thread was killed); -1 on any other error. */
int host_notify_first_call(int listener, char *name, size_t len);

#endif
