/* http: one transaction at a time per connection, answered from the
 * writeable callback. A transaction waiting for rules holds its request key
 * so a client that hangs up cancels it.
 *
 * Each request is checked three times before a route sees it:
 * - its head, on the socket, before libwebsockets reads it (struct
 *   http_peer, one per TCP connection): libwebsockets 4.1 drops a connection
 *   without a word for a %00 in the URL (or, right after a '/', cuts the path
 *   there), and keeps header lines a proxy may read otherwise (a name with
 *   whitespace before its colon, a line without a colon, a folded line).
 *   Those are answered here, 404 or 400, and the connection closed;
 * - its framing (RFC 9112 6), on the headers libwebsockets parsed: one
 *   Content-Length of digits, no Transfer-Encoding (400, 411, 501, closed);
 * - its time: headers and body must arrive within --handshake-timeout-s of
 *   the request's start (the connection's, for the first one), or 408.
 * A request with a body that lws had read ahead (pipelined behind another)
 * is refused 503: lws 4.1 would read that body from the wrong bytes and
 * then loop on it for ever. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/sockios.h>
#include <linux/tcp.h>

#include <ev.h>
#include <openssl/crypto.h>

#include "ask.h"
#include "broker.h"
#include "clock.h"
#include "edge.h"
#include "frames.h"
#include "httphead.h"
#include "ice.h"
#include "bounds.h"
#include "log.h"
#include "paths.h"
#include "ratemap.h"
#include "topics.h"

#define HTTP_PATH_MAX 512
#define HTTP_FIELD_MAX 256                       /* a Content-Length or Transfer-Encoding value we read */
#define HTTP_HEAD_PEEK_MAX EDGE_HTTP_HEADER_MAX  /* bytes of a request head checked before lws reads it */
#define HTTP_DRAIN_MAX (4 * EDGE_HTTP_HEADER_MAX) /* read and dropped before a refusal of a head is sent */
#define HTTP_REFUSAL_MAX 1024                    /* a refusal of a head, written straight to the socket */

enum http_method { M_GET, M_POST, M_PUT, M_DELETE, M_OPTIONS, M_OTHER };

struct http_txn {
	enum http_method method;
	char path[HTTP_PATH_MAX];
	char origin[256];          /* echoed in CORS headers when allowed */
	char *body;
	size_t body_len;
	bool too_large;
	bool dispatched;           /* routed or refused: body bytes still coming are dropped */
	bool body_wait;            /* its body is still coming, until sul_body */
	bool body_done;            /* lws said the body is complete */
	bool close;                /* answered with Connection: close, then closed */
	lws_sorted_usec_list_t sul_body; /* the request's deadline, while its body comes */
	/* the answer */
	int status;
	char *resp;                /* malloc'd */
	size_t resp_len;
	const char *content_type;
	bool answered;
	int retry_after_s;         /* > 0: a Retry-After header (429) */
	char req_key[ASK_KEY_MAX];
	struct http_conn *conn;
	int64_t started_ms;
};


/* One TCP connection from accept to close, or to its WebSocket upgrade: lws's
 * opaque user data of the wsi (the per-session data lives one transaction
 * only). Freed at LWS_CALLBACK_WSI_DESTROY or at the upgrade.
 *
 * Offsets count the bytes lws has read from the socket (consumed()). lws
 * reads the socket only when it holds nothing read ahead, so a request that
 * reaches LWS_CALLBACK_HTTP with that count unchanged since the last answer
 * came from its buffer (pipelined behind the one before). */
struct http_peer {
	struct lws *wsi;
	struct edge *e;
	int fd;
	ev_io readable;            /* at EV_MAXPRI: runs before lws's own watcher of fd */
	bool watching;             /* readable is started: a request head is expected */
	bool holding;              /* lws's reads are paused until the head is whole */
	bool aligned;              /* the socket's next byte starts the next request (lws holds
				    * nothing read ahead): its head may be checked there */
	bool started;              /* the current request's first byte was seen */
	size_t peeked;             /* bytes on the socket at the last look */
	struct httphead_scan scan;
	int64_t since;             /* consumed() when the last transaction ended (0: the accept) */
	int64_t req_end;           /* offset of the end of the current request, -1 when unknown */
	int64_t req_start_ms;      /* the current request began: accept, its first byte, or the last answer */
};

static const char *method_name(enum http_method m)
{
	static const char *const names[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "?"};
	return names[m];
}

static enum http_method method_of(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		return M_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
		return M_POST;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI))
		return M_PUT;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
		return M_DELETE;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
		return M_OPTIONS;
	return M_OTHER;
}

static void txn_free(struct http_txn *t)
{
	if (!t)
		return;
	lws_sul_cancel(&t->sul_body);
	free(t->body);
	free(t->resp);
	free(t);
}

/* The code of an error body (PROTOCOL.md "HTTP"): a request refused for
 * its framing or its time is a bad request; the status says which. */
static const char *error_code(int status)
{
	switch (status) {
	case 404: return "not_found";
	case 413: return "too_large";
	case 503: return "unavailable";
	default: return "bad_request";
	}
}

/* {"error": code, "message": message}, malloc'd (NULL on failure). */
static char *error_body(int status, const char *message, size_t *len)
{
	json_t *j = json_pack("{s:s, s:s}", "error", error_code(status), "message", message);
	char *s = j ? frames_dump(j, len) : NULL;
	json_decref(j);
	return s;
}

/* --- answering ----------------------------------------------------------- */

