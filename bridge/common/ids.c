/* ids: validation and generation of the identifiers ringmq speaks. */
#include "ids.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <openssl/rand.h>

bool ids_valid_n(const char *s, size_t len)
{
	if (!s || len == 0 || len > IDS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool ids_valid(const char *s)
{
	return s && ids_valid_n(s, strnlen(s, IDS_MAX + 1));
}

int ids_from_json(const json_t *v, char out[IDS_MAX + 1])
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (!ids_valid_n(s, len) || strlen(s) != len)
			return -1;
		memcpy(out, s, len + 1);
		return 0;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(out, IDS_MAX + 1, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 0;
	}
	return -1;
}

bool ids_is_uuid(const char *s)
{
	if (!s || strlen(s) != IDS_UUID_LEN)
		return false;
	for (int i = 0; i < IDS_UUID_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

static void random_bytes(unsigned char *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1) {
		/* RAND_bytes only fails when the OS has no entropy: nothing sane to do. */
		fprintf(stderr, "ringmq: RAND_bytes failed\n");
		abort();
	}
}

void ids_uuid4(char out[IDS_UUID_LEN + 1])
{
	unsigned char b[16];
	random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, IDS_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void ids_random_hex(char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[64];
	size_t done = 0;
	while (done < nhex) {
		size_t n = (nhex - done + 1) / 2;
		if (n > sizeof(b))
			n = sizeof(b);
		random_bytes(b, n);
		for (size_t i = 0; i < n * 2 && done < nhex; i++)
			out[done++] = hex[(b[i / 2] >> ((i & 1) ? 0 : 4)) & 0xf];
	}
	out[nhex] = '\0';
}

void ids_bridge_id(char out[IDS_BRIDGE_ID_LEN + 1])
{
	out[0] = 'b';
	out[1] = '-';
	ids_random_hex(out + 2, IDS_BRIDGE_ID_LEN - 2);
}

bool ids_is_bridge_id(const char *s, size_t len)
{
	if (len != IDS_BRIDGE_ID_LEN || s[0] != 'b' || s[1] != '-')
		return false;
	for (size_t i = 2; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool ids_is_call_type(const char *s)
{
	return s && (!strcmp(s, "voice") || !strcmp(s, "video"));
}
