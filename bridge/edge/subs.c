/* subs: topic -> struct sub (its members and its SUBSCRIBE), by mid. */
#include "subs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "log.h"
#include "topics.h"

#define SUBS_MID_KEY 16

struct sub {
	char topic[TOPICS_MAX];
	lws_dll2_owner_t members;
	int mid;     /* pending SUBSCRIBE, 0 when none */
	bool active; /* SUBACK received on the current connection */
};

struct subs {
	struct subs_broker broker;
	struct subs_hooks hooks;
	struct hmap *topics;      /* topic -> struct sub */
	struct hmap *by_mid;      /* "<mid>" -> struct sub, pending SUBSCRIBEs */
	struct hmap *unsub_later; /* topic -> a marker: left while the link was down */
};

struct subs *subs_new(const struct subs_broker *broker, const struct subs_hooks *hooks)
{
	struct subs *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->broker = *broker;
	if (hooks)
		s->hooks = *hooks;
	s->topics = hmap_new();
	s->by_mid = hmap_new();
	s->unsub_later = hmap_new();
	if (!s->topics || !s->by_mid || !s->unsub_later) {
		subs_free(s);
		return NULL;
	}
	return s;
}

void subs_set_hooks(struct subs *s, const struct subs_hooks *hooks)
{
	s->hooks = *hooks;
}

static void free_sub(const char *key, void *value, void *arg)
{
	free(value);
}

void subs_free(struct subs *s)
{
	if (!s)
		return;
	if (s->topics)
		hmap_each(s->topics, free_sub, NULL);
	hmap_free(s->topics);
	hmap_free(s->by_mid);
	hmap_free(s->unsub_later);
	free(s);
}

static void mid_key(int mid, char key[SUBS_MID_KEY])
{
	snprintf(key, SUBS_MID_KEY, "%d", mid);
}

static void forget_mid(struct subs *s, struct sub *sub)
{
	if (!sub->mid)
		return;
	char key[SUBS_MID_KEY];
	mid_key(sub->mid, key);
	hmap_del(s->by_mid, key);
	sub->mid = 0;
}

static void subscribe(struct subs *s, struct sub *sub)
{
	sub->active = false;
	forget_mid(s, sub);
	if (!s->broker.up(s->broker.user) || s->broker.subscribe(s->broker.user, sub->topic, &sub->mid) != 0) {
		sub->mid = 0;
		return; /* subs_link_up subscribes again */
	}
	char key[SUBS_MID_KEY];
	mid_key(sub->mid, key);
	hmap_put(s->by_mid, key, sub);
}

int subs_join(struct subs *s, struct subs_member *m, const char *topic)
{
	struct sub *sub = hmap_get(s->topics, topic);
	if (!sub) {
		if (strlen(topic) >= sizeof(sub->topic))
			return -1;
		sub = calloc(1, sizeof(*sub));
		if (!sub)
			return -1;
		snprintf(sub->topic, sizeof(sub->topic), "%s", topic);
		if (hmap_put(s->topics, sub->topic, sub) != 0) {
			free(sub);
			return -1;
		}
		hmap_del(s->unsub_later, topic);
	}
	m->sub = sub;
	lws_dll2_add_tail(&m->node, &sub->members);
	if (sub->members.count == 1) {
		subscribe(s, sub);
		if (s->hooks.first)
			s->hooks.first(s->hooks.user, sub->topic);
	} else if (sub->active) {
		m->ops->ready(m);
	}
	return 0;
}

void subs_leave(struct subs *s, struct subs_member *m)
{
	struct sub *sub = m->sub;
	if (!sub)
		return;
	lws_dll2_remove(&m->node);
	m->sub = NULL;
	if (sub->members.count > 0)
		return;
	if (!s->broker.up(s->broker.user) || s->broker.unsubscribe(s->broker.user, sub->topic) != 0)
		hmap_put(s->unsub_later, sub->topic, s->unsub_later);
	if (s->hooks.last)
		s->hooks.last(s->hooks.user, sub->topic);
	forget_mid(s, sub);
	hmap_del(s->topics, sub->topic);
	free(sub);
}

