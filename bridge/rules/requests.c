/* requests: one function per op of svc/rules/requests; see requests.h. */
#include "requests.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "bounds.h"
#include "log.h"
#include "msgid.h"
#include "replay.h"
#include "metrics.h"

/* What one op gets and gives. Every op and every answer helper returns 1:
 * "the request is answered" (r->status, r->body). */
struct req {
	struct store *st;
	const struct requests_cfg *cfg;
	const json_t *in;
	int64_t now_ms;
	int status;
	json_t *body;
	struct router_out *extra;
	bool store_failed;
};

static int answer(struct req *r, int status, json_t *body)
{
	json_decref(r->body);
	r->status = status;
	r->body = body ? body : json_null();
	return 1;
}

static int answer_error(struct req *r, int status, const char *code, const char *message)
{
	return answer(r, status, json_pack("{s:s, s:s}", "error", code, "message", message));
}

static int bad_request(struct req *r, const char *message)
{
	return answer_error(r, 400, "bad_request", message);
}

static int not_found(struct req *r, const char *message)
{
	return answer_error(r, 404, "not_found", message);
}

static int store_failed(struct req *r)
{
	r->store_failed = true;
	return answer_error(r, 503, "unavailable", "the store failed");
}

/* Reads the id field name of the request into out; false (and a 400) when
 * it is missing or breaks the id rule. */
static bool want_id(struct req *r, const char *name, char out[IDS_MAX + 1])
{
	if (ids_from_json(json_object_get(r->in, name), out) == 0)
		return true;
	char msg[96];
	snprintf(msg, sizeof(msg), "%s must be an id (1-64 of A-Z a-z 0-9 _ -)", name);
	bad_request(r, msg);
	return false;
}

/* {"store": "ok"} or {"store": "failing", "store_detail": why}: rules
 * answers, and whether it can write its store (health.h). */
static int op_ping(struct req *r)
{
	if (!r->cfg->health)
		return answer(r, 200, json_object());
	const char *why = health_check(r->cfg->health, r->st, r->now_ms);
	json_t *body = why ? json_pack("{s:s, s:s}", "store", "failing", "store_detail", why)
			   : json_pack("{s:s}", "store", "ok");
	if (body && r->cfg->instance)
		json_object_set_new(body, "rules_instance", json_string(r->cfg->instance));
	if (body && r->cfg->store_kind)
		json_object_set_new(body, "store_kind", json_string(r->cfg->store_kind));
	return answer(r, 200, body);
}

static int op_member(struct req *r)
{
	char cid[IDS_MAX + 1], uid[IDS_MAX + 1];
	if (!want_id(r, "conversation_id", cid) || !want_id(r, "user_id", uid))
		return 1;
	int exists = store_conversation_exists(r->st, cid);
	int member = exists == 1 ? store_member(r->st, cid, uid) : 0;
	if (exists < 0 || member < 0)
		return store_failed(r);
	if (!exists)
		return not_found(r, "no such conversation");
	if (!member)
		return answer_error(r, 403, "forbidden", "not a member of this conversation");
	return answer(r, 200, json_pack("{s:b}", "member", 1));
}

/* Checks in order: 404 unknown conversation, 403 not both members, 409
 * busy (either in an accepted call), 409 glare. 0 when the call may ring,
 * 1 when *r holds the answer. */
static int initiate_refused(struct req *r, const struct calls_call *c)
{
	int exists = store_conversation_exists(r->st, c->conversation_id);
	if (exists < 0)
		return store_failed(r);
	if (!exists)
		return not_found(r, "no such conversation");
	int a = store_member(r->st, c->conversation_id, c->caller_id);
	int b = store_member(r->st, c->conversation_id, c->receiver_id);
	if (a < 0 || b < 0)
		return store_failed(r);
	if (!a || !b)
		return answer_error(r, 403, "forbidden", "caller and receiver must both be members");
	a = store_call_busy(r->st, c->caller_id);
	b = store_call_busy(r->st, c->receiver_id);
	if (a < 0 || b < 0)
		return store_failed(r);
	if (a || b)
		return answer_error(r, 409, "busy", a ? "the caller is in a call" : "the receiver is in a call");
	/* Glare (see requests.h): the call already ringing between the two wins. */
	struct calls_call ringing;
	int rc = store_call_ringing_between(r->st, c->caller_id, c->receiver_id, &ringing);
	if (rc < 0)
		return store_failed(r);
	if (rc) {
		log_info("call %s %s→%s still ringing: %s's call to %s answered busy", ringing.id, ringing.caller_id,
			 ringing.receiver_id, c->caller_id, c->receiver_id);
		return answer(r, 409, json_pack("{s:s, s:s, s:s}", "error", "busy", "message",
						"a call between these users is already ringing", "call_id", ringing.id));
	}
	return 0;
}

