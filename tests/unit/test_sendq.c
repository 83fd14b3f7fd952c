/* test_sendq: shared messages and the per-socket ring (bridge/edge/sendq.c). */
#include "check.h"
#include "sendq.h"

int main(void)
{
	struct sendq q = {0};
	CHECK(sendq_peek(&q) == NULL);
	sendq_pop(&q); /* empty: no-op */

	struct outmsg *a = outmsg_new("hello", 5), *b = outmsg_new("xy", 2);
	CHECK(a && b);
	CHECK_EQ_INT(a->refs, 1);
	CHECK(!memcmp(outmsg_data(a), "hello", 5));
	/* the same message in one queue twice, and grown past the first ring */
	for (int i = 0; i < 20; i++)
		CHECK_EQ_INT(sendq_push(&q, i % 2 ? b : a), 0);
	CHECK_EQ_INT(q.len, 20);
	CHECK_EQ_INT(q.bytes, 10 * 5 + 10 * 2);
	CHECK_EQ_INT(a->refs, 11);
	/* FIFO across the wrap: pop some, push more, the order holds */
	for (int i = 0; i < 6; i++) {
		CHECK(sendq_peek(&q) == (i % 2 ? b : a));
		sendq_pop(&q);
	}
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(sendq_push(&q, a), 0);
	CHECK_EQ_INT(q.len, 24);
	for (int i = 6; i < 20; i++) {
		CHECK(sendq_peek(&q) == (i % 2 ? b : a));
		sendq_pop(&q);
	}
	for (int i = 0; i < 10; i++) {
		CHECK(sendq_peek(&q) == a);
		sendq_pop(&q);
	}
	CHECK_EQ_INT(q.len, 0);
	CHECK_EQ_INT(q.bytes, 0);
	CHECK_EQ_INT(a->refs, 1);
	CHECK_EQ_INT(b->refs, 1);
	/* clear drops the references and leaves a usable queue */
	sendq_push(&q, a);
	sendq_push(&q, b);
	sendq_clear(&q);
	CHECK_EQ_INT(a->refs, 1);
	CHECK(q.ring == NULL && q.len == 0 && q.bytes == 0);
	CHECK_EQ_INT(sendq_push(&q, b), 0);
	sendq_clear(&q);
	outmsg_unref(a);
	outmsg_unref(b);
	outmsg_unref(NULL);
	return check_done("test_sendq");
}
