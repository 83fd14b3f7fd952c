/* ws: WebSocket sockets of web clients, from handshake to close.
 *
 * A socket is authenticated at ESTABLISHED (close 4401 on a bad token),
 * then (chat sockets) its membership is asked of rules (close 4403), then
 * it joins its topic's subscription (sessions.c) and gets connection.ack
 * once the broker acknowledged it. Frames in are size-checked, rate-limited,
 * decoded (frames.c) and published for rules; frames out go through a
 * bounded queue of shared messages. */
#include "ws.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "broker.h"
#include "frames.h"
#include "http.h"
#include "log.h"
#include "requests.h"
#include "sessions.h"

/* lws 4.1 keeps the Close opcode of lws_write() private (its public enum
 * leaves 4 out, "handled by lws_close_reason()"); send_close needs it. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)
#define WS_CLOSE_REASON_MAX 123 /* a control frame's 125 bytes less the code */

static const char *const ws_features[] = {"ice", "call.accepted", "history", "ping", "msg_id"};

struct outmsg *outmsg_new(const void *data, size_t len)
{
	struct outmsg *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

void outmsg_unref(struct outmsg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

bool edge_origin_allowed(const struct edge *e, struct lws *wsi, const char *origin)
{
	char host[256];
	if (!origin || !*origin)
		return true; /* not a browser */
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) > 0) {
		const char *rest = !strncmp(origin, "http://", 7) ? origin + 7 : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
		if (rest && !strcasecmp(rest, host))
			return true;
	}
	for (int i = 0; i < e->cfg.norigins; i++)
		if (!strcmp(e->cfg.origins[i], "*") || !strcmp(origin, e->cfg.origins[i]))
			return true;
	return false;
}

/* --- the send queue ------------------------------------------------------ */

static int q_push(struct ws_conn *c, struct outmsg *m)
{
	if (c->q_len == c->q_cap) {
		size_t cap = c->q_cap ? c->q_cap * 2 : 8;
		struct outmsg **q = malloc(cap * sizeof(*q));
		if (!q)
			return -1;
		for (size_t i = 0; i < c->q_len; i++)
			q[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = q;
		c->q_cap = cap;
		c->q_head = 0;
	}
	c->q[(c->q_head + c->q_len++) % c->q_cap] = m;
	m->refs++;
	c->q_bytes += m->len;
	return 0;
}

static void q_pop(struct ws_conn *c)
{
	struct outmsg *m = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_len--;
	c->q_bytes -= m->len;
	outmsg_unref(m);
}

static void q_clear(struct ws_conn *c)
{
	while (c->q_len)
		q_pop(c);
	free(c->q);
	c->q = NULL;
	c->q_cap = 0;
}

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
	q_clear(c);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, EDGE_CLOSE_WAIT_S);
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

void ws_send(struct ws_conn *c, struct outmsg *m)
{
	struct edge *e = c->edge;
	if (c->close_code)
		return;
	if (c->q_bytes + m->len > e->cfg.send_queue || q_push(c, m) != 0) {
		e->metrics.closes_slow++;
		log_warn("socket %s (user %s): send queue over %zu bytes, closing 1013", c->device_id, c->user_id,
			 e->cfg.send_queue);
		close_now(c, 1013, "send queue full: client not reading");
		return;
	}
	e->metrics.frames_out++;
	lws_callback_on_writable(c->wsi);
}

void ws_send_json(struct ws_conn *c, json_t *j)
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

void ws_close(struct ws_conn *c, int code, const char *why)
{
	if (c->close_code)
		return;
	c->close_code = code;
	c->close_why = why;
	lws_callback_on_writable(c->wsi);
}

struct ws_conn *ws_by_device(struct edge *e, const char *device_id)
{
	return hmap_get(e->devices, device_id);
}

static void close_going_away(const char *key, void *value, void *arg)
{
	ws_close(value, 1001, "server shutting down");
}

void ws_close_all(struct edge *e)
{
	hmap_each(e->devices, close_going_away, NULL);
}

static void wait_add(struct edge *e, struct ws_conn *c)
{
	c->ready_by = ids_mono_ms() + EDGE_READY_WAIT_MS;
	c->wait_next = NULL;
	c->wait_prev = e->wait_tail;
	if (e->wait_tail)
		e->wait_tail->wait_next = c;
	else
		e->wait_head = c;
	e->wait_tail = c;
	c->waiting = true;
}

static void wait_remove(struct edge *e, struct ws_conn *c)
{
	if (!c->waiting)
		return;
	if (c->wait_prev)
		c->wait_prev->wait_next = c->wait_next;
	else
		e->wait_head = c->wait_next;
	if (c->wait_next)
		c->wait_next->wait_prev = c->wait_prev;
	else
		e->wait_tail = c->wait_prev;
	c->wait_next = c->wait_prev = NULL;
	c->waiting = false;
}

