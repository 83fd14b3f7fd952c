/* ws: WebSocket sockets of web clients, from handshake to close.
 *
 * A socket is authenticated at ESTABLISHED (close 4401 on a bad token),
 * then (chat sockets) its membership is asked of rules (ask.c; close 4403),
 * then it joins its topic's subscription (subs.c) and gets connection.ack
 * once the broker acknowledged it. A notification socket then asks rules
 * for the replay of the calls ringing for its user (op ringing.replay:
 * their call.incoming, the caller's latest offer and candidates, with
 * their first msg_ids) and sends it right after the ack; live frames of
 * its topic that arrive meanwhile are held (up to half of cfg.send_queue;
 * beyond, they go out at once and the replay follows them) and sent
 * after it, so a replayed call.incoming precedes every live frame of its
 * call; a live copy of a replayed frame (same msg_id), held or arriving in
 * the next WS_REPLAY_DEDUP_MS, is not sent again. No answer
 * within --request-timeout-ms: no replay, the socket stays (logged). A
 * user holds at most
 * cfg.max_sockets_per_user sockets (the next is closed 4429). Frames in are
 * size-checked, rate-limited (common/bucket.c), decoded (frames.c) and published
 * for rules (answered `unavailable` instead while the broker link holds
 * cfg.max_unacked publishes unacknowledged: admission, not an unbounded
 * queue in libmosquitto), but auth.refresh, which is answered here and never leaves the
 * bridge; frames out go through a bounded queue of shared messages
 * (sendq.c). The sweep closes a socket whose token expired (4401). Every
 * close the bridge starts sends its Close frame and reads until the peer's. */
#include "ws.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "frames.h"
#include "log.h"
#include "paths.h"
#include "topics.h"

/* lws 4.1 keeps the Close opcode of lws_write() private (its public enum
 * leaves 4 out, "handled by lws_close_reason()"); send_close needs it. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)
#define WS_CLOSE_REASON_MAX 123 /* a control frame's 125 bytes less the code */
#define WS_HEADER_MAX 256       /* a path or Origin we look at */
#define WS_FIRST_RX 1024        /* first size of a fragmented frame's buffer */

static const char *const ws_features[] = {"ice", "call.accepted", "history", "ping", "msg_id", "auth.refresh"};
#define WS_FEATURE_REPLAY "ringing.replay" /* notification sockets only */
#define WS_REPLAY_DEDUP_MS 10000 /* after a replay, live copies of its frames are dropped this long */
#define WS_HOLD_DIVISOR 2 /* frames held behind a replay take at most 1/2 of --send-queue: released at
			   * once, they and the next frame still fit in the queue */

struct ws_hub {
	struct edge *e;
	struct hmap *devices;      /* device id -> struct ws_conn */
	struct hmap *users;        /* user id -> struct user_socks (absent: none) */
	lws_dll2_owner_t waiting;  /* sockets not ready yet, oldest first */
	lws_sorted_usec_list_t sul_sweep;
};

static void on_sub_ready(struct subs_member *m);
static void on_sub_refused(struct subs_member *m);
static void on_sub_deliver(struct subs_member *m, struct outmsg *msg);

static const struct subs_member_ops member_ops = {
	.ready = on_sub_ready,
	.refused = on_sub_refused,
	.deliver = on_sub_deliver,
};

struct ws_hub *ws_hub_new(struct edge *e)
{
	struct ws_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->e = e;
	h->devices = hmap_new();
	h->users = hmap_new();
	if (!h->devices || !h->users) {
		ws_hub_free(h);
		return NULL;
	}
	return h;
}

static void free_user(const char *key, void *value, void *arg)
{
	free(value);
}

void ws_hub_free(struct ws_hub *h)
{
	if (!h)
		return;
	hmap_free(h->devices);
	if (h->users)
		hmap_each(h->users, free_user, NULL); /* none left once every socket closed */
	hmap_free(h->users);
	free(h);
}

/* A user's sockets on this bridge (in h->users while it has any). */
struct user_socks {
	lws_dll2_owner_t socks; /* struct ws_conn, by user_node */
};

static size_t user_count(const struct ws_hub *h, const char *user_id)
{
	const struct user_socks *u = hmap_get(h->users, user_id);
	return u ? u->socks.count : 0;
}

/* c (its user_id set) joins its user's sockets; 0, or -1 when out of
 * memory (nothing changed). */
