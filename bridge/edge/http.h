/* http: the bridge's HTTP routes (PROTOCOL.md "HTTP"): calls for users
 * (Bearer token), their ICE servers with TURN credentials (ice.c, made
 * here), conversations and notifications for the application's
 * backend (X-Api-Key, compared in constant time), health, metrics, CORS
 * preflight and the demo page. Anything that needs call or conversation
 * state is asked of rules (ask.c) with a bounded wait. */
#ifndef RINGMQ_HTTP_H
#define RINGMQ_HTTP_H

#include <libwebsockets.h>

/* The HTTP half of the protocol's per-session data: the connection and
 * the transaction it is in (one at a time), or NULL. */
struct http_txn;
struct http_conn {
	struct lws *wsi;
	struct http_txn *txn;
};

/* The HTTP side of the one protocol: server.c hands it every reason that is
 * not a WebSocket one (ws_handles), and must go on doing so for these, which
 * carry per-connection state and checks that run before any route:
 * LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED and LWS_CALLBACK_WSI_DESTROY
 * (a struct of http.c per TCP connection, as lws's opaque user data: the
 * request head is checked on the socket before lws reads it, and the
 * request's clock starts), LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (the framing of
 * a WebSocket upgrade), and the LWS_CALLBACK_HTTP* of transactions. c is the
 * per-session data's HTTP half (NULL before lws allocates it). */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, struct http_conn *c, void *in, size_t len);

#endif
