/* ratemap: a token bucket per key (a user id), for limits counted per user
 * rather than per socket: POST /calls/initiate/ per caller. Each key holds
 * at most burst tokens and gains one every ms_per_token. The map holds at
 * most max_keys: past that the least recently used key is dropped (it was
 * the fullest; back, it starts full, which gives it at most one burst
 * more). Pure apart from malloc: the caller passes the monotonic time. */
#ifndef RINGMQ_RATEMAP_H
#define RINGMQ_RATEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratemap;

/* NULL when out of memory. burst >= 1, ms_per_token >= 1, max_keys >= 1. */
struct ratemap *ratemap_new(int burst, int64_t ms_per_token, size_t max_keys);
void ratemap_free(struct ratemap *m);
/* Takes a token of key at now_ms: true when there was one. When not,
 * *retry_after_s (may be NULL) is the whole seconds, rounded up, until
 * one will be there. */
bool ratemap_take(struct ratemap *m, const char *key, int64_t now_ms, int *retry_after_s);
/* Keys held now. */
size_t ratemap_count(const struct ratemap *m);

#endif