static int user_add(struct ws_hub *h, struct ws_conn *c)
{
	struct user_socks *u = hmap_get(h->users, c->user_id);
	if (!u) {
		if (!(u = calloc(1, sizeof(*u))))
			return -1;
		if (hmap_put(h->users, c->user_id, u) != 0) {
			free(u);
			return -1;
		}
	}
	lws_dll2_add_tail(&c->user_node, &u->socks);
	return 0;
}

static void user_drop(struct ws_hub *h, struct ws_conn *c)
{
	struct user_socks *u = hmap_get(h->users, c->user_id);
	if (!u || lws_dll2_is_detached(&c->user_node))
		return;
	lws_dll2_remove(&c->user_node);
	if (!u->socks.count) {
		hmap_del(h->users, c->user_id);
		free(u);
	}
}

size_t ws_hub_count(const struct ws_hub *h)
{
	return hmap_count(h->devices);
}

/* --- frames out, close ---------------------------------------------------- */

/* Closes without waiting for the queue (slow readers): what is queued and
 * not yet handed to lws is dropped, and the close frame goes out as soon as
 * the socket takes bytes again, after the frame lws may be part-way through.
 * lws_set_timeout(LWS_TO_KILL_ASYNC) would not do: lws 4.1 drops a socket
 * with pending output without any close frame. A reader that never reads
 * again is dropped after EDGE_CLOSE_WAIT_S. It overrides a pending
 * normal or going-away close, not a sharper one. */
static void close_now(struct ws_conn *c, int code, const char *why)
{
	if (c->close_code && c->close_code != 1000 && c->close_code != 1001)
		return;
	c->close_code = code;
	c->close_why = why;
	sendq_clear(&c->q);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, EDGE_CLOSE_WAIT_S);
	lws_callback_on_writable(c->wsi);
}

/* Closes with code after what is queued; safe from any callback. The Close
 * frame goes out, then what the peer sends is read and dropped until its
 * Close (or EDGE_CLOSE_WAIT_S), and only then is TCP closed: closing with
 * unread input would reset the connection and lose what was sent. */
static void ws_close(struct ws_conn *c, int code, const char *why)
{
	if (c->close_code)
		return;
	c->close_code = code;
	c->close_why = why;
	lws_callback_on_writable(c->wsi);
}

/* Writes our Close frame and keeps the connection: lws 4.1, asked to close
 * by a callback's -1, sends the Close and shuts TCP at once, and input the
 * peer sent meanwhile turns into a reset that loses everything in flight.
 * From here on frames in are dropped; the peer's Close ends the connection
 * (on_peer_close), or EDGE_CLOSE_WAIT_S does. */
static int send_close(struct ws_conn *c)
{
	unsigned char buf[LWS_PRE + 2 + WS_CLOSE_REASON_MAX];
	unsigned char *p = buf + LWS_PRE;
	const char *why = c->close_why ? c->close_why : "";
	size_t n = strlen(why);
	if (n > WS_CLOSE_REASON_MAX)
		n = WS_CLOSE_REASON_MAX;
	p[0] = (unsigned char)(c->close_code >> 8);
	p[1] = (unsigned char)(c->close_code & 0xff);
	memcpy(p + 2, why, n);
	if (lws_write(c->wsi, p, n + 2, WS_WRITE_CLOSE) < 0)
		return -1;
	c->close_sent = true;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, EDGE_CLOSE_WAIT_S);
	return 0;
}

/* Queues m for c (takes a reference). A socket whose queue would pass the
 * send-queue limit is closed with 1013. */
static void ws_send(struct ws_conn *c, struct outmsg *m)
{
	struct edge *e = c->edge;
	if (c->close_code)
		return;
	if (c->q.bytes + m->len > e->cfg.send_queue || sendq_push(&c->q, m) != 0) {
		e->metrics.closes_slow++;
		log_warn("socket %s (user %s): send queue over %zu bytes, closing 1013", c->device_id, c->user_id,
			 e->cfg.send_queue);
		close_now(c, 1013, "send queue full: client not reading");
		return;
	}
	e->metrics.frames_out++;
	lws_callback_on_writable(c->wsi);
}

/* Serialises and queues j; steals the reference. */
static void ws_send_json(struct ws_conn *c, json_t *j)
{
	size_t len = 0;
	char *s = j ? frames_dump(j, &len) : NULL;
	json_decref(j);
	if (!s)
		return;
	struct outmsg *m = outmsg_new(s, len);
	free(s);
	if (m) {
		ws_send(c, m);
		outmsg_unref(m);
	}
}

