/* Unit tests of msgid.c: v4-shaped, distinct, one prefix per process. */
#include <string.h>

#include "check.h"
#include "ids.h"
#include "msgid.h"

int main(void)
{
	char prev[IDS_UUID_LEN + 1] = "", cur[IDS_UUID_LEN + 1];
	msgid_next(prev);
	CHECK(ids_is_uuid(prev));
	for (int i = 0; i < 100000; i++) {
		msgid_next(cur);
		if (!ids_is_uuid(cur) || cur[14] != '4' || !strchr("89ab", cur[19]) || !strcmp(cur, prev)) {
			CHECK(!"a msg_id that is not a fresh v4 UUID");
			break;
		}
		/* Only the counter's 48 bits move. */
		if (memcmp(cur, prev, 24)) {
			CHECK(!"the random prefix changed");
			break;
		}
		memcpy(prev, cur, sizeof(cur));
	}
	CHECK_EQ_INT((int)strlen(cur), IDS_UUID_LEN);
	return check_done("test_msgid");
}
