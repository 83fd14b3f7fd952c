/* httpc: a tiny blocking HTTP/1.1 client for the load generator's set-up
 * and its initiate scenario (keep-alive, one request at a time, loopback).
 * Understands Content-Length, chunked and close-delimited bodies. Not a
 * general client: no TLS, no redirects, headers up to HTTPC_HDR_MAX. */
#ifndef BENCH_HTTPC_H
#define BENCH_HTTPC_H

#include <stddef.h>

#define HTTPC_HDR_MAX 8192
#define HTTPC_BODY_MAX (1 << 20)

struct httpc {
	char host[64];
	int port;
	int fd;       /* -1 while not connected */
	int timeout_ms;
};

/* Prepares c for host:port (no I/O yet). */
void httpc_init(struct httpc *c, const char *host, int port, int timeout_ms);

/* Closes the connection if open. NULL-safe. */
void httpc_close(struct httpc *c);

/* Sends one request (method, path, extra header lines each ending "\r\n"
 * or NULL, body of body_len bytes or NULL) and reads the answer. Reconnects
 * once when a kept-alive connection was closed by the server. Returns the
 * HTTP status, or -1 on a transport error. *body (may be NULL) receives a
 * malloc'd NUL-terminated body the caller frees. */
int httpc_request(struct httpc *c, const char *method, const char *path, const char *headers, const char *body,
		  size_t body_len, char **resp_body);

#endif
