/* sendq: what one socket still has to send. Messages are shared: a frame
 * fanned out to many sockets is one reference-counted struct outmsg with
 * LWS_PRE bytes of room for the WebSocket header before its payload, and
 * each socket's queue is a ring of references, bounded in bytes by its
 * owner. Pure: no I/O. */
#ifndef RINGMQ_SENDQ_H
#define RINGMQ_SENDQ_H

#include <stddef.h>

#include <libwebsockets.h>

struct outmsg {
	unsigned refs;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes, then len bytes of payload */
};

/* Copies data; refs = 1. NULL on allocation failure. */
struct outmsg *outmsg_new(const void *data, size_t len);
/* Drops a reference (NULL-safe); the last one frees. */
void outmsg_unref(struct outmsg *m);
/* The payload (after the LWS_PRE room). */
static inline unsigned char *outmsg_data(struct outmsg *m)
{
	return m->buf + LWS_PRE;
}

struct sendq {
	struct outmsg **ring;
	size_t cap, head, len;
	size_t bytes; /* payload bytes queued */
};

/* An empty queue needs no init beyond zeroing (struct sendq q = {0}). */
/* Queues m (takes a reference of its own). 0, or -1 when out of memory
 * (nothing queued). */
int sendq_push(struct sendq *q, struct outmsg *m);
/* The oldest message (borrowed), or NULL when empty. */
struct outmsg *sendq_peek(const struct sendq *q);
/* Drops the oldest message (no-op when empty). */
void sendq_pop(struct sendq *q);
/* Drops everything and frees the ring; the queue is empty and reusable. */
void sendq_clear(struct sendq *q);

#endif
