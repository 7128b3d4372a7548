/* Time helpers shared by the programs. */
#ifndef EXO_CLOCK_H
#define EXO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t exo_now_ms(void);
/* Monotonic milliseconds, for durations and timeouts. */
int64_t exo_mono_ms(void);
/* Monotonic microseconds, for latency measurements. */
int64_t exo_mono_us(void);
/* Sleeps; restarts after signals until the time has passed. */
void exo_sleep_ms(int64_t ms);

#endif
