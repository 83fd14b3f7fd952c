/* test_acl: the broker's allow/deny table (bridge/plugin/acl.c), the
 * live-connection bookkeeping behind presence (bridge/plugin/logins.c) and a
 * phone's limits (bridge/plugin/limits.c: outbox rate, refusals, token end).
 * Every bypass form of issue 4 is a row below. */
#include <stdlib.h>

#include "acl.h"
#include "check.h"
#include "logins.h"

#define A "alice"
#define SUB ACL_SUBSCRIBE
#define READ ACL_READ
#define WRITE ACL_WRITE
#define WILL ACL_WILL
#define UNSUB ACL_UNSUBSCRIBE

struct acl_case {
	enum acl_kind kind;
	const char *user; /* the user's id (ACL_USER) */
	enum acl_access access;
	const char *topic;
	bool retain;
	bool want;
};

static const struct acl_case cases[] = {
	/* A user: own notifications (subscribe, read), own outbox (write). */
	{ACL_USER, A, SUB, "users/alice/notifications", false, true},
	{ACL_USER, A, READ, "users/alice/notifications", false, true},
	{ACL_USER, A, WRITE, "users/alice/outbox", false, true},
	{ACL_USER, A, UNSUB, "#", false, true},
	{ACL_USER, A, UNSUB, "users/bob/notifications", false, true},

	/* ...and nothing else of its own. */
	{ACL_USER, A, WRITE, "users/alice/notifications", false, false},
	{ACL_USER, A, SUB, "users/alice/outbox", false, false},
	{ACL_USER, A, READ, "users/alice/outbox", false, false},
	{ACL_USER, A, SUB, "users/alice/#", false, false},
	{ACL_USER, A, SUB, "users/alice/+", false, false},
	{ACL_USER, A, SUB, "users/alice/notifications/#", false, false},
	{ACL_USER, A, SUB, "users/alice/notifications/+", false, false},
	{ACL_USER, A, SUB, "users/alice/notifications/", false, false},
	{ACL_USER, A, SUB, "users/alice", false, false},
	{ACL_USER, A, SUB, "users/Alice/notifications", false, false},
	{ACL_USER, A, SUB, "/users/alice/notifications", false, false},
	{ACL_USER, A, SUB, "users//alice/notifications", false, false},
	{ACL_USER, A, WRITE, "users/alice/outbox/x", false, false},
	{ACL_USER, A, WRITE, "users/alice/outbox", true, false}, /* retained: a replay for every rules restart */

	/* Wildcards that cover others. */
	{ACL_USER, A, SUB, "#", false, false},
	{ACL_USER, A, SUB, "+", false, false},
	{ACL_USER, A, SUB, "+/#", false, false},
	{ACL_USER, A, SUB, "+/+/+", false, false},
	{ACL_USER, A, SUB, "+/alice/notifications", false, false},
	{ACL_USER, A, SUB, "users/#", false, false},
	{ACL_USER, A, SUB, "users/+/notifications", false, false},
	{ACL_USER, A, SUB, "users/+/+", false, false},
	{ACL_USER, A, SUB, "users/+/#", false, false},
	{ACL_USER, A, SUB, "users/+/outbox", false, false},

	/* Other users' topics. */
	{ACL_USER, A, SUB, "users/bob/notifications", false, false},
	{ACL_USER, A, SUB, "users/bob/#", false, false},
	{ACL_USER, A, READ, "users/bob/notifications", false, false},
	{ACL_USER, A, WRITE, "users/bob/outbox", false, false},
	{ACL_USER, A, WRITE, "users/bob/notifications", false, false},
	{ACL_USER, A, SUB, "users/alicex/notifications", false, false},
	{ACL_USER, A, SUB, "users/alic/notifications", false, false},

	/* $-topics and service topics. */
	{ACL_USER, A, SUB, "$share/g/users/bob/notifications", false, false},
	{ACL_USER, A, SUB, "$share/g/users/alice/notifications", false, false},
	{ACL_USER, A, SUB, "$share/g/#", false, false},
	{ACL_USER, A, SUB, "$SYS/#", false, false},
	{ACL_USER, A, READ, "$SYS/broker/uptime", false, false},
	{ACL_USER, A, WRITE, "$CONTROL/dynamic-security/v1", false, false},
	{ACL_USER, A, SUB, "chats/#", false, false},
	{ACL_USER, A, SUB, "chats/c1/messages", false, false},
	{ACL_USER, A, WRITE, "chats/c1/in", false, false},
	{ACL_USER, A, SUB, "svc/#", false, false},
	{ACL_USER, A, WRITE, "svc/rules/requests", false, false},
	{ACL_USER, A, WRITE, "svc/presence/mqtt", false, false},

	/* Wills: none for users, not even on the own outbox. */
	{ACL_USER, A, WILL, "users/alice/outbox", false, false},
	{ACL_USER, A, WILL, "users/bob/outbox", false, false},
	{ACL_USER, A, WILL, "users/alice/notifications", false, false},

	/* Wildcards never name a concrete topic. */
	{ACL_USER, A, WRITE, "users/+/outbox", false, false},
	{ACL_USER, A, WRITE, "users/alice/#", false, false},
	{ACL_USER, A, READ, "users/+/notifications", false, false},

	/* Empty and absent topics, a missing or bad user id. */
	{ACL_USER, A, SUB, "", false, false},
	{ACL_USER, A, SUB, NULL, false, false},
	{ACL_USER, NULL, SUB, "users/alice/notifications", false, false},
	{ACL_USER, "+", SUB, "users/+/notifications", false, false},
	{ACL_USER, "#", SUB, "users/#", false, false},
	{ACL_NOBODY, A, SUB, "users/alice/notifications", false, false},
	{ACL_NOBODY, NULL, UNSUB, "#", false, false},
	{(enum acl_kind)7, NULL, UNSUB, "#", false, false},
	{(enum acl_kind)7, NULL, SUB, "users/+/notifications", false, false},
	{ACL_USER, A, (enum acl_access)0, "users/alice/notifications", false, false},
	{ACL_USER, A, (enum acl_access)99, "users/alice/notifications", false, false},

	/* The bridge. */
	{ACL_BRIDGE, NULL, SUB, "users/+/notifications", false, true},
	{ACL_BRIDGE, NULL, SUB, "users/bob/notifications", false, true},
	{ACL_BRIDGE, NULL, READ, "users/bob/notifications", false, true},
	{ACL_BRIDGE, NULL, SUB, "chats/+/messages", false, true},
	{ACL_BRIDGE, NULL, SUB, "svc/bridges/b-0123456789abcdef/replies", false, true},
	{ACL_BRIDGE, NULL, SUB, "svc/bridges/+/replies", false, true},
	{ACL_BRIDGE, NULL, SUB, "svc/rules/hello", false, true},
	{ACL_BRIDGE, NULL, WRITE, "users/bob/outbox", false, true},
	{ACL_BRIDGE, NULL, WRITE, "users/bob/notifications", false, true},
	{ACL_BRIDGE, NULL, WRITE, "chats/c-1/in", false, true},
	{ACL_BRIDGE, NULL, WRITE, "svc/rules/requests", false, true},
	{ACL_BRIDGE, NULL, WRITE, "svc/presence/b-0123456789ABCDEF", false, true},
	{ACL_BRIDGE, NULL, WILL, "svc/presence/b-0123456789abcdef", false, true},
	{ACL_BRIDGE, NULL, WRITE, "svc/presence/mqtt", false, false}, /* the plugin's own source */
	{ACL_BRIDGE, NULL, WRITE, "svc/presence/b-0123", false, false},
	{ACL_BRIDGE, NULL, SUB, "#", false, false},
	{ACL_BRIDGE, NULL, SUB, "users/#", false, false},
	{ACL_BRIDGE, NULL, SUB, "users/+/+", false, false},
	{ACL_BRIDGE, NULL, SUB, "users/+/outbox", false, false},
	{ACL_BRIDGE, NULL, SUB, "chats/+/in", false, false},
	{ACL_BRIDGE, NULL, SUB, "svc/rules/requests", false, false},
	{ACL_BRIDGE, NULL, SUB, "svc/presence/+", false, false},
	{ACL_BRIDGE, NULL, SUB, "svc/bridges/#", false, false},
	{ACL_BRIDGE, NULL, SUB, "svc/bridges/evil/replies", false, false},
	{ACL_BRIDGE, NULL, SUB, "$SYS/#", false, false},
	{ACL_BRIDGE, NULL, SUB, "$share/g/users/+/notifications", false, false},
	{ACL_BRIDGE, NULL, WRITE, "chats/c1/messages", false, false},
	{ACL_BRIDGE, NULL, WRITE, "svc/rules/hello", false, false},
	{ACL_BRIDGE, NULL, WRITE, "svc/bridges/b-0123456789abcdef/replies", false, false},
	{ACL_BRIDGE, NULL, WRITE, "users/bad id/outbox", false, false},
	{ACL_BRIDGE, NULL, WRITE, "users//outbox", false, false},

	/* Rules. */
	{ACL_RULES, NULL, SUB, "users/+/outbox", false, true},
	{ACL_RULES, NULL, SUB, "chats/+/in", false, true},
	{ACL_RULES, NULL, SUB, "svc/rules/requests", false, true},
	{ACL_RULES, NULL, SUB, "svc/presence/#", false, true},
	{ACL_RULES, NULL, SUB, "svc/presence/+", false, true},
	{ACL_RULES, NULL, READ, "svc/presence/mqtt", false, true},
	{ACL_RULES, NULL, READ, "svc/presence/b-0123456789abcdef", false, true},
	{ACL_RULES, NULL, WRITE, "users/bob/notifications", false, true},
	{ACL_RULES, NULL, WRITE, "chats/c1/messages", false, true},
	{ACL_RULES, NULL, WRITE, "svc/bridges/b-0123456789abcdef/replies", false, true},
	{ACL_RULES, NULL, WRITE, "svc/rules/hello", false, true},
	{ACL_RULES, NULL, SUB, "users/+/notifications", false, false},
	{ACL_RULES, NULL, SUB, "users/#", false, false},
	{ACL_RULES, NULL, SUB, "svc/#", false, false},
	{ACL_RULES, NULL, SUB, "svc/+/requests", false, false},
	{ACL_RULES, NULL, WRITE, "users/bob/outbox", false, false},
	{ACL_RULES, NULL, WRITE, "svc/presence/mqtt", false, false},
	{ACL_RULES, NULL, WRITE, "svc/rules/requests", false, false},
	{ACL_RULES, NULL, SUB, "$SYS/#", false, false},
};