static void answer_raw(struct http_txn *t, int status, const char *type, char *body, size_t len)
{
	if (t->answered) {
		free(body);
		return;
	}
	t->answered = true;
	t->status = status;
	t->content_type = type;
	t->resp = body;
	t->resp_len = len;
	lws_callback_on_writable(t->conn->wsi);
}

/* Answers with j (stolen; NULL means an empty body). */
static void answer_json(struct http_txn *t, int status, json_t *j)
{
	size_t len = 0;
	char *s = NULL;
	if (j) {
		s = frames_dump(j, &len);
		json_decref(j);
	}
	answer_raw(t, status, "application/json", s, len);
}

static void answer_error(struct http_txn *t, int status, const char *code, const char *message)
{
	answer_json(t, status, json_pack("{s:s, s:s}", "error", code, "message", message));
}

/* Answers before any route, and closes after the answer: the request's
 * framing or time was wrong, or its body will not be read. */
static void refuse(struct edge *e, struct http_txn *t, int status, const char *why)
{
	t->dispatched = true;
	t->body_wait = false;
	t->close = true;
	e->metrics.http_requests++;
	log_info("%s %s refused %d: %s", method_name(t->method), t->path, status, why);
	answer_error(t, status, error_code(status), why);
}

/* Writes a whole answer now: headers (CORS ones when origin is allowed;
 * Connection: close when close) and body. 0, or -1 when lws could not. */
static int emit(struct lws *wsi, struct edge *e, int status, const char *type, const char *body, size_t len,
		const char *origin, bool preflight, bool close, int retry_after_s)
{
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, type ? type : "application/json",
					(lws_filepos_t)len, &p, end))
		return -1;
	if (origin && origin[0] && paths_request_origin_allowed(wsi, origin, e->cfg.origins, e->cfg.norigins)) {
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
						(const unsigned char *)origin, (int)strlen(origin), &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:", (const unsigned char *)"Origin", 6,
						&p, end))
			return -1;
		if (preflight) {
			static const char methods[] = "GET, POST, PUT, DELETE, OPTIONS";
			static const char headers[] = "Authorization, Content-Type, X-Api-Key";
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-methods:",
							(const unsigned char *)methods, sizeof(methods) - 1, &p, end) ||
			    lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-headers:",
							(const unsigned char *)headers, sizeof(headers) - 1, &p, end) ||
			    lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-max-age:",
							(const unsigned char *)"600", 3, &p, end))
				return -1;
		}
	}
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-store",
					8, &p, end))
		return -1;
	if (close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end))
		return -1;
	if (retry_after_s > 0) {
		char ra[16];
		int n = snprintf(ra, sizeof(ra), "%d", retry_after_s);
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:", (const unsigned char *)ra, n,
						&p, end))
			return -1;
	}
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (len) {
		unsigned char *copy = malloc(LWS_PRE + len);
		if (!copy)
			return -1;
		memcpy(copy + LWS_PRE, body, len);
		int n = lws_write(wsi, copy + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
		free(copy);
		if (n < (int)len)
			return -1;
	}
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		e->metrics.http_status[cls]++;
	return 0;
}

static void peer_watch_next(struct lws *wsi);

/* The transaction is over and the connection stays: the next request's
 * head is checked, and its clock starts. -1 when lws closes it instead. */
static int transaction_done(struct lws *wsi)
{
	if (lws_http_transaction_completed(wsi))
		return -1;
	peer_watch_next(wsi);
	return 0;
}

static int write_answer(struct lws *wsi, struct http_conn *c)
{
	struct http_txn *t = c->txn;
	struct edge *e = edge_of(wsi);
	if (!t || !t->answered)
		return 0;
	if (emit(wsi, e, t->status, t->content_type, t->resp, t->resp_len, t->origin, t->method == M_OPTIONS,
		 t->close, t->retry_after_s))
		return -1;
	log_debug("%s %s -> %d (%lld ms)", method_name(t->method), t->path, t->status,
		  (long long)(clock_mono_ms() - t->started_ms));
	bool close = t->close;
	txn_free(t);
	c->txn = NULL;
	return close ? -1 : transaction_done(wsi);
}

/* --- authentication ------------------------------------------------------ */

static int user_of(struct lws *wsi, struct edge *e, struct jwt_claims *claims)
{
	char auth[JWT_MAX_LEN + 32];
	int n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 7 || strncasecmp(auth, "Bearer ", 7))
		return -1;
	const char *tok = auth + 7;
	while (*tok == ' ')
		tok++;
	return edge_token_check(e, tok, strlen(tok), claims) == JWT_OK ? 0 : -1;
}

static bool api_key_ok(struct lws *wsi, struct edge *e)
{
	char key[512];
	if (!e->cfg.api_key)
		return false;
	int n = lws_hdr_custom_copy(wsi, key, sizeof(key), "x-api-key:", 10);
	if (n <= 0)
		return false;
	/* Constant time over the configured key's length. */
	if ((size_t)n != e->cfg.api_key_len)
		return false;
	return CRYPTO_memcmp(key, e->cfg.api_key, e->cfg.api_key_len) == 0;
}

/* --- routes -------------------------------------------------------------- */

static void rules_answer(void *arg, int status, json_t *body)
{
	struct http_txn *t = arg;
	t->req_key[0] = '\0';
	if (status == 503 && !body) {
		answer_error(t, 503, "unavailable", "rules did not answer in time");
		return;
	}
	if (status == 204)
		answer_json(t, 204, NULL);
	else
		answer_json(t, status, json_incref(body));
}

