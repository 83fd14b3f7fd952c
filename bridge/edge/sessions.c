/* sessions: counted subscriptions, fan-out and presence. */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"
#include "ws.h"

/* Pending SUBSCRIBEs by message id ("<mid>" -> struct sub). */
static struct hmap *by_mid;
/* Topics whose last socket left while the link was down: the broker may
 * have kept them in our session, so they are unsubscribed once it is back
 * (topic -> a non-NULL marker). At most one entry per topic. */
static struct hmap *unsub_later;

int sessions_init(struct edge *e)
{
	e->topics = hmap_new();
	by_mid = hmap_new();
	unsub_later = hmap_new();
	return e->topics && by_mid && unsub_later ? 0 : -1;
}

static void free_sub(const char *key, void *value, void *arg)
{
	free(value);
}

void sessions_free(struct edge *e)
{
	if (e->topics)
		hmap_each(e->topics, free_sub, NULL);
	hmap_free(e->topics);
	hmap_free(by_mid);
	hmap_free(unsub_later);
	e->topics = NULL;
	by_mid = NULL;
	unsub_later = NULL;
}

static bool is_notify_topic(const char *topic)
{
	return !strncmp(topic, "users/", 6);
}

/* "users/<uid>/notifications" -> uid into out. */
static void topic_user(const char *topic, char out[IDS_MAX + 1])
{
	const char *s = topic + 6, *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n > IDS_MAX)
		n = IDS_MAX;
	memcpy(out, s, n);
	out[n] = '\0';
}

static void presence_event(struct edge *e, const char *topic, bool online)
{
	if (!is_notify_topic(topic) || !broker_up(e))
		return;
	char uid[IDS_MAX + 1], buf[160];
	topic_user(topic, uid);
	int n = snprintf(buf, sizeof(buf), "{\"user_id\":\"%s\",\"online\":%s}", uid, online ? "true" : "false");
	broker_publish(e, e->presence_topic, buf, (size_t)n, NULL);
}

static void subscribe(struct edge *e, struct sub *s)
{
	char key[16];
	s->active = false;
	if (s->mid) {
		snprintf(key, sizeof(key), "%d", s->mid);
		hmap_del(by_mid, key);
		s->mid = 0;
	}
	if (!broker_up(e) || broker_subscribe(e, s->topic, &s->mid) != 0) {
		s->mid = 0;
		return; /* sessions_link_up subscribes again */
	}
	snprintf(key, sizeof(key), "%d", s->mid);
	hmap_put(by_mid, key, s);
}

int sessions_join(struct edge *e, struct ws_conn *c, const char *topic)
{
	struct sub *s = hmap_get(e->topics, topic);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		snprintf(s->topic, sizeof(s->topic), "%s", topic);
		if (hmap_put(e->topics, s->topic, s) != 0) {
			free(s);
			return -1;
		}
		hmap_del(unsub_later, topic);
	}
	c->sub = s;
	c->sub_prev = NULL;
	c->sub_next = s->head;
	if (s->head)
		s->head->sub_prev = c;
	s->head = c;
	if (s->refs++ == 0) {
		subscribe(e, s);
		presence_event(e, s->topic, true);
	} else if (s->active) {
		ws_ready(c);
	}
	return 0;
}

void sessions_leave(struct edge *e, struct ws_conn *c)
{
	struct sub *s = c->sub;
	if (!s)
		return;
	if (c->sub_prev)
		c->sub_prev->sub_next = c->sub_next;
	else
		s->head = c->sub_next;
	if (c->sub_next)
		c->sub_next->sub_prev = c->sub_prev;
	c->sub = NULL;
	c->sub_next = c->sub_prev = NULL;
	if (--s->refs > 0)
		return;
	if (!broker_up(e) || broker_unsubscribe(e, s->topic) != 0)
		hmap_put(unsub_later, s->topic, unsub_later);
	presence_event(e, s->topic, false);
	if (s->mid) {
		char key[16];
		snprintf(key, sizeof(key), "%d", s->mid);
		hmap_del(by_mid, key);
	}
	hmap_del(e->topics, s->topic);
	free(s);
}

void sessions_subscribed(struct edge *e, int mid, int granted_qos)
{
	char key[16];
	snprintf(key, sizeof(key), "%d", mid);
	struct sub *s = hmap_del(by_mid, key);
	if (!s)
		return;
	s->mid = 0;
	if (granted_qos >= 0x80) {
		log_error("broker refused the subscription to %s (0x%02x)", s->topic, granted_qos);
		for (struct ws_conn *c = s->head; c; c = c->sub_next)
			ws_close(c, 1011, "subscription refused");
		return;
	}
	s->active = true;
	/* ws_ready never leaves the list, so walking it is safe. */
	for (struct ws_conn *c = s->head; c; c = c->sub_next)
		if (c->state == WS_SUB_WAIT)
			ws_ready(c);
}

static void resubscribe(const char *key, void *value, void *arg)
{
	subscribe(arg, value);
}

static void unsubscribe_stale(const char *key, void *value, void *arg)
{
	broker_unsubscribe(arg, key);
}

void sessions_link_up(struct edge *e)
{
	struct hmap *fresh = hmap_new();
	hmap_each(unsub_later, unsubscribe_stale, e);
	if (fresh) { /* else kept, and unsubscribed again next time: harmless */
		hmap_free(unsub_later);
		unsub_later = fresh;
	}
	hmap_each(e->topics, resubscribe, e);
	sessions_presence_snapshot(e);
}

static void deactivate(const char *key, void *value, void *arg)
{
	struct sub *s = value;
	s->active = false;
	s->mid = 0;
}

void sessions_link_down(struct edge *e)
{
	hmap_each(e->topics, deactivate, NULL);
	hmap_free(by_mid);
	by_mid = hmap_new();
}

size_t sessions_deliver(struct edge *e, const char *topic, const void *payload, size_t len)
{
	struct sub *s = hmap_get(e->topics, topic);
	if (!s || !s->head)
		return 0;
	struct outmsg *m = outmsg_new(payload, len);
	if (!m)
		return 0;
	size_t n = 0;
	struct ws_conn *c = s->head;
	while (c) {
		struct ws_conn *next = c->sub_next; /* ws_send may close c, never unlink it now */
		if (c->state == WS_READY) {
			ws_send(c, m);
			n++;
		}
		c = next;
	}
	outmsg_unref(m);
	return n;
}

static void add_user(const char *key, void *value, void *arg)
{
	if (!is_notify_topic(key))
		return;
	char uid[IDS_MAX + 1];
	topic_user(key, uid);
	json_array_append_new(arg, json_string(uid));
}

void sessions_presence_snapshot(struct edge *e)
{
	if (!broker_up(e))
		return;
	json_t *users = json_array();
	hmap_each(e->topics, add_user, users);
	json_t *msg = json_pack("{s:o}", "snapshot", users);
	size_t len = 0;
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	if (s) {
		len = strlen(s);
		broker_publish(e, e->presence_topic, s, len, NULL);
	}
	free(s);
	json_decref(msg);
}