static int op_initiate(struct req *r)
{
	struct calls_call c;
	memset(&c, 0, sizeof(c));
	if (!want_id(r, "caller_id", c.caller_id) || !want_id(r, "receiver_id", c.receiver_id) ||
	    !want_id(r, "conversation_id", c.conversation_id))
		return 1;
	const char *type = json_string_value(json_object_get(r->in, "call_type"));
	if (!ids_is_call_type(type))
		return bad_request(r, IDS_CALL_TYPE_RULE);
	if (!strcmp(c.caller_id, c.receiver_id))
		return bad_request(r, "calling oneself");
	const char *name = json_string_value(json_object_get(r->in, "caller_username"));
	snprintf(c.caller_username, sizeof(c.caller_username), "%s", name && name[0] ? name : c.caller_id);
	snprintf(c.call_type, sizeof(c.call_type), "%s", type);
	if (initiate_refused(r, &c))
		return 1;

	c.state = CALLS_RINGING;
	c.created_at = r->now_ms;
	c.ring_deadline = r->now_ms + r->cfg->ring_timeout_ms;
	int rc;
	do {
		ids_uuid4(c.id);
		rc = store_call_insert(r->st, &c);
	} while (rc == STORE_EEXISTS);
	if (rc != STORE_OK)
		return store_failed(r);
	metrics_call(&metrics_rules, CALLS_RINGING);
	int online = store_presence_online(r->st, c.receiver_id);
	log_event(LOG_LEVEL_INFO, c.id, c.caller_id, NULL, "call %s %s→%s ringing (%s, conversation %s, receiver %s)",
		  c.id, c.caller_id, c.receiver_id, c.call_type, c.conversation_id, online == 1 ? "online" : "offline");

	char msg_id[IDS_UUID_LEN + 1];
	msgid_next(msg_id);
	size_t first = r->extra->n;
	router_incoming(&c, msg_id, clock_expiry_s(r->cfg->ring_timeout_ms), r->extra);
	replay_keep(r->st, &c, r->extra, first);
	json_t *body = calls_to_json(&c);
	json_object_set_new(body, "receiver_online", json_boolean(online == 1));
	return answer(r, 201, body);
}

/* "<created_at_ms>_<call_id>": the history cursor of call c. */
static void cursor_make(const struct calls_call *c, char out[REQUESTS_CURSOR_MAX])
{
	snprintf(out, REQUESTS_CURSOR_MAX, "%" PRId64 "_%s", c->created_at, c->id);
}

/* Parses a cursor; 0 and the two parts, or -1 when it is not one. */
static int cursor_parse(const char *s, int64_t *ms, char id[IDS_UUID_LEN + 1])
{
	const char *sep = s ? strchr(s, '_') : NULL;
	if (!sep || sep == s || sep - s > 19 || !ids_is_uuid(sep + 1))
		return -1;
	int64_t v = 0;
	for (const char *p = s; p < sep; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < 0)
		return -1;
	*ms = v;
	memcpy(id, sep + 1, IDS_UUID_LEN + 1);
	return 0;
}

/* limit: absent or null -> default; an integer or a string of digits >= 1;
 * capped at the maximum. -1 when it does not parse. */
static int parse_limit(const json_t *v)
{
	long long n;
	if (!v || json_is_null(v))
		return REQUESTS_LIST_DEFAULT;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (!isdigit((unsigned char)s[0]))
			return -1;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (*end || errno)
			return -1;
	} else {
		return -1;
	}
	if (n < 1)
		return -1;
	return n > BOUNDS_HISTORY_MAX ? BOUNDS_HISTORY_MAX : (int)n;
}

