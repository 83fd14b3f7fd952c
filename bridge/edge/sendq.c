/* sendq: shared messages and a growing ring of references. */
#include "sendq.h"

#include <stdlib.h>
#include <string.h>

#define SENDQ_FIRST_CAP 8

struct outmsg *outmsg_new(const void *data, size_t len)
{
	struct outmsg *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

void outmsg_unref(struct outmsg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

int sendq_push(struct sendq *q, struct outmsg *m)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : SENDQ_FIRST_CAP;
		struct outmsg **ring = malloc(cap * sizeof(*ring));
		if (!ring)
			return -1;
		for (size_t i = 0; i < q->len; i++)
			ring[i] = q->ring[(q->head + i) % q->cap];
		free(q->ring);
		q->ring = ring;
		q->cap = cap;
		q->head = 0;
	}
	q->ring[(q->head + q->len++) % q->cap] = m;
	m->refs++;
	q->bytes += m->len;
	return 0;
}

struct outmsg *sendq_peek(const struct sendq *q)
{
	return q->len ? q->ring[q->head] : NULL;
}

void sendq_pop(struct sendq *q)
{
	if (!q->len)
		return;
	struct outmsg *m = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	q->bytes -= m->len;
	outmsg_unref(m);
}

void sendq_clear(struct sendq *q)
{
	while (q->len)
		sendq_pop(q);
	free(q->ring);
	memset(q, 0, sizeof(*q));
}
