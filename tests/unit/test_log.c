/* test_log: bridge/common/log.c's lines: text by default; with
 * LOG_FORMAT_JSON one object a line whose strings are escaped (quotes,
 * backslashes, control bytes; bytes that are not UTF-8 become U+FFFD, UTF-8
 * passes), ts in ISO 8601 UTC with milliseconds, log_event's ids as fields
 * (absent when NULL); levels below the one set write nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char out[8192];
static FILE *f;
static int saved = -1;

/* stderr into f from now on ... */
static void begin(void)
{
	fflush(stderr);
	rewind(f);
	if (ftruncate(fileno(f), 0) != 0 || dup2(fileno(f), 2) < 0)
		abort();
}

/* ... and back: what was written since begin(). */
static const char *capture(void)
{
	fflush(stderr);
	dup2(saved, 2);
	rewind(f);
	size_t got = fread(out, 1, sizeof(out) - 1, f);
	out[got] = '\0';
	return out;
}

int main(void)
{
	f = tmpfile();
	saved = dup(2);
	CHECK(f && saved >= 0);
	log_init("test", LOG_LEVEL_INFO);

	begin();
	log_info("plain %d", 1);
	const char *t = capture();
	CHECK(strstr(t, "Z test INFO plain 1\n") != NULL);

	log_set_format(LOG_FORMAT_JSON);
	begin();
	log_info("say \"hi\" \\ tab\there\x01 \xe2\x86\x92 bad\xff end");
	t = capture();
	CHECK(strncmp(t, "{\"ts\":\"", 7) == 0);
	CHECK(t[7 + 4] == '-' && t[7 + 10] == 'T' && t[7 + 19] == '.' && t[7 + 23] == 'Z'); /* 2026-12-02T01:02:03.456Z */
	CHECK(strstr(t, "\"level\":\"info\",\"prog\":\"test\","
			"\"msg\":\"say \\\"hi\\\" \\\\ tab\\u0009here\\u0001 \xe2\x86\x92 bad\\ufffd end\"}\n") != NULL);

	begin();
	log_event(LOG_LEVEL_WARN, "c1", "u\"1", NULL, "call %s", "x");
	t = capture();
	CHECK(strstr(t, "\"level\":\"warn\"") != NULL);
	CHECK(strstr(t, ",\"msg\":\"call x\",\"call_id\":\"c1\",\"user_id\":\"u\\\"1\"}\n") != NULL);
	CHECK(strstr(t, "device_id") == NULL);

	begin();
	log_debug("hidden");
	log_set_level(LOG_LEVEL_ERROR);
	log_warn("hidden too");
	t = capture();
	CHECK_EQ_STR(t, "");
	log_set_level(LOG_LEVEL_DEBUG);
	begin();
	log_debug("shown");
	t = capture();
	CHECK(strstr(t, "\"level\":\"debug\"") != NULL);

	/* a message over LOG_LINE_MAX is cut, the line stays one object */
	char *big = malloc(LOG_LINE_MAX * 2);
	memset(big, 'a', LOG_LINE_MAX * 2 - 1);
	big[LOG_LINE_MAX * 2 - 1] = '\0';
	begin();
	log_info("%s", big);
	free(big);
	t = capture();
	CHECK(strlen(t) < LOG_LINE_MAX + 200 && strstr(t, "aaa\"}\n") != NULL);

	CHECK_EQ_INT(log_format_parse("json"), LOG_FORMAT_JSON);
	CHECK_EQ_INT(log_format_parse("text"), LOG_FORMAT_TEXT);
	CHECK_EQ_INT(log_format_parse("xml"), -1);
	CHECK_EQ_INT(log_level_parse("warn"), LOG_LEVEL_WARN);

	close(saved);
	fclose(f);
	return check_done("test_log");
}
