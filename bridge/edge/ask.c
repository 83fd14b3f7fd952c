/* ask: pending questions by key, each with its own timer. The timers are
 * libev's, on the loop lws runs on (main.c: libev's default loop), not
 * lws_sul: lws 4.1.6 on libev cannot bring its timer forward from a
 * descriptor callback, where questions are asked, so a lws_sul fired up to
 * the next armed timer late (up to a second after the wait). */
#include "ask.h"

#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hmap.h"
#include "log.h"
#include "topics.h"

struct question {
	ev_timer timer;            /* first: the timer callback finds the question */
	struct ask *ask;
	char key[ASK_KEY_MAX];
	ask_done_fn done;
	void *arg;
	int64_t started_ms;
};

struct ask {
	struct broker *broker;
	struct metrics *metrics;
	char replies_topic[TOPICS_MAX];
	int timeout_ms;
	struct hmap *pending; /* key -> struct question */
	uint64_t next;
};

struct ask *ask_new(struct broker *broker, struct metrics *metrics,
		    const char *replies_topic, int timeout_ms)
{
	struct ask *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->broker = broker;
	a->metrics = metrics;
	snprintf(a->replies_topic, sizeof(a->replies_topic), "%s", replies_topic);
	a->timeout_ms = timeout_ms;
	a->pending = hmap_new();
	if (!a->pending) {
		free(a);
		return NULL;
	}
	return a;
}

static struct ev_loop *loop(void)
{
	return ev_default_loop(0);
}

static void drop(const char *key, void *value, void *arg)
{
	struct question *q = value;
	ev_timer_stop(loop(), &q->timer);
	free(q);
}

void ask_free(struct ask *a)
{
	if (!a)
		return;
	hmap_each(a->pending, drop, NULL);
	hmap_free(a->pending);
	free(a);
}

static void timed_out(struct ev_loop *lp, ev_timer *w, int revents)
{
	struct question *q = (struct question *)w;
	struct ask *a = q->ask;
	ev_timer_stop(lp, w);
	hmap_del(a->pending, q->key);
	log_warn("request %s: rules did not answer within %d ms", q->key, a->timeout_ms);
	metrics_rules_latency(a->metrics, (double)a->timeout_ms);
	q->done(q->arg, 503, NULL);
	free(q);
}

int ask_send(struct ask *a, json_t *req, ask_done_fn done, void *arg, char *key)
{
	int rc = -1;
	char *payload = NULL;
	struct question *q = NULL;
	if (!req || !broker_up(a->broker))
		goto out;
	q = calloc(1, sizeof(*q));
	payload = json_dumps(req, JSON_COMPACT);
	if (!q || !payload)
		goto out;
	q->ask = a;
	q->done = done;
	q->arg = arg;
	q->started_ms = clock_mono_ms();
	snprintf(q->key, sizeof(q->key), "r:%" PRIu64, ++a->next);
	struct mqtt_pub opt = {
		.qos = 1,
		.expiry_s = clock_expiry_s(a->timeout_ms),
		.response_topic = a->replies_topic,
		.corr = q->key,
		.corr_len = (uint16_t)strlen(q->key),
	};
	if (broker_publish(a->broker, TOPICS_RULES_REQUESTS, payload, strlen(payload), &opt) != 0)
		goto out;
	if (hmap_put(a->pending, q->key, q) != 0)
		goto out;
	ev_timer_init(&q->timer, timed_out, a->timeout_ms / 1000.0, 0.);
	ev_timer_start(loop(), &q->timer);
	if (key)
		memcpy(key, q->key, sizeof(q->key));
	q = NULL;
	rc = 0;
out:
	free(q);
	free(payload);
	json_decref(req);
	return rc;
}

void ask_cancel(struct ask *a, const char *key)
{
	if (!key || !*key)
		return;
	struct question *q = hmap_del(a->pending, key);
	if (q) {
		ev_timer_stop(loop(), &q->timer);
		free(q);
	}
}

void ask_complete(struct ask *a, const char *key, const void *payload, size_t len)
{
	struct question *q = hmap_del(a->pending, key);
	if (!q)
		return; /* answered too late: already 503 */
	ev_timer_stop(loop(), &q->timer);
	metrics_rules_latency(a->metrics, (double)(clock_mono_ms() - q->started_ms));
	json_t *reply = json_loadb(payload, len, 0, NULL);
	json_t *status = json_object_get(reply, "status");
	if (!json_is_integer(status)) {
		log_error("%s: %s: malformed reply from rules", __func__, key);
		q->done(q->arg, 503, NULL);
	} else {
		q->done(q->arg, (int)json_integer_value(status), json_object_get(reply, "body"));
	}
	json_decref(reply);
	free(q);
}
