/* acl: the topic tables of the broker and the filter-coverage check.
 *
 * A rule is a pattern of topic levels. Pattern levels:
 *   literal   the level must be exactly this text
 *   {self}    the client's own user id, exactly (no wildcard may stand in)
 *   {id}      one id (id rule), or '+' in a subscription filter
 *   {bid}     one bridge id ("b-" + 16 hex digits), or '+' in a filter
 *   #         (last level only) any number of further levels, '+' and '#'
 *             of a filter included
 * A concrete topic is allowed when it matches a rule; a subscription filter
 * when one rule covers every topic the filter can match. */
#include "acl.h"

#include <string.h>

#include "ids.h"

#define R_SUB (1u << ACL_SUBSCRIBE)
#define R_READ (1u << ACL_READ)
#define R_WRITE (1u << ACL_WRITE)
#define R_WILL (1u << ACL_WILL)

struct acl_rule {
	unsigned access; /* mask of 1 << enum acl_access */
	const char *pattern;
};

/* PROTOCOL.md "MQTT topics": a user reads its notifications and writes its
 * outbox, nothing else. No wills (a will skips the property rewrite of
 * auth_plugin.c, so it could carry forged sender properties). */
static const struct acl_rule user_rules[] = {
	{R_SUB | R_READ, "users/{self}/notifications"},
	{R_WRITE, "users/{self}/outbox"},
};

/* INTERNAL.md "Topics", the bridge column. Its will clears its presence. */
static const struct acl_rule bridge_rules[] = {
	{R_SUB | R_READ, "users/{id}/notifications"},
	{R_SUB | R_READ, "chats/{id}/messages"},
	{R_SUB | R_READ, "svc/bridges/{bid}/replies"},
	{R_SUB | R_READ, "svc/rules/hello"},
	{R_SUB | R_READ, "chats/{id}/members"},
	{R_SUB | R_READ, "svc/revocations/{id}"},
	{R_WRITE | R_WILL, "users/{id}/outbox"},
	{R_WRITE | R_WILL, "users/{id}/notifications"},
	{R_WRITE | R_WILL, "chats/{id}/in"},
	{R_WRITE | R_WILL, "svc/rules/requests"},
	{R_WRITE | R_WILL, "svc/presence/{bid}"}, /* never svc/presence/mqtt: the plugin's */
};

/* INTERNAL.md "Topics", the rules column. */
static const struct acl_rule rules_rules[] = {
	{R_SUB | R_READ, "users/{id}/outbox"},
	{R_SUB | R_READ, "chats/{id}/in"},
	{R_SUB | R_READ, "svc/rules/requests"},
	{R_SUB | R_READ, "svc/presence/#"},
	{R_WRITE | R_WILL, "users/{id}/notifications"},
	{R_WRITE | R_WILL, "chats/{id}/messages"},
	{R_WRITE | R_WILL, "svc/bridges/{bid}/replies"},
	{R_WRITE | R_WILL, "svc/rules/hello"},
	{R_WRITE, "chats/{id}/members"},
	{R_WRITE, "svc/revocations/{id}"}, /* retained; the plugin reads it as it passes */
};

enum acl_kind acl_kind_of(const char *username)
{
	if (!username)
		return ACL_NOBODY;
	if (!strcmp(username, ACL_USERNAME_BRIDGE))
		return ACL_BRIDGE;
	if (!strcmp(username, ACL_USERNAME_RULES))
		return ACL_RULES;
	if (ids_valid(username))
		return ACL_USER;
	return ACL_NOBODY;
}

static bool level_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(s, word, len);
}

/* Does one filter (or topic) level t fit one non-'#' pattern level p? */
static bool level_ok(const char *p, size_t pl, const char *t, size_t tl, const char *self, bool filter)
{
	bool plus = filter && level_is(t, tl, "+");
	if (level_is(p, pl, "{self}"))
		return self && level_is(t, tl, self);
	if (level_is(p, pl, "{id}"))
		return plus || ids_valid_n(t, tl);
	if (level_is(p, pl, "{bid}"))
		return plus || ids_is_bridge_id(t, tl);
	return pl == tl && !memcmp(p, t, tl);
}

/* True when every topic matching t (a filter when `filter`) matches pat. */
static bool covered(const char *pat, const char *t, const char *self, bool filter)
{
	const char *p = pat;
	for (;;) {
		size_t pl = strcspn(p, "/"), tl = strcspn(t, "/");
		if (level_is(p, pl, "#"))
			return true;
		if (!level_ok(p, pl, t, tl, self, filter))
			return false; /* a filter's '#' lands here too: only a pattern '#' covers it */
		bool p_end = p[pl] == '\0', t_end = t[tl] == '\0';
		if (p_end || t_end)
			return (p_end && t_end) || (t_end && !strcmp(p + pl, "/#"));
		p += pl + 1;
		t += tl + 1;
	}
}

static bool topic_sane(const char *topic, bool filter)
{
	if (!topic || !topic[0] || topic[0] == '$')
		return false;
	if (!filter && strpbrk(topic, "+#"))
		return false;
	return true;
}

bool acl_allows(enum acl_kind kind, const char *user_id, enum acl_access access, const char *topic, bool retain)
{
	const struct acl_rule *rules;
	size_t n;
	bool filter = access == ACL_SUBSCRIBE || access == ACL_UNSUBSCRIBE;

	if (access == ACL_UNSUBSCRIBE)
		return kind == ACL_USER || kind == ACL_BRIDGE || kind == ACL_RULES;
	if (access < ACL_SUBSCRIBE || access > ACL_WILL || !topic_sane(topic, filter))
		return false;
	switch (kind) {
	case ACL_USER:
		if (!ids_valid(user_id ? user_id : "") || retain)
			return false;
		rules = user_rules;
		n = sizeof(user_rules) / sizeof(user_rules[0]);
		break;
	case ACL_BRIDGE:
		rules = bridge_rules;
		n = sizeof(bridge_rules) / sizeof(bridge_rules[0]);
		break;
	case ACL_RULES:
		rules = rules_rules;
		n = sizeof(rules_rules) / sizeof(rules_rules[0]);
		break;
	default:
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if ((rules[i].access & (1u << access)) && covered(rules[i].pattern, topic, user_id, filter))
			return true;
	return false;
}

bool acl_client_id_ok(const char *user_id, const char *client_id)
{
	if (!user_id || !client_id || !ids_valid(user_id))
		return false;
	size_t n = strlen(user_id);
	if (strncmp(client_id, user_id, n) || client_id[n] != ':')
		return false;
	return ids_valid(client_id + n + 1);
}
