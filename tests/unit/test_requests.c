/* test_requests: every op of svc/rules/requests over an in-memory store:
 * statuses and bodies, initiate's checks in order (400, 404, 403, 409 busy,
 * 409 glare with the ringing call's id), call.incoming with the ring time
 * as message expiry, history paging and its cursor; ping's store health
 * and the metrics op. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "storefix.h"
#include "requests.h"

static struct store *st;
static const struct requests_cfg cfg = {.ring_timeout_ms = 45000};
static int64_t now = 1795000000000;

/* Sends one request; returns the status and the body in *body (decref it)
 * and the extra publishes in *extra (cleared by the caller). */
static int ask(json_t **body, struct router_out *extra, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ask(json_t **body, struct router_out *extra, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	int status = 0;
	router_out_init(extra);
	requests_handle(st, &cfg, buf, strlen(buf), now, &status, body, extra);
	CHECK(*body != NULL);
	return status;
}

/* Sends one request and checks the status; the body's "error" when there
 * is one must be err (NULL: no error expected). */
static void expect(int status, const char *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expect(int status, const char *err, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_t *body;
	struct router_out extra;
	int got = ask(&body, &extra, "%s", buf);
	if (got != status)
		fprintf(stderr, "request %s\n", buf);
	CHECK_EQ_INT(got, status);
	if (err)
		CHECK_EQ_STR(json_string_value(json_object_get(body, "error")), err);
	else
		CHECK(json_object_get(body, "error") == NULL);
	if (err)
		CHECK(json_is_string(json_object_get(body, "message")));
	router_out_clear(&extra);
	json_decref(body);
}

static const char *s(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static void test_basics(void)
{
	expect(200, NULL, "{\"op\":\"ping\"}");
	expect(400, "bad_request", "{\"op\":\"nope\"}");
	expect(400, "bad_request", "{\"nop\":1}");
	expect(400, "bad_request", "not json");
	expect(400, "bad_request", "[1,2]");
	expect(400, "bad_request", "{\"op\":\"ping\",\"op\":\"ping\"}");
}

static void test_conversations(void)
{
	json_t *body;
	struct router_out extra;
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"conversation.put\",\"conversation_id\":7,"
					 "\"members\":[\"alice\",\"bob\",3,\"bob\"]}"),
		     201);
	CHECK_EQ_STR(s(body, "conversation_id"), "7");
	json_t *m = json_object_get(body, "members");
	CHECK_EQ_INT(json_array_size(m), 3);
	CHECK_EQ_STR(json_string_value(json_array_get(m, 2)), "3");
	json_decref(body);
	expect(200, NULL, "{\"op\":\"conversation.put\",\"conversation_id\":\"7\",\"members\":[\"alice\",\"bob\",\"3\"]}");
	expect(400, "bad_request", "{\"op\":\"conversation.put\",\"conversation_id\":\"7\",\"members\":[\"a b\"]}");
	expect(400, "bad_request", "{\"op\":\"conversation.put\",\"conversation_id\":\"7\",\"members\":\"alice\"}");
	expect(400, "bad_request", "{\"op\":\"conversation.put\",\"conversation_id\":\"../x\",\"members\":[]}");
	expect(201, NULL, "{\"op\":\"conversation.put\",\"conversation_id\":\"gone\",\"members\":[]}");
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"conversation.delete\",\"conversation_id\":\"gone\"}"), 204);
	CHECK(json_is_null(body));
	json_decref(body);
	CHECK_EQ_INT(extra.n, 1); /* the bridges are told it is gone */
	router_out_clear(&extra);
	expect(404, "not_found", "{\"op\":\"conversation.delete\",\"conversation_id\":\"gone\"}");

	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"member\",\"conversation_id\":\"7\",\"user_id\":\"bob\"}"), 200);
	CHECK(json_is_true(json_object_get(body, "member")));
	json_decref(body);
	expect(403, "forbidden", "{\"op\":\"member\",\"conversation_id\":\"7\",\"user_id\":\"eve\"}");
	expect(404, "not_found", "{\"op\":\"member\",\"conversation_id\":\"8\",\"user_id\":\"bob\"}");
	expect(400, "bad_request", "{\"op\":\"member\",\"conversation_id\":\"7\"}");
}

