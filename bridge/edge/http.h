/* http: the bridge's HTTP routes (PROTOCOL.md "HTTP"): calls for users
 * (Bearer token), conversations and notifications for the application's
 * backend (X-Api-Key, compared in constant time), health, metrics, CORS
 * preflight and the demo page. Anything that needs call or conversation
 * state is asked of rules (requests.c) with a bounded wait. */
#ifndef RINGMQ_HTTP_H
#define RINGMQ_HTTP_H

#include <libwebsockets.h>

/* The HTTP side of the one protocol: ws_callback() hands it every reason it
 * does not handle itself, and must go on doing so for these, which carry
 * per-connection state and checks that run before any route:
 * LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED and LWS_CALLBACK_WSI_DESTROY
 * (a struct of http.c per TCP connection, as lws's opaque user data: the
 * request head is checked on the socket before lws reads it, and the
 * request's clock starts), LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (the framing of
 * a WebSocket upgrade), and the LWS_CALLBACK_HTTP* of transactions. user is
 * the per-session struct ws_conn (NULL before lws allocates it). */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