void ws_to_device(void *user, const char *device_id, const void *payload, size_t len)
{
	struct ws_hub *h = user;
	struct ws_conn *c = hmap_get(h->devices, device_id);
	struct outmsg *m = c ? outmsg_new(payload, len) : NULL;
	if (m) {
		ws_send(c, m);
		outmsg_unref(m);
	}
}

static void close_going_away(const char *key, void *value, void *arg)
{
	ws_close(value, 1001, "server shutting down");
}

void ws_close_all(struct ws_hub *h)
{
	lws_sul_cancel(&h->sul_sweep);
	hmap_each(h->devices, close_going_away, NULL);
}

/* --- revocation and membership ------------------------------------------- */

static int close_revoked(struct lws_dll2 *d, void *arg)
{
	struct ws_conn *c = lws_container_of(d, struct ws_conn, user_node);
	if (revoked_refuses(c->edge->revoked, c->user_id, c->iat)) {
		log_info("socket %s (user %s): token revoked, closing 4401", c->device_id, c->user_id);
		ws_close(c, 4401, "revoked");
	}
	return 0;
}

void ws_revoked(void *user, const char *user_id, int64_t before)
{
	struct ws_hub *h = user;
	int changed = revoked_set(h->e->revoked, user_id, before);
	if (changed < 0) {
		log_error("%s: user %s: out of memory, revocation not kept", __func__, user_id);
		return;
	}
	if (changed)
		log_info("user %s revoked: tokens issued at or before %lld are refused", user_id, (long long)before);
	struct user_socks *u = hmap_get(h->users, user_id);
	if (u)
		lws_dll2_foreach_safe(&u->socks, NULL, close_revoked);
}

static void close_outsider(struct subs_member *m, void *arg)
{
	const json_t *members = arg;
	struct ws_conn *c = lws_container_of(m, struct ws_conn, member);
	size_t i;
	const json_t *v;
	json_array_foreach(members, i, v)
		if (!strcmp(json_string_value(v) ? json_string_value(v) : "", c->user_id))
			return;
	log_info("socket %s (user %s): no longer a member of %s, closing 4403", c->device_id, c->user_id, c->conv_id);
	ws_close(c, 4403, "not a member of this conversation");
}

void ws_members(void *user, const char *cid, const json_t *members)
{
	struct ws_hub *h = user;
	char topic[TOPICS_MAX];
	if (topics_build(TOPICS_CHAT_MESSAGES, cid, topic, sizeof(topic)) == 0)
		subs_each_member(h->e->subs, topic, close_outsider, (void *)members);
}

/* --- readiness and liveness ---------------------------------------------- */

static void wait_add(struct ws_hub *h, struct ws_conn *c)
{
	c->ready_by = clock_mono_ms() + EDGE_READY_WAIT_MS;
	lws_dll2_add_tail(&c->wait_node, &h->waiting);
}

static void wait_remove(struct ws_conn *c)
{
	if (!lws_dll2_is_detached(&c->wait_node))
		lws_dll2_remove(&c->wait_node);
}

/* The sweep's clocks: monotonic ms for liveness, wall seconds for tokens. */
struct sweep_now {
	int64_t mono_ms;
	int64_t wall_s;
};

/* The token's end as jwt_check sees it (exp 0: the token has none). */
static bool token_expired(const struct ws_conn *c, int64_t now_s)
{
	return c->exp && jwt_expired(c->exp, c->edge->cfg.policy.leeway_s, now_s);
}

static void check_socket(const char *key, void *value, void *arg)
{
	struct ws_conn *c = value;
	struct edge *e = c->edge;
	const struct sweep_now *now = arg;
	int64_t silent = now->mono_ms - c->last_rx;
	if (c->close_code)
		return;
	if (token_expired(c, now->wall_s)) {
		log_info("socket %s (user %s): token expired, closing 4401", c->device_id, c->user_id);
		ws_close(c, 4401, "token expired");
		return;
	}
	if (c->state != WS_READY)
		return;
	if (silent >= (int64_t)e->cfg.idle_timeout_s * 1000) {
		log_info("socket %s (user %s): silent for %d s, dropping it", c->device_id, c->user_id,
			 e->cfg.idle_timeout_s);
		close_now(c, 1001, "idle timeout");
	} else if (silent >= (int64_t)e->cfg.ping_interval_s * 1000 && !c->ping_sent) {
		c->ping_due = c->ping_sent = true;
		lws_callback_on_writable(c->wsi);
	}
}

