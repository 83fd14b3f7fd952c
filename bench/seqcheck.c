/* seqcheck: per-pair arrival bookkeeping for numbered frames (seqcheck.h). */
#include "seqcheck.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEQCHECK_MIN_BITS 1024

void seqcheck_init(struct seqcheck *s)
{
	memset(s, 0, sizeof(*s));
	s->max_seen = -1;
}

static int grow(struct seqcheck *s, int64_t seq)
{
	if (seq < s->cap_bits)
		return 0;
	int64_t bits = s->cap_bits ? s->cap_bits : SEQCHECK_MIN_BITS;
	while (bits <= seq)
		bits *= 2;
	uint8_t *n = realloc(s->seen, (size_t)(bits / 8));
	if (!n)
		return -1;
	memset(n + s->cap_bits / 8, 0, (size_t)((bits - s->cap_bits) / 8));
	s->seen = n;
	s->cap_bits = bits;
	return 0;
}

static bool is_set(const struct seqcheck *s, int64_t seq)
{
	return seq < s->cap_bits && (s->seen[seq / 8] >> (seq % 8) & 1);
}

enum seqcheck_arrival seqcheck_arrive(struct seqcheck *s, int64_t seq)
{
	if (seq < 0 || seq > SEQCHECK_MAX || grow(s, seq) != 0)
		return SEQ_BAD;
	if (is_set(s, seq)) {
		s->duplicates++;
		return SEQ_DUPLICATE;
	}
	s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	s->delivered++;
	if (seq < s->max_seen) {
		s->reordered++;
		return SEQ_REORDERED;
	}
	s->max_seen = seq;
	return SEQ_IN_ORDER;
}

void seqcheck_sum(const struct seqcheck *s, int64_t sent, struct seqcheck_sum *out)
{
	memset(out, 0, sizeof(*out));
	out->delivered = s->delivered;
	out->duplicates = s->duplicates;
	out->reordered = s->reordered;
	for (int64_t i = 0; i < sent; i++) {
		if (is_set(s, i))
			continue;
		if (i < s->max_seen)
			out->gaps++;
		else
			out->tail++;
	}
}

void seqcheck_free(struct seqcheck *s)
{
	free(s->seen);
	seqcheck_init(s);
}
