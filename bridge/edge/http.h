/* http: the bridge's HTTP routes (PROTOCOL.md "HTTP"): calls for users
 * (Bearer token), conversations and notifications for the application's
 * backend (X-Api-Key, compared in constant time), health, metrics, CORS
 * preflight and the demo page. Anything that needs call or conversation
 * state is asked of rules (requests.c) with a bounded wait. */
#ifndef RINGMQ_HTTP_H
#define RINGMQ_HTTP_H

#include <libwebsockets.h>

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
