/* test_router: who gets what. Stamping overrides what a client claims,
 * room copies only for frames that came in on a chat topic (and only the
 * call's own room), the same msg_id on every copy, errors to the sender
 * alone. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "router.h"

#define CID "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"

static struct calls_call make_call(enum calls_state s)
{
	struct calls_call c;
	memset(&c, 0, sizeof(c));
	strcpy(c.id, CID);
	strcpy(c.caller_id, "alice");
	strcpy(c.caller_username, "Alice");
	strcpy(c.receiver_id, "bob");
	strcpy(c.call_type, "video");
	strcpy(c.conversation_id, "c1");
	c.state = s;
	c.created_at = 1000;
	return c;
}

static void decode(const char *text, enum frames_origin origin, struct frames_in *f)
{
	const char *why;
	int rc = frames_decode(text, strlen(text), origin, f, &why);
	CHECK_EQ_INT(rc, FRAMES_OK);
}

static const char *str(const struct router_pub *p, const char *key)
{
	return json_string_value(json_object_get(p->payload, key));
}

static struct router_origin origin(const char *sender, const char *chat)
{
	struct router_origin o = {
		.sender_id = sender,
		.sender_username = sender[0] == 'a' ? "Alice" : "Bob",
		.from_device = sender[0] == 'a' ? "d-alice" : "d-bob",
		.msg_id = "11111111-2222-4333-8444-555555555555",
		.chat_id = chat,
	};
	return o;
}

/* Routes a frame through the state machine like signaling.c does. */
static void route(const char *text, const struct router_origin *o, struct calls_call *call, struct router_out *out)
{
	struct frames_in f;
	decode(text, o->chat_id ? FRAMES_FROM_CHAT : FRAMES_FROM_NOTIFY, &f);
	struct calls_decision d;
	CHECK_EQ_INT(calls_decide(call, o->sender_id, f.type, &d), FRAMES_OK);
	calls_apply(call, &d, o->sender_id, o->from_device, 5000);
	router_out_init(out);
	CHECK_EQ_INT(router_route(o, &f, call, &d, out), 0);
	frames_in_clear(&f);
}

static void check_stamped(const struct router_pub *p, const char *sender)
{
	CHECK_EQ_STR(str(p, "sender_id"), sender);
	CHECK_EQ_STR(str(p, "sender_username"), sender[0] == 'a' ? "Alice" : "Bob");
	CHECK_EQ_STR(str(p, "from_device"), sender[0] == 'a' ? "d-alice" : "d-bob");
	CHECK_EQ_STR(str(p, "msg_id"), "11111111-2222-4333-8444-555555555555");
	CHECK_EQ_STR(str(p, "call_id"), CID);
	CHECK_EQ_STR(str(p, "caller_id"), "alice");
	CHECK_EQ_STR(str(p, "caller_username"), "Alice");
	CHECK_EQ_STR(str(p, "receiver_id"), "bob");
	CHECK_EQ_STR(str(p, "call_type"), "video");
	CHECK_EQ_STR(str(p, "conversation_id"), "c1");
	CHECK(json_object_get(p->payload, "device_id") == NULL);
	CHECK_EQ_INT(p->corr_len, -1);
	CHECK_EQ_INT(p->expiry_s, 0);
}

