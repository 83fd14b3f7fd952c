/* ws: one WebSocket connection of a web client (notification or chat
 * socket) from handshake to close: authentication, the membership check
 * (chat), the subscription (subs.c) and connection.ack, frames in (checked,
 * rate-limited, published for rules; auth.refresh answered here) and frames
 * out (a bounded queue of shared messages, sendq.c), the token's expiry
 * (4401) and the close handshake. A notification socket also gets, right
 * after its connection.ack, the frames of the calls ringing for its user
 * (asked of rules: ringing.replay). server.c hands it the WebSocket reasons of
 * the one protocol; struct ws_hub holds every open socket (by device id, the
 * ones waiting to be ready, the count of each user's, the one sweep timer). */
#ifndef RINGMQ_WS_H
#define RINGMQ_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "ask.h"
#include "bucket.h"
#include "edge.h"
#include "sendq.h"
#include "subs.h"

enum ws_kind { WS_NOTIFY = 0, WS_CHAT = 1 };
enum ws_state { WS_NEW = 0, WS_MEMBER_WAIT, WS_SUB_WAIT, WS_READY };

/* One socket: the WebSocket half of the protocol's per-session data. */
struct ws_conn {
	struct lws *wsi;
	struct edge *edge;
	enum ws_kind kind;
	enum ws_state state;
	char user_id[IDS_MAX + 1];
	char username[JWT_USERNAME_MAX + 1];
	char device_id[EDGE_DEVICE_LEN + 1];
	char conv_id[IDS_MAX + 1];
	int64_t iat;                    /* the token's iat (0: none): a revocation closes it (4401) */
	int64_t exp;                    /* the token's exp (seconds, wall clock; 0: none): closed 4401
					 * once exp plus the leeway passed; auth.refresh moves it */
	struct subs_member member;      /* in its topic's subscription */
	lws_dll2_t user_node;           /* in its user's sockets (the hub's) */
	struct sendq q;
	/* a frame being assembled from fragments */
	char *rx;
	size_t rx_len, rx_cap;
	/* rate limit and refusals */
	struct bucket bucket;
	int refused;
	int64_t refused_since;
	/* deferred close: close_code set, then our Close frame sent
	 * (close_sent), then the peer's Close awaited (RFC 6455 7.1.1) */
	int close_code;
	const char *close_why;
	bool close_sent;
	char member_req[ASK_KEY_MAX];   /* pending membership question */
	char replay_req[ASK_KEY_MAX];   /* pending ringing.replay question (notification sockets) */
	bool holding;                   /* live frames wait in held until the replay is sent */
	struct sendq held;              /* ... at most half of cfg.send_queue (WS_HOLD_DIVISOR) */
	json_t *replayed;               /* the frames the replay sent (a reference), or NULL: live copies
					 * of them (same msg_id) are dropped until replayed_until */
	int64_t replayed_until;         /* monotonic ms */
	/* waiting to be ready (the hub's list, oldest first), and liveness */
	lws_dll2_t wait_node;
	int64_t ready_by;               /* monotonic ms: closed 1013 if not ready by then */
	int64_t last_rx;                /* monotonic ms of the last frame or pong */
	bool ping_due, ping_sent;
};

struct ws_hub;

/* The sockets of e. NULL when out of memory. */
struct ws_hub *ws_hub_new(struct edge *e);
/* NULL-safe; after ws_close_all and once lws closed the sockets. */
void ws_hub_free(struct ws_hub *h);
/* Starts the one timer that closes sockets not ready in time or whose token
 * expired, and pings or drops silent ones. One timer instead of one per socket: lws keeps its
 * timers in a sorted list, so per-socket timers cost O(sockets) each. */
void ws_hub_start(struct ws_hub *h);
/* How many sockets are open (authenticated, not yet closed). */
size_t ws_hub_count(const struct ws_hub *h);
/* Closes every socket with 1001 and stops the sweep (shutdown). */
void ws_close_all(struct ws_hub *h);
/* An error frame rules decided for the socket device_id (gone: dropped).
 * The signature of struct inbox_cfg's to_socket; user is the hub. */
void ws_to_device(void *user, const char *device_id, const void *payload, size_t len);
/* A user's revocation rule (struct inbox_cfg's revoked; user is the hub):
 * kept in the edge's struct revoked, and every socket of the user whose
 * token it refuses is closed 4401 "revoked". */
void ws_revoked(void *user, const char *user_id, int64_t before);
/* Conversation cid's members now (struct inbox_cfg's members): every chat
 * socket of cid whose user is not in members is closed 4403. */
void ws_members(void *user, const char *cid, const json_t *members);

/* The WebSocket reasons of the one protocol: FILTER_PROTOCOL_CONNECTION,
 * ESTABLISHED, RECEIVE, RECEIVE_PONG, SERVER_WRITEABLE,
 * WS_PEER_INITIATED_CLOSE, CLOSED. c is the per-session data (NULL before
 * lws allocated it). Returns what lws wants of a protocol callback. */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct ws_conn *c, void *in, size_t len);
/* True for the reasons ws_callback handles. */
bool ws_handles(enum lws_callback_reasons reason);

#endif
