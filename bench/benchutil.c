/* benchutil: see benchutil.h. */
#include "benchutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void bench_sleep_until(int64_t t_ns)
{
	struct timespec ts = {.tv_sec = t_ns / 1000000000LL, .tv_nsec = t_ns % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double at(const uint64_t *s, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);
	if (i >= n)
		i = n - 1;
	return (double)s[i] / 1000.0;
}

void bench_pct_of(uint64_t *s, size_t n, struct bench_pct *out)
{
	memset(out, 0, sizeof(*out));
	out->n = n;
	if (!n)
		return;
	qsort(s, n, sizeof(*s), cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)s[i];
	out->mean_us = sum / (double)n / 1000.0;
	out->p50_us = at(s, n, 0.50);
	out->p90_us = at(s, n, 0.90);
	out->p99_us = at(s, n, 0.99);
	out->p999_us = at(s, n, 0.999);
	out->max_us = (double)s[n - 1] / 1000.0;
}

void bench_pct_json(FILE *f, const char *name, const struct bench_pct *p)
{
	fprintf(f,
		"\"%s\": {\"n\": %zu, \"mean_us\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
		"\"p999_us\": %.1f, \"max_us\": %.1f}",
		name, p->n, p->mean_us, p->p50_us, p->p90_us, p->p99_us, p->p999_us, p->max_us);
}

int64_t bench_cpu_ticks(pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return -1;
	/* after ")": state(3) ... utime(14) stime(15) */
	unsigned long long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (int64_t)(ut + st);
}

long bench_rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

double bench_hz(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? (double)hz : 100.0;
}

int bench_procs_add(struct bench_procs *p, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(p->name[0]) || p->n >= BENCH_MAX_PIDS)
		return -1;
	char *end = NULL;
	long pid = strtol(eq + 1, &end, 10);
	if (!*(eq + 1) || *end || pid <= 0)
		return -1;
	memcpy(p->name[p->n], spec, (size_t)(eq - spec));
	p->name[p->n][eq - spec] = '\0';
	p->pid[p->n++] = (pid_t)pid;
	return 0;
}

void bench_procs_mark(struct bench_procs *p)
{
	p->t0_ns = bench_now_ns();
	for (int i = 0; i < p->n; i++)
		p->ticks0[i] = bench_cpu_ticks(p->pid[i]);
}

void bench_procs_stop(struct bench_procs *p)
{
	double secs = (double)(bench_now_ns() - p->t0_ns) / 1e9;
	for (int i = 0; i < p->n; i++) {
		int64_t t = bench_cpu_ticks(p->pid[i]);
		p->cpu_pct[i] = t < 0 || p->ticks0[i] < 0 || secs <= 0 ? -1 : 100.0 * (double)(t - p->ticks0[i]) / bench_hz() / secs;
	}
}