static void test_offer_stamped_over_claims(void)
{
	struct calls_call call = make_call(CALLS_RINGING);
	struct router_origin o = origin("alice", NULL);
	struct router_out out;
	route("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":{\"sdp\":\"v=0\"},"
	      "\"caller_id\":\"mallory\",\"caller_username\":\"M\",\"receiver_id\":\"eve\",\"sender_id\":\"eve\","
	      "\"call_type\":\"voice\",\"conversation_id\":\"c9\",\"device_id\":\"phone\",\"msg_id\":\"x\"}",
	      &o, &call, &out);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	CHECK_EQ_STR(str(&out.pub[0], "type"), "call.offer");
	CHECK(json_is_object(json_object_get(out.pub[0].payload, "offer")));
	check_stamped(&out.pub[0], "alice");
	router_out_clear(&out);
	CHECK_EQ_INT(out.n, 0);

	/* Renegotiation by the receiver: to the caller, still the call's caller_id. */
	call.state = CALLS_ACCEPTED;
	o = origin("bob", NULL);
	route("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":\"sdp\",\"caller_id\":\"bob\"}", &o, &call,
	      &out);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	check_stamped(&out.pub[0], "bob");
	router_out_clear(&out);
}

static void test_ice_to_counterpart(void)
{
	struct calls_call call = make_call(CALLS_RINGING);
	struct router_origin o = origin("bob", NULL);
	struct router_out out;
	route("{\"type\":\"call.ice_candidate\",\"call_id\":\"" CID "\",\"candidate\":{\"candidate\":\"a\"}}", &o,
	      &call, &out);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	check_stamped(&out.pub[0], "bob");
	router_out_clear(&out);

	o = origin("alice", NULL);
	route("{\"type\":\"call.ice_candidate\",\"call_id\":\"" CID "\",\"candidate\":null}", &o, &call, &out);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	router_out_clear(&out);
}

static void test_answer_from_chat(void)
{
	struct calls_call call = make_call(CALLS_RINGING);
	struct router_origin o = origin("bob", "c1");
	struct router_out out;
	route("{\"type\":\"call.answer\",\"call_id\":\"" CID "\",\"answer\":{\"sdp\":\"v=0\"},\"receiver_id\":\"x\"}", &o,
	      &call, &out);
	CHECK_EQ_INT(out.n, 4);
	CHECK_EQ_STR(out.pub[0].topic, "chats/c1/messages");
	CHECK_EQ_STR(str(&out.pub[0], "type"), "call.answer");
	check_stamped(&out.pub[0], "bob");
	CHECK_EQ_STR(out.pub[1].topic, "users/alice/notifications");
	CHECK_EQ_STR(str(&out.pub[1], "type"), "call.answer");
	check_stamped(&out.pub[1], "bob");
	/* The same msg_id on the room copy and the routed copy. */
	CHECK_EQ_STR(str(&out.pub[0], "msg_id"), str(&out.pub[1], "msg_id"));
	CHECK_EQ_STR(out.pub[2].topic, "users/alice/notifications");
	CHECK_EQ_STR(out.pub[3].topic, "users/bob/notifications");
	for (int i = 2; i < 4; i++) {
		CHECK_EQ_STR(str(&out.pub[i], "type"), "call.accepted");
		CHECK_EQ_STR(str(&out.pub[i], "call_id"), CID);
		CHECK_EQ_STR(str(&out.pub[i], "device_id"), "d-bob");
	}
	router_out_clear(&out);
}

static void test_no_room_copy_for_another_room_or_outbox(void)
{
	struct calls_call call = make_call(CALLS_RINGING);
	struct router_origin o = origin("alice", "c2"); /* a chat socket of another conversation */
	struct router_out out;
	route("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":\"s\"}", &o, &call, &out);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	router_out_clear(&out);
	o = origin("alice", NULL); /* an outbox */
	route("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":\"s\"}", &o, &call, &out);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	router_out_clear(&out);
}

static void test_end_to_both(void)
{
	static const struct {
		enum calls_state state;
		const char *sender;
		const char *reason;
	} cases[] = {
		{CALLS_RINGING, "alice", "cancelled"},
		{CALLS_RINGING, "bob", "declined"},
		{CALLS_ACCEPTED, "alice", "hangup"},
		{CALLS_ACCEPTED, "bob", "hangup"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct calls_call call = make_call(cases[i].state);
		struct router_origin o = origin(cases[i].sender, "c1");
		struct router_out out;
		/* The client's reason and ended_by are ignored. */
		route("{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"reason\":\"missed\",\"ended_by\":\"eve\"}", &o,
		      &call, &out);
		CHECK_EQ_INT(out.n, 3);
		CHECK_EQ_STR(out.pub[0].topic, "chats/c1/messages");
		CHECK_EQ_STR(out.pub[1].topic, "users/alice/notifications");
		CHECK_EQ_STR(out.pub[2].topic, "users/bob/notifications");
		for (size_t k = 0; k < out.n; k++) {
			CHECK_EQ_STR(str(&out.pub[k], "type"), "call.end");
			CHECK_EQ_STR(str(&out.pub[k], "reason"), cases[i].reason);
			CHECK_EQ_STR(str(&out.pub[k], "ended_by"), cases[i].sender);
			check_stamped(&out.pub[k], cases[i].sender);
		}
		router_out_clear(&out);
	}
}

static void test_chat_relay(void)
{
	struct router_origin o = origin("bob", "c1");
	struct frames_in f;
	decode("{\"type\":\"chat.message\",\"text\":\"hi\",\"sender_id\":\"alice\",\"msg_id\":\"forged\"}",
	       FRAMES_FROM_CHAT, &f);
	struct router_out out;
	router_out_init(&out);
	CHECK_EQ_INT(router_route(&o, &f, NULL, NULL, &out), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "chats/c1/messages");
	CHECK_EQ_STR(str(&out.pub[0], "type"), "chat.message");
	CHECK_EQ_STR(str(&out.pub[0], "text"), "hi");
	CHECK_EQ_STR(str(&out.pub[0], "sender_id"), "bob");
	CHECK_EQ_STR(str(&out.pub[0], "sender_username"), "Bob");
	CHECK_EQ_STR(str(&out.pub[0], "from_device"), "d-bob");
	CHECK_EQ_STR(str(&out.pub[0], "msg_id"), "11111111-2222-4333-8444-555555555555");
	/* The client's object is not changed by stamping. */
	CHECK_EQ_STR(json_string_value(json_object_get(f.root, "sender_id")), "alice");
	router_out_clear(&out);
	frames_in_clear(&f);

	/* Fields that name a user: the sender's own are the sender's, others' go
	 * (issue 11: no stamps from clients, chat frames included). */
	decode("{\"type\":\"chat.message\",\"text\":\"hi\",\"caller_id\":\"alice\",\"caller_username\":\"Alice\","
	       "\"user_id\":\"alice\",\"username\":\"Alice\",\"receiver_id\":\"carol\",\"ended_by\":\"alice\","
	       "\"extra\":{\"caller_id\":\"nested, untouched\"}}",
	       FRAMES_FROM_CHAT, &f);
	router_out_init(&out);
	CHECK_EQ_INT(router_route(&o, &f, NULL, NULL, &out), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(str(&out.pub[0], "caller_id"), "bob");
	CHECK_EQ_STR(str(&out.pub[0], "caller_username"), "Bob");
	CHECK_EQ_STR(str(&out.pub[0], "user_id"), "bob");
	CHECK_EQ_STR(str(&out.pub[0], "username"), "Bob");
	CHECK(json_object_get(out.pub[0].payload, "receiver_id") == NULL);
	CHECK(json_object_get(out.pub[0].payload, "ended_by") == NULL);
	CHECK_EQ_STR(str(&out.pub[0], "text"), "hi");
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(out.pub[0].payload, "extra"), "caller_id")),
		     "nested, untouched");
	CHECK_EQ_STR(json_string_value(json_object_get(f.root, "caller_id")), "alice");
	router_out_clear(&out);
	frames_in_clear(&f);

	/* Absent fields are not added. */
	decode("{\"type\":\"chat.typing\"}", FRAMES_FROM_CHAT, &f);
	router_out_init(&out);
	CHECK_EQ_INT(router_route(&o, &f, NULL, NULL, &out), 0);
	CHECK(json_object_get(out.pub[0].payload, "caller_id") == NULL);
	CHECK(json_object_get(out.pub[0].payload, "username") == NULL);
	router_out_clear(&out);
	frames_in_clear(&f);
}

