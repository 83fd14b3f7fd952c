/* test_httphead: the request-head check done before libwebsockets reads a
 * request (bridge/edge/httphead.c): %00 in the path and the query, header
 * lines a proxy could read otherwise, and a head checked as it trickles in. */
#include <string.h>

#include "check.h"
#include "httphead.h"

static enum httphead_verdict check(const char *head, int *status)
{
	struct httphead_scan s = {0};
	const char *why = NULL;
	*status = 0;
	enum httphead_verdict v = httphead_check(&s, head, strlen(head), status, &why);
	CHECK(v != HTTPHEAD_REFUSE || why != NULL);
	return v;
}

int main(void)
{
	int st;
	CHECK_EQ_INT(check("GET /calls/ HTTP/1.1\r\nHost: x\r\n\r\n", &st), HTTPHEAD_PASS);
	CHECK_EQ_INT(check("GET /calls/?before=%00 HTTP/1.1\r\nHost: x\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(st, 400);
	CHECK_EQ_INT(check("GET /calls/%00 HTTP/1.1\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(st, 404);
	CHECK_EQ_INT(check("GET /%00 HTTP/1.1\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(st, 404);
	CHECK_EQ_INT(check("GET /a%2fb%41 HTTP/1.1\r\n\r\n", &st), HTTPHEAD_PASS); /* other escapes are fine */
	CHECK_EQ_INT(check("GET /a%zz HTTP/1.1\r\n\r\n", &st), HTTPHEAD_PASS);      /* left to lws (403) */
	CHECK_EQ_INT(check("GET /a%0 HTTP/1.1\r\n\r\n", &st), HTTPHEAD_PASS);
	/* header lines */
	CHECK_EQ_INT(check("POST /x HTTP/1.1\r\nContent-Length : 5\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(st, 400);
	CHECK_EQ_INT(check("POST /x HTTP/1.1\r\nContent Length: 5\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(check("GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(check("GET /x HTTP/1.1\r\nno colon here\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(check("GET /x HTTP/1.1\r\n: no name\r\n\r\n", &st), HTTPHEAD_REFUSE);
	CHECK_EQ_INT(check("GET /x HTTP/1.1\nHost: x\n\n", &st), HTTPHEAD_PASS); /* bare LF lines */
	/* not a request line we check: passed on */
	CHECK_EQ_INT(check("garbage\r\n\r\n", &st), HTTPHEAD_PASS);
	CHECK_EQ_INT(check("GET x HTTP/1.1\r\n\r\n", &st), HTTPHEAD_PASS);

	/* a head that trickles in: MORE until whole, then the verdict */
	const char *head = "GET /calls/ HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n";
	struct httphead_scan s = {0};
	const char *why = NULL;
	size_t n = strlen(head);
	for (size_t i = 1; i < n; i++)
		CHECK_EQ_INT(httphead_check(&s, head, i, &st, &why), HTTPHEAD_MORE);
	CHECK_EQ_INT(httphead_check(&s, head, n, &st, &why), HTTPHEAD_PASS);
	CHECK_EQ_INT(s.head_len, n);
	/* a bad line found as soon as it is whole */
	const char *bad = "GET /x HTTP/1.1\r\nBad Name: 1\r\nHost: x\r\n";
	struct httphead_scan s2 = {0};
	CHECK_EQ_INT(httphead_check(&s2, bad, 20, &st, &why), HTTPHEAD_MORE);
	CHECK_EQ_INT(httphead_check(&s2, bad, strlen(bad), &st, &why), HTTPHEAD_REFUSE);
	return check_done("test_httphead");
}
