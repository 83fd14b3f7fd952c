/* seqcheck: what arrived of one pair's numbered frames. The sender numbers
 * a pair's frames 0, 1, 2, ... (bench_seq); the receiver records each
 * arrival here, and at the end seqcheck_sum says how many were delivered,
 * twice, out of order, and which never came: holes below the highest number
 * that arrived (gaps: a later frame overtook them, so they are not merely
 * late) and the tail above it. Pure: no I/O, one pair per struct. */
#ifndef BENCH_SEQCHECK_H
#define BENCH_SEQCHECK_H

#include <stdint.h>

#define SEQCHECK_MAX (1 << 24) /* highest sequence number one pair may use */

enum seqcheck_arrival {
	SEQ_IN_ORDER = 0, /* higher than every number before it */
	SEQ_REORDERED,    /* first arrival, but after a higher number */
	SEQ_DUPLICATE,    /* arrived before */
	SEQ_BAD = -1,     /* negative, over SEQCHECK_MAX, or out of memory */
};

struct seqcheck {
	uint8_t *seen;    /* bitmap, grown on demand */
	int64_t cap_bits; /* bits in seen */
	int64_t max_seen; /* -1 before the first arrival */
	int64_t delivered, duplicates, reordered;
};

struct seqcheck_sum {
	int64_t delivered, duplicates, reordered;
	int64_t gaps; /* numbers < max_seen that never arrived */
	int64_t tail; /* numbers in (max_seen, sent) that never arrived */
};

/* An empty record (nothing allocated yet). */
void seqcheck_init(struct seqcheck *s);
/* Records one arrival of seq; says what it was. */
enum seqcheck_arrival seqcheck_arrive(struct seqcheck *s, int64_t seq);
/* Figures for a pair whose sender numbered `sent` frames (0 .. sent-1). */
void seqcheck_sum(const struct seqcheck *s, int64_t sent, struct seqcheck_sum *out);
/* Frees the bitmap (the struct is empty again, reusable). */
void seqcheck_free(struct seqcheck *s);

#endif