static void sweep(lws_sorted_usec_list_t *sul)
{
	struct ws_hub *h = lws_container_of(sul, struct ws_hub, sul_sweep);
	struct sweep_now now = {clock_mono_ms(), clock_now_ms() / 1000};
	while (h->waiting.head) {
		struct ws_conn *c = lws_container_of(h->waiting.head, struct ws_conn, wait_node);
		if (c->ready_by > now.mono_ms)
			break;
		wait_remove(c);
		log_warn("socket %s (user %s): not subscribed within %d ms, closing 1013", c->device_id, c->user_id,
			 EDGE_READY_WAIT_MS);
		ws_close(c, 1013, "service unavailable, try again");
	}
	hmap_each(h->devices, check_socket, &now);
	lws_sul_schedule(h->e->ctx, 0, &h->sul_sweep, sweep, EDGE_SWEEP_MS * LWS_US_PER_MS);
}

void ws_hub_start(struct ws_hub *h)
{
	lws_sul_schedule(h->e->ctx, 0, &h->sul_sweep, sweep, EDGE_SWEEP_MS * LWS_US_PER_MS);
}

/* True when the frame m carries a msg_id of one of the replayed frames
 * (a live copy of a frame the replay already gave the socket). Parses m
 * only while replayed frames exist: a few frames, once per socket open. */
static bool replayed(struct outmsg *m, const json_t *frames)
{
	if (!json_array_size(frames))
		return false;
	json_t *j = json_loadb((const char *)outmsg_data(m), m->len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "msg_id"));
	bool seen = false;
	size_t i;
	const json_t *f;
	json_array_foreach(frames, i, f) {
		const char *other = json_string_value(json_object_get(f, "msg_id"));
		if (id && other && !strcmp(id, other))
			seen = true;
	}
	json_decref(j);
	return seen;
}

/* Sends the live frames held while the replay was asked, but those the
 * replay (frames, may be NULL) already gave, and holds no more. */
static void release_held(struct ws_conn *c, const json_t *frames)
{
	struct outmsg *m;
	c->holding = false;
	while ((m = sendq_peek(&c->held))) {
		if (!replayed(m, frames))
			ws_send(c, m);
		sendq_pop(&c->held);
	}
	sendq_clear(&c->held);
}

/* A live frame for a socket whose replay is still asked: held, unless
 * that would pass its share of the send queue (then everything held goes
 * out, and the rest comes as it arrives). */
static void hold(struct ws_conn *c, struct outmsg *m)
{
	size_t cap = c->edge->cfg.send_queue / WS_HOLD_DIVISOR;
	if (c->held.bytes + m->len <= cap && sendq_push(&c->held, m) == 0)
		return;
	log_warn("socket %s (user %s): over %zu bytes arrived while the replay was asked: sent before it",
		 c->device_id, c->user_id, cap);
	release_held(c, NULL);
	ws_send(c, m);
}

static void replay_answer(void *arg, int status, json_t *body)
{
	struct ws_conn *c = arg;
	c->replay_req[0] = '\0';
	const json_t *frames = json_object_get(body, "frames");
	if (status == 200 && json_is_array(frames)) {
		size_t i;
		json_t *f;
		json_array_foreach(frames, i, f)
			if (json_is_object(f))
				ws_send_json(c, json_incref(f));
		if (json_array_size(frames))
			log_info("socket %s (user %s): %zu frame(s) of ringing calls replayed", c->device_id, c->user_id,
				 json_array_size(frames));
	} else {
		log_warn("socket %s (user %s): no replay of ringing calls (rules answered %d)", c->device_id, c->user_id,
			 status);
	}
	release_held(c, status == 200 ? frames : NULL);
	/* A live copy may still be on its way (a clustered broker does not
	 * keep the order of rules' reply and its live frames): dropped too. */
	if (status == 200 && json_array_size(frames)) {
		c->replayed = json_incref((json_t *)frames);
		c->replayed_until = clock_mono_ms() + WS_REPLAY_DEDUP_MS;
	}
}

