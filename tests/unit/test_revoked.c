/* test_revoked: the revocation rules (bridge/common/revoked.c): raising
 * only, the iat rule, the message and the plugin's state file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "revoked.h"

int main(void)
{
	struct revoked *r = revoked_new();
	CHECK(r != NULL);
	CHECK(!revoked_refuses(r, "u1", 0)); /* no rule: even a token without iat passes */
	CHECK_EQ_INT(revoked_set(r, "u1", 1000), 1);
	CHECK_EQ_INT(revoked_set(r, "u1", 999), 0); /* never lowered */
	CHECK_EQ_INT(revoked_set(r, "u1", 1000), 0);
	CHECK_EQ_INT((int)revoked_before(r, "u1"), 1000);
	CHECK(revoked_refuses(r, "u1", 0));    /* no iat */
	CHECK(revoked_refuses(r, "u1", 999));
	CHECK(revoked_refuses(r, "u1", 1000)); /* not later: refused, no leeway */
	CHECK(!revoked_refuses(r, "u1", 1001));
	CHECK(!revoked_refuses(r, "u2", 5));
	CHECK_EQ_INT(revoked_set(r, "u1", 2000), 1);
	CHECK(revoked_refuses(r, "u1", 1001));
	CHECK_EQ_INT(revoked_set(r, "bad/id", 5), -1);
	CHECK_EQ_INT(revoked_set(r, "", 5), -1);

	struct jwt_claims c = {.user_id = "u1", .iat = 2000};
	CHECK_EQ_INT(revoked_check(r, &c), JWT_EREVOKED);
	c.iat = 2001;
	CHECK_EQ_INT(revoked_check(r, &c), JWT_OK);

	char uid[IDS_MAX + 1];
	int64_t before = 0;
	const char *msg = "{\"user_id\":\"u7\",\"before\":1700000000}";
	CHECK_EQ_INT(revoked_parse(msg, strlen(msg), uid, &before), 0);
	CHECK_EQ_STR(uid, "u7");
	CHECK(before == 1700000000);
	const char *bad[] = {"{}", "{\"user_id\":\"u7\"}", "{\"user_id\":\"u7\",\"before\":0}",
			     "{\"user_id\":\"a/b\",\"before\":5}", "{\"user_id\":\"u7\",\"before\":\"5\"}", "[1]", "x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(revoked_parse(bad[i], strlen(bad[i]), uid, &before), -1);

	/* the file: a round trip, a missing file (no rule), a broken one */
	char dir[] = "/tmp/test_revoked.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/revocations.json", dir);
	struct revoked *back = revoked_new();
	CHECK_EQ_INT(revoked_load(back, path), 0);
	CHECK_EQ_INT((int)revoked_count(back), 0);
	CHECK_EQ_INT(revoked_set(r, "u9", 42), 1);
	CHECK_EQ_INT(revoked_save(r, path), 0);
	CHECK_EQ_INT(revoked_load(back, path), 0);
	CHECK_EQ_INT((int)revoked_count(back), 2);
	CHECK_EQ_INT((int)revoked_before(back, "u1"), 2000);
	CHECK_EQ_INT((int)revoked_before(back, "u9"), 42);
	FILE *f = fopen(path, "w");
	fputs("{\"u1\": \"x\"}", f);
	fclose(f);
	CHECK_EQ_INT(revoked_load(back, path), -1);
	unlink(path);
	rmdir(dir);
	revoked_free(back);
	revoked_free(r);
	revoked_free(NULL);
	return check_done("test_revoked");
}
