/* promtext: bounded vsnprintf appends; see promtext.h. */
#include "promtext.h"

#include <stdarg.h>
#include <stdio.h>

void promtext_init(struct promtext *p, char *buf, size_t cap)
{
	p->buf = buf;
	p->cap = cap;
	p->len = 0;
	p->truncated = false;
	if (cap)
		buf[0] = '\0';
}

void promtext_put(struct promtext *p, const char *fmt, ...)
{
	if (p->len + 1 >= p->cap) {
		p->truncated = true;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= p->cap - p->len) {
		p->len = p->cap - 1;
		p->truncated = true;
	} else {
		p->len += (size_t)n;
	}
}

void promtext_family(struct promtext *p, const char *name, const char *type, const char *help)
{
	promtext_put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void promtext_observe(uint64_t *counts, double *sum_s, const double *le, int n, double v)
{
	for (int i = 0; i < n; i++)
		if (v <= le[i])
			counts[i]++;
	counts[n]++;
	*sum_s += v;
}

void promtext_histogram(struct promtext *p, const char *name, const char *help, const double *le, int n,
			const uint64_t *counts, double sum_s)
{
	promtext_family(p, name, "histogram", help);
	for (int i = 0; i < n; i++)
		promtext_put(p, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], (unsigned long long)counts[i]);
	promtext_put(p, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)counts[n]);
	promtext_put(p, "%s_sum %.6f\n%s_count %llu\n", name, sum_s, name, (unsigned long long)counts[n]);
}
