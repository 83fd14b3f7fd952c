/* fuzz_router: the routing decision of ringmq-rules (bridge/rules/router.h
 * and calls.h), driven the way signaling.c drives it but without the store.
 *
 * Input: three bytes of choices, nine NUL-terminated strings, then the frame.
 *   byte 0  bit 0 the frame came in on chats/<cid>/in (else an outbox)
 *           bit 1 a call with the frame's call_id is stored
 *           bits 2-3 the sender: 0/3 the caller, 1 the receiver, 2 another user
 *           bit 4 a response topic, bit 5 correlation data
 *           bit 6 the call belongs to the chat the frame came in on
 *           bit 7 no from_device property (an MQTT device: the frame names it)
 *   byte 1  the stored state, byte 2 the stored call_type
 *   strings caller, receiver, caller's name, conversation, chat, other user,
 *           from_device, response topic, correlation data
 * Ids are folded onto the id alphabet (the store and the topics only hold
 * valid ids); names must be UTF-8 (they come from JSON tokens).
 * Properties (router.h, PROTOCOL.md "Routing rule"): every frame gets an
 * answer; a refused frame, or a ping, reaches its sender alone; an accepted
 * frame reaches only the call's participants and its own room, stamped with
 * the real sender and the stored call's fields; state moves only as the
 * lifecycle allows. */
#include <jansson.h>

#include "calls.h"
#include "frames.h"
#include "fuzz_input.h"
#include "ids.h"
#include "router.h"

#define FUZZ_MAX_FRAME (FRAMES_MAX_SIZE + 1)
#define MSG_ID "11111111-2222-4333-8444-555555555555"
#define NOW_MS INT64_C(1700000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a string and folds it onto [A-Za-z0-9_-], 1..IDS_MAX long. */
static void read_id(struct fuzz_input *in, char *dst, const char *fallback)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = fuzz_str(in, dst, IDS_MAX + 1);
	for (size_t i = 0; i < n; i++)
		dst[i] = alphabet[(unsigned char)dst[i] % 64];
	if (n == 0)
		snprintf(dst, IDS_MAX + 1, "%s", fallback);
}

