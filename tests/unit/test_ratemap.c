/* test_ratemap: per-user token buckets (bridge/edge/ratemap.c): burst, the
 * refill, Retry-After, keys apart, and the bound on keys. */
#include <stdio.h>

#include "check.h"
#include "ratemap.h"

int main(void)
{
	/* 10 a minute with bursts of 5: 5 held, one more every 6 s */
	struct ratemap *m = ratemap_new(5, 6000, 3);
	CHECK(m != NULL);
	int ra = -1;
	for (int i = 0; i < 5; i++)
		CHECK(ratemap_take(m, "alice", 0, &ra));
	CHECK(!ratemap_take(m, "alice", 0, &ra));
	CHECK_EQ_INT(ra, 6);
	CHECK(!ratemap_take(m, "alice", 4500, &ra));
	CHECK_EQ_INT(ra, 2); /* 1.5 s left, rounded up */
	CHECK(ratemap_take(m, "alice", 6000, &ra));
	CHECK(!ratemap_take(m, "alice", 6000, &ra));
	CHECK_EQ_INT(ra, 6);
	/* another user is not affected */
	CHECK(ratemap_take(m, "bob", 6000, &ra));
	/* a long pause refills to the burst, not beyond */
	int taken = 0;
	for (int i = 0; i < 10; i++)
		taken += ratemap_take(m, "alice", 1000000, NULL);
	CHECK_EQ_INT(taken, 5);
	/* at most 3 keys: the least recently used goes (and starts full again) */
	CHECK(ratemap_take(m, "carol", 1000000, NULL));
	CHECK_EQ_INT(ratemap_count(m), 3);
	CHECK(ratemap_take(m, "dave", 1000000, NULL)); /* bob, the oldest, is dropped */
	CHECK_EQ_INT(ratemap_count(m), 3);
	for (int i = 0; i < 5; i++)
		CHECK(ratemap_take(m, "bob", 1000000, NULL));
	ratemap_free(m);
	ratemap_free(NULL);
	return check_done("test_ratemap");
}
