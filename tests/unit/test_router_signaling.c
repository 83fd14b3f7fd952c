/* test_router_signaling: a client frame all the way through signaling.c
 * (decode, store, state machine, router) and ring time-outs through
 * timers.c, over an in-memory store: states stored, copies addressed,
 * refusals to the sender only, missed calls ended once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "storefix.h"
#include "presence.h"
#include "requests.h"
#include "signaling.h"
#include "timers.h"

static struct store *st;
static int64_t now = 1795000000000;

static const char *s(const struct router_pub *p, const char *key)
{
	return json_string_value(json_object_get(p->payload, key));
}

/* Sends text as sender (on chat_id's in topic, or the sender's outbox). */
static void send_frame(struct router_out *out, const char *sender, const char *chat_id, const char *from_device,
		       const char *reply_topic, const char *text)
{
	struct signaling_msg m = {
		.payload = text,
		.len = strlen(text),
		.sender_id = sender,
		.sender_username = NULL,
		.from_device = from_device,
		.chat_id = chat_id,
		.response_topic = reply_topic,
		.corr = reply_topic ? "d:x" : NULL,
	};
	router_out_init(out);
	signaling_handle(st, &m, now, out);
}

static void new_call(char id[IDS_UUID_LEN + 1])
{
	const struct requests_cfg cfg = {.ring_timeout_ms = 45000};
	static const char req[] = "{\"op\":\"initiate\",\"caller_id\":\"alice\",\"caller_username\":\"Alice\","
				  "\"receiver_id\":\"bob\",\"call_type\":\"video\",\"conversation_id\":\"c1\"}";
	int status;
	json_t *body;
	struct router_out extra;
	router_out_init(&extra);
	requests_handle(st, &cfg, req, strlen(req), now, &status, &body, &extra);
	CHECK_EQ_INT(status, 201);
	snprintf(id, IDS_UUID_LEN + 1, "%s", json_string_value(json_object_get(body, "call_id")));
	json_decref(body);
	router_out_clear(&extra);
}

static enum calls_state state_of(const char *id)
{
	struct calls_call c;
	CHECK_EQ_INT(store_call_get(st, id, &c), STORE_OK);
	return c.state;
}

