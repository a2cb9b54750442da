/*
 * Time, injectable: production reads the system clocks; unit tests switch to
 * a fake clock they advance by hand, so TTLs, backoff and token expiry are
 * tested without sleeping (gcsfuse internal/clock).
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include "common/compat.h"

/* Monotonic milliseconds, for intervals and deadlines. */
int64_t clock_mono_ms(void);
/* Wall-clock milliseconds since the Unix epoch, for timestamps. */
int64_t clock_wall_ms(void);

/* Tests only: freeze both clocks at the given values. Not thread-safe. */
void clock_fake_set(int64_t mono_ms, int64_t wall_ms);
void clock_fake_advance(int64_t ms);
void clock_fake_off(void);

/*
 * Set @ts to @ms from now on the REAL CLOCK_MONOTONIC (never the fake clock),
 * for pthread_cond_timedwait() on a condition variable created with
 * pthread_condattr_setclock(CLOCK_MONOTONIC).
 */
struct timespec;
void clock_mono_timespec_after(int64_t ms, struct timespec *ts);

/*
 * Format @wall_ms as RFC 3339 UTC with milliseconds
 * ("2026-11-22T10:00:00.123Z") into @out (at least 25 bytes). Returns 0 or
 * -EINVAL.
 */
int clock_rfc3339_format(int64_t wall_ms, char *out, size_t outsz);
/* Parse RFC 3339 ("...Z" or "+hh:mm", fraction optional). Returns 0 or -EINVAL.
 */
int clock_rfc3339_parse(const char *s, int64_t *wall_ms);

#endif