#define INIT "{\"op\":\"initiate\",\"caller_id\":\"%s\",\"caller_username\":\"%s\",\"receiver_id\":\"%s\"," \
	     "\"call_type\":\"%s\",\"conversation_id\":\"%s\"}"

static void answer_call(const char *id)
{
	struct calls_call c;
	CHECK_EQ_INT(store_call_get(st, id, &c), STORE_OK);
	c.state = CALLS_ACCEPTED;
	c.answered_at = now;
	CHECK_EQ_INT(store_call_update(st, &c), STORE_OK);
}

static void end_call(const char *id)
{
	struct calls_call c;
	CHECK_EQ_INT(store_call_get(st, id, &c), STORE_OK);
	c.state = CALLS_ENDED;
	c.ended_at = now;
	strcpy(c.end_reason, "hangup");
	CHECK_EQ_INT(store_call_update(st, &c), STORE_OK);
}

static void test_initiate(void)
{
	json_t *body;
	struct router_out extra;
	CHECK_EQ_INT(store_presence_set(st, "b-1", "bob", true), STORE_OK);
	CHECK_EQ_INT(ask(&body, &extra, INIT, "alice", "Alice", "bob", "video", "7"), 201);
	const char *id = s(body, "call_id");
	CHECK(ids_is_uuid(id));
	CHECK_EQ_STR(s(body, "status"), "ringing");
	CHECK_EQ_STR(s(body, "caller_id"), "alice");
	CHECK_EQ_STR(s(body, "receiver_id"), "bob");
	CHECK_EQ_STR(s(body, "call_type"), "video");
	CHECK_EQ_STR(s(body, "conversation_id"), "7");
	CHECK_EQ_STR(s(body, "created_at"), "2026-11-18T11:06:40.000Z");
	CHECK(json_is_true(json_object_get(body, "receiver_online")));
	/* call.incoming to the receiver, expiring with the ring. */
	CHECK_EQ_INT(extra.n, 1);
	CHECK_EQ_STR(extra.pub[0].topic, "users/bob/notifications");
	CHECK_EQ_INT(extra.pub[0].expiry_s, 45);
	CHECK_EQ_STR(s(extra.pub[0].payload, "type"), "call.incoming");
	CHECK_EQ_STR(s(extra.pub[0].payload, "call_id"), id);
	CHECK_EQ_STR(s(extra.pub[0].payload, "caller_username"), "Alice");
	CHECK_EQ_STR(s(extra.pub[0].payload, "conversation_id"), "7");
	struct calls_call c;
	CHECK_EQ_INT(store_call_get(st, id, &c), STORE_OK);
	CHECK_EQ_INT(c.state, CALLS_RINGING);
	CHECK_EQ_INT(c.ring_deadline, now + 45000);
	char first[IDS_UUID_LEN + 1];
	snprintf(first, sizeof(first), "%s", id);
	json_decref(body);
	router_out_clear(&extra);

	/* Glare: bob calls alice while alice's call to bob rings: 409 busy
	 * naming the ringing call; no second call, no call.incoming. */
	CHECK_EQ_INT(ask(&body, &extra, INIT, "bob", "Bob", "alice", "voice", "7"), 409);
	CHECK_EQ_STR(s(body, "error"), "busy");
	CHECK_EQ_STR(s(body, "call_id"), first);
	CHECK_EQ_INT(extra.n, 0);
	json_decref(body);
	/* The same for alice calling bob again. */
	CHECK_EQ_INT(ask(&body, &extra, INIT, "alice", "Alice", "bob", "voice", "7"), 409);
	CHECK_EQ_STR(s(body, "call_id"), first);
	json_decref(body);

	/* Checks, in order. */
	expect(400, "bad_request", INIT, "alice", "A", "alice", "voice", "7");
	expect(400, "bad_request", INIT, "alice", "A", "bob", "fax", "7");
	expect(400, "bad_request", INIT, "al ice", "A", "bob", "voice", "7");
	expect(404, "not_found", INIT, "alice", "A", "bob", "voice", "nope");
	expect(403, "forbidden", INIT, "alice", "A", "eve", "voice", "7");
	expect(403, "forbidden", INIT, "eve", "E", "alice", "voice", "7");

	/* Busy: once answered, nobody calls alice or bob, nor do they call. */
	answer_call(first);
	expect(409, "busy", INIT, "3", "Three", "bob", "voice", "7");
	expect(409, "busy", INIT, "alice", "A", "3", "voice", "7");
	end_call(first);

	/* Once over, a new call rings; receiver_online false for an offline user. */
	CHECK_EQ_INT(ask(&body, &extra, INIT, "bob", "", "3", "voice", "7"), 201);
	CHECK(json_is_false(json_object_get(body, "receiver_online")));
	CHECK_EQ_STR(s(extra.pub[0].payload, "caller_username"), "bob"); /* empty name: the id */
	json_decref(body);
	router_out_clear(&extra);
}

