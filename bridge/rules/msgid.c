/* msgid: random prefix once, counter after; see msgid.h. */
#include "msgid.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

void msgid_next(char out[IDS_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	static unsigned char base[16];
	static uint64_t count;
	static bool ready;
	if (!ready) {
		if (RAND_bytes(base, sizeof(base)) != 1) {
			fprintf(stderr, "ringmq: RAND_bytes failed\n");
			abort();
		}
		ready = true;
	}
	unsigned char b[16];
	memcpy(b, base, sizeof(b));
	uint64_t tail = 0;
	for (int i = 10; i < 16; i++)
		tail = tail << 8 | b[i];
	tail = (tail + ++count) & 0xffffffffffffULL;
	for (int i = 15; i >= 10; i--, tail >>= 8)
		b[i] = (unsigned char)tail;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 0xf];
	}
	*o = '\0';
}