static bool is_utf8(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

static const char *str(const struct router_pub *p, const char *key)
{
	return json_string_value(json_object_get(p->payload, key));
}

static bool str_is(const struct router_pub *p, const char *key, const char *want)
{
	const char *got = str(p, key);
	return got && !strcmp(got, want);
}

/* True when p goes to <kind>/<id>/<leaf>. */
static bool topic_is(const struct router_pub *p, const char *kind, const char *id, const char *leaf)
{
	char want[ROUTER_TOPIC_MAX];
	snprintf(want, sizeof(want), "%s/%s/%s", kind, id, leaf);
	return !strcmp(p->topic, want);
}

/* The answer to a refused frame or a ping: one publish to the sender. */
static void check_to_sender(const struct router_origin *o, const struct router_out *out, const char *type)
{
	FUZZ_ASSERT(out->n == 1);
	const struct router_pub *p = &out->pub[0];
	FUZZ_ASSERT(str_is(p, "type", type));
	if (o->response_topic && router_reply_topic_ok(o->response_topic)) {
		FUZZ_ASSERT(!strcmp(p->topic, o->response_topic));
		FUZZ_ASSERT(o->corr ? p->corr_len >= 0 && !memcmp(p->corr, o->corr, (size_t)p->corr_len)
				    : p->corr_len == -1);
	} else {
		FUZZ_ASSERT(topic_is(p, "users", o->sender_id, "notifications"));
	}
}

/* A stamped copy of the client's frame. */
static void check_copy(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
		       const struct router_pub *p)
{
	FUZZ_ASSERT(str_is(p, "type", f->type_name));
	FUZZ_ASSERT(str_is(p, "sender_id", o->sender_id));
	FUZZ_ASSERT(str_is(p, "sender_username", o->sender_username));
	FUZZ_ASSERT(str_is(p, "from_device", o->from_device));
	FUZZ_ASSERT(str_is(p, "msg_id", MSG_ID));
	if (!call)
		return;
	FUZZ_ASSERT(str_is(p, "call_id", call->id));
	FUZZ_ASSERT(str_is(p, "caller_id", call->caller_id));
	FUZZ_ASSERT(str_is(p, "caller_username", call->caller_username));
	FUZZ_ASSERT(str_is(p, "receiver_id", call->receiver_id));
	FUZZ_ASSERT(str_is(p, "call_type", call->call_type));
	FUZZ_ASSERT(str_is(p, "conversation_id", call->conversation_id));
	FUZZ_ASSERT(json_object_get(p->payload, "device_id") == NULL);
	if (f->type == FRAMES_T_CALL_END) {
		FUZZ_ASSERT(str_is(p, "reason", calls_end_reason(call->state)));
		FUZZ_ASSERT(str_is(p, "ended_by", o->sender_id));
	}
}

/* An accepted frame: who got it and what they got. */
static void check_routed(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
			 const struct router_out *out)
{
	size_t room = 0, accepted = 0, copies = 0;
	for (size_t i = 0; i < out->n; i++) {
		const struct router_pub *p = &out->pub[i];
		FUZZ_ASSERT(p->corr_len == -1 && p->expiry_s == 0);
		if (o->chat_id && topic_is(p, "chats", o->chat_id, "messages")) {
			room++;
			check_copy(o, f, call, p);
			continue;
		}
		FUZZ_ASSERT(call != NULL); /* a chat-only frame goes to the room alone */
		FUZZ_ASSERT(topic_is(p, "users", call->caller_id, "notifications") ||
			    topic_is(p, "users", call->receiver_id, "notifications"));
		if (str_is(p, "type", "call.accepted")) {
			accepted++;
			FUZZ_ASSERT(f->type == FRAMES_T_CALL_ANSWER);
			FUZZ_ASSERT(str_is(p, "device_id", call->answered_device));
			FUZZ_ASSERT(str_is(p, "call_id", call->id));
		} else {
			copies++;
			check_copy(o, f, call, p);
		}
	}
	FUZZ_ASSERT(room == (o->chat_id && (!call || !strcmp(call->conversation_id, o->chat_id))));
	if (!call) {
		FUZZ_ASSERT(out->n == 1);
		return;
	}
	FUZZ_ASSERT(accepted == (f->type == FRAMES_T_CALL_ANSWER ? 2u : 0u));
	FUZZ_ASSERT(copies == (f->type == FRAMES_T_CALL_END ? 2u : 1u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	uint8_t flags = fuzz_byte(&in);
	enum calls_state stored = (enum calls_state)(fuzz_byte(&in) % CALLS_STATE_COUNT);
	const char *call_type = fuzz_byte(&in) & 1 ? "video" : "voice";

	char caller[IDS_MAX + 1], receiver[IDS_MAX + 1], conv[IDS_MAX + 1], chat[IDS_MAX + 1], other[IDS_MAX + 1];
	char device[IDS_MAX + 1], name[JWT_USERNAME_MAX + 1], topic[ROUTER_TOPIC_MAX + 8], corr[ROUTER_CORR_MAX + 8];
	read_id(&in, caller, "alice");
	read_id(&in, receiver, "bob");
	fuzz_str(&in, name, sizeof(name));
	if (!name[0] || !is_utf8(name))
		snprintf(name, sizeof(name), "%s", caller);
	read_id(&in, conv, "c1");
	read_id(&in, chat, "c1");
	read_id(&in, other, "mallory");
	read_id(&in, device, "d1");
	fuzz_str(&in, topic, sizeof(topic));
	fuzz_str(&in, corr, sizeof(corr));
	if (in.n > FUZZ_MAX_FRAME)
		return 0;

	bool from_chat = flags & 1, stored_call = flags & 2;
	int who = (flags >> 2) & 3;
	const char *sender = who == 1 ? receiver : who == 2 ? other : caller;
	if (flags & 64)
		snprintf(conv, sizeof(conv), "%s", chat);

	struct router_origin o = {
		.sender_id = sender,
		.sender_username = sender == caller ? name : sender,
		.from_device = flags & 128 ? NULL : device,
		.msg_id = MSG_ID,
		.chat_id = from_chat ? chat : NULL,
		.response_topic = flags & 16 ? topic : NULL,
		.corr = flags & 32 ? corr : NULL,
	};

	struct frames_in f;
	const char *why = NULL;
	int code = frames_decode((const char *)in.p, in.n, from_chat ? FRAMES_FROM_CHAT : FRAMES_FROM_NOTIFY, &f, &why);
	const json_t *dev = f.root && json_is_object(f.root) ? json_object_get(f.root, "device_id") : NULL;
	if (json_is_string(dev) && json_string_length(dev) > 0)
		o.device_id = json_string_value(dev);
	if (!o.from_device || !o.from_device[0])
		o.from_device = o.device_id ? o.device_id : "mqtt";

	struct router_out out;
	router_out_init(&out);
	int rc;
	if (code != FRAMES_OK) {
		rc = router_refuse(&o, code, why, f.type_name, f.call_id, &out);
		FUZZ_ASSERT(rc == 0);
		check_to_sender(&o, &out, "error");
	} else if (f.type == FRAMES_T_PING) {
		rc = router_to_sender(&o, json_pack("{s:s}", "type", "pong"), &out);
		FUZZ_ASSERT(rc == 0);
		check_to_sender(&o, &out, "pong");
	} else if (f.type == FRAMES_T_OTHER) {
		FUZZ_ASSERT(from_chat);
		rc = router_route(&o, &f, NULL, NULL, &out);
		FUZZ_ASSERT(rc == 0);
		check_routed(&o, &f, NULL, &out);
	} else {
		struct calls_call call;
		memset(&call, 0, sizeof(call));
		snprintf(call.id, sizeof(call.id), "%s", f.call_id);
		snprintf(call.caller_id, sizeof(call.caller_id), "%s", caller);
		snprintf(call.caller_username, sizeof(call.caller_username), "%s", name);
		snprintf(call.receiver_id, sizeof(call.receiver_id), "%s", receiver);
		snprintf(call.call_type, sizeof(call.call_type), "%s", call_type);
		snprintf(call.conversation_id, sizeof(call.conversation_id), "%s", conv);
		call.state = stored;
		call.created_at = NOW_MS - 1000;

		struct calls_decision d;
		int dc = calls_decide(stored_call ? &call : NULL, sender, f.type, &d);
		FUZZ_ASSERT(dc == d.code);
		if (dc != FRAMES_OK) {
			FUZZ_ASSERT(dc == FRAMES_NOT_FOUND || dc == FRAMES_FORBIDDEN || dc == FRAMES_INVALID_STATE);
			FUZZ_ASSERT(d.why != NULL);
			rc = router_refuse(&o, dc, d.why, f.type_name, f.call_id, &out);
			FUZZ_ASSERT(rc == 0);
			check_to_sender(&o, &out, "error");
		} else {
			FUZZ_ASSERT(stored_call && calls_state_live(stored));
			FUZZ_ASSERT(!strcmp(sender, caller) || !strcmp(sender, receiver));
			FUZZ_ASSERT(d.role == calls_role_of(&call, sender));
			if (f.type == FRAMES_T_CALL_ANSWER)
				FUZZ_ASSERT(stored == CALLS_RINGING && d.role == CALLS_RECEIVER);
			FUZZ_ASSERT(d.changes == (f.type == FRAMES_T_CALL_ANSWER || f.type == FRAMES_T_CALL_END));
			if (d.changes) {
				calls_apply(&call, &d, sender, o.from_device, NOW_MS);
				FUZZ_ASSERT(call.state == d.next);
				if (f.type == FRAMES_T_CALL_ANSWER)
					FUZZ_ASSERT(call.state == CALLS_ACCEPTED && call.answered_at == NOW_MS);
				else
					FUZZ_ASSERT(calls_end_reason(call.state) && call.ended_at == NOW_MS &&
						    !strcmp(call.ended_by, sender));
			}
			rc = router_route(&o, &f, &call, &d, &out);
			FUZZ_ASSERT(rc == 0);
			check_routed(&o, &f, &call, &out);
		}
	}
	for (size_t i = 0; i < out.n; i++) {
		FUZZ_ASSERT(memchr(out.pub[i].topic, 0, sizeof(out.pub[i].topic)) && out.pub[i].topic[0]);
		char *s = frames_dump(out.pub[i].payload, NULL);
		FUZZ_ASSERT(s != NULL);
		free(s);
	}
	router_out_clear(&out);
	frames_in_clear(&f);
	return 0;
}
