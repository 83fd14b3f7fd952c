/* test_replay: the copies kept for a device that comes online while a
 * call rings (replay.c, store.c's ring_frames) through the real paths of
 * rules (requests.c's initiate and ringing.replay, signaling.c, timers.c,
 * presence.c) over an in-memory store: what is kept (incoming, the latest
 * offer from the caller, the caller's candidates up to the bound), in
 * which order, with the msg_ids first published, and nothing once the
 * call stops ringing (answered, ended, missed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "storefix.h"
#include "presence.h"
#include "replay.h"
#include "requests.h"
#include "signaling.h"
#include "timers.h"

static struct store *st;
static int64_t now = 1795000000000;
static const struct requests_cfg cfg = {.ring_timeout_ms = 45000};

static const char *s(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

/* Sends text as sender from its outbox; the routed copies stay in *out. */
static void send_frame(struct router_out *out, const char *sender, const char *text)
{
	struct signaling_msg m = {.payload = text, .len = strlen(text), .sender_id = sender, .from_device = "dev"};
	router_out_init(out);
	signaling_handle(st, &m, now, out);
}

/* Asks like a bridge; the answer's status and body (a new reference). */
static json_t *request(const char *text, int *status)
{
	json_t *body;
	struct router_out extra;
	router_out_init(&extra);
	requests_handle(st, &cfg, text, strlen(text), now, status, &body, &extra);
	router_out_clear(&extra);
	return body;
}

/* A call caller -> receiver; its id, and the msg_id of its call.incoming. */
static void new_call(const char *caller, const char *receiver, char id[IDS_UUID_LEN + 1],
		     char incoming_msg[IDS_UUID_LEN + 1])
{
	char req[256];
	snprintf(req, sizeof(req), "{\"op\":\"initiate\",\"caller_id\":\"%s\",\"receiver_id\":\"%s\","
		 "\"call_type\":\"video\",\"conversation_id\":\"c1\"}", caller, receiver);
	int status;
	json_t *body;
	struct router_out extra;
	router_out_init(&extra);
	requests_handle(st, &cfg, req, strlen(req), now, &status, &body, &extra);
	CHECK_EQ_INT(status, 201);
	CHECK_EQ_INT(extra.n, 1);
	snprintf(id, IDS_UUID_LEN + 1, "%s", s(body, "call_id"));
	snprintf(incoming_msg, IDS_UUID_LEN + 1, "%s", s(extra.pub[0].payload, "msg_id") ? s(extra.pub[0].payload, "msg_id") : "");
	CHECK(ids_is_uuid(incoming_msg));
	json_decref(body);
	router_out_clear(&extra);
}

/* The frames ringing.replay answers for uid (a new reference). */
static json_t *replay_of(const char *uid)
{
	char req[128];
	int status;
	snprintf(req, sizeof(req), "{\"op\":\"ringing.replay\",\"user_id\":\"%s\"}", uid);
	json_t *body = request(req, &status);
	CHECK_EQ_INT(status, 200);
	json_t *frames = json_incref(json_object_get(body, "frames"));
	CHECK(json_is_array(frames));
	json_decref(body);
	return frames;
}

/* Sends a caller frame of type with extra JSON fields; returns its msg_id (static). */
static const char *caller_frame(const char *caller, const char *id, const char *type, const char *fields)
{
	static char msg[IDS_UUID_LEN + 1];
	char buf[512];
	struct router_out out;
	snprintf(buf, sizeof(buf), "{\"type\":\"%s\",\"call_id\":\"%s\",%s}", type, id, fields);
	send_frame(&out, caller, buf);
	CHECK(out.n >= 1);
	snprintf(msg, sizeof(msg), "%s", out.n ? s(out.pub[0].payload, "msg_id") : "");
	router_out_clear(&out);
	return msg;
}