/* Asks rules what the new notification socket missed of its user's ringing calls. */
static void ask_replay(struct ws_conn *c)
{
	json_t *req = json_pack("{s:s, s:s}", "op", "ringing.replay", "user_id", c->user_id);
	c->holding = true;
	if (ask_send(c->edge->ask, req, replay_answer, c, c->replay_req) != 0) {
		log_warn("socket %s (user %s): no replay of ringing calls: rules cannot be asked", c->device_id,
			 c->user_id);
		c->holding = false;
	}
}

/* The socket is subscribed: connection.ack (then, for a notification
 * socket, the replay), then it takes frames. */
static void ws_ready(struct ws_conn *c)
{
	if (c->state == WS_READY || c->close_code)
		return;
	wait_remove(c);
	c->state = WS_READY;
	json_t *features = json_array();
	for (size_t i = 0; i < sizeof(ws_features) / sizeof(ws_features[0]); i++)
		json_array_append_new(features, json_string(ws_features[i]));
	if (c->kind == WS_NOTIFY)
		json_array_append_new(features, json_string(WS_FEATURE_REPLAY));
	json_t *ack = json_pack("{s:s, s:s, s:s, s:o}", "type", "connection.ack", "user_id", c->user_id, "device_id",
				c->device_id, "features", features);
	if (ack && c->kind == WS_CHAT)
		json_object_set_new(ack, "conversation_id", json_string(c->conv_id));
	ws_send_json(c, ack);
	log_event(LOG_LEVEL_INFO, NULL, c->user_id, c->device_id, "socket %s open: user %s, %s%s", c->device_id,
		  c->user_id, c->kind == WS_CHAT ? "chat " : "notifications", c->kind == WS_CHAT ? c->conv_id : "");
	if (c->kind == WS_NOTIFY)
		ask_replay(c);
}

static void on_sub_ready(struct subs_member *m)
{
	struct ws_conn *c = lws_container_of(m, struct ws_conn, member);
	if (c->state == WS_SUB_WAIT)
		ws_ready(c);
}

static void on_sub_refused(struct subs_member *m)
{
	ws_close(lws_container_of(m, struct ws_conn, member), 1011, "subscription refused");
}

static void on_sub_deliver(struct subs_member *m, struct outmsg *msg)
{
	struct ws_conn *c = lws_container_of(m, struct ws_conn, member);
	if (c->state != WS_READY)
		return;
	if (c->replayed && clock_mono_ms() >= c->replayed_until) {
		json_decref(c->replayed);
		c->replayed = NULL;
	}
	if (c->holding)
		hold(c, msg);
	else if (!c->replayed || !replayed(msg, c->replayed))
		ws_send(c, msg);
}

/* --- handshake ----------------------------------------------------------- */

static int filter_upgrade(struct edge *e, struct lws *wsi)
{
	char path[WS_HEADER_MAX], origin[WS_HEADER_MAX], conv[IDS_MAX + 1];
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 || paths_ws(path, conv) == PATHS_WS_NONE) {
		log_info("upgrade refused: no WebSocket endpoint at this path");
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return 1;
	}
	int olen = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
	if (olen > 0 && !paths_request_origin_allowed(wsi, origin, e->cfg.origins, e->cfg.norigins)) {
		log_warn("upgrade refused: origin %s is not on the allow-list", origin);
		lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
		return 1;
	}
	return 0;
}

static int join(struct ws_conn *c, enum topics_kind kind, const char *id)
{
	char topic[TOPICS_MAX];
	c->state = WS_SUB_WAIT;
	c->member.ops = &member_ops;
	if (topics_build(kind, id, topic, sizeof(topic)) != 0)
		return -1;
	return subs_join(c->edge->subs, &c->member, topic);
}

static void member_answer(void *arg, int status, json_t *body)
{
	struct ws_conn *c = arg;
	c->member_req[0] = '\0';
	if (status == 200 && json_is_true(json_object_get(body, "member"))) {
		if (join(c, TOPICS_CHAT_MESSAGES, c->conv_id) != 0)
			ws_close(c, 1011, "internal error");
	} else if (status == 403 || status == 404) {
		log_info("chat socket refused: user %s is not a member of %s", c->user_id, c->conv_id);
		ws_close(c, 4403, "not a member of this conversation");
	} else {
		ws_close(c, 1013, "service unavailable, try again");
	}
}

