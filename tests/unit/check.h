/* check: the smallest test harness that says what failed and where.
 * CHECK(cond) records a failure and goes on; CHECK_EQ_STR / CHECK_EQ_INT
 * print both sides. check_done() prints "N passed, N failed" and returns
 * the exit status. */
#ifndef RINGMQ_CHECK_H
#define RINGMQ_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (cond) {                                                          \
			check_pass++;                                                \
		} else {                                                             \
			check_fail++;                                                \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                    \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                           \
	do {                                                                         \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
		if (check_a_ == check_b_) {                                          \
			check_pass++;                                                \
		} else {                                                             \
			check_fail++;                                                \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
				check_a_, #b, check_b_);                             \
		}                                                                    \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                           \
	do {                                                                         \
		const char *check_a_ = (a), *check_b_ = (b);                         \
		if (check_a_ && check_b_ && !strcmp(check_a_, check_b_)) {           \
			check_pass++;                                                \
		} else {                                                             \
			check_fail++;                                                \
			fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
				check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
		}                                                                    \
	} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
	return check_fail ? 1 : 0;
}

#endif