static void test_kept_and_replayed(void)
{
	char id[IDS_UUID_LEN + 1], inc[IDS_UUID_LEN + 1], offer2[IDS_UUID_LEN + 1], ice1[IDS_UUID_LEN + 1];
	new_call("alice", "bob", id, inc);
	caller_frame("alice", id, "call.offer", "\"offer\":\"sdp-1\"");
	snprintf(ice1, sizeof(ice1), "%s", caller_frame("alice", id, "call.ice_candidate", "\"candidate\":{\"c\":1}"));
	snprintf(offer2, sizeof(offer2), "%s", caller_frame("alice", id, "call.offer", "\"offer\":\"sdp-2\""));
	caller_frame("alice", id, "call.ice_candidate", "\"candidate\":null");
	/* bob's own early candidate goes to alice: not bob's to replay. */
	caller_frame("bob", id, "call.ice_candidate", "\"candidate\":{\"c\":\"bob\"}");

	json_t *f = replay_of("bob");
	CHECK_EQ_INT(json_array_size(f), 4);
	CHECK_EQ_STR(s(json_array_get(f, 0), "type"), "call.incoming");
	CHECK_EQ_STR(s(json_array_get(f, 0), "msg_id"), inc);
	CHECK_EQ_STR(s(json_array_get(f, 0), "receiver_id"), "bob");
	CHECK_EQ_STR(s(json_array_get(f, 1), "type"), "call.offer");
	CHECK_EQ_STR(s(json_array_get(f, 1), "offer"), "sdp-2"); /* the latest replaced the first */
	CHECK_EQ_STR(s(json_array_get(f, 1), "msg_id"), offer2);
	CHECK_EQ_STR(s(json_array_get(f, 2), "type"), "call.ice_candidate");
	CHECK_EQ_STR(s(json_array_get(f, 2), "msg_id"), ice1);
	CHECK_EQ_STR(s(json_array_get(f, 2), "sender_id"), "alice");
	CHECK(json_is_null(json_object_get(json_array_get(f, 3), "candidate")));
	json_decref(f);

	/* The caller and outsiders get nothing replayed. */
	f = replay_of("alice");
	CHECK_EQ_INT(json_array_size(f), 0);
	json_decref(f);

	/* Answered: no longer ringing, nothing replayed (the rows are gone). */
	char buf[256];
	struct router_out out;
	snprintf(buf, sizeof(buf), "{\"type\":\"call.answer\",\"call_id\":\"%s\",\"answer\":\"x\"}", id);
	send_frame(&out, "bob", buf);
	router_out_clear(&out);
	f = replay_of("bob");
	CHECK_EQ_INT(json_array_size(f), 0);
	json_decref(f);
	/* ... and a candidate after the answer is not kept. */
	caller_frame("alice", id, "call.ice_candidate", "\"candidate\":{\"c\":2}");
	f = replay_of("bob");
	CHECK_EQ_INT(json_array_size(f), 0);
	json_decref(f);
	snprintf(buf, sizeof(buf), "{\"type\":\"call.end\",\"call_id\":\"%s\"}", id);
	send_frame(&out, "alice", buf);
	router_out_clear(&out);
}