static int on_established(struct edge *e, struct ws_conn *c, struct lws *wsi)
{
	char path[WS_HEADER_MAX], token[JWT_MAX_LEN + 16];
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->edge = e;
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
		path[0] = '\0';
	enum paths_ws kind = paths_ws(path, c->conv_id);
	if (kind == PATHS_WS_NONE)
		return -1; /* filtered before; cannot happen */
	c->kind = kind == PATHS_WS_CHAT ? WS_CHAT : WS_NOTIFY;

	const char *tok = lws_get_urlarg_by_name(wsi, "token=", token, sizeof(token));
	struct jwt_claims claims;
	int rc = tok ? edge_token_check(e, tok, strlen(tok), &claims) : JWT_EMALFORMED;
	if (rc != JWT_OK) {
		log_info("socket refused (4401): %s", tok ? jwt_strerror(rc) : "no token");
		ws_close(c, 4401, "unauthorized"); /* not a device: nothing to undo at close */
		return 0;
	}
	memcpy(c->user_id, claims.user_id, sizeof(c->user_id));
	memcpy(c->username, claims.username, sizeof(c->username));
	c->exp = claims.exp;
	c->iat = claims.iat;
	if (user_count(e->ws, c->user_id) >= (size_t)e->cfg.max_sockets_per_user) {
		log_info("socket refused (4429): user %s holds %d sockets already", c->user_id,
			 e->cfg.max_sockets_per_user);
		ws_close(c, 4429, "too many connections"); /* no device id: not counted, nothing to undo */
		return 0;
	}
	if (user_add(e->ws, c) != 0)
		return -1;
	c->device_id[0] = 'd';
	c->device_id[1] = '-';
	ids_random_hex(c->device_id + 2, EDGE_DEVICE_LEN - 2);
	if (hmap_put(e->ws->devices, c->device_id, c) != 0) {
		user_drop(e->ws, c);
		c->device_id[0] = '\0';
		return -1;
	}
	int64_t now = clock_mono_ms();
	bucket_init(&c->bucket, e->cfg.burst, now);
	e->metrics.sockets_open[c->kind]++;
	e->metrics.sockets_total[c->kind]++;
	c->last_rx = now;
	wait_add(e->ws, c);

	if (c->kind == WS_NOTIFY)
		return join(c, TOPICS_USER_NOTIFICATIONS, c->user_id) == 0 ? 0 : -1;
	c->state = WS_MEMBER_WAIT;
	json_t *req = json_pack("{s:s, s:s, s:s}", "op", "member", "conversation_id", c->conv_id, "user_id", c->user_id);
	if (ask_send(e->ask, req, member_answer, c, c->member_req) != 0)
		ws_close(c, 1013, "service unavailable, try again");
	return 0;
}

/* --- frames in ----------------------------------------------------------- */

static void refuse_frame(struct edge *e, struct ws_conn *c, int code, const char *why, const char *ref, const char *call_id)
{
	e->metrics.errors[code]++;
	ws_send_json(c, frames_error(code, why, ref, call_id));
	if (code == FRAMES_UNAVAILABLE)
		return; /* the service's fault, not the client's */
	int64_t now = clock_mono_ms();
	if (now - c->refused_since > EDGE_REFUSED_WINDOW_MS) {
		c->refused_since = now;
		c->refused = 0;
	}
	if (++c->refused > EDGE_REFUSED_MAX) {
		e->metrics.closes_abuse++;
		log_warn("socket %s (user %s): over %d refused frames in %d s, closing 1008", c->device_id, c->user_id,
			 EDGE_REFUSED_MAX, EDGE_REFUSED_WINDOW_MS / 1000);
		ws_close(c, 1008, "too many refused frames");
	}
}

static enum metrics_frame metric_of(enum frames_type t)
{
	switch (t) {
	case FRAMES_T_PING: return MF_PING;
	case FRAMES_T_CALL_OFFER: return MF_OFFER;
	case FRAMES_T_CALL_ANSWER: return MF_ANSWER;
	case FRAMES_T_CALL_ICE: return MF_ICE;
	case FRAMES_T_CALL_END: return MF_END;
	default: return MF_OTHER;
	}
}

/* auth.refresh: a valid token of the socket's user becomes the one it
 * holds (its exp the socket's end); any other keeps the old one. */