static void test_lifecycle(void)
{
	char id[IDS_UUID_LEN + 1], buf[512];
	struct router_out out;
	new_call(id);

	/* Offer from alice's phone (MQTT): to bob, stamped, device named. */
	snprintf(buf, sizeof(buf), "{\"type\":\"call.offer\",\"call_id\":\"%s\",\"offer\":\"sdp\",\"device_id\":\"ph\","
				   "\"caller_id\":\"eve\"}", id);
	send_frame(&out, "alice", NULL, NULL, NULL, buf);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	CHECK_EQ_STR(s(&out.pub[0], "caller_id"), "alice");
	CHECK_EQ_STR(s(&out.pub[0], "sender_username"), "alice"); /* no property: the id */
	CHECK_EQ_STR(s(&out.pub[0], "from_device"), "ph");
	CHECK(ids_is_uuid(s(&out.pub[0], "msg_id")));
	CHECK_EQ_INT(out.pub[0].expiry_s, 45); /* ringing: expires with the ring, as call.incoming */
	router_out_clear(&out);

	/* ICE from alice's chat page 30.5 s later: the room copy keeps no
	 * expiry, bob's expires with what is left of the ring (14.5 s, up). */
	now += 30500;
	snprintf(buf, sizeof(buf), "{\"type\":\"call.ice_candidate\",\"call_id\":\"%s\",\"candidate\":{}}", id);
	send_frame(&out, "alice", "c1", "d-alice", "svc/bridges/b-1/replies", buf);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_STR(out.pub[0].topic, "chats/c1/messages");
	CHECK_EQ_INT(out.pub[0].expiry_s, 0);
	CHECK_EQ_STR(out.pub[1].topic, "users/bob/notifications");
	CHECK_EQ_INT(out.pub[1].expiry_s, 15);
	router_out_clear(&out);

	/* An outsider's ICE: not_found to eve alone. */
	snprintf(buf, sizeof(buf), "{\"type\":\"call.ice_candidate\",\"call_id\":\"%s\",\"candidate\":{}}", id);
	send_frame(&out, "eve", NULL, NULL, NULL, buf);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/eve/notifications");
	CHECK_EQ_STR(s(&out.pub[0], "code"), "not_found");
	router_out_clear(&out);

	/* bob answers on a chat socket: room copy, caller's copy, accepted x2. */
	snprintf(buf, sizeof(buf), "{\"type\":\"call.answer\",\"call_id\":\"%s\",\"answer\":\"sdp\"}", id);
	send_frame(&out, "bob", "c1", "d-bob1", "svc/bridges/b-1/replies", buf);
	CHECK_EQ_INT(out.n, 4);
	CHECK_EQ_STR(out.pub[0].topic, "chats/c1/messages");
	CHECK_EQ_STR(out.pub[3].topic, "users/bob/notifications");
	CHECK_EQ_STR(s(&out.pub[3], "device_id"), "d-bob1");
	for (size_t i = 0; i < out.n; i++)
		CHECK_EQ_INT(out.pub[i].expiry_s, 0); /* accepted: no ring left to expire with */
	CHECK_EQ_INT(state_of(id), CALLS_ACCEPTED);
	router_out_clear(&out);

	/* A second answer from another device: invalid_state, on its reply topic. */
	send_frame(&out, "bob", NULL, "d-bob2", "svc/bridges/b-1/replies", buf);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "svc/bridges/b-1/replies");
	CHECK_EQ_INT(out.pub[0].corr_len, 3);
	CHECK_EQ_STR(s(&out.pub[0], "code"), "invalid_state");
	CHECK_EQ_STR(s(&out.pub[0], "call_id"), id);
	router_out_clear(&out);

	/* The time-out does not touch an accepted call. */
	now += 60000;
	CHECK_EQ_INT(timers_expire_one(st, now, &out), 0);
	CHECK_EQ_INT(out.n, 0);

	/* Hang-up by bob: to both, reason hangup. */
	snprintf(buf, sizeof(buf), "{\"type\":\"call.end\",\"call_id\":\"%s\",\"reason\":\"declined\"}", id);
	send_frame(&out, "bob", NULL, "d-bob1", NULL, buf);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_STR(s(&out.pub[0], "reason"), "hangup");
	CHECK_EQ_STR(s(&out.pub[1], "ended_by"), "bob");
	CHECK_EQ_INT(state_of(id), CALLS_ENDED);
	router_out_clear(&out);

	/* Anything after the end. */
	send_frame(&out, "alice", NULL, NULL, NULL, buf);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(s(&out.pub[0], "code"), "invalid_state");
	router_out_clear(&out);
}