static void ask_rules(struct edge *e, struct http_txn *t, json_t *req)
{
	if (ask_send(e->ask, req, rules_answer, t, t->req_key) != 0)
		answer_error(t, 503, "unavailable", "broker unreachable");
}

static json_t *body_json(struct http_txn *t)
{
	if (!t->body_len || frames_depth(t->body, t->body_len, FRAMES_MAX_DEPTH) > FRAMES_MAX_DEPTH)
		return NULL;
	json_t *j = json_loadb(t->body, t->body_len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void route_initiate(struct edge *e, struct lws *wsi, struct http_txn *t)
{
	struct jwt_claims who;
	if (user_of(wsi, e, &who) != 0) {
		answer_error(t, 401, "unauthorized", "a valid Bearer token is required");
		return;
	}
	json_t *b = body_json(t);
	char receiver[IDS_MAX + 1], conv[IDS_MAX + 1];
	const char *type = json_string_value(json_object_get(b, "call_type"));
	const char *bad = NULL;
	if (!b)
		bad = "the body must be a JSON object";
	else if (ids_from_json(json_object_get(b, "receiver_id"), receiver) != 0)
		bad = "receiver_id must be an id";
	else if (ids_from_json(json_object_get(b, "conversation_id"), conv) != 0)
		bad = "conversation_id must be an id";
	else if (!ids_is_call_type(type))
		bad = IDS_CALL_TYPE_RULE;
	else if (!strcmp(receiver, who.user_id))
		bad = "you cannot call yourself";
	if (bad) {
		json_decref(b);
		answer_error(t, 400, "bad_request", bad);
		return;
	}
	/* Counted once well-formed (a refusal by rules, busy included, counts). */
	if (!ratemap_take(e->initiates, who.user_id, clock_mono_ms(), &t->retry_after_s)) {
		json_decref(b);
		log_info("initiate by %s refused: over %d a minute (retry in %d s)", who.user_id,
			 e->cfg.initiate_per_minute, t->retry_after_s);
		answer_error(t, 429, "rate_limited", "too many calls started: try again later");
		return;
	}
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", "initiate", "caller_id", who.user_id,
				"caller_username", who.username, "receiver_id", receiver, "call_type", type,
				"conversation_id", conv);
	json_decref(b);
	ask_rules(e, t, req);
}

static void route_calls_list(struct edge *e, struct lws *wsi, struct http_txn *t)
{
	struct jwt_claims who;
	if (user_of(wsi, e, &who) != 0) {
		answer_error(t, 401, "unauthorized", "a valid Bearer token is required");
		return;
	}
	char buf[128];
	long limit = BOUNDS_HISTORY_DEFAULT;
	const char *v = lws_get_urlarg_by_name(wsi, "limit=", buf, sizeof(buf));
	if (v) {
		char *endp = NULL;
		limit = strtol(v, &endp, 10);
		if (!*v || *endp || limit < 1) {
			answer_error(t, 400, "bad_request", "limit must be a positive integer");
			return;
		}
		if (limit > BOUNDS_HISTORY_MAX)
			limit = BOUNDS_HISTORY_MAX;
	}
	json_t *req = json_pack("{s:s, s:s, s:I}", "op", "calls.list", "user_id", who.user_id, "limit", (json_int_t)limit);
	v = lws_get_urlarg_by_name(wsi, "before=", buf, sizeof(buf));
	json_object_set_new(req, "before", v ? json_string(v) : json_null());
	ask_rules(e, t, req);
}

static void route_call_get(struct edge *e, struct lws *wsi, struct http_txn *t, const char *id)
{
	struct jwt_claims who;
	if (user_of(wsi, e, &who) != 0) {
		answer_error(t, 401, "unauthorized", "a valid Bearer token is required");
		return;
	}
	if (!ids_is_uuid(id)) {
		answer_error(t, 404, "not_found", "no such call");
		return;
	}
	ask_rules(e, t, json_pack("{s:s, s:s, s:s}", "op", "calls.get", "user_id", who.user_id, "call_id", id));
}

/* TURN credentials for the token's user, made here (no question to rules). */
static void route_ice_servers(struct edge *e, struct lws *wsi, struct http_txn *t)
{
	struct jwt_claims who;
	if (user_of(wsi, e, &who) != 0) {
		answer_error(t, 401, "unauthorized", "a valid Bearer token is required");
		return;
	}
	json_t *body = ice_servers(&e->cfg.ice, who.user_id, clock_now_ms() / 1000);
	if (!body) {
		answer_error(t, 503, "unavailable", "out of memory");
		return;
	}
	answer_json(t, 200, body);
}

static void route_conversation(struct edge *e, struct lws *wsi, struct http_txn *t, const char *id)
{
	if (!api_key_ok(wsi, e)) {
		answer_error(t, 401, "unauthorized", "a valid X-Api-Key is required");
		return;
	}
	if (!ids_valid(id)) {
		answer_error(t, 404, "not_found", "no such conversation");
		return;
	}
	if (t->method == M_DELETE) {
		ask_rules(e, t, json_pack("{s:s, s:s}", "op", "conversation.delete", "conversation_id", id));
		return;
	}
	json_t *b = body_json(t);
	json_t *members = json_object_get(b, "members");
	json_t *list = json_array();
	size_t i;
	json_t *m;
	bool ok = json_is_array(members) && json_array_size(members) <= BOUNDS_MEMBERS_MAX;
	json_array_foreach(members, i, m) {
		char uid[IDS_MAX + 1];
		if (!ok || ids_from_json(m, uid) != 0) {
			ok = false;
			break;
		}
		json_array_append_new(list, json_string(uid));
	}
	json_decref(b);
	if (!ok) {
		json_decref(list);
		answer_error(t, 400, "bad_request", "members must be a list of ids");
		return;
	}
	ask_rules(e, t, json_pack("{s:s, s:s, s:o}", "op", "conversation.put", "conversation_id", id, "members", list));
}

static void route_notification(struct edge *e, struct lws *wsi, struct http_txn *t)
{
	if (!api_key_ok(wsi, e)) {
		answer_error(t, 401, "unauthorized", "a valid X-Api-Key is required");
		return;
	}
	json_t *b = body_json(t);
	char uid[IDS_MAX + 1];
	json_t *payload = json_object_get(b, "payload");
	if (!b || ids_from_json(json_object_get(b, "user_id"), uid) != 0 || !json_is_object(payload)) {
		json_decref(b);
		answer_error(t, 400, "bad_request", "expected {\"user_id\": id, \"payload\": object}");
		return;
	}
	json_t *frame = json_pack("{s:s, s:O}", "type", "notification.created", "payload", payload);
	json_decref(b);
	size_t len = 0;
	char *s = frame ? frames_dump(frame, &len) : NULL;
	json_decref(frame);
	char topic[TOPICS_MAX];
	int rc = s && !topics_build(TOPICS_USER_NOTIFICATIONS, uid, topic, sizeof(topic))
			 ? broker_publish(e->broker, topic, s, len, NULL)
			 : -1;
	free(s);
	if (rc != 0) {
		answer_error(t, 503, "unavailable", "broker unreachable");
		return;
	}
	answer_json(t, 202, json_pack("{s:s, s:b}", "user_id", uid, "queued", 1));
}

/* The user's rule is stored and published by rules; the 202 comes once
 * it is stored. The rule's time is taken here, when the request came. */
static void route_disconnect(struct edge *e, struct lws *wsi, struct http_txn *t, const char *id)
{
	if (!api_key_ok(wsi, e)) {
		answer_error(t, 401, "unauthorized", "a valid X-Api-Key is required");
		return;
	}
	if (!ids_valid(id)) {
		answer_error(t, 404, "not_found", "no such user");
		return;
	}
	ask_rules(e, t, json_pack("{s:s, s:s, s:I}", "op", "user.disconnect", "user_id", id, "at",
				  (json_int_t)(clock_now_ms() / 1000)));
}

/* GET /healthz = GET /readyz: 200 when the broker link is up, rules
 * answers ping and its store is not failing; else 503. The body names the
 * part that is not (detail: rules' reason, may be NULL). */
/* The body of /healthz and /readyz; rules_body (rules' answer to ping, may
 * be NULL) gives which rules answered: rules_instance, store_kind. */
static void answer_health(struct http_txn *t, const char *broker, const char *rules, const char *store,
			  const char *detail, const json_t *rules_body)
{
	bool ok = !strcmp(broker, "up") && !strcmp(rules, "up") && strcmp(store, "failing") != 0;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "status", ok ? "ok" : "unavailable", "broker", broker, "rules",
			      rules, "store", store);
	if (j && detail)
		json_object_set_new(j, "store_detail", json_string(detail));
	static const char *const about_rules[] = {"rules_instance", "store_kind"};
	for (size_t i = 0; j && i < sizeof(about_rules) / sizeof(about_rules[0]); i++) {
		const char *v = json_string_value(json_object_get(rules_body, about_rules[i]));
		if (v)
			json_object_set_new(j, about_rules[i], json_string(v));
	}
	answer_json(t, ok ? 200 : 503, j);
}