static void refresh(struct edge *e, struct ws_conn *c, const char *token)
{
	struct jwt_claims claims;
	int rc = edge_token_check(e, token, strlen(token), &claims);
	if (rc != JWT_OK) {
		log_info("socket %s (user %s): auth.refresh refused: %s", c->device_id, c->user_id, jwt_strerror(rc));
		refuse_frame(e, c, FRAMES_UNAUTHORIZED, jwt_strerror(rc), "auth.refresh", NULL);
		return;
	}
	if (strcmp(claims.user_id, c->user_id)) {
		log_info("socket %s (user %s): auth.refresh refused: a token of user %s", c->device_id, c->user_id,
			 claims.user_id);
		refuse_frame(e, c, FRAMES_FORBIDDEN, "a token of another user", "auth.refresh", NULL);
		return;
	}
	c->exp = claims.exp;
	c->iat = claims.iat;
	log_debug("socket %s (user %s): token refreshed, exp %lld", c->device_id, c->user_id, (long long)c->exp);
	ws_send_json(c, json_pack("{s:s, s:o}", "type", "auth.refreshed", "exp",
				  c->exp ? json_integer(c->exp) : json_null()));
}

static void handle_frame(struct edge *e, struct ws_conn *c, const char *buf, size_t len)
{
	if (c->close_code)
		return;
	if (!bucket_take(&c->bucket, e->cfg.rate, e->cfg.burst, clock_mono_ms())) {
		refuse_frame(e, c, FRAMES_RATE_LIMITED, "rate limit exceeded", NULL, NULL);
		return;
	}
	if (c->state != WS_READY) {
		refuse_frame(e, c, FRAMES_UNAVAILABLE, "wait for connection.ack", NULL, NULL);
		return;
	}
	struct frames_in f;
	const char *why = NULL;
	enum frames_origin origin = (c->kind == WS_CHAT ? FRAMES_FROM_CHAT : FRAMES_FROM_NOTIFY) | FRAMES_FROM_SOCKET;
	int rc = frames_decode(buf, len, origin, &f, &why);
	e->metrics.frames_in[metric_of(f.type)]++;
	if (rc != FRAMES_OK) {
		refuse_frame(e, c, rc, why, f.type_name, f.call_id);
	} else if (f.type == FRAMES_T_PING) {
		ws_send_json(c, json_pack("{s:s}", "type", "pong"));
	} else if (f.type == FRAMES_T_AUTH_REFRESH) {
		refresh(e, c, f.token); /* never published: the token stays here */
	} else {
		char topic[TOPICS_MAX], corr[EDGE_DEVICE_LEN + 3];
		if (c->kind == WS_CHAT)
			topics_build(TOPICS_CHAT_IN, c->conv_id, topic, sizeof(topic));
		else /* a topic only services may write, on a broker without our plugin */
			topics_build(e->cfg.topics_acl ? TOPICS_SVC_OUTBOX : TOPICS_USER_OUTBOX, c->user_id, topic,
				     sizeof(topic));
		snprintf(corr, sizeof(corr), "d:%s", c->device_id);
		const char *props[] = {"sender_id", c->user_id, "sender_username", c->username,
				       "from_device", c->device_id, NULL};
		struct mqtt_pub opt = {
			.qos = 1,
			.response_topic = e->replies_topic,
			.corr = corr,
			.corr_len = (uint16_t)strlen(corr),
			.user_props = props,
		};
		if (broker_unacked(e->broker) >= (unsigned)e->cfg.max_unacked)
			refuse_frame(e, c, FRAMES_UNAVAILABLE, "service busy, frame not sent; try again", f.type_name,
				     f.call_id);
		else if (broker_publish(e->broker, topic, buf, len, &opt) != 0)
			refuse_frame(e, c, FRAMES_UNAVAILABLE, "broker unreachable, frame not sent; try again", f.type_name,
			       f.call_id);
	}
	frames_in_clear(&f);
}

