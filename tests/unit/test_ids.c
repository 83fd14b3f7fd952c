/* test_ids: the id rule, UUIDs, ISO times, and the hash map. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hmap.h"
#include "clock.h"
#include "ids.h"

int main(void)
{
	char out[IDS_MAX + 1];
	CHECK(ids_valid("alice"));
	CHECK(ids_valid("A-b_9"));
	CHECK(!ids_valid(""));
	CHECK(!ids_valid("a/b"));
	CHECK(!ids_valid("a+b"));
	CHECK(!ids_valid("a#"));
	CHECK(!ids_valid("é"));
	CHECK(ids_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));  /* 64 */
	CHECK(!ids_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */

	json_t *j = json_integer(7);
	CHECK_EQ_INT(ids_from_json(j, out), 0);
	CHECK_EQ_STR(out, "7");
	json_decref(j);
	j = json_string("007");
	CHECK_EQ_INT(ids_from_json(j, out), 0);
	CHECK_EQ_STR(out, "007");
	json_decref(j);
	j = json_integer(-1);
	CHECK_EQ_INT(ids_from_json(j, out), -1);
	json_decref(j);
	j = json_real(1.5);
	CHECK_EQ_INT(ids_from_json(j, out), -1);
	json_decref(j);
	j = json_stringn("a\0b", 3);
	CHECK_EQ_INT(ids_from_json(j, out), -1);
	json_decref(j);
	CHECK_EQ_INT(ids_from_json(NULL, out), -1);

	char u[IDS_UUID_LEN + 1], v[IDS_UUID_LEN + 1];
	ids_uuid4(u);
	ids_uuid4(v);
	CHECK(ids_is_uuid(u));
	CHECK(strcmp(u, v) != 0);
	CHECK_EQ_INT(u[14], '4');
	CHECK(strchr("89ab", u[19]) != NULL);
	CHECK(ids_is_uuid("0B6F3C1E-8A51-4C5E-9D1C-2F0E6F1A7B2C"));
	CHECK(!ids_is_uuid("0b6f3c1e-8a51-4c5e-9d1c-2f0e6f1a7b2"));
	CHECK(!ids_is_uuid("0b6f3c1e+8a51-4c5e-9d1c-2f0e6f1a7b2c"));
	CHECK(!ids_is_uuid("0b6f3c1e-8a51-4c5e-9d1c-2f0e6f1a7b2g"));

	char iso[CLOCK_ISO_LEN + 1];
	clock_iso8601(1795648800123LL, iso);
	CHECK_EQ_STR(iso, "2026-11-25T23:20:00.123Z");
	clock_iso8601(0, iso);
	CHECK_EQ_STR(iso, "1970-01-01T00:00:00.000Z");

	char hex[33];
	ids_random_hex(hex, 32);
	CHECK_EQ_INT(strlen(hex), 32);
	CHECK_EQ_INT(strspn(hex, "0123456789abcdef"), 32);

	struct hmap *m = hmap_new();
	int vals[1000];
	char key[32];
	for (int i = 0; i < 1000; i++) {
		vals[i] = i;
		snprintf(key, sizeof(key), "k%d", i);
		CHECK_EQ_INT(hmap_put(m, key, &vals[i]), 0);
	}
	CHECK_EQ_INT(hmap_count(m), 1000);
	CHECK(hmap_get(m, "k500") == &vals[500]);
	CHECK(hmap_get(m, "k1000") == NULL);
	CHECK(hmap_del(m, "k500") == &vals[500]);
	CHECK(hmap_get(m, "k500") == NULL);
	CHECK(hmap_del(m, "k500") == NULL);
	CHECK_EQ_INT(hmap_count(m), 999);
	hmap_put(m, "k1", &vals[2]);
	CHECK(hmap_get(m, "k1") == &vals[2]);
	CHECK_EQ_INT(hmap_count(m), 999);
	hmap_free(m);
	hmap_free(NULL);

	/* bridge ids: made and recognised in one place */
	char bid[IDS_BRIDGE_ID_LEN + 1];
	ids_bridge_id(bid);
	CHECK(ids_is_bridge_id(bid, strlen(bid)));
	CHECK(ids_is_bridge_id("b-0123456789ABCDEF", 18));
	CHECK(!ids_is_bridge_id("b-0123456789abcde", 17));
	CHECK(!ids_is_bridge_id("c-0123456789abcdef", 18));
	CHECK(!ids_is_bridge_id("b-0123456789abcdeg", 18));
	return check_done("test_ids");
}