static void test_bounds_order_and_ends(void)
{
	char a[IDS_UUID_LEN + 1], b[IDS_UUID_LEN + 1], inc_a[IDS_UUID_LEN + 1], inc_b[IDS_UUID_LEN + 1];
	char first_ice[IDS_UUID_LEN + 1] = "";
	new_call("alice", "bob", a, inc_a);
	now += 10;
	new_call("eve", "bob", b, inc_b);
	for (int i = 0; i < REPLAY_ICE_MAX + 5; i++) {
		char fields[64];
		snprintf(fields, sizeof(fields), "\"candidate\":{\"n\":%d}", i);
		const char *m = caller_frame("alice", a, "call.ice_candidate", fields);
		if (!i)
			snprintf(first_ice, sizeof(first_ice), "%s", m);
	}
	json_t *f = replay_of("bob");
	/* Oldest call first: alice's incoming and her first REPLAY_ICE_MAX
	 * candidates (later ones not kept), then eve's incoming. */
	CHECK_EQ_INT(json_array_size(f), 1 + REPLAY_ICE_MAX + 1);
	CHECK_EQ_STR(s(json_array_get(f, 0), "msg_id"), inc_a);
	CHECK_EQ_STR(s(json_array_get(f, 1), "msg_id"), first_ice);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(json_array_get(f, REPLAY_ICE_MAX), "candidate"),
							 "n")), REPLAY_ICE_MAX - 1);
	CHECK_EQ_STR(s(json_array_get(f, REPLAY_ICE_MAX + 1), "msg_id"), inc_b);
	json_decref(f);

	/* Declined by bob: only eve's call is left. */
	char buf[256];
	struct router_out out;
	snprintf(buf, sizeof(buf), "{\"type\":\"call.end\",\"call_id\":\"%s\"}", a);
	send_frame(&out, "bob", buf);
	router_out_clear(&out);
	f = replay_of("bob");
	CHECK_EQ_INT(json_array_size(f), 1);
	CHECK_EQ_STR(s(json_array_get(f, 0), "call_id"), b);
	json_decref(f);

	/* Past its deadline, not yet ended by the timer: not replayed either. */
	int64_t was = now;
	now += cfg.ring_timeout_ms;
	f = replay_of("bob");
	CHECK_EQ_INT(json_array_size(f), 0);
	json_decref(f);
	/* Missed by the timer: the rows go too. */
	now = was;
	router_out_init(&out);
	CHECK_EQ_INT(timers_expire_one(st, was + cfg.ring_timeout_ms + 10, &out), 1);
	router_out_clear(&out);
	f = replay_of("bob");
	CHECK_EQ_INT(json_array_size(f), 0);
	json_decref(f);
}

static void collect(json_t *frame, int64_t ring_deadline, void *arg)
{
	json_array_append_new(arg, frame);
	CHECK(ring_deadline > now);
}

/* The plugin's report of an MQTT subscription asks for a replay; an
 * online/offline event or a bridge's report does not. */
static void test_presence_subscribed(void)
{
	char uid[IDS_MAX + 1] = "x";
	static const char sub[] = "{\"user_id\":\"bob\",\"subscribed\":true,\"device\":\"ph\"}";
	CHECK_EQ_INT(presence_handle(st, "mqtt", sub, strlen(sub), now, uid), 0);
	CHECK_EQ_STR(uid, "bob");
	CHECK_EQ_INT(presence_handle(st, "b-1", sub, strlen(sub), now, uid), -1);
	CHECK_EQ_STR(uid, "");
	static const char on[] = "{\"user_id\":\"bob\",\"online\":true}";
	strcpy(uid, "x");
	CHECK_EQ_INT(presence_handle(st, "mqtt", on, strlen(on), now, uid), 0);
	CHECK_EQ_STR(uid, "");

	char id[IDS_UUID_LEN + 1], inc[IDS_UUID_LEN + 1];
	new_call("alice", "bob", id, inc);
	json_t *got = json_array();
	CHECK_EQ_INT(replay_each(st, "bob", now, collect, got), 1);
	CHECK_EQ_STR(s(json_array_get(got, 0), "msg_id"), inc);
	json_decref(got);

	/* The router marks MQTT replays for_device, expiring with the ring. */
	struct router_out out;
	router_out_init(&out);
	CHECK_EQ_INT(router_replayed("bob", json_pack("{s:s}", "type", "call.incoming"), 44, &out), 0);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	CHECK(out.pub[0].for_device);
	CHECK_EQ_INT(out.pub[0].expiry_s, 44);
	router_out_clear(&out);
}

int main(void)
{
	storefix_say("test_replay");
	if (storefix_open(&st) != STORE_OK)
		return 1;
	const char *members[] = {"alice", "bob", "eve"};
	bool created;
	store_conversation_put(st, "c1", members, 3, &created);
	test_kept_and_replayed();
	test_bounds_order_and_ends();
	test_presence_subscribed();
	store_close(st);
	return check_done("test_replay");
}
