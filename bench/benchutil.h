/* benchutil: clocks, percentiles and /proc readings shared by the bench
 * programs (loadgen, rawmqtt). No I/O apart from reading /proc. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BENCH_MAX_PIDS 8

/* CLOCK_MONOTONIC in nanoseconds: comparable across processes of this machine. */
int64_t bench_now_ns(void);

/* Sleeps until the monotonic clock reads t_ns. */
void bench_sleep_until(int64_t t_ns);

struct bench_pct {
	size_t n;
	double mean_us, p50_us, p90_us, p99_us, p999_us, max_us;
};

/* Sorts s[0..n) (nanoseconds) in place and fills *out (microseconds). */
void bench_pct_of(uint64_t *s, size_t n, struct bench_pct *out);

/* Writes `"name": {"n":..,"p50_us":..,...}` to f (no trailing comma). */
void bench_pct_json(FILE *f, const char *name, const struct bench_pct *p);

/* user+system CPU ticks of pid (and, with children, of its waited-for
 * children) from /proc/<pid>/stat; -1 when unreadable. */
int64_t bench_cpu_ticks(pid_t pid);

/* VmRSS of pid in KiB from /proc/<pid>/status; -1 when unreadable. */
long bench_rss_kb(pid_t pid);

/* Clock ticks per second (sysconf). */
double bench_hz(void);

/* A named set of processes whose CPU and RSS a scenario reports. */
struct bench_procs {
	int n;
	char name[BENCH_MAX_PIDS][32];
	pid_t pid[BENCH_MAX_PIDS];
	int64_t t0_ns, ticks0[BENCH_MAX_PIDS];
	double cpu_pct[BENCH_MAX_PIDS]; /* of one core, over [mark, stop] */
};

/* Parses "name=pid" and appends it; -1 on a bad spec or a full set. */
int bench_procs_add(struct bench_procs *p, const char *spec);

/* Starts a CPU measurement window. */
void bench_procs_mark(struct bench_procs *p);

/* Ends it: fills cpu_pct. */
void bench_procs_stop(struct bench_procs *p);

#endif