static void test_refusals(void)
{
	struct router_out out;
	send_frame(&out, "alice", NULL, NULL, NULL, "{oops");
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	CHECK_EQ_STR(s(&out.pub[0], "code"), "bad_json");
	router_out_clear(&out);

	send_frame(&out, "alice", NULL, NULL, NULL, "{\"type\":\"chat.message\",\"device_id\":\"ph\"}");
	CHECK_EQ_STR(s(&out.pub[0], "code"), "unknown_type");
	CHECK_EQ_STR(s(&out.pub[0], "device_id"), "ph");
	router_out_clear(&out);

	send_frame(&out, "alice", NULL, NULL, NULL, "{\"type\":\"call.offer\",\"call_id\":\"123\",\"offer\":\"x\"}");
	CHECK_EQ_STR(s(&out.pub[0], "code"), "not_found");
	CHECK_EQ_STR(s(&out.pub[0], "ref"), "call.offer");
	router_out_clear(&out);

	send_frame(&out, "alice", NULL, NULL, NULL,
		   "{\"type\":\"call.offer\",\"call_id\":\"00000000-0000-4000-8000-000000000000\",\"offer\":\"x\"}");
	CHECK_EQ_STR(s(&out.pub[0], "code"), "not_found");
	router_out_clear(&out);

	send_frame(&out, "alice", NULL, NULL, NULL, "{\"type\":\"call.offer\",\"call_id\":\"x\"}");
	CHECK_EQ_STR(s(&out.pub[0], "code"), "bad_frame");
	router_out_clear(&out);

	/* Ping: a pong to the sender; from a chat: chat frames go to the room. */
	send_frame(&out, "alice", NULL, NULL, NULL, "{\"type\":\"ping\",\"device_id\":\"ph\"}");
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(s(&out.pub[0], "type"), "pong");
	CHECK_EQ_STR(s(&out.pub[0], "device_id"), "ph");
	router_out_clear(&out);
	/* A phone's ping without device_id: the plugin's from_device names it. */
	send_frame(&out, "alice", NULL, "ph2", NULL, "{\"type\":\"ping\"}");
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(s(&out.pub[0], "device_id"), "ph2");
	CHECK(out.pub[0].for_device);
	router_out_clear(&out);
	/* A bridge socket's (reply topic): answered there, no device_id. */
	send_frame(&out, "alice", NULL, "d-a1", "svc/bridges/b-0123456789abcdef/replies", "{\"type\":\"ping\"}");
	CHECK_EQ_INT(out.n, 1);
	CHECK(json_object_get(out.pub[0].payload, "device_id") == NULL);
	router_out_clear(&out);
	send_frame(&out, "bob", "c1", "d-bob1", NULL, "{\"type\":\"chat.typing\"}");
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "chats/c1/messages");
	CHECK_EQ_STR(s(&out.pub[0], "sender_id"), "bob");
	router_out_clear(&out);
}

static void test_timeouts(void)
{
	char a[IDS_UUID_LEN + 1], buf[256];
	struct router_out out;
	router_out_init(&out);
	new_call(a);
	CHECK_EQ_INT(timers_expire_one(st, now + 44999, &out), 0);
	CHECK_EQ_INT(timers_expire_one(st, now + 45000, &out), 1);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_STR(s(&out.pub[0], "reason"), "missed");
	CHECK(json_is_null(json_object_get(out.pub[0].payload, "ended_by")));
	router_out_clear(&out);
	CHECK_EQ_INT(timers_expire_one(st, now + 46000, &out), 0); /* once */
	CHECK_EQ_INT(state_of(a), CALLS_MISSED);

	/* A late answer to a missed call is refused. */
	snprintf(buf, sizeof(buf), "{\"type\":\"call.answer\",\"call_id\":\"%s\",\"answer\":\"x\"}", a);
	send_frame(&out, "bob", NULL, NULL, NULL, buf);
	CHECK_EQ_STR(s(&out.pub[0], "code"), "invalid_state");
	router_out_clear(&out);

	/* Decline and cancel. */
	new_call(a);
	snprintf(buf, sizeof(buf), "{\"type\":\"call.end\",\"call_id\":\"%s\"}", a);
	send_frame(&out, "bob", NULL, NULL, NULL, buf);
	CHECK_EQ_STR(s(&out.pub[0], "reason"), "declined");
	CHECK_EQ_INT(state_of(a), CALLS_DECLINED);
	router_out_clear(&out);
	new_call(a);
	snprintf(buf, sizeof(buf), "{\"type\":\"call.end\",\"call_id\":\"%s\"}", a);
	send_frame(&out, "alice", NULL, NULL, NULL, buf);
	CHECK_EQ_STR(s(&out.pub[0], "reason"), "cancelled");
	CHECK_EQ_INT(state_of(a), CALLS_CANCELLED);
	router_out_clear(&out);
	CHECK_EQ_INT(timers_expire_one(st, now + 100000, &out), 0);
}

static void presence(const char *source, const char *json, int64_t at)
{
	CHECK_EQ_INT(presence_handle(st, source, json, strlen(json), at, NULL), 0);
}

/* The watch of accepted calls through presence events, the answer and
 * timers.c: a participant without presence for the grace ends the call
 * (hangup, by them), once; presence back in time keeps it; the length
 * limit ends it by nobody. */