static void test_history(void)
{
	/* Fresh users in a fresh conversation: 7 calls between p and q. */
	expect(201, NULL, "{\"op\":\"conversation.put\",\"conversation_id\":\"h\",\"members\":[\"p\",\"q\",\"r\"]}");
	char ids[7][IDS_UUID_LEN + 1];
	for (int i = 0; i < 7; i++) {
		now += 1000;
		json_t *body;
		struct router_out extra;
		CHECK_EQ_INT(ask(&body, &extra, INIT, i % 2 ? "p" : "q", "N", i % 2 ? "q" : "p", "voice", "h"), 201);
		snprintf(ids[i], sizeof(ids[i]), "%s", s(body, "call_id"));
		json_decref(body);
		router_out_clear(&extra);
		end_call(ids[i]);
	}
	json_t *body;
	struct router_out extra;
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":3}"), 200);
	json_t *calls = json_object_get(body, "calls");
	CHECK_EQ_INT(json_array_size(calls), 3);
	CHECK_EQ_STR(s(json_array_get(calls, 0), "call_id"), ids[6]);
	CHECK_EQ_STR(s(json_array_get(calls, 2), "call_id"), ids[4]);
	CHECK_EQ_STR(s(json_array_get(calls, 0), "status"), "ended");
	CHECK_EQ_STR(s(json_array_get(calls, 0), "end_reason"), "hangup");
	static const char *const keys[] = {"call_id", "caller_id", "receiver_id", "call_type", "conversation_id",
					   "status", "created_at", "answered_at", "ended_at", "end_reason"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		CHECK(json_object_get(json_array_get(calls, 0), keys[k]) != NULL);
	char cursor[REQUESTS_CURSOR_MAX];
	snprintf(cursor, sizeof(cursor), "%s", s(body, "next_before"));
	json_decref(body);

	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":\"3\",\"before\":\"%s\"}",
			 cursor),
		     200);
	calls = json_object_get(body, "calls");
	CHECK_EQ_INT(json_array_size(calls), 3);
	CHECK_EQ_STR(s(json_array_get(calls, 0), "call_id"), ids[3]);
	snprintf(cursor, sizeof(cursor), "%s", s(body, "next_before"));
	json_decref(body);

	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":3,\"before\":\"%s\"}", cursor),
		     200);
	calls = json_object_get(body, "calls");
	CHECK_EQ_INT(json_array_size(calls), 1);
	CHECK_EQ_STR(s(json_array_get(calls, 0), "call_id"), ids[0]);
	CHECK(json_is_null(json_object_get(body, "next_before")));
	json_decref(body);

	/* Exactly a page left: next_before is null, not a cursor to an empty page. */
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":7,\"before\":null}"), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(body, "calls")), 7);
	CHECK(json_is_null(json_object_get(body, "next_before")));
	json_decref(body);
	/* Default and cap. */
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"r\"}"), 200);
	CHECK_EQ_INT(json_array_size(json_object_get(body, "calls")), 0);
	CHECK(json_is_null(json_object_get(body, "next_before")));
	json_decref(body);
	expect(200, NULL, "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":100000}");
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":0}");
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":\"ten\"}");
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"limit\":\"5x\"}");
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"before\":\"garbage\"}");
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"before\":\"12_nope\"}");
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"before\":\"-1_%s\"}", ids[0]);
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"p\",\"before\":5}");

	/* Detail: participants only; an outsider and a malformed id get 404. */
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.get\",\"user_id\":\"q\",\"call_id\":\"%s\"}", ids[2]), 200);
	CHECK_EQ_STR(s(body, "call_id"), ids[2]);
	json_decref(body);
	expect(404, "not_found", "{\"op\":\"calls.get\",\"user_id\":\"r\",\"call_id\":\"%s\"}", ids[2]);
	expect(404, "not_found", "{\"op\":\"calls.get\",\"user_id\":\"q\",\"call_id\":\"not-a-uuid\"}");
	expect(404, "not_found", "{\"op\":\"calls.get\",\"user_id\":\"q\",\"call_id\":\"00000000-0000-4000-8000-000000000000\"}");
}

