/* log: timestamped lines on stderr. No buffering beyond stdio's line buffer,
 * so a crash loses nothing that was logged. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "ringmq";
static enum log_level log_level_cur = LOG_LEVEL_INFO;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level_cur = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

int log_level_parse(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (s && !strcmp(s, names[i]))
			return i;
	return -1;
}

int log_enabled(enum log_level level)
{
	return level <= log_level_cur;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	if (level > log_level_cur)
		return;
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s.%03ldZ %s %s ", when, ts.tv_nsec / 1000000, log_prog, level_names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
