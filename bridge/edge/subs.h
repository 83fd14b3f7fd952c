/* subs: counted subscriptions. Which local members (sockets) want which
 * broker topic: one MQTT subscription per topic however many members share
 * it; the first member subscribes, the last unsubscribes. A member is told
 * it is ready once the broker has acknowledged the subscription (so every
 * frame published after that reaches it), refused when the broker refuses
 * it, and handed each frame of its topic: through its ops table, never by
 * name, so subs knows nothing of WebSockets. The broker is reached through
 * struct subs_broker (broker.c in the bridge, a fake in the unit test).
 *
 * Topics whose last member left while the link was down are unsubscribed
 * once it is back (the broker may have kept them in the bridge's
 * persistent session). */
#ifndef RINGMQ_SUBS_H
#define RINGMQ_SUBS_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "sendq.h"

struct subs;
struct subs_member;

struct subs_member_ops {
	/* The subscription is active (also called again for a member already
	 * told, after a resubscribe: ignore it then). */
	void (*ready)(struct subs_member *m);
	/* The broker refused the subscription. */
	void (*refused)(struct subs_member *m);
	/* A frame of the topic: take a reference to keep it. */
	void (*deliver)(struct subs_member *m, struct outmsg *msg);
};

/* Embedded in the subscriber; zero it before the first join. */
struct subs_member {
	const struct subs_member_ops *ops;
	struct sub *sub;   /* subs.c's: the topic joined, NULL when none */
	lws_dll2_t node;   /* subs.c's: in the topic's list */
};

struct subs_broker {
	void *user;
	bool (*up)(void *user);
	/* 0 and *mid set, or -1 */
	int (*subscribe)(void *user, const char *topic, int *mid);
	int (*unsubscribe)(void *user, const char *topic);
};

/* Told of a topic's first member and its last (presence reporting). */
struct subs_hooks {
	void *user;
	void (*first)(void *user, const char *topic);
	void (*last)(void *user, const char *topic);
};

/* broker and hooks (may be NULL) are copied. NULL when out of memory. */
struct subs *subs_new(const struct subs_broker *broker, const struct subs_hooks *hooks);
/* Replaces the hooks (copied): for a reporter made after subs. */
void subs_set_hooks(struct subs *s, const struct subs_hooks *hooks);
/* NULL-safe. Members are not told. */
void subs_free(struct subs *s);

/* Adds m (m->ops set, not in any topic) to topic's members. m->ops->ready
 * is called at once when the subscription is already active, else when its
 * SUBACK comes. 0, or -1 (no memory, or topic too long). */
int subs_join(struct subs *s, struct subs_member *m, const char *topic);
/* Removes m from its topic (no-op when in none). */
void subs_leave(struct subs *s, struct subs_member *m);
/* The broker's SUBACK for mid (granted_qos >= 0x80: refused). */
void subs_subscribed(struct subs *s, int mid, int granted_qos);
/* The link is (back) up: stale topics unsubscribed, every topic subscribed
 * again (its members told ready at its SUBACK). */
void subs_link_up(struct subs *s);
/* The link is down: every subscription inactive, pending ones forgotten. */
void subs_link_down(struct subs *s);
/* Hands payload to every member of topic (one shared message). Returns
 * how many members were handed it. */
size_t subs_deliver(struct subs *s, const char *topic, const void *payload, size_t len);
/* Calls fn for every member of topic (joined, ready or not). fn must not
 * join or leave. */
void subs_each_member(struct subs *s, const char *topic, void (*fn)(struct subs_member *m, void *arg), void *arg);
/* Calls fn for every topic with members. fn must not join or leave. */
void subs_each_topic(const struct subs *s, void (*fn)(const char *topic, void *arg), void *arg);

#endif