struct kind_case {
	const char *username;
	enum acl_kind want;
};

static const struct kind_case kinds[] = {
	{"alice", ACL_USER},
	{"7", ACL_USER},
	{"a_b-C9", ACL_USER},
	{"svc:bridge", ACL_BRIDGE},
	{"svc:rules", ACL_RULES},
	{"svc:other", ACL_NOBODY},
	{"svc:bridge ", ACL_NOBODY},
	{"", ACL_NOBODY},
	{NULL, ACL_NOBODY},
	{"+", ACL_NOBODY},
	{"#", ACL_NOBODY},
	{"a/b", ACL_NOBODY},
	{"al+ce", ACL_NOBODY},
	{"alice#", ACL_NOBODY},
	{"$SYS", ACL_NOBODY},
	{"ali ce", ACL_NOBODY},
	{"alice:phone", ACL_NOBODY},
	{"0123456789012345678901234567890123456789012345678901234567890123", ACL_USER},   /* 64 */
	{"01234567890123456789012345678901234567890123456789012345678901234", ACL_NOBODY}, /* 65 */
};

struct cid_case {
	const char *user, *client_id;
	bool want;
};

static const struct cid_case cids[] = {
	{"alice", "alice:phone", true},
	{"alice", "alice:0c3c6b0e-6f0a-4b6e-9d4e-2f0f5d7b8a11", true},
	{"alice", "alice", false},
	{"alice", "alice:", false},
	{"alice", "alice:a:b", false},
	{"alice", "alice:a/b", false},
	{"alice", "alicex:phone", false},
	{"alice", "alic:phone", false},
	{"alice", "bob:phone", false},
	{"alice", "ringmq-rules", false},
	{"alice", "", false},
	{"alice", NULL, false},
	{NULL, "alice:phone", false},
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct acl_case *c = &cases[i];
		bool got = acl_allows(c->kind, c->user, c->access, c->topic, c->retain);
		if (got != c->want)
			fprintf(stderr, "row %zu: kind %d user %s access %d topic \"%s\" retain %d\n", i, c->kind,
				c->user ? c->user : "(null)", c->access, c->topic ? c->topic : "(null)", c->retain);
		CHECK_EQ_INT(got, c->want);
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (acl_kind_of(kinds[i].username) != kinds[i].want)
			fprintf(stderr, "kind row %zu: \"%s\"\n", i, kinds[i].username ? kinds[i].username : "(null)");
		CHECK_EQ_INT(acl_kind_of(kinds[i].username), kinds[i].want);
	}
	for (size_t i = 0; i < sizeof(cids) / sizeof(cids[0]); i++) {
		if (acl_client_id_ok(cids[i].user, cids[i].client_id) != cids[i].want)
			fprintf(stderr, "client id row %zu\n", i);
		CHECK_EQ_INT(acl_client_id_ok(cids[i].user, cids[i].client_id), cids[i].want);
	}
}

