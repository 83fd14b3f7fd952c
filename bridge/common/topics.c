/* topics: one table of the system's topic shapes, read both ways. */
#include "topics.h"

#include <stdio.h>
#include <string.h>

struct shape {
	const char *prefix; /* before the id (the whole topic when it has none) */
	const char *suffix; /* after the id; NULL: the topic has no id */
	const char *filter; /* what a subscriber to all of them asks for */
};

static const struct shape shapes[TOPICS_KIND_COUNT] = {
	[TOPICS_USER_NOTIFICATIONS] = {"users/", "/notifications", "users/+/notifications"},
	[TOPICS_USER_OUTBOX] = {"users/", "/outbox", "users/+/outbox"},
	[TOPICS_CHAT_IN] = {"chats/", "/in", "chats/+/in"},
	[TOPICS_CHAT_MESSAGES] = {"chats/", "/messages", "chats/+/messages"},
	[TOPICS_REQUESTS] = {TOPICS_RULES_REQUESTS, NULL, TOPICS_RULES_REQUESTS},
	[TOPICS_HELLO] = {TOPICS_RULES_HELLO, NULL, TOPICS_RULES_HELLO},
	[TOPICS_BRIDGE_REPLIES] = {"svc/bridges/", "/replies", "svc/bridges/+/replies"},
	[TOPICS_PRESENCE] = {"svc/presence/", "", "svc/presence/#"},
	[TOPICS_MEMBERS] = {"chats/", "/members", "chats/+/members"},
	[TOPICS_REVOCATION] = {"svc/revocations/", "", "svc/revocations/+"},
	[TOPICS_SVC_OUTBOX] = {"svc/in/users/", "", "svc/in/users/+"},
};

int topics_build(enum topics_kind kind, const char *id, char *out, size_t size)
{
	if (size)
		out[0] = '\0';
	if (kind <= TOPICS_OTHER || kind >= TOPICS_KIND_COUNT || !size)
		return -1;
	const struct shape *s = &shapes[kind];
	int n;
	if (!s->suffix) {
		n = snprintf(out, size, "%s", s->prefix);
	} else {
		if (!id || !ids_valid(id))
			return -1;
		n = snprintf(out, size, "%s%s%s", s->prefix, id, s->suffix);
	}
	if (n < 0 || (size_t)n >= size) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

enum topics_kind topics_parse(const char *topic, char id[IDS_MAX + 1])
{
	if (id)
		id[0] = '\0';
	if (!topic)
		return TOPICS_OTHER;
	size_t len = strlen(topic);
	for (int k = TOPICS_OTHER + 1; k < TOPICS_KIND_COUNT; k++) {
		const struct shape *s = &shapes[k];
		size_t pl = strlen(s->prefix);
		if (!s->suffix) {
			if (!strcmp(topic, s->prefix))
				return (enum topics_kind)k;
			continue;
		}
		size_t sl = strlen(s->suffix);
		if (len <= pl + sl || strncmp(topic, s->prefix, pl) || strcmp(topic + len - sl, s->suffix))
			continue;
		const char *start = topic + pl;
		size_t n = len - pl - sl;
		if (!ids_valid_n(start, n))
			continue; /* a '/' or a bad character inside: not this shape */
		if (id) {
			memcpy(id, start, n);
			id[n] = '\0';
		}
		return (enum topics_kind)k;
	}
	return TOPICS_OTHER;
}

const char *topics_filter(enum topics_kind kind)
{
	if (kind <= TOPICS_OTHER || kind >= TOPICS_KIND_COUNT)
		return NULL;
	return shapes[kind].filter;
}