/* The cursor through calls.list: next_before is "<created_at_ms>_<call_id>"
 * of the last call on the page and, sent back as before, pages past that
 * call; a cursor without its time or with one too long is refused. */
static void test_cursor(void)
{
	expect(201, NULL, "{\"op\":\"conversation.put\",\"conversation_id\":\"k\",\"members\":[\"u\",\"v\"]}");
	char ids[2][IDS_UUID_LEN + 1];
	int64_t created[2];
	json_t *body;
	struct router_out extra;
	for (int i = 0; i < 2; i++) {
		now += 1000;
		created[i] = now;
		CHECK_EQ_INT(ask(&body, &extra, INIT, "u", "U", "v", "voice", "k"), 201);
		snprintf(ids[i], sizeof(ids[i]), "%s", s(body, "call_id"));
		json_decref(body);
		router_out_clear(&extra);
		end_call(ids[i]);
	}
	char want[REQUESTS_CURSOR_MAX];
	snprintf(want, sizeof(want), "%" PRId64 "_%s", created[1], ids[1]);
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"u\",\"limit\":1}"), 200);
	CHECK_EQ_STR(s(body, "next_before"), want);
	json_decref(body);
	CHECK_EQ_INT(ask(&body, &extra, "{\"op\":\"calls.list\",\"user_id\":\"u\",\"limit\":1,\"before\":\"%s\"}", want),
		     200);
	CHECK_EQ_INT(json_array_size(json_object_get(body, "calls")), 1);
	CHECK_EQ_STR(s(json_array_get(json_object_get(body, "calls"), 0), "call_id"), ids[0]);
	json_decref(body);
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"u\",\"before\":\"_%s\"}", ids[1]);
	expect(400, "bad_request", "{\"op\":\"calls.list\",\"user_id\":\"u\",\"before\":\"99999999999999999999_%s\"}",
	       ids[1]);
}

/* ping with the store's health (health.h) and op metrics (metrics.h). */
static void test_health_and_metrics(void)
{
	struct health h;
	health_init(&h);
	struct requests_cfg with = {.ring_timeout_ms = 45000, .health = &h};
	static const char *const reqs[] = {"{\"op\":\"ping\"}", "{\"op\":\"metrics\"}"};
	json_t *bodies[2];
	for (int i = 0; i < 2; i++) {
		int status = 0;
		struct router_out extra;
		router_out_init(&extra);
		CHECK_EQ_INT(requests_handle(st, &with, reqs[i], strlen(reqs[i]), now, &status, &bodies[i], &extra), 0);
		CHECK_EQ_INT(status, 200);
		CHECK_EQ_INT(extra.n, 0);
	}
	CHECK_EQ_STR(s(bodies[0], "store"), "ok");
	const char *text = s(bodies[1], "text");
	CHECK(text && strstr(text, "# TYPE ringmq_rules_calls_total counter\n"));
	CHECK(text && strstr(text, "ringmq_rules_store_healthy 1\n"));
	json_decref(bodies[0]);
	json_decref(bodies[1]);
}

int main(void)
{
	storefix_say("test_requests");
	if (storefix_open(&st) != STORE_OK)
		return 1;
	test_basics();
	test_conversations();
	test_initiate();
	test_history();
	test_cursor();
	test_health_and_metrics();
	store_close(st);
	return check_done("test_requests");
}
