/*
 * clock.h - the two clocks verdict reads.
 */
#ifndef VD_CLOCK_H
#define VD_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds, for durations and deadlines. Async-signal-safe
 * and heap-free: the box init uses it. */
uint64_t vd_clock_us(void);
/* Wall-clock milliseconds since the epoch, for timestamps people read. */
int64_t vd_now_ms(void);

#endif /* VD_CLOCK_H */
