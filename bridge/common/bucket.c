/* bucket: refill on use, no timer. */
#include "bucket.h"

void bucket_init(struct bucket *b, int burst, int64_t now_ms)
{
	b->tokens = burst;
	b->at_ms = now_ms;
}

bool bucket_take(struct bucket *b, int rate, int burst, int64_t now_ms)
{
	if (now_ms > b->at_ms)
		b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at_ms = now_ms;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}
