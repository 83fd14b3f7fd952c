/* promtext: Prometheus text exposition (format 0.0.4) written into a
 * caller's buffer, and the cumulative histogram behind it. Shared by the
 * bridge's GET /metrics (edge/metrics.c) and rules' own counters
 * (rules/metrics.c, served by the bridges at GET /metrics/rules). Pure: no
 * I/O, no allocation; what does not fit the buffer is cut (truncated). */
#ifndef RINGMQ_PROMTEXT_H
#define RINGMQ_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct promtext {
	char *buf;
	size_t cap, len;   /* len < cap once anything was written: buf stays NUL-terminated */
	bool truncated;    /* something did not fit */
};

/* Starts writing into buf (cap bytes, cap >= 1). */
void promtext_init(struct promtext *p, char *buf, size_t cap);
/* Appends printf-style text. */
void promtext_put(struct promtext *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram). */
void promtext_family(struct promtext *p, const char *name, const char *type, const char *help);

/* A histogram of n fixed upper bounds le (seconds, ascending): counts[i]
 * observations <= le[i], counts[n] all of them (n+1 entries), sum_s their
 * sum in seconds. */
/* Adds one observation of v seconds. */
void promtext_observe(uint64_t *counts, double *sum_s, const double *le, int n, double v);
/* Appends the family name (help, type histogram): its _bucket lines, the
 * +Inf bucket, _sum and _count. */
void promtext_histogram(struct promtext *p, const char *name, const char *help, const double *le, int n,
			const uint64_t *counts, double sum_s);

#endif
