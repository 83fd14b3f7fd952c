/* fuzz_acl: the broker's allow/deny decision (bridge/plugin/acl.h).
 *
 * Input: three bytes of choices, then three NUL-terminated strings.
 *   byte 0  bit 0: the kind is acl_kind_of(username), else byte 0 >> 1
 *           taken raw (any enum value, invalid ones included)
 *   byte 1  the access, raw modulo 8 (0, 6 and 7 are not accesses)
 *   byte 2  bit 0: the retain flag
 *   strings username (also the user id), topic or filter, client id
 * Properties (acl.h, PROTOCOL.md "MQTT topics"):
 *   - nobody (nor an unknown kind) gets anything, unsubscribing included;
 *     '$' topics and empty topics are refused to all;
 *     a concrete access never allows a topic with '+' or '#';
 *   - a user may only subscribe to / read users/<own id>/notifications and
 *     write users/<own id>/outbox, never retained, never as a will;
 *   - for services, reading a topic and subscribing to it agree, and a
 *     filter is allowed only when every topic it matches may be read (each
 *     '+' and '#' replaced by ids, '#' also by nothing);
 *   - the bridge never writes svc/presence/mqtt (the plugin's);
 *   - a client id is accepted only as "<user id>:<valid id>". */
#include "acl.h"
#include "fuzz_input.h"
#include "ids.h"

#define TOPIC_MAX 512
/* Both a valid id and a valid bridge id, so it may stand in any level. */
#define ANY_ID "b-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A filter as MQTT allows it: '+' and '#' only as whole levels, '#' last. */
static bool filter_valid(const char *f)
{
	if (!f[0])
		return false;
	for (const char *l = f;;) {
		size_t n = strcspn(l, "/");
		if (memchr(l, '#', n) && (n != 1 || l[n] != '\0'))
			return false;
		if (memchr(l, '+', n) && n != 1)
			return false;
		if (!l[n])
			return true;
		l += n + 1;
	}
}

/* Writes filter f with every '+' level replaced by ANY_ID and a final '#'
 * level by `hash` (NULL: the parent level, "a/#" -> "a"). False when the
 * result is empty or too long. */
static bool instance(const char *f, const char *hash, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (const char *l = f;;) {
		size_t len = strcspn(l, "/");
		bool last = l[len] == '\0';
		const char *part = l;
		size_t plen = len;
		if (len == 1 && l[0] == '+') {
			part = ANY_ID;
			plen = strlen(ANY_ID);
		} else if (len == 1 && l[0] == '#') {
			if (!hash) {
				if (n == 0)
					return false;
				n--; /* drop the '/' before it */
				break;
			}
			part = hash;
			plen = strlen(hash);
		}
		if (n + plen + 2 > cap)
			return false;
		memcpy(out + n, part, plen);
		n += plen;
		if (last)
			break;
		out[n++] = '/';
		l += len + 1;
	}
	out[n] = '\0';
	return n > 0;
}

static void check_user(const char *uid, enum acl_access access, const char *topic, bool retain)
{
	char want[TOPIC_MAX];
	FUZZ_ASSERT(!retain && ids_valid(uid));
	switch (access) {
	case ACL_SUBSCRIBE:
	case ACL_READ:
		snprintf(want, sizeof(want), "users/%s/notifications", uid);
		break;
	case ACL_WRITE:
		snprintf(want, sizeof(want), "users/%s/outbox", uid);
		break;
	default:
		FUZZ_ASSERT(!"a user may only subscribe, read and write");
	}
	FUZZ_ASSERT(!strcmp(topic, want));
}

static void check_service(enum acl_kind kind, enum acl_access access, const char *topic)
{
	if (access == ACL_READ)
		FUZZ_ASSERT(acl_allows(kind, NULL, ACL_SUBSCRIBE, topic, false));
	if (access == ACL_WRITE || access == ACL_WILL)
		FUZZ_ASSERT(!(kind == ACL_BRIDGE && !strcmp(topic, "svc/presence/mqtt")));
	if (access != ACL_SUBSCRIBE)
		return;
	if (!strpbrk(topic, "+#"))
		FUZZ_ASSERT(acl_allows(kind, NULL, ACL_READ, topic, false));
	if (!filter_valid(topic))
		return;
	static const char *const hashes[] = {NULL, ANY_ID, ANY_ID "/" ANY_ID};
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		char t[TOPIC_MAX + 64];
		if (instance(topic, hashes[i], t, sizeof(t)))
			FUZZ_ASSERT(acl_allows(kind, NULL, ACL_READ, t, false));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	uint8_t k = fuzz_byte(&in);
	int access_raw = fuzz_byte(&in) % 8;
	bool retain = fuzz_byte(&in) & 1;
	char username[TOPIC_MAX], topic[TOPIC_MAX], client_id[TOPIC_MAX];
	fuzz_str(&in, username, sizeof(username));
	fuzz_str(&in, topic, sizeof(topic));
	fuzz_str(&in, client_id, sizeof(client_id));

	enum acl_kind of = acl_kind_of(username);
	FUZZ_ASSERT((of == ACL_USER) == ids_valid(username));
	FUZZ_ASSERT((of == ACL_BRIDGE) == !strcmp(username, ACL_USERNAME_BRIDGE));
	FUZZ_ASSERT((of == ACL_RULES) == !strcmp(username, ACL_USERNAME_RULES));
	FUZZ_ASSERT(acl_kind_of(NULL) == ACL_NOBODY);

	enum acl_kind kind = k & 1 ? of : (enum acl_kind)(k >> 1);
	enum acl_access access = (enum acl_access)access_raw;
	const char *uid = kind == ACL_USER ? username : (k & 2 ? username : NULL);
	bool allowed = acl_allows(kind, uid, access, topic, retain);
	FUZZ_ASSERT(allowed == acl_allows(kind, uid, access, topic, retain)); /* no state */

	if (access == ACL_UNSUBSCRIBE) {
		FUZZ_ASSERT(allowed == (kind == ACL_USER || kind == ACL_BRIDGE || kind == ACL_RULES));
	} else if (allowed) {
		FUZZ_ASSERT(kind == ACL_USER || kind == ACL_BRIDGE || kind == ACL_RULES);
		FUZZ_ASSERT(access >= ACL_SUBSCRIBE && access <= ACL_WILL);
		FUZZ_ASSERT(topic[0] && topic[0] != '$');
		if (access != ACL_SUBSCRIBE)
			FUZZ_ASSERT(!strpbrk(topic, "+#"));
		if (kind == ACL_USER)
			check_user(uid, access, topic, retain);
		else
			check_service(kind, access, topic);
	}

	if (acl_client_id_ok(username, client_id)) {
		size_t n = strlen(username);
		FUZZ_ASSERT(ids_valid(username) && !strncmp(client_id, username, n) && client_id[n] == ':');
		FUZZ_ASSERT(ids_valid(client_id + n + 1));
	}
	FUZZ_ASSERT(!acl_client_id_ok(NULL, client_id) && !acl_client_id_ok(username, NULL));
	return 0;
}