/* rules' answer to ping: {"store": "ok" | "failing", "store_detail"?,
 * "rules_instance", "store_kind"}; a rules without the store check
 * answers {} ("unknown"). Only the active rules is on the broker (a
 * standby waits for the store's lock), so its instance is the active one. */
static void route_healthz_answer(void *arg, int status, json_t *body)
{
	struct http_txn *t = arg;
	t->req_key[0] = '\0';
	if (status != 200) {
		answer_health(t, "up", "down", "unknown", NULL, NULL);
		return;
	}
	const char *store = json_string_value(json_object_get(body, "store"));
	bool failing = store && !strcmp(store, "failing");
	answer_health(t, "up", "up", failing ? "failing" : store && !strcmp(store, "ok") ? "ok" : "unknown",
		      failing ? json_string_value(json_object_get(body, "store_detail")) : NULL, body);
}

static void route_healthz(struct edge *e, struct http_txn *t)
{
	if (!broker_up(e->broker) ||
	    ask_send(e->ask, json_pack("{s:s}", "op", "ping"), route_healthz_answer, t, t->req_key) != 0)
		answer_health(t, "down", "unknown", "unknown", NULL, NULL);
}

/* GET /livez: the process and its loop answer; asks no one. */
static void route_livez(struct http_txn *t)
{
	answer_json(t, 200, json_pack("{s:s}", "status", "ok"));
}

#define HTTP_METRICS_TYPE "text/plain; version=0.0.4"

static void route_metrics(struct edge *e, struct http_txn *t)
{
	char *buf = malloc(EDGE_METRICS_TEXT_MAX);
	if (!buf) {
		answer_error(t, 503, "unavailable", "out of memory");
		return;
	}
	size_t n = metrics_render(&e->metrics, broker_up(e->broker), buf, EDGE_METRICS_TEXT_MAX);
	answer_raw(t, 200, HTTP_METRICS_TYPE, buf, n);
}

