/* log: timestamped lines on stderr, as text or as JSON objects. No
 * buffering beyond stdio's line buffer, so a crash loses nothing that was
 * logged. A JSON line is valid whatever the message holds: quotes,
 * backslashes and control bytes are escaped, bytes that are not UTF-8
 * become U+FFFD. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "ringmq";
static enum log_level log_level_cur = LOG_LEVEL_INFO;
static enum log_format log_format_cur = LOG_FORMAT_TEXT;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_words[] = {"error", "warn", "info", "debug"};
static const char *const format_words[] = {"text", "json"};

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level_cur = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_level(enum log_level level)
{
	log_level_cur = level;
}

void log_set_format(enum log_format format)
{
	log_format_cur = format;
}

static int word_index(const char *s, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (s && !strcmp(s, words[i]))
			return i;
	return -1;
}

int log_level_parse(const char *s)
{
	return word_index(s, level_words, 4);
}

int log_format_parse(const char *s)
{
	return word_index(s, format_words, 2);
}

int log_enabled(enum log_level level)
{
	return level <= log_level_cur;
}

/* Length of the UTF-8 sequence at s (n bytes left), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, a surrogate, beyond U+10FFFF */
	return len;
}

/* s as a JSON string, quotes included. */
static void json_string_out(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c >= 0x80) {
			size_t len = utf8_len(p + i, n - i);
			if (!len) {
				fputs("\\ufffd", f);
				i++;
				continue;
			}
			fwrite(p + i, 1, len, f);
			i += len;
			continue;
		} else {
			fputc(c, f);
		}
		i++;
	}
	fputc('"', f);
}

static void __attribute__((format(printf, 5, 0))) emit(enum log_level level, const char *call_id,
							 const char *user_id, const char *device_id, const char *fmt,
							 va_list ap)
{
	if (level > log_level_cur)
		return;
	struct timespec ts;
	struct tm tm;
	char when[32], msg[LOG_LINE_MAX];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_format_cur == LOG_FORMAT_TEXT) {
		fprintf(stderr, "%s.%03ldZ %s %s ", when, ts.tv_nsec / 1000000, log_prog, level_names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":", when, ts.tv_nsec / 1000000,
		level_words[level]);
	json_string_out(stderr, log_prog);
	fputs(",\"msg\":", stderr);
	json_string_out(stderr, msg);
	const char *names[] = {"call_id", "user_id", "device_id"}, *values[] = {call_id, user_id, device_id};
	for (int i = 0; i < 3; i++) {
		if (!values[i])
			continue;
		fprintf(stderr, ",\"%s\":", names[i]);
		json_string_out(stderr, values[i]);
	}
	fputs("}\n", stderr);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(level, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_event(enum log_level level, const char *call_id, const char *user_id, const char *device_id,
	       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(level, call_id, user_id, device_id, fmt, ap);
	va_end(ap);
}
