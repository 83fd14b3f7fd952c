/* inbox: topic -> who gets it. */
#include "inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "log.h"
#include "revoked.h"
#include "topics.h"

#define INBOX_CORR_MAX 64

struct inbox {
	struct inbox_cfg cfg;
	char replies_topic[TOPICS_MAX];
};

struct inbox *inbox_new(const struct inbox_cfg *cfg)
{
	struct inbox *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->cfg = *cfg;
	snprintf(in->replies_topic, sizeof(in->replies_topic), "%s", cfg->replies_topic);
	in->cfg.replies_topic = in->replies_topic;
	return in;
}

void inbox_free(struct inbox *in)
{
	free(in);
}

/* Replies to one socket are error frames rules decided: counted by their
 * parsed code like the bridge's own (ringmq_errors_total). */
static void count_error(struct inbox *in, const void *payload, size_t len)
{
	json_t *j = json_loadb(payload, len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (type && !strcmp(type, "error")) {
		int code = frames_code_parse(json_string_value(json_object_get(j, "code")));
		if (code > 0 && code < FRAMES_CODE_COUNT)
			in->cfg.metrics->errors[code]++;
	}
	json_decref(j);
}

static void reply(struct inbox *in, const void *payload, size_t len, const mosquitto_property *props)
{
	char corr[INBOX_CORR_MAX];
	if (mqtt_prop_corr(props, corr, sizeof(corr)) < 0)
		return;
	if (!strncmp(corr, "r:", 2)) {
		ask_complete(in->cfg.ask, corr, payload, len);
	} else if (!strncmp(corr, "d:", 2)) {
		count_error(in, payload, len);
		if (in->cfg.to_socket)
			in->cfg.to_socket(in->cfg.user, corr + 2, payload, len);
	}
}

static void revocation(struct inbox *in, const void *payload, size_t len)
{
	char uid[IDS_MAX + 1];
	int64_t before;
	if (revoked_parse(payload, len, uid, &before) != 0)
		log_warn("%s: a revocation that is not one (%zu bytes): ignored", __func__, len);
	else if (in->cfg.revoked)
		in->cfg.revoked(in->cfg.user, uid, before);
}

static void members(struct inbox *in, const char *cid, const void *payload, size_t len)
{
	json_t *j = json_loadb(payload, len, 0, NULL);
	const json_t *list = json_object_get(j, "members");
	if (!json_is_array(list))
		log_warn("%s: conversation %s: members message without a list: ignored", __func__, cid);
	else if (in->cfg.members)
		in->cfg.members(in->cfg.user, cid, list);
	json_decref(j);
}

void inbox_message(struct inbox *in, const char *topic, const void *payload, size_t len,
		   const mosquitto_property *props)
{
	char mark[2], id[IDS_MAX + 1];
	switch (topics_parse(topic, id)) {
	case TOPICS_REVOCATION:
		revocation(in, payload, len);
		return;
	case TOPICS_MEMBERS:
		members(in, id, payload, len);
		return;
	case TOPICS_BRIDGE_REPLIES:
		if (!strcmp(topic, in->replies_topic))
			reply(in, payload, len, props);
		return;
	case TOPICS_HELLO:
		presence_snapshot(in->cfg.presence);
		return;
	case TOPICS_USER_NOTIFICATIONS:
		if (mqtt_prop_user(props, INBOX_FOR_DEVICE, mark, sizeof(mark)))
			return; /* an MQTT device's answer: not for web sockets */
		break;
	default:
		break;
	}
	subs_deliver(in->cfg.subs, topic, payload, len);
}
