/* http: one transaction at a time per connection, answered from the
 * writeable callback. A transaction waiting for rules holds its request key
 * so a client that hangs up cancels it. */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "broker.h"
#include "edge.h"
#include "frames.h"
#include "log.h"
#include "requests.h"
#include "ws.h"

#define HTTP_PATH_MAX 512

enum http_method { M_GET, M_POST, M_PUT, M_DELETE, M_OPTIONS, M_OTHER };

struct http_txn {
	enum http_method method;
	char path[HTTP_PATH_MAX];
	char origin[256];          /* echoed in CORS headers when allowed */
	char *body;
	size_t body_len;
	bool too_large;
	/* the answer */
	int status;
	char *resp;                /* malloc'd */
	size_t resp_len;
	const char *content_type;
	bool answered;
	char req_key[REQUESTS_KEY_MAX];
	struct ws_conn *conn;
	int64_t started_ms;
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
	free(t->body);
	free(t->resp);
	free(t);
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

static int write_answer(struct lws *wsi, struct ws_conn *c)
{
	struct http_txn *t = c->http;
	struct edge *e = edge_of(wsi);
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	if (!t || !t->answered)
		return 0;
	if (lws_add_http_common_headers(wsi, (unsigned int)t->status, t->content_type ? t->content_type : "application/json",
					(lws_filepos_t)t->resp_len, &p, end))
		return -1;
	if (t->origin[0] && edge_origin_allowed(e, wsi, t->origin)) {
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
						(const unsigned char *)t->origin, (int)strlen(t->origin), &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:", (const unsigned char *)"Origin", 6,
						&p, end))
			return -1;
		if (t->method == M_OPTIONS) {
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
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (t->resp_len) {
		unsigned char *body = malloc(LWS_PRE + t->resp_len);
		if (!body)
			return -1;
		memcpy(body + LWS_PRE, t->resp, t->resp_len);
		int n = lws_write(wsi, body + LWS_PRE, t->resp_len, LWS_WRITE_HTTP_FINAL);
		free(body);
		if (n < (int)t->resp_len)
			return -1;
	}
	int cls = t->status / 100;
	if (cls >= 1 && cls <= 5)
		e->metrics.http_status[cls]++;
	log_debug("%s %s -> %d (%lld ms)", method_name(t->method), t->path, t->status,
		  (long long)(ids_mono_ms() - t->started_ms));
	txn_free(t);
	c->http = NULL;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
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
	return jwt_verify(tok, strlen(tok), (const unsigned char *)e->cfg.jwt_secret, e->cfg.jwt_secret_len,
			  ids_now_ms() / 1000, e->cfg.require_exp, claims) == JWT_OK ? 0 : -1;
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

static void rules_answer(struct edge *e, void *arg, int status, json_t *body)
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
	if (requests_send(e, req, rules_answer, t, t->req_key) != 0)
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
	else if (!type || (strcmp(type, "voice") && strcmp(type, "video")))
		bad = "call_type must be \"voice\" or \"video\"";
	else if (!strcmp(receiver, who.user_id))
		bad = "you cannot call yourself";
	if (bad) {
		json_decref(b);
		answer_error(t, 400, "bad_request", bad);
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
	long limit = 20;
	const char *v = lws_get_urlarg_by_name(wsi, "limit=", buf, sizeof(buf));
	if (v) {
		char *endp = NULL;
		limit = strtol(v, &endp, 10);
		if (!*v || *endp || limit < 1) {
			answer_error(t, 400, "bad_request", "limit must be a positive integer");
			return;
		}
		if (limit > 100)
			limit = 100;
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
	bool ok = json_is_array(members) && json_array_size(members) <= 10000;
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
	char topic[EDGE_TOPIC_MAX];
	snprintf(topic, sizeof(topic), "users/%s/notifications", uid);
	int rc = s ? broker_publish(e, topic, s, len, NULL) : -1;
	free(s);
	if (rc != 0) {
		answer_error(t, 503, "unavailable", "broker unreachable");
		return;
	}
	answer_json(t, 202, json_pack("{s:s, s:b}", "user_id", uid, "queued", 1));
}

static void route_healthz_answer(struct edge *e, void *arg, int status, json_t *body)
{
	struct http_txn *t = arg;
	t->req_key[0] = '\0';
	bool ok = status == 200;
	answer_json(t, ok ? 200 : 503,
		    json_pack("{s:s, s:s, s:s}", "status", ok ? "ok" : "unavailable", "broker", "up", "rules",
			      ok ? "up" : "down"));
}

static void route_healthz(struct edge *e, struct http_txn *t)
{
	if (!broker_up(e)) {
		answer_json(t, 503, json_pack("{s:s, s:s, s:s}", "status", "unavailable", "broker", "down", "rules",
					      "unknown"));
		return;
	}
	if (requests_send(e, json_pack("{s:s}", "op", "ping"), route_healthz_answer, t, t->req_key) != 0)
		answer_json(t, 503, json_pack("{s:s, s:s, s:s}", "status", "unavailable", "broker", "down", "rules",
					      "unknown"));
}

static void route_metrics(struct edge *e, struct http_txn *t)
{
	size_t cap = 16384;
	char *buf = malloc(cap);
	if (!buf) {
		answer_error(t, 503, "unavailable", "out of memory");
		return;
	}
	size_t n = metrics_render(&e->metrics, broker_up(e), buf, cap);
	answer_raw(t, 200, "text/plain; version=0.0.4", buf, n);
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

/* Serves a flat file of --web-root. Returns 1 when it took the request. */
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
	int n = lws_serve_http_file(wsi, file, mime_of(file), NULL, 0);
	*rc = (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) ? -1 : 0;
	return 1;
}

/* Splits "/prefix/<id>/" into id (copied), or returns -1. */
static int path_id(const char *path, const char *prefix, char *out, size_t cap)
{
	size_t pl = strlen(prefix);
	if (strncmp(path, prefix, pl))
		return -1;
	const char *id = path + pl;
	size_t n = strcspn(id, "/");
	if (n == 0 || n >= cap || (id[n] == '/' && id[n + 1]))
		return -1;
	memcpy(out, id, n);
	out[n] = '\0';
	return 0;
}

static bool path_is(const char *path, const char *want)
{
	size_t n = strlen(want);
	/* with or without the trailing slash */
	return !strcmp(path, want) || (want[n - 1] == '/' && strlen(path) == n - 1 && !strncmp(path, want, n - 1));
}

static int dispatch(struct edge *e, struct lws *wsi, struct ws_conn *c)
{
	struct http_txn *t = c->http;
	char id[128];
	int rc = 0;
	e->metrics.http_requests++;
	if (t->too_large) {
		answer_error(t, 413, "too_large", "the body is over the limit");
	} else if (t->method == M_OPTIONS) {
		if (t->origin[0] && !edge_origin_allowed(e, wsi, t->origin))
			answer_error(t, 403, "forbidden", "origin not allowed");
		else
			answer_json(t, 204, NULL);
	} else if (path_is(t->path, "/healthz")) {
		route_healthz(e, t);
	} else if (path_is(t->path, "/metrics")) {
		route_metrics(e, t);
	} else if (path_is(t->path, "/calls/initiate/")) {
		if (t->method == M_POST)
			route_initiate(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use POST");
	} else if (path_is(t->path, "/calls/")) {
		if (t->method == M_GET)
			route_calls_list(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use GET");
	} else if (!path_id(t->path, "/calls/", id, sizeof(id))) {
		if (t->method == M_GET)
			route_call_get(e, wsi, t, id);
		else
			answer_error(t, 405, "method_not_allowed", "use GET");
	} else if (!path_id(t->path, "/api/conversations/", id, sizeof(id))) {
		if (t->method == M_PUT || t->method == M_DELETE)
			route_conversation(e, wsi, t, id);
		else
			answer_error(t, 405, "method_not_allowed", "use PUT or DELETE");
	} else if (path_is(t->path, "/api/notifications/")) {
		if (t->method == M_POST)
			route_notification(e, wsi, t);
		else
			answer_error(t, 405, "method_not_allowed", "use POST");
	} else if (serve_static(e, wsi, t, &rc)) {
		txn_free(t);
		c->http = NULL;
		return rc;
	} else {
		answer_error(t, 404, "not_found", "no such route");
	}
	return 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_conn *c = user;
	struct edge *e = edge_of(wsi);
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		if (!c)
			return -1;
		if (c->http) {
			requests_cancel(e, c->http->req_key);
			txn_free(c->http);
		}
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		struct http_txn *t = calloc(1, sizeof(*t));
		if (!t)
			return -1;
		c->http = t;
		t->conn = c;
		t->started_ms = ids_mono_ms();
		t->method = method_of(wsi);
		snprintf(t->path, sizeof(t->path), "%s", (const char *)in);
		if (lws_hdr_copy(wsi, t->origin, sizeof(t->origin), WSI_TOKEN_ORIGIN) <= 0)
			t->origin[0] = '\0';
		char cl[32];
		long clen = 0;
		if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
			clen = strtol(cl, NULL, 10);
		if (clen > EDGE_HTTP_BODY_MAX) {
			t->too_large = true;
			return dispatch(e, wsi, c);
		}
		if ((t->method == M_POST || t->method == M_PUT) && clen > 0)
			return 0; /* the body comes next */
		return dispatch(e, wsi, c);
	}
	case LWS_CALLBACK_HTTP_BODY: {
		struct http_txn *t = c ? c->http : NULL;
		if (!t)
			return -1;
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
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!c || !c->http)
			return -1;
		return dispatch(e, wsi, c);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return c ? write_answer(wsi, c) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c && c->http) {
			requests_cancel(e, c->http->req_key);
			txn_free(c->http);
			c->http = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
