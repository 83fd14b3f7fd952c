/* server: the one protocol the bridge serves on its port ("ringmq"): its
 * callback and per-session data. WebSocket reasons go to ws.c, everything
 * else to http.c, each with its half of the per-session data. */
#ifndef RINGMQ_SERVER_H
#define RINGMQ_SERVER_H

#include <libwebsockets.h>

#include "http.h"
#include "ws.h"

#define SERVER_PROTOCOL "ringmq"

enum server_kind { SERVER_NONE = 0, SERVER_HTTP, SERVER_WS };

/* The per-session data lws allocates for the protocol (zeroed). The union
 * comes first: each half is also the start of the whole. */
struct server_pss {
	union {
		struct http_conn http;
		struct ws_conn ws;
	} u;
	enum server_kind kind; /* which half is in use */
};

/* The lws protocol callback of SERVER_PROTOCOL. */
int server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
