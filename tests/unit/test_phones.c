/* Unit tests of phones.c: a frame starts or renews a user's lease, a lease
 * passed without one ends it, once. */
#include <string.h>

#include "check.h"
#include "phones.h"

static char gone_ids[8][16];
static int ngone;

static void gone(const char *uid, void *arg)
{
	(void)arg;
	if (ngone < 8)
		strncpy(gone_ids[ngone++], uid, 15);
}

int main(void)
{
	struct phones *p = phones_new(1000);
	CHECK(p != NULL);
	CHECK_EQ_INT(phones_seen(p, "alice", 0), 1);
	CHECK_EQ_INT(phones_seen(p, "alice", 500), 0);
	CHECK_EQ_INT(phones_seen(p, "bob", 600), 1);
	CHECK(phones_next_ms(p, 700) == 800);
	CHECK_EQ_INT(phones_expire(p, 1499, gone, NULL), 0);
	CHECK_EQ_INT(phones_expire(p, 1500, gone, NULL), 1);
	CHECK_EQ_INT(ngone, 1);
	CHECK(!strcmp(gone_ids[0], "alice"));
	CHECK_EQ_INT(phones_expire(p, 1500, gone, NULL), 0);
	CHECK_EQ_INT(phones_seen(p, "alice", 1600), 1); /* online again */
	CHECK_EQ_INT(phones_expire(p, 5000, gone, NULL), 2);
	CHECK(phones_next_ms(p, 5000) == INT64_MAX);
	phones_free(p);
	phones_free(NULL);
	return check_done("test_phones");
}
