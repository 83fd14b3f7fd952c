/* requests: pending questions to rules, each with its own timer. */
#include "requests.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"

struct request {
	lws_sorted_usec_list_t sul; /* first: the timer callback finds the request */
	struct edge *edge;
	char key[REQUESTS_KEY_MAX];
	requests_done_fn done;
	void *arg;
	int64_t started_ms;
};

int requests_init(struct edge *e)
{
	e->requests = hmap_new();
	return e->requests ? 0 : -1;
}

static void drop(const char *key, void *value, void *arg)
{
	struct request *r = value;
	lws_sul_cancel(&r->sul);
	free(r);
}

void requests_free(struct edge *e)
{
	if (e->requests)
		hmap_each(e->requests, drop, NULL);
	hmap_free(e->requests);
	e->requests = NULL;
}

static void timed_out(lws_sorted_usec_list_t *sul)
{
	struct request *r = lws_container_of(sul, struct request, sul);
	struct edge *e = r->edge;
	hmap_del(e->requests, r->key);
	log_warn("request %s: rules did not answer within %d ms", r->key, e->cfg.request_timeout_ms);
	metrics_rules_latency(&e->metrics, (double)e->cfg.request_timeout_ms);
	r->done(e, r->arg, 503, NULL);
	free(r);
}

int requests_send(struct edge *e, json_t *req, requests_done_fn done, void *arg, char *key)
{
	int rc = -1;
	char *payload = NULL;
	struct request *r = NULL;
	if (!req || !broker_up(e))
		goto out;
	r = calloc(1, sizeof(*r));
	payload = json_dumps(req, JSON_COMPACT);
	if (!r || !payload)
		goto out;
	r->edge = e;
	r->done = done;
	r->arg = arg;
	r->started_ms = ids_mono_ms();
	snprintf(r->key, sizeof(r->key), "r:%" PRIu64, ++e->next_request);
	uint32_t expiry = (uint32_t)((e->cfg.request_timeout_ms + 999) / 1000);
	struct mqtt_pub opt = {
		.qos = 1,
		.expiry_s = expiry ? expiry : 1,
		.response_topic = e->replies_topic,
		.corr = r->key,
		.corr_len = (uint16_t)strlen(r->key),
	};
	if (broker_publish(e, "svc/rules/requests", payload, strlen(payload), &opt) != 0)
		goto out;
	if (hmap_put(e->requests, r->key, r) != 0)
		goto out;
	lws_sul_schedule(e->ctx, 0, &r->sul, timed_out, (lws_usec_t)e->cfg.request_timeout_ms * LWS_US_PER_MS);
	if (key)
		memcpy(key, r->key, sizeof(r->key));
	r = NULL;
	rc = 0;
out:
	free(r);
	free(payload);
	json_decref(req);
	return rc;
}

void requests_cancel(struct edge *e, const char *key)
{
	if (!key || !*key)
		return;
	struct request *r = hmap_del(e->requests, key);
	if (r) {
		lws_sul_cancel(&r->sul);
		free(r);
	}
}

void requests_complete(struct edge *e, const char *key, const void *payload, size_t len)
{
	struct request *r = hmap_del(e->requests, key);
	if (!r)
		return; /* answered too late: already 503 */
	lws_sul_cancel(&r->sul);
	metrics_rules_latency(&e->metrics, (double)(ids_mono_ms() - r->started_ms));
	json_t *reply = json_loadb(payload, len, 0, NULL);
	json_t *status = json_object_get(reply, "status");
	if (!json_is_integer(status)) {
		log_error("%s: %s: malformed reply from rules", __func__, key);
		r->done(e, r->arg, 503, NULL);
	} else {
		r->done(e, r->arg, (int)json_integer_value(status), json_object_get(reply, "body"));
	}
	json_decref(reply);
	free(r);
}
