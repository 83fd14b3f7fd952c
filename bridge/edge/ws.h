/* ws: one WebSocket connection of a web client (notification or chat
 * socket) from handshake to close: authentication, the connection.ack,
 * frames in (checked, rate-limited, published for rules) and frames out
 * (a bounded queue of shared, reference-counted messages). HTTP requests
 * reach the same callback and are handed to http.c. */
#ifndef RINGMQ_WS_H
#define RINGMQ_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "edge.h"

enum ws_kind { WS_NOTIFY = 0, WS_CHAT = 1 };
enum ws_state { WS_NEW = 0, WS_MEMBER_WAIT, WS_SUB_WAIT, WS_READY };

/* A frame on its way to one or many sockets: LWS_PRE bytes of room for the
 * WebSocket header, then the payload. Shared by every socket it fans out to. */
struct outmsg {
	unsigned refs;
	size_t len;
	unsigned char buf[];
};

/* Copies data; refs = 1. NULL on allocation failure. */
struct outmsg *outmsg_new(const void *data, size_t len);
void outmsg_unref(struct outmsg *m);

struct sub;
struct http_txn;

/* The per-session data of the one protocol (lws allocates it). */
struct ws_conn {
	struct lws *wsi;
	struct http_txn *http;          /* an HTTP transaction (http.c), or NULL */
	bool is_ws;
	enum ws_kind kind;
	enum ws_state state;
	char user_id[IDS_MAX + 1];
	char username[JWT_USERNAME_MAX + 1];
	char device_id[EDGE_DEVICE_LEN + 1];
	char conv_id[IDS_MAX + 1];
	/* membership in one subscription's socket list (sessions.c) */
	struct sub *sub;
	struct ws_conn *sub_next, *sub_prev;
	/* send queue: a ring of shared messages */
	struct outmsg **q;
	size_t q_cap, q_head, q_len, q_bytes;
	/* a frame being assembled from fragments */
	char *rx;
	size_t rx_len, rx_cap;
	/* token bucket and refusals */
	double tokens;
	int64_t tokens_at;
	int refused;
	int64_t refused_since;
	/* deferred close: close_code set, then our Close frame sent
	 * (close_sent), then the peer's Close awaited (RFC 6455 7.1.1) */
	int close_code;
	const char *close_why;
	bool close_sent;
	char member_req[24];            /* pending membership request key */
	/* waiting to be ready (edge's wait list, oldest first), and liveness */
	struct ws_conn *wait_next, *wait_prev;
	bool waiting;
	int64_t ready_by;               /* monotonic ms: closed 1013 if not ready by then */
	int64_t last_rx;                /* monotonic ms of the last frame or pong */
	bool ping_due, ping_sent;
	struct edge *edge;
};

/* Queues m for c (takes a reference). A socket whose queue would pass the
 * send-queue limit is closed with 1013. */
void ws_send(struct ws_conn *c, struct outmsg *m);
/* Serialises and queues j; steals the reference. */
void ws_send_json(struct ws_conn *c, json_t *j);
/* The socket is subscribed: send connection.ack, start taking frames. */
void ws_ready(struct ws_conn *c);
/* Closes with code after what is queued; safe from any callback. The Close
 * frame goes out, then what the peer sends is read and dropped until its
 * Close (or EDGE_CLOSE_WAIT_S), and only then is TCP closed: closing with
 * unread input would reset the connection and lose what was sent. */
void ws_close(struct ws_conn *c, int code, const char *why);
/* The socket with that device id on this bridge, or NULL. */
struct ws_conn *ws_by_device(struct edge *e, const char *device_id);
/* Closes every socket with 1001 (shutdown). */
void ws_close_all(struct edge *e);
/* Starts the one timer that closes sockets not ready in time and pings
 * or drops silent ones. One timer instead of one per socket: lws keeps its
 * timers in a sorted list, so per-socket timers cost O(sockets) each. */
void ws_sweep_start(struct edge *e);

#endif