static int on_receive(struct edge *e, struct ws_conn *c, const void *in, size_t len)
{
	c->last_rx = clock_mono_ms();
	c->ping_sent = false;
	if (c->close_code)
		return 0; /* closing: read and dropped until the peer's Close */
	if (lws_frame_is_binary(c->wsi)) {
		e->metrics.closes_abuse++;
		ws_close(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not accepted");
		return 0;
	}
	if (c->rx_len + len > e->cfg.max_frame) {
		e->metrics.closes_abuse++;
		log_info("socket %s (user %s): frame over %zu bytes, closing 1009", c->device_id, c->user_id,
			 e->cfg.max_frame);
		c->rx_len = 0;
		ws_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame too large");
		return 0;
	}
	bool whole = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);
	if (whole && c->rx_len == 0) {
		handle_frame(e, c, in, len); /* the common case: no copy */
		return 0;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : WS_FIRST_RX;
		while (cap < c->rx_len + len)
			cap *= 2;
		if (cap > e->cfg.max_frame)
			cap = e->cfg.max_frame;
		char *rx = realloc(c->rx, cap);
		if (!rx)
			return -1;
		c->rx = rx;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (whole) {
		handle_frame(e, c, c->rx, c->rx_len);
		c->rx_len = 0;
	}
	return 0;
}

static int on_writeable(struct ws_conn *c)
{
	if (c->close_sent)
		return 0;
	if (c->ping_due && !c->close_code) {
		/* Not empty: lws 4.1 hands an empty pong to nobody (RECEIVE_PONG). */
		static const char payload[] = "ringmq";
		unsigned char ping[LWS_PRE + sizeof(payload)];
		c->ping_due = false;
		memcpy(ping + LWS_PRE, payload, sizeof(payload) - 1);
		if (lws_write(c->wsi, ping + LWS_PRE, sizeof(payload) - 1, LWS_WRITE_PING) < 0)
			return -1;
		if (c->q.len || c->close_code) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
	}
	struct outmsg *m;
	while ((m = sendq_peek(&c->q))) {
		int n = lws_write(c->wsi, outmsg_data(m), m->len, LWS_WRITE_TEXT);
		if (n < (int)m->len)
			return -1;
		sendq_pop(&c->q);
		if (c->q.len && lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
	}
	if (c->close_code)
		return send_close(c);
	return 0;
}

/* The client's close frame. When it answers ours, the connection ends
 * here (-1: lws shuts TCP and waits for the peer's FIN, with nothing left
 * unread). Otherwise lws echoes its code (an invalid one as 1002) but would
 * echo a 1-byte payload as it is: RFC 6455 5.5.1 wants 0 or >= 2 bytes, so
 * that one is a protocol error. */
static int on_peer_close(struct ws_conn *c, const void *in, size_t len)
{
	static const char why[] = "malformed close frame";
	if (c && c->edge && c->close_sent)
		return -1;
	if (len != 1 || !c || !c->wsi)
		return 0;
	lws_close_reason(c->wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)why, sizeof(why) - 1);
	return -1;
}

static void on_closed(struct edge *e, struct ws_conn *c)
{
	if (!c->edge)
		return; /* refused before it was set up */
	wait_remove(c);
	ask_cancel(e->ask, c->member_req);
	ask_cancel(e->ask, c->replay_req);
	subs_leave(e->subs, &c->member);
	if (c->device_id[0]) {
		hmap_del(e->ws->devices, c->device_id);
		user_drop(e->ws, c);
		e->metrics.sockets_open[c->kind]--;
		if (c->close_code)
			log_event(LOG_LEVEL_INFO, NULL, c->user_id, c->device_id,
				  "socket %s closed: user %s, by the bridge with %d (%s)", c->device_id, c->user_id,
				  c->close_code, c->close_why ? c->close_why : "");
		else
			log_event(LOG_LEVEL_INFO, NULL, c->user_id, c->device_id, "socket %s closed: user %s",
				  c->device_id, c->user_id);
	}
	sendq_clear(&c->q);
	sendq_clear(&c->held);
	json_decref(c->replayed);
	c->replayed = NULL;
	free(c->rx);
	c->rx = NULL;
	c->edge = NULL;
}

bool ws_handles(enum lws_callback_reasons reason)
{
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_RECEIVE_PONG:
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLOSED:
		return true;
	default:
		return false;
	}
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct ws_conn *c, void *in, size_t len)
{
	struct edge *e = edge_of(wsi);
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_upgrade(e, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return c ? on_established(e, c, wsi) : -1;
	case LWS_CALLBACK_RECEIVE:
		return c && c->edge ? on_receive(e, c, in, len) : -1;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c && c->edge) {
			c->last_rx = clock_mono_ms();
			c->ping_sent = false;
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c && c->edge ? on_writeable(c) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return on_peer_close(c, in, len);
	case LWS_CALLBACK_CLOSED:
		if (c)
			on_closed(e, c);
		return 0;
	default:
		return 0;
	}
}