/* rules' answer to op metrics: {"text": its Prometheus text}, passed on. */
static void route_rules_metrics_answer(void *arg, int status, json_t *body)
{
	struct http_txn *t = arg;
	t->req_key[0] = '\0';
	const json_t *text = json_object_get(body, "text");
	size_t len = json_string_length(text);
	char *copy = status == 200 && json_is_string(text) && len <= EDGE_RULES_METRICS_MAX ? malloc(len + 1) : NULL;
	if (!copy) {
		answer_error(t, 503, "unavailable", status == 503 ? "rules did not answer in time" : "no metrics from rules");
		return;
	}
	memcpy(copy, json_string_value(text), len);
	answer_raw(t, 200, HTTP_METRICS_TYPE, copy, len);
}

/* GET /metrics/rules: rules has no listener of its own; any bridge asks it. */
static void route_rules_metrics(struct edge *e, struct http_txn *t)
{
	if (ask_send(e->ask, json_pack("{s:s}", "op", "metrics"), route_rules_metrics_answer, t, t->req_key) != 0)
		answer_error(t, 503, "unavailable", "broker unreachable");
}

static const char *mime_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".png"))
		return "image/png";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".json"))
		return "application/json";
	return "application/octet-stream";
}

/* Serves a flat file of --web-root. Returns 1 when it took the request,
 * with *rc what lws_serve_http_file() returned (> 0: already complete). */
static int serve_static(struct edge *e, struct lws *wsi, struct http_txn *t, int *rc)
{
	if (!e->cfg.web_root || t->method != M_GET)
		return 0;
	const char *name = !strcmp(t->path, "/") ? "index.html" : t->path + 1;
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	if (name[0] == '.' || !name[0])
		return 0;
	char file[1024];
	struct stat st;
	snprintf(file, sizeof(file), "%s/%s", e->cfg.web_root, name);
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	*rc = lws_serve_http_file(wsi, file, mime_of(file), NULL, 0);
	return 1;
}

/* Splits "/prefix/<id>/" into id (copied), or returns -1. */
static int dispatch(struct edge *e, struct lws *wsi, struct http_conn *c)
{
	struct http_txn *t = c->txn;
	char id[128];
	int rc = 0;
	t->dispatched = true;
	e->metrics.http_requests++;
	if (t->too_large) {
		answer_error(t, 413, "too_large", "the body is over the limit");
	} else if (t->method == M_OPTIONS) {
		if (t->origin[0] && !paths_request_origin_allowed(wsi, t->origin, e->cfg.origins, e->cfg.norigins))
			answer_error(t, 403, "forbidden", "origin not allowed");
		else
			answer_json(t, 204, NULL);
	} else if (paths_is(t->path, "/healthz") || paths_is(t->path, "/readyz")) {
		route_healthz(e, t);
	} else if (paths_is(t->path, "/livez")) {
		route_livez(t);
	} else if (paths_is(t->path, "/metrics")) {
		route_metrics(e, t);
	} else if (paths_is(t->path, "/metrics/rules")) {
		route_rules_metrics(e, t);
	} else if (paths_is(t->path, "/calls/initiate/")) {
		if (t->method == M_POST)
			route_initiate(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use POST");
	} else if (paths_is(t->path, "/calls/ice-servers/")) {
		if (t->method == M_GET)
			route_ice_servers(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use GET");
	} else if (paths_is(t->path, "/calls/")) {
		if (t->method == M_GET)
			route_calls_list(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use GET");
	} else if (!paths_id(t->path, "/calls/", id, sizeof(id))) {
		if (t->method == M_GET)
			route_call_get(e, wsi, t, id);
		else
			answer_error(t, 405, "method_not_allowed", "use GET");
	} else if (!paths_id(t->path, "/api/conversations/", id, sizeof(id))) {
		if (t->method == M_PUT || t->method == M_DELETE)
			route_conversation(e, wsi, t, id);
		else
			answer_error(t, 405, "method_not_allowed", "use PUT or DELETE");
	} else if (!paths_id_in(t->path, "/api/users/", "/disconnect", id, sizeof(id))) {
		if (t->method == M_POST)
			route_disconnect(e, wsi, t, id);
		else
			answer_error(t, 405, "method_not_allowed", "use POST");
	} else if (paths_is(t->path, "/api/notifications/")) {
		if (t->method == M_POST)
			route_notification(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use POST");
	} else if (serve_static(e, wsi, t, &rc)) {
		txn_free(t);
		c->txn = NULL; /* before the transaction ends: lws frees c then */
		return rc < 0 ? -1 : rc > 0 ? transaction_done(wsi) : 0;
	} else {
		answer_error(t, 404, "not_found", "no such route");
	}
	return 0;
}

/* --- framing (RFC 9112 6) ------------------------------------------------ */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Whether the request has an h header, even an empty one. */
static bool has_header(struct lws *wsi, enum lws_token_indexes h)
{
	char none[1];
	return lws_hdr_total_length(wsi, h) > 0 || lws_hdr_copy_fragment(wsi, none, sizeof(none), h, 0) == 0;
}

/* The frag-th h header's value, trimmed of OWS, into buf (cap bytes): its
 * length, -1 when there is no frag-th h header, -2 when it does not fit. */
static int field_value(struct lws *wsi, enum lws_token_indexes h, int frag, char *buf, size_t cap)
{
	int len = lws_hdr_fragment_length(wsi, h, frag);
	if (len < 0 || (size_t)len >= cap)
		return -2;
	if (lws_hdr_copy_fragment(wsi, buf, (int)cap, h, frag) < 0)
		return -1;
	char *s = buf, *end = buf + len;
	while (s < end && is_blank(*s))
		s++;
	while (end > s && is_blank(end[-1]))
		end--;
	memmove(buf, s, (size_t)(end - s));
	buf[end - s] = '\0';
	return (int)(end - s);
}

/* How the request's body is delimited: 0, with *clen (-1: no Content-Length)
 * when that is unambiguous; else the status to answer (400, 411, 501) and
 * *why. lws 4.1 takes the first of two Content-Length headers, reads "5, 7"
 * or "+5" as atoll() does, decodes no chunked request body, and files
 * "Content-Length :" as an unknown header: a proxy in front may frame the
 * same bytes otherwise (request smuggling). A repeated Content-Length is
 * refused even when the values agree, as a list of them is. */
static int framing_check(struct lws *wsi, int64_t *clen, const char **why)
{
	static const char *const spaced[] = {"content-length :", "content-length\t:", "transfer-encoding :",
					     "transfer-encoding\t:"};
	char v[HTTP_FIELD_MAX];
	*clen = -1;
	/* The head check on the socket catches any name with whitespace; these
	 * two matter for a request it could not see (read ahead by lws). */
	for (size_t i = 0; i < sizeof(spaced) / sizeof(spaced[0]); i++) {
		if (lws_hdr_custom_length(wsi, spaced[i], (int)strlen(spaced[i])) >= 0) {
			*why = "whitespace in a header name or before its colon";
			return 400;
		}
	}
	bool has_cl = has_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (has_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
		if (has_cl) {
			*why = "Content-Length and Transfer-Encoding together";
			return 400;
		}
		if (field_value(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, 1, v, sizeof(v)) == -1 &&
		    field_value(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, 0, v, sizeof(v)) >= 0 && !strcasecmp(v, "chunked")) {
			*why = "a chunked request body is not read: send Content-Length";
			return 411;
		}
		*why = "no transfer coding is implemented";
		return 501;
	}
	if (!has_cl)
		return 0;
	if (field_value(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1, v, sizeof(v)) != -1) {
		*why = "more than one Content-Length";
		return 400;
	}
	int n = field_value(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 0, v, sizeof(v));
	if (n <= 0) {
		*why = "Content-Length must be digits";
		return 400;
	}
	int64_t len = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i])) {
			*why = "Content-Length must be digits";
			return 400;
		}
		if (len <= EDGE_HTTP_BODY_MAX) /* beyond, it stays just over: no overflow */
			len = len * 10 + (v[i] - '0');
	}
	*clen = len;
	return 0;
}