static void check_idle(const char *key, void *value, void *arg)
{
	struct ws_conn *c = value;
	struct edge *e = c->edge;
	int64_t now = *(const int64_t *)arg, silent = now - c->last_rx;
	if (c->close_code || c->state != WS_READY)
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
	struct edge *e = lws_container_of(sul, struct edge, sul_sweep);
	int64_t now = ids_mono_ms();
	while (e->wait_head && e->wait_head->ready_by <= now) {
		struct ws_conn *c = e->wait_head;
		wait_remove(e, c);
		log_warn("socket %s (user %s): not subscribed within %d ms, closing 1013", c->device_id, c->user_id,
			 EDGE_READY_WAIT_MS);
		ws_close(c, 1013, "service unavailable, try again");
	}
	hmap_each(e->devices, check_idle, &now);
	lws_sul_schedule(e->ctx, 0, &e->sul_sweep, sweep, EDGE_SWEEP_MS * LWS_US_PER_MS);
}

void ws_sweep_start(struct edge *e)
{
	lws_sul_schedule(e->ctx, 0, &e->sul_sweep, sweep, EDGE_SWEEP_MS * LWS_US_PER_MS);
}

void ws_ready(struct ws_conn *c)
{
	if (c->state == WS_READY || c->close_code)
		return;
	wait_remove(c->edge, c);
	c->state = WS_READY;
	json_t *features = json_array();
	for (size_t i = 0; i < sizeof(ws_features) / sizeof(ws_features[0]); i++)
		json_array_append_new(features, json_string(ws_features[i]));
	json_t *ack = json_pack("{s:s, s:s, s:s, s:o}", "type", "connection.ack", "user_id", c->user_id, "device_id",
				c->device_id, "features", features);
	if (ack && c->kind == WS_CHAT)
		json_object_set_new(ack, "conversation_id", json_string(c->conv_id));
	ws_send_json(c, ack);
	log_info("socket %s open: user %s, %s%s", c->device_id, c->user_id,
		 c->kind == WS_CHAT ? "chat " : "notifications", c->kind == WS_CHAT ? c->conv_id : "");
}

/* --- handshake ----------------------------------------------------------- */

/* Parses "/ws/notifications/" and "/ws/chat/<cid>/" (trailing slash
 * optional). Returns the kind, or -1 for any other path. */
static int parse_path(const char *path, char conv[IDS_MAX + 1])
{
	if (!strcmp(path, "/ws/notifications/") || !strcmp(path, "/ws/notifications"))
		return WS_NOTIFY;
	if (strncmp(path, "/ws/chat/", 9))
		return -1;
	const char *id = path + 9;
	size_t n = strcspn(id, "/");
	if (id[n] == '/' && id[n + 1] != '\0')
		return -1;
	if (!ids_valid_n(id, n))
		return -1;
	memcpy(conv, id, n);
	conv[n] = '\0';
	return WS_CHAT;
}

static int filter_upgrade(struct edge *e, struct lws *wsi)
{
	char path[256], origin[256], conv[IDS_MAX + 1];
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 || parse_path(path, conv) < 0) {
		log_info("upgrade refused: no WebSocket endpoint at this path");
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return 1;
	}
	int olen = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
	if (olen > 0 && !edge_origin_allowed(e, wsi, origin)) {
		log_warn("upgrade refused: origin %s is not on the allow-list", origin);
		lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
		return 1;
	}
	return 0;
}

