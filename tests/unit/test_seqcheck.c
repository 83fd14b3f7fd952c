/* test_seqcheck: per-pair arrival bookkeeping of the generator (bench/seqcheck.c). */
#include "check.h"
#include "seqcheck.h"

int main(void)
{
	struct seqcheck s;
	struct seqcheck_sum sum;
	seqcheck_init(&s);
	seqcheck_sum(&s, 0, &sum);
	CHECK_EQ_INT(sum.delivered + sum.gaps + sum.tail, 0);
	/* nothing arrived of 3 sent: all tail, no gap */
	seqcheck_sum(&s, 3, &sum);
	CHECK_EQ_INT(sum.tail, 3);
	CHECK_EQ_INT(sum.gaps, 0);

	/* 0 1 3 2 3 5, of 8 sent: 2 reordered, 3 twice, 4 a gap, 6 7 the tail */
	CHECK_EQ_INT(seqcheck_arrive(&s, 0), SEQ_IN_ORDER);
	CHECK_EQ_INT(seqcheck_arrive(&s, 1), SEQ_IN_ORDER);
	CHECK_EQ_INT(seqcheck_arrive(&s, 3), SEQ_IN_ORDER);
	CHECK_EQ_INT(seqcheck_arrive(&s, 2), SEQ_REORDERED);
	CHECK_EQ_INT(seqcheck_arrive(&s, 3), SEQ_DUPLICATE);
	CHECK_EQ_INT(seqcheck_arrive(&s, 5), SEQ_IN_ORDER);
	seqcheck_sum(&s, 8, &sum);
	CHECK_EQ_INT(sum.delivered, 5);
	CHECK_EQ_INT(sum.duplicates, 1);
	CHECK_EQ_INT(sum.reordered, 1);
	CHECK_EQ_INT(sum.gaps, 1);
	CHECK_EQ_INT(sum.tail, 2);

	/* bounds: negative and too high are refused, nothing recorded */
	CHECK_EQ_INT(seqcheck_arrive(&s, -1), SEQ_BAD);
	CHECK_EQ_INT(seqcheck_arrive(&s, (int64_t)SEQCHECK_MAX + 1), SEQ_BAD);
	/* growth past the first bitmap keeps what was there */
	CHECK_EQ_INT(seqcheck_arrive(&s, 100000), SEQ_IN_ORDER);
	CHECK_EQ_INT(seqcheck_arrive(&s, 4), SEQ_REORDERED);
	seqcheck_sum(&s, 100001, &sum);
	CHECK_EQ_INT(sum.delivered, 7);
	CHECK_EQ_INT(sum.gaps, 100001 - 7 - 0);
	CHECK_EQ_INT(sum.tail, 0);

	seqcheck_free(&s);
	CHECK_EQ_INT(s.max_seen, -1);
	return check_done("test_seqcheck");
}