static void count_user(const char *user_id, void *arg)
{
	(void)user_id;
	(*(int *)arg)++;
}

static void count_entry(struct login *l, void *arg)
{
	(void)l;
	(*(int *)arg)++;
}

static void test_logins(void)
{
	struct logins *s = logins_new();
	int a1, a2, b1, many[500];
	char uid[IDS_MAX + 1] = "";

	CHECK(s != NULL);
	CHECK_EQ_INT(logins_add(s, &a1, "alice", "Alice A.", "alice:phone"), 1); /* 0 -> 1: online */
	CHECK_EQ_INT(logins_add(s, &a2, "alice", "Alice A.", "alice:tablet"), 0);
	CHECK_EQ_INT(logins_add(s, &b1, "bob", NULL, "bob:phone"), 1);
	CHECK_EQ_INT(logins_users(s), 2);
	CHECK_EQ_STR(logins_find(s, &a1)->username, "Alice A.");
	CHECK_EQ_STR(logins_find(s, &b1)->username, "bob"); /* no name: the id */
	CHECK(logins_find(s, &uid) == NULL);
	CHECK_EQ_INT(logins_add(s, &a1, "bad/id", NULL, "x"), -1);

	CHECK_EQ_INT(logins_remove(s, &a1, uid), 0); /* alice still has the tablet */
	CHECK_EQ_INT(logins_remove(s, &a1, uid), 0); /* unknown now */
	CHECK_EQ_INT(logins_remove(s, &a2, uid), 1); /* 1 -> 0: offline */
	CHECK_EQ_STR(uid, "alice");
	CHECK_EQ_INT(logins_users(s), 1);

	/* A takeover: a second login with the same client id supersedes the
	 * first; the user stays online when the old connection goes. */
	CHECK_EQ_INT(logins_add(s, &a1, "alice", NULL, "alice:phone"), 1);
	CHECK_EQ_INT(logins_add(s, &a2, "alice", NULL, "alice:phone"), 0);
	CHECK(logins_find(s, &a1)->superseded);
	CHECK(!logins_find(s, &a2)->superseded);
	CHECK_EQ_INT(logins_remove(s, &a1, uid), 0);
	CHECK(!logins_find(s, &a2)->superseded);

	/* A reused pointer replaces its stale entry without double counting. */
	CHECK_EQ_INT(logins_add(s, &a2, "alice", NULL, "alice:phone"), 0);
	CHECK_EQ_INT(logins_remove(s, &a2, uid), 1);

	/* Growth: many users, each counted once. */
	char id[16];
	for (int i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		CHECK_EQ_INT(logins_add(s, &many[i], id, NULL, id), 1);
	}
	int n = 0;
	logins_each_user(s, count_user, &n);
	CHECK_EQ_INT(n, 501); /* bob too */
	for (int i = 0; i < 500; i++)
		CHECK_EQ_INT(logins_remove(s, &many[i], uid), 1);
	CHECK_EQ_INT(logins_users(s), 1);

	/* Limits and kick flags live in the entry; a refresh clears them. */
	CHECK_EQ_INT(logins_add(s, &a1, "alice", NULL, "alice:phone"), 1);
	struct login *l = logins_get(s, &a1);
	CHECK(l != NULL && !l->kick && !l->kicked && !l->client_id_cut);
	l->kick = true;
	l->limits.refused = 7;
	int entries = 0;
	logins_each(s, count_entry, &entries);
	CHECK_EQ_INT(entries, 2); /* alice's phone, bob's */
	CHECK_EQ_INT(logins_add(s, &a1, "alice", NULL, "alice:phone"), 0);
	CHECK(!l->kick && l->limits.refused == 0);
	CHECK(logins_get(s, &uid) == NULL);
	char long_id[300];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	CHECK_EQ_INT(logins_add(s, &a2, "alice", NULL, long_id), 0);
	CHECK(logins_get(s, &a2)->client_id_cut);
	logins_free(s);
	logins_free(NULL);
}

