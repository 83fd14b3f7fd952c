/* test_bucket: the token bucket (bridge/common/bucket.c) of sockets and phones. */
#include "bucket.h"
#include "check.h"

int main(void)
{
	struct bucket b;
	const int rate = 50, burst = 100;
	bucket_init(&b, burst, 1000);
	/* a full bucket: burst frames at once, then none */
	int taken = 0;
	for (int i = 0; i < 150; i++)
		taken += bucket_take(&b, rate, burst, 1000);
	CHECK_EQ_INT(taken, burst);
	/* 50 a second: 20 ms buys one; what a refused take saw is kept */
	CHECK(!bucket_take(&b, rate, burst, 1019)); /* 0.95 */
	CHECK(bucket_take(&b, rate, burst, 1040));  /* 2.0 */
	CHECK(bucket_take(&b, rate, burst, 1040));  /* 1.0 */
	CHECK(!bucket_take(&b, rate, burst, 1040));
	/* a long pause refills to burst, not beyond */
	taken = 0;
	for (int i = 0; i < 150; i++)
		taken += bucket_take(&b, rate, burst, 100000);
	CHECK_EQ_INT(taken, burst);
	/* a clock that goes back takes nothing and gives nothing */
	CHECK(!bucket_take(&b, rate, burst, 50000));
	CHECK(!bucket_take(&b, rate, burst, 50000));
	/* a steady 50/s is served in full */
	bucket_init(&b, burst, 0);
	for (int i = 0; i < burst; i++)
		bucket_take(&b, rate, burst, 0);
	taken = 0;
	for (int t = 20; t <= 10000; t += 20)
		taken += bucket_take(&b, rate, burst, t);
	CHECK_EQ_INT(taken, 500);
	return check_done("test_bucket");
}
