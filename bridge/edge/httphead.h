/* httphead: the check of an HTTP request head as it sits on the socket,
 * before libwebsockets reads it (http.c peeks at it). libwebsockets 4.1
 * drops a connection without a word for a %00 in the URL (or, right after
 * a '/', cuts the path there), and keeps header lines a proxy may read
 * otherwise (a name with whitespace before its colon, a line without a
 * colon, a folded line): those are found here. Pure: bytes in, a verdict
 * out, resumable as more bytes arrive. */
#ifndef RINGMQ_HTTPHEAD_H
#define RINGMQ_HTTPHEAD_H

#include <stdbool.h>
#include <stddef.h>

/* Where the check of one request head has got to (zero it for a new one). */
struct httphead_scan {
	size_t at;        /* bytes of whole lines checked */
	bool line_seen;   /* the request line was checked */
	size_t head_len;  /* bytes of the head, its empty line included; 0 until seen */
};

enum httphead_verdict {
	HTTPHEAD_MORE,   /* fine so far: the head is not whole yet */
	HTTPHEAD_PASS,   /* the head is whole and fine (head_len set), or no request line we check */
	HTTPHEAD_REFUSE, /* answer *status (404 or 400) with *why and close */
};

/* Checks the whole lines of the first n bytes of buf that s has not
 * checked yet (buf holds the head from its start each time). A %00 in the
 * request target's path is 404, in its query 400; a folded header line, one
 * without a colon or a name, or whitespace in a name or before its colon is
 * 400. A malformed %-escape is left to libwebsockets (its 403). */
enum httphead_verdict httphead_check(struct httphead_scan *s, const char *buf, size_t n, int *status, const char **why);

#endif
