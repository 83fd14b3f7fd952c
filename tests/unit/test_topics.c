/* test_topics: every topic of schemas/INTERNAL.md built and parsed back, and
 * the shapes that are not ours refused. */
#include <string.h>

#include "check.h"
#include "topics.h"

static void round_trip(enum topics_kind kind, const char *id, const char *want)
{
	char t[TOPICS_MAX], got[IDS_MAX + 1];
	CHECK_EQ_INT(topics_build(kind, id, t, sizeof(t)), 0);
	CHECK_EQ_STR(t, want);
	CHECK_EQ_INT(topics_parse(t, got), kind);
	CHECK_EQ_STR(got, id ? id : "");
}

int main(void)
{
	round_trip(TOPICS_USER_NOTIFICATIONS, "alice", "users/alice/notifications");
	round_trip(TOPICS_USER_OUTBOX, "7", "users/7/outbox");
	round_trip(TOPICS_CHAT_IN, "conv-1", "chats/conv-1/in");
	round_trip(TOPICS_CHAT_MESSAGES, "conv_1", "chats/conv_1/messages");
	round_trip(TOPICS_REQUESTS, NULL, "svc/rules/requests");
	round_trip(TOPICS_HELLO, NULL, "svc/rules/hello");
	round_trip(TOPICS_BRIDGE_REPLIES, "b-0123456789abcdef", "svc/bridges/b-0123456789abcdef/replies");
	round_trip(TOPICS_PRESENCE, "mqtt", "svc/presence/mqtt");

	/* the longest id fits every shape */
	char id64[IDS_MAX + 1], t[TOPICS_MAX];
	memset(id64, 'x', IDS_MAX);
	id64[IDS_MAX] = '\0';
	for (int k = TOPICS_OTHER + 1; k < TOPICS_KIND_COUNT; k++)
		CHECK_EQ_INT(topics_build((enum topics_kind)k, id64, t, sizeof(t)), 0);

	/* building refuses bad ids, bad kinds and short buffers */
	CHECK_EQ_INT(topics_build(TOPICS_USER_OUTBOX, "a/b", t, sizeof(t)), -1);
	CHECK_EQ_STR(t, "");
	CHECK_EQ_INT(topics_build(TOPICS_USER_OUTBOX, "+", t, sizeof(t)), -1);
	CHECK_EQ_INT(topics_build(TOPICS_USER_OUTBOX, "", t, sizeof(t)), -1);
	CHECK_EQ_INT(topics_build(TOPICS_USER_OUTBOX, NULL, t, sizeof(t)), -1);
	CHECK_EQ_INT(topics_build(TOPICS_OTHER, "a", t, sizeof(t)), -1);
	CHECK_EQ_INT(topics_build(TOPICS_KIND_COUNT, "a", t, sizeof(t)), -1);
	CHECK_EQ_INT(topics_build(TOPICS_USER_OUTBOX, "alice", t, 10), -1);
	CHECK_EQ_STR(t, "");

	/* parsing: not ours, or an id that breaks the rule */
	char id[IDS_MAX + 1];
	const char *others[] = {
		"users/alice", "users//outbox", "users/a/b/outbox", "users/+/outbox", "users/alice/outbox/x",
		"chats/c1/out", "svc/rules/requests/x", "svc/rules", "svc/bridges//replies", "svc/presence/",
		"svc/presence/a/b", "Users/alice/outbox", "", "users/alice/notificationsx",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK_EQ_INT(topics_parse(others[i], id), TOPICS_OTHER);
		CHECK_EQ_STR(id, "");
	}
	char long_topic[TOPICS_MAX + 16];
	snprintf(long_topic, sizeof(long_topic), "users/%sx/outbox", id64);
	CHECK_EQ_INT(topics_parse(long_topic, id), TOPICS_OTHER);
	CHECK_EQ_INT(topics_parse(NULL, id), TOPICS_OTHER);
	CHECK_EQ_INT(topics_parse("chats/c1/in", NULL), TOPICS_CHAT_IN);

	/* filters */
	CHECK_EQ_STR(topics_filter(TOPICS_USER_OUTBOX), "users/+/outbox");
	CHECK_EQ_STR(topics_filter(TOPICS_CHAT_IN), "chats/+/in");
	CHECK_EQ_STR(topics_filter(TOPICS_PRESENCE), "svc/presence/#");
	CHECK_EQ_STR(topics_filter(TOPICS_REQUESTS), "svc/rules/requests");
	CHECK(topics_filter(TOPICS_OTHER) == NULL);
	return check_done("test_topics");
}
