/* presence: events and snapshots, built from subs' topics. */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "topics.h"

struct presence {
	struct broker *broker;
	struct subs *subs;
	char topic[TOPICS_MAX];
};

struct presence *presence_new(struct broker *broker, struct subs *subs, const char *topic)
{
	struct presence *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->broker = broker;
	p->subs = subs;
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	return p;
}

void presence_free(struct presence *p)
{
	free(p);
}

static void send_json(struct presence *p, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s)
		broker_publish(p->broker, p->topic, s, strlen(s), NULL);
	free(s);
	json_decref(j);
}

void presence_changed(struct presence *p, const char *topic, bool online)
{
	char uid[IDS_MAX + 1];
	if (topics_parse(topic, uid) != TOPICS_USER_NOTIFICATIONS || !broker_up(p->broker))
		return;
	send_json(p, json_pack("{s:s, s:b}", "user_id", uid, "online", online));
}

static void add_user(const char *topic, void *arg)
{
	char uid[IDS_MAX + 1];
	if (topics_parse(topic, uid) == TOPICS_USER_NOTIFICATIONS)
		json_array_append_new(arg, json_string(uid));
}

void presence_snapshot(struct presence *p)
{
	if (!broker_up(p->broker))
		return;
	json_t *users = json_array();
	if (users)
		subs_each_topic(p->subs, add_user, users);
	send_json(p, users ? json_pack("{s:o}", "snapshot", users) : NULL);
}

void presence_goodbye(struct presence *p)
{
	if (broker_up(p->broker))
		broker_publish(p->broker, p->topic, PRESENCE_GONE, sizeof(PRESENCE_GONE) - 1, NULL);
}