static void test_watch(void)
{
	const struct calls_limits lim = {.presence_grace_ms = 30000, .max_call_ms = 3600000};
	char a[IDS_UUID_LEN + 1], buf[256];
	struct router_out out;
	router_out_init(&out);
	presence("b-1", "{\"user_id\":\"bob\",\"online\":true}", now);
	new_call(a);
	snprintf(buf, sizeof(buf), "{\"type\":\"call.answer\",\"call_id\":\"%s\",\"answer\":\"x\"}", a);
	send_frame(&out, "bob", NULL, "tab", NULL, buf);
	router_out_clear(&out);
	CHECK_EQ_INT(state_of(a), CALLS_ACCEPTED);

	/* alice had no presence when the call was answered: absent since then. */
	struct calls_call c;
	CHECK_EQ_INT(store_call_get(st, a, &c), STORE_OK);
	CHECK_EQ_INT(c.caller_absent_since, now);
	CHECK_EQ_INT(c.receiver_absent_since, 0);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 29999, &out), 0);
	/* Her phone connects: the call is kept past the grace. */
	presence("mqtt", "{\"user_id\":\"alice\",\"online\":true}", now + 1000);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 31000, &out), 0);
	CHECK_EQ_INT(state_of(a), CALLS_ACCEPTED);

	/* bob's bridge dies (its will: an empty snapshot): bob absent from then. */
	presence("b-1", "{\"snapshot\":[]}", now + 40000);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 69999, &out), 0);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 70000, &out), 1);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	CHECK_EQ_STR(out.pub[1].topic, "users/bob/notifications");
	CHECK_EQ_STR(s(&out.pub[0], "type"), "call.end");
	CHECK_EQ_STR(s(&out.pub[0], "reason"), "hangup");
	CHECK_EQ_STR(s(&out.pub[0], "ended_by"), "bob");
	CHECK_EQ_STR(s(&out.pub[0], "cause"), "presence_lost");
	CHECK(ids_is_uuid(s(&out.pub[0], "msg_id")));
	router_out_clear(&out);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 80000, &out), 0); /* once */
	CHECK_EQ_INT(store_call_get(st, a, &c), STORE_OK);
	CHECK_EQ_INT(c.state, CALLS_ENDED);
	CHECK_EQ_STR(c.ended_by, "bob");
	CHECK_EQ_INT(c.ended_at, now + 70000);

	/* Both present all along: the longest call ends it, by nobody. */
	presence("b-1", "{\"snapshot\":[\"bob\"]}", now + 90000);
	new_call(a);
	send_frame(&out, "bob", NULL, "tab", NULL, (snprintf(buf, sizeof(buf),
		   "{\"type\":\"call.answer\",\"call_id\":\"%s\",\"answer\":\"x\"}", a), buf));
	router_out_clear(&out);
	CHECK_EQ_INT(store_call_get(st, a, &c), STORE_OK);
	CHECK_EQ_INT(c.caller_absent_since + c.receiver_absent_since, 0);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 3599999, &out), 0);
	CHECK_EQ_INT(timers_watch_one(st, &lim, now + 3600000, &out), 1);
	CHECK(json_is_null(json_object_get(out.pub[0].payload, "ended_by")));
	CHECK_EQ_STR(s(&out.pub[1], "cause"), "max_duration");
	router_out_clear(&out);
	/* Off: nothing ends a call. */
	const struct calls_limits off = {0, 0};
	new_call(a);
	send_frame(&out, "bob", NULL, "tab", NULL, (snprintf(buf, sizeof(buf),
		   "{\"type\":\"call.answer\",\"call_id\":\"%s\",\"answer\":\"x\"}", a), buf));
	router_out_clear(&out);
	presence("mqtt", "{\"snapshot\":[]}", now);
	CHECK_EQ_INT(timers_watch_one(st, &off, now + 100000000, &out), 0);
	CHECK_EQ_INT(state_of(a), CALLS_ACCEPTED);
}

int main(void)
{
	storefix_say("test_router_signaling");
	if (storefix_open(&st) != STORE_OK)
		return 1;
	const char *members[] = {"alice", "bob", "eve"};
	bool created;
	store_conversation_put(st, "c1", members, 2, &created);
	test_lifecycle();
	test_refusals();
	test_timeouts();
	test_watch();
	store_close(st);
	return check_done("test_router_signaling");
}
