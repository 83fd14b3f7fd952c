/* fuzz_input: reading a libFuzzer input as a few fields. Every target
 * splits its bytes the same way: single bytes for choices, NUL-terminated
 * strings copied into bounded buffers, and the rest as one blob. Reads past
 * the end yield 0 and empty strings, so any input is a valid layout. */
#ifndef RINGMQ_FUZZ_INPUT_H
#define RINGMQ_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

/* Stops the run with a message: libFuzzer reports the abort as a crash
 * and saves the input. For properties the code broke (not sanitizer
 * reports, which stop on their own). */
#define FUZZ_ASSERT(cond)                                                                              \
	do {                                                                                           \
		if (!(cond)) {                                                                         \
			fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);    \
			abort();                                                                       \
		}                                                                                      \
	} while (0)

static inline uint8_t fuzz_byte(struct fuzz_input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* Copies bytes up to the next NUL (consumed) or the end into dst, cut to
 * cap - 1 bytes; dst is always NUL-terminated. Returns the length kept. */
static inline size_t fuzz_str(struct fuzz_input *in, char *dst, size_t cap)
{
	if (in->n == 0) {
		dst[0] = '\0';
		return 0;
	}
	const uint8_t *nul = memchr(in->p, 0, in->n);
	size_t len = nul ? (size_t)(nul - in->p) : in->n;
	size_t keep = len < cap - 1 ? len : cap - 1;
	memcpy(dst, in->p, keep);
	dst[keep] = '\0';
	size_t used = nul ? len + 1 : len;
	in->p += used;
	in->n -= used;
	return keep;
}

#endif
