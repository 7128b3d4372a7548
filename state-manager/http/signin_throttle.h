/* Sign-in throttling for the dashboard (http layer): wrong API keys typed into
 * POST /ui/api/session are counted per client address (an IPv6 address by its /64,
 * what one client usually holds).  After EXO_SIGNIN_FREE_FAILURES wrong keys, each
 * further one makes that address wait before its next attempt: 1 s, 2 s, 4 s, ...
 * at most EXO_SIGNIN_MAX_WAIT_S; an attempt during the wait is refused (429 with
 * Retry-After) without its key being looked at, so guessing gets no faster by
 * trying harder.  A right key clears the address's count; so do 15 quiet minutes.
 *
 * Only sign-ins are throttled: x-api-key clients and signed-in sessions never are,
 * and one address's failures never delay another's.  The table is bounded
 * (EXO_SIGNIN_ADDRESSES, the least recently failing address makes room), so many
 * addresses cost no more memory.  Thread-safe (one internal lock). */
#ifndef EXO_SM_SIGNIN_THROTTLE_H
#define EXO_SM_SIGNIN_THROTTLE_H

#include <stdint.h>

#define EXO_SIGNIN_FREE_FAILURES 5
#define EXO_SIGNIN_MAX_WAIT_S 60
#define EXO_SIGNIN_ADDRESSES 1024

/* How long addr must still wait before its next attempt (ms; 0 = it may try). */
int64_t exo_signin_wait_ms(const char *addr, int64_t now_ms);
/* Records a wrong key from addr; returns the wait it now has (ms; 0 = none yet)
 * and *failures, the wrong keys counted. */
int64_t exo_signin_failed(const char *addr, int64_t now_ms, int *failures);
/* A right key from addr: its count starts again. */
void exo_signin_succeeded(const char *addr);
/* Forgets every address (tests). */
void exo_signin_reset(void);

#endif