static int op_calls_list(struct req *r)
{
	char uid[IDS_MAX + 1], before_id[IDS_UUID_LEN + 1];
	int64_t before_ms = 0;
	bool have_before = false;
	if (!want_id(r, "user_id", uid))
		return 1;
	int limit = parse_limit(json_object_get(r->in, "limit"));
	if (limit < 0)
		return bad_request(r, "limit must be a positive integer");
	const json_t *before = json_object_get(r->in, "before");
	if (before && !json_is_null(before)) {
		if (cursor_parse(json_string_value(before), &before_ms, before_id) < 0)
			return bad_request(r, "before must be a next_before value");
		have_before = true;
	}
	struct calls_call *calls = calloc((size_t)limit + 1, sizeof(*calls));
	if (!calls)
		return store_failed(r);
	size_t n = 0;
	if (store_calls_list(r->st, uid, before_ms, have_before ? before_id : NULL, calls, (size_t)limit + 1, &n) !=
	    STORE_OK) {
		free(calls);
		return store_failed(r);
	}
	json_t *list = json_array();
	json_t *next = json_null();
	if (n > (size_t)limit) {
		char cur[REQUESTS_CURSOR_MAX];
		n = (size_t)limit;
		cursor_make(&calls[n - 1], cur);
		json_decref(next);
		next = json_string(cur);
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, calls_to_json(&calls[i]));
	free(calls);
	return answer(r, 200, json_pack("{s:o, s:o}", "calls", list, "next_before", next));
}

static int op_calls_get(struct req *r)
{
	char uid[IDS_MAX + 1];
	if (!want_id(r, "user_id", uid))
		return 1;
	const char *id = json_string_value(json_object_get(r->in, "call_id"));
	struct calls_call c;
	int rc = ids_is_uuid(id) ? store_call_get(r->st, id, &c) : STORE_ENOTFOUND;
	if (rc == STORE_EDB)
		return store_failed(r);
	if (rc != STORE_OK || calls_role_of(&c, uid) == CALLS_OUTSIDER)
		return not_found(r, "no such call");
	return answer(r, 200, calls_to_json(&c));
}

static int op_conversation_put(struct req *r)
{
	char cid[IDS_MAX + 1];
	if (!want_id(r, "conversation_id", cid))
		return 1;
	const json_t *in = json_object_get(r->in, "members");
	size_t n = json_array_size(in);
	if (!json_is_array(in) || n > BOUNDS_MEMBERS_MAX)
		return bad_request(r, "members must be an array of at most 1000 ids");
	char(*ids)[IDS_MAX + 1] = calloc(n ? n : 1, sizeof(*ids));
	const char **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	json_t *seen = json_object(), *members = json_array();
	size_t k = 0;
	bool created = false;
	if (!ids || !ptrs || !seen || !members) {
		store_failed(r);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (ids_from_json(json_array_get(in, i), ids[k]) < 0) {
			bad_request(r, "members must be an array of ids");
			goto out;
		}
		if (json_object_get(seen, ids[k]))
			continue;
		json_object_set_new(seen, ids[k], json_true());
		json_array_append_new(members, json_string(ids[k]));
		ptrs[k] = ids[k];
		k++;
	}
	if (store_conversation_put(r->st, cid, ptrs, k, &created) != STORE_OK) {
		store_failed(r);
		goto out;
	}
	log_info("conversation %s %s with %zu members", cid, created ? "created" : "replaced", k);
	answer(r, created ? 201 : 200, json_pack("{s:s, s:O}", "conversation_id", cid, "members", members));
	/* The bridges close the chat sockets of whoever is no longer in it. */
	if (!created && router_members(cid, json_incref(members), r->extra) != 0)
		log_warn("%s: conversation %s: the bridges were not told its members", __func__, cid);
out:
	json_decref(seen);
	json_decref(members);
	free(ids);
	free(ptrs);
	return 1;
}

static int op_conversation_delete(struct req *r)
{
	char cid[IDS_MAX + 1];
	if (!want_id(r, "conversation_id", cid))
		return 1;
	int rc = store_conversation_delete(r->st, cid);
	if (rc == STORE_ENOTFOUND)
		return not_found(r, "no such conversation");
	if (rc != STORE_OK)
		return store_failed(r);
	log_info("conversation %s deleted", cid);
	if (router_members(cid, json_array(), r->extra) != 0)
		log_warn("%s: conversation %s: the bridges were not told it is gone", __func__, cid);
	return answer(r, 204, json_null());
}

