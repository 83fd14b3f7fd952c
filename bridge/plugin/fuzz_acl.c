/* fuzz_acl: libFuzzer target for the ACL decision (built with RINGMQ_FUZZ).
 * Input: first byte picks kind, access and retain; the rest, split at the
 * first NUL, is the user id and the topic. Checks the invariants that make
 * the table safe whatever it is fed: users never get a '$' topic, a
 * wildcard to read or write, or anything outside their own two topics. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	const char *user = buf, *topic = buf + strlen(buf) + (strlen(buf) < size - 1 ? 1 : 0);
	enum acl_kind kind = (enum acl_kind)(data[0] & 3);
	enum acl_access access = (enum acl_access)(1 + (data[0] >> 2) % 5);
	bool retain = data[0] & 0x80;

	bool ok = acl_allows(kind, user, access, topic, retain);
	if (ok && access != ACL_UNSUBSCRIBE) {
		must(topic[0] != '$');
		if (access != ACL_SUBSCRIBE)
			must(!strpbrk(topic, "+#"));
	}
	if (ok && kind == ACL_USER && access != ACL_UNSUBSCRIBE) {
		char want[200];
		must(strlen(user) <= 64 && !retain && access != ACL_WILL);
		snprintf(want, sizeof(want), "users/%s/%s", user, access == ACL_WRITE ? "outbox" : "notifications");
		must(!strcmp(topic, want));
	}
	acl_client_id_ok(user, topic);
	acl_kind_of(topic);
	free(buf);
	return 0;
}