static void test_limits(void)
{
	struct limits_cfg cfg = LIMITS_CFG_DEFAULT;
	struct limits l;
	CHECK_EQ_INT(cfg.rate, 50);
	CHECK_EQ_INT(cfg.burst, 100);

	/* The outbox rate: a burst of 100, then 50 a second. */
	limits_init(&l, &cfg, 1000, 0, 5000);
	int passed = 0;
	for (int i = 0; i < 3000; i++)
		passed += limits_take(&l, &cfg, 5000);
	CHECK_EQ_INT(passed, 100);
	passed = 0;
	for (int t = 5020; t <= 6000; t += 20)
		passed += limits_take(&l, &cfg, t);
	CHECK_EQ_INT(passed, 50);

	/* The 100th refusal within 10 s ends the connection, not the 99th. */
	bool end = false;
	for (int i = 0; i < 99; i++)
		end = end || limits_refused(&l, 10000 + i);
	CHECK(!end);
	CHECK(limits_refused(&l, 10100));
	/* A new window after 10 s: counting starts again. */
	limits_init(&l, &cfg, 0, 0, 0);
	for (int i = 0; i < 99; i++)
		CHECK(!limits_refused(&l, 1000));
	CHECK(!limits_refused(&l, 11001)); /* the old window is over: the 1st of a new one */
	for (int i = 0; i < 98; i++)
		CHECK(!limits_refused(&l, 12000));
	CHECK(limits_refused(&l, 12000));

	/* The token's end: exp plus the leeway, the second jwt_check refuses it from. */
	limits_init(&l, &cfg, 1000, 0, 0);
	CHECK(!limits_expired(&l, 999));
	CHECK(limits_expired(&l, 1000));
	limits_init(&l, &cfg, 1000, 30, 0);
	CHECK(!limits_expired(&l, 1029));
	CHECK(limits_expired(&l, 1030));
	limits_init(&l, &cfg, 0, 30, 0); /* no exp (require_exp false): never */
	CHECK(!limits_expired(&l, INT64_MAX));
}

int main(void)
{
	test_table();
	test_logins();
	test_limits();
	return check_done("test_acl");
}
