/* httpc: see httpc.h. Blocking sockets with poll() time-outs. */
#define _GNU_SOURCE
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

void httpc_init(struct httpc *c, const char *host, int port, int timeout_ms)
{
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->fd = -1;
	c->timeout_ms = timeout_ms;
}

void httpc_close(struct httpc *c)
{
	if (c && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static int connect_to(struct httpc *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	if (inet_pton(AF_INET, c->host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

static int wait_fd(struct httpc *c, short ev)
{
	struct pollfd p = {.fd = c->fd, .events = ev};
	int n;
	do
		n = poll(&p, 1, c->timeout_ms);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

static int send_all(struct httpc *c, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(c, POLLOUT))
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more bytes into buf (growing), returns bytes read, 0 on EOF, -1 on error. */
static ssize_t read_more(struct httpc *c, char **buf, size_t *len, size_t *cap)
{
	if (*len + 4096 + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 16384;
		if (ncap > HTTPC_BODY_MAX + HTTPC_HDR_MAX)
			return -1;
		char *n = realloc(*buf, ncap);
		if (!n)
			return -1;
		*buf = n;
		*cap = ncap;
	}
	if (wait_fd(c, POLLIN))
		return -1;
	ssize_t n;
	do
		n = recv(c->fd, *buf + *len, *cap - *len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	}
	return n;
}

/* Decodes a complete chunked body in place; returns its length or -1 when incomplete. */
static long dechunk(char *p, size_t avail)
{
	char *in = p, *end = p + avail, *out = p;
	for (;;) {
		char *eol = memmem(in, (size_t)(end - in), "\r\n", 2);
		if (!eol)
			return -1;
		long n = strtol(in, NULL, 16);
		in = eol + 2;
		if (n == 0)
			return (long)(out - p);
		if (end - in < n + 2)
			return -1;
		memmove(out, in, (size_t)n);
		out += n;
		in += n + 2;
	}
}

static int one_request(struct httpc *c, const char *req, size_t req_len, char **resp_body)
{
	if (send_all(c, req, req_len))
		return -1;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int status = -1;
	char *hdr_end = NULL;
	while (!hdr_end) {
		ssize_t n = read_more(c, &buf, &len, &cap);
		if (n <= 0)
			goto fail;
		hdr_end = strstr(buf, "\r\n\r\n");
		if (!hdr_end && len > HTTPC_HDR_MAX)
			goto fail;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		goto fail;
	*hdr_end = '\0';
	long clen = -1;
	int chunked = 0, close_after = 0;
	for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (!strncasecmp(h, "content-length:", 15))
			clen = strtol(h + 15, NULL, 10);
		else if (!strncasecmp(h, "transfer-encoding:", 18) && strcasestr(h, "chunked"))
			chunked = 1;
		else if (!strncasecmp(h, "connection:", 11) && strcasestr(h, "close"))
			close_after = 1;
	}
	size_t off = (size_t)(hdr_end + 4 - buf);
	long blen;
	if (chunked) {
		while ((blen = dechunk(buf + off, len - off)) < 0)
			if (read_more(c, &buf, &len, &cap) <= 0)
				goto fail;
	} else if (clen >= 0) {
		while ((long)(len - off) < clen)
			if (read_more(c, &buf, &len, &cap) <= 0)
				goto fail;
		blen = clen;
	} else if (status == 204 || status == 304) {
		blen = 0;
	} else {
		ssize_t n;
		while ((n = read_more(c, &buf, &len, &cap)) > 0)
			;
		if (n < 0)
			goto fail;
		blen = (long)(len - off);
		close_after = 1;
	}
	if (resp_body) {
		*resp_body = malloc((size_t)blen + 1);
		if (*resp_body) {
			memcpy(*resp_body, buf + off, (size_t)blen);
			(*resp_body)[blen] = '\0';
		}
	}
	if (close_after)
		httpc_close(c);
	free(buf);
	return status;
fail:
	free(buf);
	httpc_close(c);
	return -1;
}

int httpc_request(struct httpc *c, const char *method, const char *path, const char *headers, const char *body,
		  size_t body_len, char **resp_body)
{
	char head[2048];
	int hl = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\nContent-Length: %zu\r\n%s%s\r\n",
			  method, path, c->host, c->port, body ? body_len : 0, body ? "Content-Type: application/json\r\n" : "",
			  headers ? headers : "");
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -1;
	size_t req_len = (size_t)hl + (body ? body_len : 0);
	char *req = malloc(req_len);
	if (!req)
		return -1;
	memcpy(req, head, (size_t)hl);
	if (body)
		memcpy(req + hl, body, body_len);
	int status = -1;
	for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
		int fresh = c->fd < 0;
		if (fresh && connect_to(c) != 0)
			break;
		status = one_request(c, req, req_len, resp_body);
		if (fresh)
			break; /* a new connection failing is not a stale keep-alive */
	}
	free(req);
	return status;
}