/* lws 4.1 takes whatever follows a POST, PUT or PATCH without Content-Length
 * as its body (up to 100 MB), where RFC 9112 6.3 says it has none. */
static bool body_unbounded(struct lws *wsi)
{
	return lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) || lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) ||
	       lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI);
}

/* --- the request head, on the socket, before libwebsockets reads it ------ */

#if EV_MAXPRI == EV_MINPRI
#error "libev without watcher priorities: the head check must run before lws reads"
#endif

/* The loop lws runs on (main.c: libev's default loop). */
static struct ev_loop *loop(void)
{
	return ev_default_loop(0);
}

/* Bytes read from fd so far (by lws: the bridge only peeks), or -1. */
static int64_t consumed(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int inq = 0;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received) ||
	    ioctl(fd, SIOCINQ, &inq) != 0)
		return -1;
	return (int64_t)ti.tcpi_bytes_received - inq;
}

static struct http_peer *peer_of(struct lws *wsi)
{
	struct http_peer *p = lws_get_opaque_user_data(wsi);
	return p && p->wsi == wsi ? p : NULL;
}

static int set_rcvlowat(int fd, size_t n)
{
	int v = (int)n;
	return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

/* lws reads the request from here on. */
static void peer_release(struct http_peer *p)
{
	if (p->watching) {
		ev_io_stop(loop(), &p->readable);
		p->watching = false;
	}
	if (p->holding) {
		p->holding = false;
		set_rcvlowat(p->fd, 1);
		lws_rx_flow_control(p->wsi, 1);
	}
}

/* Waits for more of the head: lws reads nothing meanwhile, and the socket
 * wakes us only once more than have bytes are there (or at its end). Not
 * while lws still sends the last answer: it would not go on meanwhile. */
static void peer_hold(struct http_peer *p, size_t have)
{
	if (lws_partial_buffered(p->wsi) || set_rcvlowat(p->fd, have + 1) != 0) {
		peer_release(p);
		return;
	}
	if (!p->holding) {
		p->holding = true;
		lws_rx_flow_control(p->wsi, 0);
	}
}

/* Answers a head lws would drop or misread, itself: lws has read none of it,
 * holds nothing before it, and sends nothing meanwhile. What came is read
 * and dropped (closing over unread bytes would reset the connection under
 * the answer), the answer goes out with Connection: close, and lws closes
 * the connection. */
static void peer_refuse(struct http_peer *p, int status, const char *why)
{
	char scratch[EDGE_HTTP_HEADER_MAX], out[HTTP_REFUSAL_MAX];
	if (lws_partial_buffered(p->wsi)) {
		peer_release(p); /* the last answer is still going out: not between its bytes */
		return;
	}
	if (p->watching) {
		ev_io_stop(loop(), &p->readable);
		p->watching = false;
	}
	if (!p->holding) {
		p->holding = true;
		lws_rx_flow_control(p->wsi, 0);
	}
	for (size_t got = 0; got < HTTP_DRAIN_MAX;) {
		ssize_t r = recv(p->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	size_t blen = 0;
	char *body = error_body(status, why, &blen);
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
			 "cache-control: no-store\r\nconnection: close\r\n\r\n%.*s",
			 status, status == 404 ? "Not Found" : "Bad Request", body ? blen : 0,
			 body ? (int)blen : 0, body ? body : "");
	free(body);
	if (n > 0 && (size_t)n < sizeof(out) && send(p->fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
		p->e->metrics.http_status[status / 100]++;
	shutdown(p->fd, SHUT_WR);
	p->e->metrics.http_requests++;
	log_info("request refused before it was parsed (%d): %s", status, why);
	lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The socket has bytes lws has not read: the head of a request, or more of
 * it. It runs before lws's own watcher of the socket (EV_MAXPRI). */
static void peer_look(struct ev_loop *lp, ev_io *w, int revents)
{
	struct http_peer *p = w->data;
	char buf[HTTP_HEAD_PEEK_MAX];
	ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0 || (size_t)n == p->peeked) {
		peer_release(p); /* its end, or an error: lws reads what there is and closes */
		return;
	}
	if (!p->started) {
		p->started = true;
		p->req_start_ms = clock_mono_ms();
	}
	if (!p->aligned) {
		peer_release(p); /* these bytes may follow a request lws holds: lws's alone */
		return;
	}
	p->peeked = (size_t)n;
	int status = 0;
	const char *why = NULL;
	switch (httphead_check(&p->scan, buf, (size_t)n, &status, &why)) {
	case HTTPHEAD_REFUSE:
		peer_refuse(p, status, why);
		return;
	case HTTPHEAD_PASS:
		peer_release(p);
		return;
	case HTTPHEAD_MORE:
		if ((size_t)n == sizeof(buf))
			peer_release(p); /* over lws's header space: lws refuses it itself */
		else
			peer_hold(p, (size_t)n);
		return;
	}
}

/* Watches for the head of the connection's next request; first: the
 * connection's first, whose clock runs from the accept. */
static void peer_watch(struct http_peer *p, bool first)
{
	int64_t now = first ? 0 : consumed(p->fd);
	p->aligned = first || (now >= 0 && now == p->req_end);
	p->since = now;
	p->req_end = -1;
	p->started = first;
	p->req_start_ms = clock_mono_ms();
	p->peeked = 0;
	memset(&p->scan, 0, sizeof(p->scan));
	if (!p->watching) {
		ev_io_start(loop(), &p->readable);
		p->watching = true;
	}
}

/* After a transaction, on a connection kept open. Until the next request's
 * first byte shows, its clock runs from now: a request lws had read ahead
 * reaches LWS_CALLBACK_HTTP without our look. */
static void peer_watch_next(struct lws *wsi)
{
	struct http_peer *p = peer_of(wsi);
	if (p)
		peer_watch(p, false);
}

/* The request reached LWS_CALLBACK_HTTP: lws has its head. Returns whether
 * lws had read it ahead, with the one before; *begun is when it began. */
static bool peer_request(struct lws *wsi, int64_t *begun)
{
	struct http_peer *p = peer_of(wsi);
	if (!p)
		return false;
	int64_t now = consumed(p->fd);
	bool read_ahead = now >= 0 && now == p->since;
	peer_release(p);
	*begun = p->req_start_ms;
	return read_ahead;
}

/* Where the request ends on the socket, its head's length seen there and
 * its body's known: the next one starts there when nothing more was read. */
static void peer_request_length(struct lws *wsi, int64_t clen)
{
	struct http_peer *p = peer_of(wsi);
	if (p && p->aligned && p->scan.head_len)
		p->req_end = p->since + (int64_t)p->scan.head_len + (clen > 0 ? clen : 0);
}

static int peer_new(struct edge *e, struct lws *wsi)
{
	int fd = (int)lws_get_socket_fd(wsi);
	if (fd < 0)
		return 0;
	struct http_peer *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->wsi = wsi;
	p->e = e;
	p->fd = fd;
	ev_io_init(&p->readable, peer_look, p->fd, EV_READ);
	ev_set_priority(&p->readable, EV_MAXPRI);
	p->readable.data = p;
	lws_set_opaque_user_data(wsi, p);
	peer_watch(p, true);
	return 0;
}

/* live: the connection goes on (an upgrade), else it is gone (its socket
 * closed already): only our watcher is stopped. */
static void peer_free(struct lws *wsi, bool live)
{
	struct http_peer *p = peer_of(wsi);
	if (!p)
		return;
	if (live) {
		peer_release(p);
	} else if (p->watching) {
		ev_io_stop(loop(), &p->readable);
	}
	lws_set_opaque_user_data(wsi, NULL);
	free(p);
}

/* --- the callback -------------------------------------------------------- */

static void body_late(lws_sorted_usec_list_t *sul)
{
	struct http_txn *t = lws_container_of(sul, struct http_txn, sul_body);
	struct edge *e = edge_of(t->conn->wsi);
	char why[96];
	if (!t->body_wait)
		return;
	snprintf(why, sizeof(why), "the request was not complete within %d s", e->cfg.handshake_timeout_s);
	refuse(e, t, 408, why);
}

/* A WebSocket (or h2c) upgrade: framed as any request, and with no body.
 * From here on the connection is no HTTP peer of ours. */
static int confirm_upgrade(struct edge *e, struct lws *wsi)
{
	int64_t clen;
	const char *why = NULL;
	peer_free(wsi, true);
	int status = framing_check(wsi, &clen, &why);
	if ((!status && clen > 0) || status == 411) {
		status = 400;
		why = "an upgrade request has no body";
	}
	if (!status)
		return 0;
	size_t blen = 0;
	char *body = error_body(status, why, &blen);
	e->metrics.http_requests++;
	log_info("upgrade refused (%d): %s", status, why);
	emit(wsi, e, status, "application/json", body, body ? blen : 0, NULL, false, true, 0);
	free(body);
	return -1;
}

/* Answers now, from LWS_CALLBACK_HTTP, and has lws close the connection: for
 * a request lws had read ahead and would read a body for. lws 4.1 reads
 * that body from its buffer's start (the request's own head), then calls
 * its completion over and over in a loop that never returns while bytes
 * remain (and frees the connection twice if the completion says close). */
static int refuse_now(struct edge *e, struct lws *wsi, struct http_conn *c, int status, const char *why)
{
	struct http_txn *t = c->txn;
	size_t blen = 0;
	char *body = error_body(status, why, &blen);
	e->metrics.http_requests++;
	log_info("%s %s refused %d: %s", method_name(t->method), t->path, status, why);
	emit(wsi, e, status, "application/json", body, body ? blen : 0, t->origin, false, true, 0);
	free(body);
	txn_free(t);
	c->txn = NULL;
	return -1;
}

static int on_request(struct edge *e, struct lws *wsi, struct http_conn *c, const char *uri)
{
	if (!c)
		return -1;
	if (c->txn) {
		ask_cancel(e->ask, c->txn->req_key);
		txn_free(c->txn);
	}
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	struct http_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	c->txn = t;
	t->conn = c;
	t->started_ms = clock_mono_ms();
	t->method = method_of(wsi);
	snprintf(t->path, sizeof(t->path), "%s", uri);
	if (lws_hdr_copy(wsi, t->origin, sizeof(t->origin), WSI_TOKEN_ORIGIN) <= 0)
		t->origin[0] = '\0';

	int64_t begun = t->started_ms;
	bool read_ahead = peer_request(wsi, &begun);
	int64_t clen;
	const char *why = NULL;
	int status = framing_check(wsi, &clen, &why);
	if (read_ahead && (status || clen > 0))
		return refuse_now(e, wsi, c, status ? status : 503,
				  status ? why : "a request with a body pipelined behind another is not taken: send it again");
	if (status) {
		refuse(e, t, status, why);
		return 0;
	}
	peer_request_length(wsi, clen);
	if (clen > EDGE_HTTP_BODY_MAX) {
		t->too_large = true;
		t->close = true; /* its body is not read */
		return dispatch(e, wsi, c);
	}
	if (clen < 0 && body_unbounded(wsi))
		t->close = true;
	if (clen <= 0)
		return dispatch(e, wsi, c);
	/* The body comes next, by the request's deadline: lws restarts its own
	 * time-out at every byte of it. */
	int64_t left = begun + (int64_t)e->cfg.handshake_timeout_s * 1000 - clock_mono_ms();
	t->body_wait = true;
	lws_sul_schedule(e->ctx, 0, &t->sul_body, body_late, (left > 0 ? left : 0) * LWS_US_PER_MS);
	return 0;
}

/* lws 4.1 keeps a request in LRS_BODY until its transaction completes, and
 * while it holds bytes past the body (a request pipelined behind it) it
 * calls the body's completion again at each turn of the loop. (A request it
 * had read ahead never gets here: refuse_now.) The connection ends here:
 * with the answer if it is ready, else without it (the request to rules is
 * cancelled as if the client had hung up). */
static int pipelined_behind_body(struct lws *wsi, struct http_conn *c)
{
	struct http_txn *t = c->txn;
	log_info("%s %s: a request pipelined behind its body: closing the connection %s",
		 method_name(t->method), t->path, t->answered ? "after the answer" : "unanswered");
	if (t->answered) {
		t->close = true;
		write_answer(wsi, c);
	}
	return -1;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, struct http_conn *c, void *in, size_t len)
{
	struct edge *e = edge_of(wsi);
	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return peer_new(e, wsi);
	case LWS_CALLBACK_WSI_DESTROY:
		peer_free(wsi, false);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(e, wsi);
	case LWS_CALLBACK_HTTP:
		return on_request(e, wsi, c, in);
	case LWS_CALLBACK_HTTP_BODY: {
		struct http_txn *t = c ? c->txn : NULL;
		if (!t)
			return -1;
		if (t->dispatched)
			return 0; /* answered already; closed after the answer */
		if (t->body_len + len > EDGE_HTTP_BODY_MAX) {
			t->too_large = true;
			return 0;
		}
		char *b = realloc(t->body, t->body_len + len + 1);
		if (!b)
			return -1;
		memcpy(b + t->body_len, in, len);
		t->body = b;
		t->body_len += len;
		return 0;
	}
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		struct http_txn *t = c ? c->txn : NULL;
		if (!t)
			return -1;
		if (t->body_done)
			return pipelined_behind_body(wsi, c);
		t->body_done = true;
		t->body_wait = false;
		lws_sul_cancel(&t->sul_body);
		return t->dispatched ? 0 : dispatch(e, wsi, c);
	}
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return transaction_done(wsi);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return c ? write_answer(wsi, c) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* lws frees c next */
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c && c->txn) {
			ask_cancel(e->ask, c->txn->req_key);
			txn_free(c->txn);
			c->txn = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, c, in, len);
	}
}