/* The member callbacks never join or leave: walking with next saved is
 * enough (a member being closed leaves later, from its close callback). */
static int tell_ready(struct lws_dll2 *d, void *arg)
{
	struct subs_member *m = lws_container_of(d, struct subs_member, node);
	m->ops->ready(m);
	return 0;
}

static int tell_refused(struct lws_dll2 *d, void *arg)
{
	struct subs_member *m = lws_container_of(d, struct subs_member, node);
	m->ops->refused(m);
	return 0;
}

void subs_subscribed(struct subs *s, int mid, int granted_qos)
{
	char key[SUBS_MID_KEY];
	mid_key(mid, key);
	struct sub *sub = hmap_del(s->by_mid, key);
	if (!sub)
		return;
	sub->mid = 0;
	if (granted_qos >= 0x80) {
		log_error("broker refused the subscription to %s (0x%02x)", sub->topic, granted_qos);
		lws_dll2_foreach_safe(&sub->members, NULL, tell_refused);
		return;
	}
	sub->active = true;
	lws_dll2_foreach_safe(&sub->members, NULL, tell_ready);
}

static void resubscribe(const char *key, void *value, void *arg)
{
	subscribe(arg, value);
}

static void unsubscribe_stale(const char *key, void *value, void *arg)
{
	struct subs *s = arg;
	s->broker.unsubscribe(s->broker.user, key);
}

void subs_link_up(struct subs *s)
{
	struct hmap *fresh = hmap_new();
	hmap_each(s->unsub_later, unsubscribe_stale, s);
	if (fresh) { /* else kept, and unsubscribed again next time: harmless */
		hmap_free(s->unsub_later);
		s->unsub_later = fresh;
	}
	hmap_each(s->topics, resubscribe, s);
}

static void deactivate(const char *key, void *value, void *arg)
{
	struct sub *sub = value;
	sub->active = false;
	sub->mid = 0;
}

void subs_link_down(struct subs *s)
{
	hmap_each(s->topics, deactivate, NULL);
	struct hmap *fresh = hmap_new();
	if (fresh) {
		hmap_free(s->by_mid);
		s->by_mid = fresh;
	}
}

struct delivery {
	struct outmsg *msg;
	size_t n;
};

static int hand(struct lws_dll2 *d, void *arg)
{
	struct delivery *dv = arg;
	struct subs_member *m = lws_container_of(d, struct subs_member, node);
	m->ops->deliver(m, dv->msg);
	dv->n++;
	return 0;
}

size_t subs_deliver(struct subs *s, const char *topic, const void *payload, size_t len)
{
	struct sub *sub = hmap_get(s->topics, topic);
	if (!sub || !sub->members.count)
		return 0;
	struct delivery dv = {.msg = outmsg_new(payload, len)};
	if (!dv.msg)
		return 0;
	lws_dll2_foreach_safe(&sub->members, &dv, hand);
	outmsg_unref(dv.msg);
	return dv.n;
}

struct each_member {
	void (*fn)(struct subs_member *m, void *arg);
	void *arg;
};

static int visit_member(struct lws_dll2 *d, void *arg)
{
	struct each_member *em = arg;
	em->fn(lws_container_of(d, struct subs_member, node), em->arg);
	return 0;
}

void subs_each_member(struct subs *s, const char *topic, void (*fn)(struct subs_member *m, void *arg), void *arg)
{
	struct sub *sub = hmap_get(s->topics, topic);
	struct each_member em = {fn, arg};
	if (sub)
		lws_dll2_foreach_safe(&sub->members, &em, visit_member);
}

struct each {
	void (*fn)(const char *topic, void *arg);
	void *arg;
};

static void each_topic(const char *key, void *value, void *arg)
{
	struct each *ea = arg;
	ea->fn(key, ea->arg);
}

void subs_each_topic(const struct subs *s, void (*fn)(const char *topic, void *arg), void *arg)
{
	struct each ea = {fn, arg};
	hmap_each(s->topics, each_topic, &ea);
}
