/* edge: the private umbrella header of ringmq-bridge.
 *
 * One process, one thread, one libwebsockets loop. The loop owns the
 * listening socket (HTTP + WebSocket, ws.c and http.c) and the broker link's
 * descriptor (broker.c adopts it). Everything the process knows lives in
 * one struct edge, reached from any callback through lws_context_user().
 * The bridge holds no call state: it authenticates, checks frames cheaply,
 * publishes them for rules, and fans the broker's messages out to sockets. */
#ifndef RINGMQ_EDGE_H
#define RINGMQ_EDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "hmap.h"
#include "ice.h"
#include "ids.h"
#include "jwt.h"
#include "jwtkeys.h"
#include "metrics.h"
#include "clock.h"
#include "mqtt.h"
#include "revoked.h"
#include "topics.h"

#define EDGE_MAX_ORIGINS 16
#define EDGE_INITIATE_PER_MINUTE 10  /* default --initiate-per-minute */
#define EDGE_INITIATE_BURST 5        /* default --initiate-burst */
#define EDGE_INITIATE_USERS_MAX 100000 /* callers whose initiate bucket is remembered */
#define EDGE_PATHS_MAX 8192          /* the key files of one kind, comma-separated */
#define EDGE_DEVICE_LEN 18           /* "d-" + 16 hex */
#define EDGE_REFUSED_WINDOW_MS 10000 /* refused frames counted over this window */
#define EDGE_REFUSED_MAX 100         /* ... and the socket closed (1008) beyond this */
#define EDGE_HTTP_BODY_MAX (64 * 1024)
#define EDGE_READY_WAIT_MS 5000      /* a socket not subscribed by then is closed 1013 */
#define EDGE_CLOSE_WAIT_S 5          /* a socket being closed (slow reader, abuse) gets this long to
				      * take its close frame before it is dropped */
#define EDGE_HTTP_HEADER_MAX 8192    /* handshake / request headers, all together */
#define EDGE_HANDSHAKE_TIMEOUT_S 10  /* default of --handshake-timeout-s */
#define EDGE_HTTP_KEEPALIVE_S 30     /* an idle keep-alive HTTP connection is closed after this */
#define EDGE_WS_PING_S 30            /* default --ping-interval-s: ping after this much silence ... */
#define EDGE_WS_HANGUP_S 60          /* default --idle-timeout-s: ... and drop the socket after this much */
#define EDGE_SWEEP_MS 1000           /* one timer for every socket: ready waits, pings, idle drops, token expiry */
#define EDGE_MAX_SOCKETS_PER_USER 32 /* default --max-sockets-per-user: the next socket is closed 4429 */
#define EDGE_MAX_UNACKED 2000        /* default --max-unacked: client frames beyond it are refused `unavailable` */
#define EDGE_SERV_BUF 32768          /* lws per-thread service buffer (one read) */
#define EDGE_RX_BUF 1024             /* lws receive buffer per WebSocket: larger frames arrive in parts (ws.c joins them); small keeps idle sockets small (bench/NOTES.md) */
#define EDGE_SHUTDOWN_FLUSH_MS 1000  /* SIGTERM: time given to close frames before exit */
#define EDGE_SHUTDOWN_POLL_MS 20     /* how often the shutdown checks that every socket is closed */
#define EDGE_SESSION_EXPIRY_S 60     /* the broker keeps the bridge's MQTT session (subscriptions,
				      * queued QoS 1 frames) this long across a lost connection */
#define EDGE_METRICS_TEXT_MAX 16384  /* GET /metrics: the bridge's text; more is cut */
#define EDGE_RULES_METRICS_MAX (64 * 1024) /* GET /metrics/rules: a longer text from rules is refused (503) */

struct edge_cfg {
	const char *listen;
	int port;
	const char *mqtt_host;     /* a list: "a:1883,b:1883" (common/mqtt.h) */
	int mqtt_port;
	struct mqtt_tls mqtt_tls;    /* TLS of the broker link (common/mqtt_tls.h) */
	const char *mqtt_username; /* the service login (default svc:bridge) */
	const char *broker_acl;    /* "plugin" (default) or "topics" (docs/scaling.md) */
	bool topics_acl;           /* broker_acl is "topics" */
	struct jwt_keyset *keys;     /* the keys user tokens are checked with (SIGHUP re-reads them) */
	struct jwt_policy policy;    /* token_type, exp/nbf/iat with leeway, aud, iss */
	char *api_key;
	size_t api_key_len;
	char *service_secret;
	const char *web_root;
	const char *origins[EDGE_MAX_ORIGINS];
	int norigins;
	int request_timeout_ms;
	int initiate_per_minute;     /* POST /calls/initiate/ per caller ... */
	int initiate_burst;          /* ... with bursts of this many */
	size_t max_frame;
	int rate;
	int burst;
	size_t send_queue;
	int max_unacked;             /* the broker link's unacknowledged publishes before frames are refused */
	int handshake_timeout_s;     /* TCP open to handshake done; also HTTP bodies */
	int ping_interval_s;         /* WebSocket ping after this much silence from the client */
	int idle_timeout_s;          /* drop a socket silent for this long (no frame, no pong) */
	int max_sockets_per_user;    /* sockets of one user (both kinds) beyond this are closed 4429 */
	struct ice_cfg ice;          /* TURN/STUN for GET /calls/ice-servers/ (http.c) */
};

/* The parts of one bridge, wired by main.c. Each part owns its state
 * behind its own opaque struct; this struct only holds them so that a
 * callback that starts from a wsi (lws_context_user) finds them. */
struct edge {
	struct edge_cfg cfg;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct broker *broker;       /* broker.c: the MQTT link */
	struct subs *subs;           /* subs.c: counted subscriptions */
	struct ask *ask;             /* ask.c: questions to rules */
	struct presence *presence;   /* presence.c: reports to rules */
	struct inbox *inbox;         /* inbox.c: what the broker delivers */
	struct ws_hub *ws;           /* ws.c: the open sockets */
	struct ratemap *initiates;   /* ratemap.c: POST /calls/initiate/ per caller (http.c) */
	struct revoked *revoked;     /* common/revoked.c: the rules of svc/revocations/+ */
	char bridge_id[IDS_BRIDGE_ID_LEN + 1];
	char replies_topic[TOPICS_MAX];  /* svc/bridges/<id>/replies */
	char presence_topic[TOPICS_MAX]; /* svc/presence/<id> */
	struct metrics metrics;
	bool stopping;
};

static inline struct edge *edge_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* The one check of a user token (len bytes) everywhere the bridge takes
 * one: jwt_check with the bridge's keys and policy, then the user's
 * revocation rule. JWT_OK and *claims, or a negative enum jwt_err. */
static inline int edge_token_check(const struct edge *e, const char *tok, size_t len, struct jwt_claims *claims)
{
	int rc = jwt_check(tok, len, e->cfg.keys, &e->cfg.policy, clock_now_ms() / 1000, claims);
	/* --broker-acl topics: the broker folds user names, so an id with upper
	 * case could read another's topics there (docs/scaling.md). */
	if (rc == JWT_OK && e->cfg.topics_acl)
		for (const char *c = claims->user_id; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				return JWT_ENOUSER;
	return rc == JWT_OK ? revoked_check(e->revoked, claims) : rc;
}

#endif