/* A call frame's claims about users other than the call's: gone. */
static void test_call_frame_scrubbed(void)
{
	struct calls_call call = make_call(CALLS_RINGING);
	struct router_origin o = origin("alice", "c1");
	struct router_out out;
	route("{\"type\":\"call.ice_candidate\",\"call_id\":\"" CID "\",\"candidate\":null,\"ended_by\":\"bob\","
	      "\"user_id\":\"bob\",\"username\":\"Bob\"}",
	      &o, &call, &out);
	CHECK_EQ_INT(out.n, 2);
	for (size_t i = 0; i < out.n; i++) {
		check_stamped(&out.pub[i], "alice");
		CHECK(json_object_get(out.pub[i].payload, "ended_by") == NULL);
		CHECK_EQ_STR(str(&out.pub[i], "user_id"), "alice");
		CHECK_EQ_STR(str(&out.pub[i], "username"), "Alice");
	}
	router_out_clear(&out);
}

static void test_to_sender(void)
{
	struct router_origin o = origin("alice", NULL);
	struct router_out out;
	router_out_init(&out);

	/* A bridge socket: the response topic, the same correlation data. */
	o.response_topic = "svc/bridges/b-0123456789abcdef/replies";
	o.corr = "d:d-alice";
	o.device_id = "phone";
	CHECK_EQ_INT(router_refuse(&o, FRAMES_NOT_FOUND, "no such call", "call.offer", CID, &out), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "svc/bridges/b-0123456789abcdef/replies");
	CHECK_EQ_INT(out.pub[0].corr_len, 9);
	CHECK(!memcmp(out.pub[0].corr, "d:d-alice", 9));
	CHECK_EQ_STR(str(&out.pub[0], "type"), "error");
	CHECK_EQ_STR(str(&out.pub[0], "code"), "not_found");
	CHECK_EQ_STR(str(&out.pub[0], "ref"), "call.offer");
	CHECK_EQ_STR(str(&out.pub[0], "call_id"), CID);
	router_out_clear(&out);

	/* An MQTT device: its own notifications, tagged with its device_id. */
	o.response_topic = NULL;
	o.corr = NULL;
	CHECK_EQ_INT(router_refuse(&o, FRAMES_INVALID_STATE, NULL, "call.end", NULL, &out), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	CHECK_EQ_STR(str(&out.pub[0], "device_id"), "phone");
	CHECK_EQ_STR(str(&out.pub[0], "code"), "invalid_state");
	CHECK(json_object_get(out.pub[0].payload, "call_id") == NULL);
	CHECK_EQ_INT(out.pub[0].corr_len, -1);
	router_out_clear(&out);

	/* A response topic that is not a bridge's is ignored (no publishing
	 * into another user's topic on a device's say-so). */
	o.response_topic = "users/bob/notifications";
	CHECK_EQ_INT(router_to_sender(&o, json_pack("{s:s}", "type", "pong"), &out), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	router_out_clear(&out);

	CHECK(router_reply_topic_ok("svc/bridges/b-1/replies"));
	CHECK(!router_reply_topic_ok("svc/bridges/+/replies"));
	CHECK(!router_reply_topic_ok("svc/bridges/#"));
	CHECK(!router_reply_topic_ok("chats/c1/messages"));
	CHECK(!router_reply_topic_ok(NULL));
}

static void test_service_frames(void)
{
	struct calls_call call = make_call(CALLS_RINGING);
	struct router_out out;
	router_out_init(&out);
	CHECK_EQ_INT(router_incoming(&call, "11111111-2222-4333-8444-000000000001", 45, &out), 0);
	CHECK_EQ_INT(out.n, 1);
	CHECK_EQ_STR(str(&out.pub[0], "msg_id"), "11111111-2222-4333-8444-000000000001");
	CHECK(!out.pub[0].for_device);
	CHECK_EQ_STR(out.pub[0].topic, "users/bob/notifications");
	CHECK_EQ_INT(out.pub[0].expiry_s, 45);
	CHECK_EQ_STR(str(&out.pub[0], "type"), "call.incoming");
	CHECK_EQ_STR(str(&out.pub[0], "call_id"), CID);
	CHECK_EQ_STR(str(&out.pub[0], "caller_id"), "alice");
	CHECK_EQ_STR(str(&out.pub[0], "caller_username"), "Alice");
	CHECK_EQ_STR(str(&out.pub[0], "call_type"), "video");
	CHECK_EQ_STR(str(&out.pub[0], "conversation_id"), "c1");
	router_out_clear(&out);

	CHECK_EQ_INT(calls_expire(&call, 46000), 0);
	CHECK_EQ_INT(router_missed(&call, &out), 0);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	CHECK_EQ_STR(out.pub[1].topic, "users/bob/notifications");
	for (size_t i = 0; i < 2; i++) {
		CHECK_EQ_STR(str(&out.pub[i], "type"), "call.end");
		CHECK_EQ_STR(str(&out.pub[i], "reason"), "missed");
		CHECK(json_is_null(json_object_get(out.pub[i].payload, "ended_by")));
		CHECK_EQ_INT(out.pub[i].expiry_s, 0);
	}
	router_out_clear(&out);

	/* Ended by the service for an absent participant: ended_by names
	 * them, no sender stamp (the service made it), a msg_id, the cause. */
	static const char MSG[] = "11111111-2222-4333-8444-555555555555";
	call = make_call(CALLS_ACCEPTED);
	call.answered_at = 2000;
	call.receiver_absent_since = 3000;
	const struct calls_limits lim = {.presence_grace_ms = 1000};
	CHECK_EQ_INT(calls_watch_end(&call, &lim, 4000), CALLS_CAUSE_PRESENCE_LOST);
	CHECK_EQ_INT(router_service_end(&call, "presence_lost", MSG, &out), 0);
	CHECK_EQ_INT(out.n, 2);
	CHECK_EQ_STR(out.pub[0].topic, "users/alice/notifications");
	CHECK_EQ_STR(out.pub[1].topic, "users/bob/notifications");
	for (size_t i = 0; i < 2; i++) {
		CHECK_EQ_STR(str(&out.pub[i], "type"), "call.end");
		CHECK_EQ_STR(str(&out.pub[i], "call_id"), CID);
		CHECK_EQ_STR(str(&out.pub[i], "reason"), "hangup");
		CHECK_EQ_STR(str(&out.pub[i], "ended_by"), "bob");
		CHECK(json_object_get(out.pub[i].payload, "sender_id") == NULL);
		CHECK(json_object_get(out.pub[i].payload, "from_device") == NULL);
		CHECK_EQ_STR(str(&out.pub[i], "msg_id"), MSG);
		CHECK_EQ_STR(str(&out.pub[i], "cause"), "presence_lost");
		CHECK_EQ_STR(str(&out.pub[i], "caller_id"), "alice");
	}
	router_out_clear(&out);
	/* The caller absent. */
	call = make_call(CALLS_ACCEPTED);
	call.caller_absent_since = 3000;
	calls_watch_end(&call, &lim, 4000);
	CHECK_EQ_INT(router_service_end(&call, NULL, MSG, &out), 0);
	CHECK_EQ_STR(str(&out.pub[0], "ended_by"), "alice");
	CHECK(json_object_get(out.pub[0].payload, "cause") == NULL);
	router_out_clear(&out);
	/* The length limit: ended by nobody, no stamp. */
	call = make_call(CALLS_ACCEPTED);
	call.answered_at = 2000;
	const struct calls_limits max = {.max_call_ms = 1000};
	CHECK_EQ_INT(calls_watch_end(&call, &max, 3000), CALLS_CAUSE_MAX_DURATION);
	CHECK_EQ_INT(router_service_end(&call, "max_duration", MSG, &out), 0);
	CHECK_EQ_INT(out.n, 2);
	CHECK(json_is_null(json_object_get(out.pub[0].payload, "ended_by")));
	CHECK(json_object_get(out.pub[0].payload, "sender_id") == NULL);
	CHECK_EQ_STR(str(&out.pub[1], "reason"), "hangup");
	CHECK_EQ_STR(str(&out.pub[1], "cause"), "max_duration");
	router_out_clear(&out);
}

int main(void)
{
	test_offer_stamped_over_claims();
	test_ice_to_counterpart();
	test_answer_from_chat();
	test_no_room_copy_for_another_room_or_outbox();
	test_end_to_both();
	test_chat_relay();
	test_call_frame_scrubbed();
	test_to_sender();
	test_service_frames();
	return check_done("test_router");
}
