/* bucket: the token bucket that rate-limits one client's frames (a bridge
 * socket's, a phone's outbox in the broker plugin): rate tokens a second,
 * at most burst held, one per frame. Pure: the caller passes the
 * (monotonic) time. */
#ifndef RINGMQ_BUCKET_H
#define RINGMQ_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct bucket {
	double tokens;
	int64_t at_ms; /* when tokens was last brought up to date */
};

/* A full bucket at now_ms. */
void bucket_init(struct bucket *b, int burst, int64_t now_ms);
/* Refills for the time since the last call (at rate a second, capped at
 * burst) and takes one token: true when there was one. */
bool bucket_take(struct bucket *b, int rate, int burst, int64_t now_ms);

#endif
