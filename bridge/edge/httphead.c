/* httphead: request line and header lines, line by line. */
#include "httphead.h"

#include <ctype.h>
#include <string.h>

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_tchar(char ch)
{
	return isalnum((unsigned char)ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* "METHOD /target HTTP/...": a %00 in the path is 404, in the query 400
 * (lws would drop the connection, or cut the path there). HTTPHEAD_MORE: fine,
 * go on with the header lines; HTTPHEAD_PASS: no request line we check (lws
 * refuses a malformed escape with 403 itself). */
static enum httphead_verdict check_request_line(const char *l, size_t len, int *status, const char **why)
{
	size_t m = 0;
	while (m < len && is_tchar(l[m]))
		m++;
	if (!m || m == len || l[m] != ' ')
		return HTTPHEAD_PASS;
	const char *target = l + m + 1, *end = l + len;
	const char *sp = memchr(target, ' ', (size_t)(end - target));
	if (!sp || *target != '/' || end - sp - 1 < 5 || strncmp(sp + 1, "HTTP/", 5))
		return HTTPHEAD_PASS;
	bool query = false;
	for (const char *p = target; p < sp; p++) {
		if (*p == '?')
			query = true;
		if (*p != '%')
			continue;
		if (sp - p < 3 || !isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
			return HTTPHEAD_PASS;
		if (p[1] == '0' && p[2] == '0') {
			*status = query ? 400 : 404;
			*why = query ? "a %00 in the query" : "a %00 in the path";
			return HTTPHEAD_REFUSE;
		}
		p += 2;
	}
	return HTTPHEAD_MORE;
}

/* A header line (not empty): NULL when it is a name, a colon and a value,
 * else what is wrong with it. lws files a name with whitespace as an
 * unknown header and runs a line without a colon into the next one's name. */
static const char *field_line_fault(const char *l, size_t len)
{
	if (is_ows(l[0]))
		return "a folded header line";
	const char *colon = memchr(l, ':', len);
	if (!colon)
		return "a header line without a colon";
	if (colon == l)
		return "a header line without a name";
	for (const char *p = l; p < colon; p++)
		if (is_ows(*p))
			return "whitespace in a header name or before its colon";
	return NULL;
}

/* Checks the whole lines of the n bytes in buf that s has not checked yet:
 * HTTPHEAD_MORE until the head's empty line, HTTPHEAD_PASS at it (or for no request
 * line we check), HTTPHEAD_REFUSE with the status and why. */
enum httphead_verdict httphead_check(struct httphead_scan *s, const char *buf, size_t n, int *status, const char **why)
{
	while (s->at < n) {
		const char *l = buf + s->at;
		const char *nl = memchr(l, '\n', n - s->at);
		if (!nl)
			return HTTPHEAD_MORE;
		size_t len = (size_t)(nl - l);
		s->at += len + 1;
		if (len && l[len - 1] == '\r')
			len--;
		if (!s->line_seen) {
			s->line_seen = true;
			enum httphead_verdict v = check_request_line(l, len, status, why);
			if (v != HTTPHEAD_MORE)
				return v;
			continue;
		}
		if (!len) {
			s->head_len = s->at;
			return HTTPHEAD_PASS;
		}
		const char *fault = field_line_fault(l, len);
		if (fault) {
			*status = 400;
			*why = fault;
			return HTTPHEAD_REFUSE;
		}
	}
	return HTTPHEAD_MORE;
}

