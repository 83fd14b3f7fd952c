/* clock: the two clocks (wall for what is stored and shown, monotonic for
 * every wait), ISO 8601 times, and the rounding of a wait to a message
 * expiry. */
#ifndef RINGMQ_CLOCK_H
#define RINGMQ_CLOCK_H

#include <stdint.h>

#define CLOCK_ISO_LEN 24 /* "2026-11-24T23:20:00.123Z" */

/* Wall clock in milliseconds since the epoch. */
int64_t clock_now_ms(void);
/* Monotonic clock in milliseconds. */
int64_t clock_mono_ms(void);
/* Monotonic clock in microseconds (short durations: a statement's time). */
int64_t clock_mono_us(void);
/* ms since the epoch as ISO 8601 UTC with milliseconds. */
void clock_iso8601(int64_t ms, char out[CLOCK_ISO_LEN + 1]);
/* A v5 message expiry for a wait of ms: whole seconds rounded up, at least
 * 1 (0 would mean "never expires"). */
uint32_t clock_expiry_s(int64_t ms);

#endif