/* POST /api/users/<id>/disconnect/: the rule is stored first, then told
 * to every bridge and the plugin (retained: also to those that start
 * later). `at` is the request's time at the bridge, in unix seconds. */
static int op_user_disconnect(struct req *r)
{
	char uid[IDS_MAX + 1];
	if (!want_id(r, "user_id", uid))
		return 1;
	const json_t *at = json_object_get(r->in, "at");
	if (!json_is_integer(at) || json_integer_value(at) <= 0)
		return bad_request(r, "at must be a positive integer (unix seconds)");
	int64_t before = 0;
	if (store_revoke(r->st, uid, json_integer_value(at), &before) != STORE_OK)
		return store_failed(r);
	log_info("user %s revoked: tokens issued at or before %" PRId64 " are refused", uid, before);
	if (router_revocation(uid, before, r->extra) != 0)
		log_warn("%s: user %s: the revocation was not published", __func__, uid);
	return answer(r, 202, json_pack("{s:s, s:b}", "user_id", uid, "disconnected", 1));
}

static void replay_add(json_t *frame, int64_t ring_deadline, void *arg)
{
	json_array_append_new(arg, frame);
}

/* A notification socket of user_id has just had its connection.ack: what
 * it missed of the calls ringing for that user (replay.h). */
static int op_ringing_replay(struct req *r)
{
	char uid[IDS_MAX + 1];
	if (!want_id(r, "user_id", uid))
		return 1;
	json_t *frames = json_array();
	if (!frames)
		return store_failed(r);
	int n = replay_each(r->st, uid, r->now_ms, replay_add, frames);
	if (n < 0) {
		json_decref(frames);
		return store_failed(r);
	}
	if (n)
		log_debug("replay for a socket of %s: %d frames", uid, n);
	return answer(r, 200, json_pack("{s:o}", "frames", frames));
}

/* {"text": rules' Prometheus text} (metrics.h), for GET /metrics/rules. */
static int op_metrics(struct req *r)
{
	char *buf = malloc(METRICS_RULES_TEXT_MAX);
	if (!buf)
		return store_failed(r);
	metrics_rules_render(&metrics_rules, buf, METRICS_RULES_TEXT_MAX);
	answer(r, 200, json_pack("{s:s}", "text", buf));
	free(buf);
	return 1;
}

static const struct {
	const char *name;
	int (*fn)(struct req *r);
} ops[] = {
	{"ping", op_ping},
	{"member", op_member},
	{"initiate", op_initiate},
	{"calls.list", op_calls_list},
	{"calls.get", op_calls_get},
	{"conversation.put", op_conversation_put},
	{"conversation.delete", op_conversation_delete},
	{"user.disconnect", op_user_disconnect},
	{"ringing.replay", op_ringing_replay},
	{"metrics", op_metrics},
};

int requests_handle(struct store *st, const struct requests_cfg *cfg, const char *payload, size_t len,
		    int64_t now_ms, int *status, json_t **body, struct router_out *extra)
{
	struct req r = {.st = st, .cfg = cfg, .now_ms = now_ms, .extra = extra};
	json_t *in = NULL;
	json_error_t err;
	if (len > REQUESTS_MAX_SIZE || frames_depth(payload, len, FRAMES_MAX_DEPTH) > FRAMES_MAX_DEPTH)
		bad_request(&r, "request too large or too deep");
	else if (!(in = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &err)) || !json_is_object(in))
		bad_request(&r, "a request is a JSON object");
	if (!r.body) {
		r.in = in;
		const char *op = json_string_value(json_object_get(in, "op"));
		size_t i = 0;
		while (op && i < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[i].name, op))
			i++;
		if (op && i < sizeof(ops) / sizeof(ops[0]))
			ops[i].fn(&r);
		else
			bad_request(&r, "unknown op");
	}
	json_decref(in);
	if (!r.body) /* allocation failure inside an op */
		store_failed(&r);
	*status = r.status;
	*body = r.body;
	return r.store_failed ? -1 : 0;
}
