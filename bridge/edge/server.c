/* server: dispatch of the one protocol's reasons to ws.c and http.c. */
#include "server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct server_pss *pss = user;
	if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION) {
		int fd = (int)(lws_intptr_t)in, one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return 0;
	}
	if (ws_handles(reason)) {
		if (pss && reason == LWS_CALLBACK_ESTABLISHED)
			pss->kind = SERVER_WS;
		bool mine = pss && pss->kind == SERVER_WS;
		return ws_callback(wsi, reason, mine ? &pss->u.ws : NULL, in, len);
	}
	if (pss && reason == LWS_CALLBACK_HTTP)
		pss->kind = SERVER_HTTP;
	bool mine = pss && pss->kind == SERVER_HTTP;
	return http_callback(wsi, reason, mine ? &pss->u.http : NULL, in, len);
}
