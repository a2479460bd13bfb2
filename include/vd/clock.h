/*
 * clock.h - the two clocks verdict reads.
 */
#ifndef VD_CLOCK_H
#define VD_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Monotonic microseconds, for durations and deadlines. Async-signal-safe
 * and heap-free: the box init uses it. */
uint64_t vd_clock_us(void);
/* Wall-clock milliseconds since the epoch, for timestamps people read. */
int64_t vd_now_ms(void);
/* The time ms from now on clock, as the absolute timespec that
 * pthread_cond_timedwait and friends take. */
void vd_clock_deadline(clockid_t clock, int64_t ms, struct timespec *out);
/* A condition variable whose timed waits are on CLOCK_MONOTONIC, so that
 * a deadline from vd_clock_deadline(CLOCK_MONOTONIC, ...) cannot be
 * stretched or cut short by a step of the wall clock. */
void vd_clock_cond_init(pthread_cond_t *cv);

#endif /* VD_CLOCK_H */