static void member_answer(struct edge *e, void *arg, int status, json_t *body)
{
	struct ws_conn *c = arg;
	c->member_req[0] = '\0';
	if (status == 200 && json_is_true(json_object_get(body, "member"))) {
		char topic[EDGE_TOPIC_MAX];
		snprintf(topic, sizeof(topic), "chats/%s/messages", c->conv_id);
		c->state = WS_SUB_WAIT;
		if (sessions_join(e, c, topic) != 0)
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
	char path[256], token[JWT_MAX_LEN + 16];
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->edge = e;
	c->is_ws = true;
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
		path[0] = '\0';
	int kind = parse_path(path, c->conv_id);
	if (kind < 0)
		return -1; /* filtered before; cannot happen */
	c->kind = (enum ws_kind)kind;

	const char *tok = lws_get_urlarg_by_name(wsi, "token=", token, sizeof(token));
	struct jwt_claims claims;
	int rc = tok ? jwt_verify(tok, strlen(tok), (const unsigned char *)e->cfg.jwt_secret, e->cfg.jwt_secret_len,
				  ids_now_ms() / 1000, e->cfg.require_exp, &claims)
		     : JWT_EMALFORMED;
	if (rc != JWT_OK) {
		log_info("socket refused (4401): %s", tok ? jwt_strerror(rc) : "no token");
		ws_close(c, 4401, "unauthorized"); /* not a device: nothing to undo at close */
		return 0;
	}
	memcpy(c->user_id, claims.user_id, sizeof(c->user_id));
	memcpy(c->username, claims.username, sizeof(c->username));
	c->device_id[0] = 'd';
	c->device_id[1] = '-';
	ids_random_hex(c->device_id + 2, EDGE_DEVICE_LEN - 2);
	if (hmap_put(e->devices, c->device_id, c) != 0)
		return -1;
	c->tokens = e->cfg.burst;
	c->tokens_at = ids_mono_ms();
	e->metrics.sockets_open[c->kind]++;
	e->metrics.sockets_total[c->kind]++;
	c->last_rx = c->tokens_at;
	wait_add(e, c);

	if (c->kind == WS_NOTIFY) {
		char topic[EDGE_TOPIC_MAX];
		snprintf(topic, sizeof(topic), "users/%s/notifications", c->user_id);
		c->state = WS_SUB_WAIT;
		return sessions_join(e, c, topic) == 0 ? 0 : -1;
	}
	c->state = WS_MEMBER_WAIT;
	json_t *req = json_pack("{s:s, s:s, s:s}", "op", "member", "conversation_id", c->conv_id, "user_id", c->user_id);
	if (requests_send(e, req, member_answer, c, c->member_req) != 0)
		ws_close(c, 1013, "service unavailable, try again");
	return 0;
}

/* --- frames in ----------------------------------------------------------- */

static bool take_token(struct edge *e, struct ws_conn *c)
{
	int64_t now = ids_mono_ms();
	c->tokens += (double)(now - c->tokens_at) * e->cfg.rate / 1000.0;
	if (c->tokens > e->cfg.burst)
		c->tokens = e->cfg.burst;
	c->tokens_at = now;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

static void refuse(struct edge *e, struct ws_conn *c, int code, const char *why, const char *ref, const char *call_id)
{
	e->metrics.errors[code]++;
	ws_send_json(c, frames_error(code, why, ref, call_id));
	if (code == FRAMES_UNAVAILABLE)
		return; /* the service's fault, not the client's */
	int64_t now = ids_mono_ms();
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

static void handle_frame(struct edge *e, struct ws_conn *c, const char *buf, size_t len)
{
	if (c->close_code)
		return;
	if (!take_token(e, c)) {
		refuse(e, c, FRAMES_RATE_LIMITED, "rate limit exceeded", NULL, NULL);
		return;
	}
	if (c->state != WS_READY) {
		refuse(e, c, FRAMES_UNAVAILABLE, "wait for connection.ack", NULL, NULL);
		return;
	}
	struct frames_in f;
	const char *why = NULL;
	int rc = frames_decode(buf, len, c->kind == WS_CHAT ? FRAMES_FROM_CHAT : FRAMES_FROM_NOTIFY, &f, &why);
	e->metrics.frames_in[metric_of(f.type)]++;
	if (rc != FRAMES_OK) {
		refuse(e, c, rc, why, f.type_name, f.call_id);
	} else if (f.type == FRAMES_T_PING) {
		ws_send_json(c, json_pack("{s:s}", "type", "pong"));
	} else {
		char topic[EDGE_TOPIC_MAX], corr[EDGE_DEVICE_LEN + 3];
		if (c->kind == WS_CHAT)
			snprintf(topic, sizeof(topic), "chats/%s/in", c->conv_id);
		else
			snprintf(topic, sizeof(topic), "users/%s/outbox", c->user_id);
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
		if (broker_publish(e, topic, buf, len, &opt) != 0)
			refuse(e, c, FRAMES_UNAVAILABLE, "broker unreachable, frame not sent; try again", f.type_name,
			       f.call_id);
	}
	frames_in_clear(&f);
}

static int on_receive(struct edge *e, struct ws_conn *c, const void *in, size_t len)
{
	c->last_rx = ids_mono_ms();
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
		size_t cap = c->rx_cap ? c->rx_cap : 1024;
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

/* --- frames out, close --------------------------------------------------- */

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
		if (c->q_len || c->close_code) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
	}
	while (c->q_len) {
		struct outmsg *m = c->q[c->q_head];
		int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		if (n < (int)m->len)
			return -1;
		q_pop(c);
		if (c->q_len && lws_send_pipe_choked(c->wsi)) {
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
	wait_remove(e, c);
	requests_cancel(e, c->member_req);
	sessions_leave(e, c);
	if (c->device_id[0]) {
		hmap_del(e->devices, c->device_id);
		e->metrics.sockets_open[c->kind]--;
		if (c->close_code)
			log_info("socket %s closed: user %s, by the bridge with %d (%s)", c->device_id, c->user_id,
				 c->close_code, c->close_why ? c->close_why : "");
		else
			log_info("socket %s closed: user %s", c->device_id, c->user_id);
	}
	q_clear(c);
	free(c->rx);
	c->rx = NULL;
	c->edge = NULL;
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_conn *c = user;
	struct edge *e = edge_of(wsi);
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		int fd = (int)(lws_intptr_t)in, one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return 0;
	}
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_upgrade(e, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(e, c, wsi);
	case LWS_CALLBACK_RECEIVE:
		return c && c->edge ? on_receive(e, c, in, len) : -1;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c && c->edge) {
			c->last_rx = ids_mono_ms();
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
		return http_callback(wsi, reason, user, in, len);
	}
}
