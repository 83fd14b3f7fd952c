/* fuzz_router: one client frame through ringmq-rules' real path,
 * signaling_handle() (bridge/rules/signaling.h): the decoder, the store
 * (SQLite), the call state machine and the router, as main.c drives them.
 *
 * Input: three bytes of choices, nine NUL-terminated strings, then the frame.
 *   byte 0  bit 0 the frame came in on chats/<cid>/in (else an outbox)
 *           bit 1 a call with the frame's call_id is stored
 *           bits 2-3 the sender: 0/3 the caller, 1 the receiver, 2 another user
 *           bit 4 a response topic, bit 5 correlation data
 *           bit 6 the call belongs to the chat the frame came in on
 *           bit 7 no from_device property (an MQTT device: the frame names it)
 *   byte 1  the stored state (mod 6: ringing, accepted, ended, declined,
 *           cancelled, missed)
 *   byte 2  bit 0 a video call (else voice); bits 1-7, k: the call was made
 *           k * 0.5 s ago and rings for 45 s (k > 90: its ring is over)
 *   strings caller, receiver, caller's name, conversation, chat, other user,
 *           from_device, response topic, correlation data
 * Ids are folded onto the id alphabet (the store and the topics only hold
 * valid ids); names must be UTF-8 (they come from JSON tokens). The caller
 * sends their name as the sender_username property, the others none.
 *
 * The store is a real one (WAL and all): a database file in a fresh
 * directory $TMPDIR/fuzz_router.XXXXXX (else under /tmp), opened once per
 * process and removed at exit (a crash leaves it behind). Every input
 * starts with an empty calls table: the stored call is inserted before
 * signaling_handle and the table emptied after, through a second
 * connection to the same file (the store has no delete and needs none).
 * ":memory:" would do for the store alone, but no second connection can
 * reach it.
 *
 * Properties (router.h, signaling.h, calls.h, PROTOCOL.md "Routing rule"):
 * every frame gets an answer; a refused frame, or a ping, reaches its
 * sender alone (the response topic with its correlation data when
 * router_reply_topic_ok, else users/<sender>/notifications with the
 * frame's device_id), an error with the refusal's code; an accepted frame
 * reaches only the call's participants' notifications and its own room,
 * stamped with the real sender, its device and the stored call's fields,
 * with one fresh msg_id (a UUID) on every copy, and while the call rings
 * the participants' copies expire with the ring; state moves only as the
 * lifecycle allows (the call read back after the frame is the stored one,
 * or the answered one, accepted at now by the sending device with both
 * participants absent since now, or the ended one, ended at now by the
 * sender), no frame makes a call, and the timers hear of an accepted call
 * (store_take_changes). */
#include <jansson.h>
#include <sqlite3.h>
#include <unistd.h>

#include "calls.h"
#include "frames.h"
#include "fuzz_input.h"
#include "ids.h"
#include "log.h"
#include "router.h"
#include "signaling.h"
#include "store.h"

#define FUZZ_MAX_FRAME (FRAMES_MAX_SIZE + 1)
#define NOW_MS INT64_C(1700000000000)
#define RING_MS INT64_C(45000)
#define FUZZ_PATH_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The store every input runs against, and a second connection to its file
 * that empties the calls table between inputs. */
static struct {
	char dir[FUZZ_PATH_MAX];
	char path[FUZZ_PATH_MAX];
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *clear;
} fdb;

static char last_msg_id[IDS_UUID_LEN + 1]; /* the previous input's, to see each is fresh */

static void db_close(void)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	store_close(fdb.st);
	sqlite3_finalize(fdb.clear);
	sqlite3_close(fdb.db);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char p[FUZZ_PATH_MAX + 8];
		snprintf(p, sizeof(p), "%s%s", fdb.path, suffix[i]);
		unlink(p);
	}
	rmdir(fdb.dir);
}

static void db_open(void)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !tmp[0])
		tmp = "/tmp";
	FUZZ_ASSERT((size_t)snprintf(fdb.dir, sizeof(fdb.dir), "%s/fuzz_router.XXXXXX", tmp) < sizeof(fdb.dir));
	FUZZ_ASSERT(mkdtemp(fdb.dir) != NULL);
	FUZZ_ASSERT((size_t)snprintf(fdb.path, sizeof(fdb.path), "%s/rules.db", fdb.dir) < sizeof(fdb.path));
	atexit(db_close);
	/* State changes are logged at info: one line per answer or end. */
	log_init("fuzz_router", LOG_LEVEL_WARN);
	FUZZ_ASSERT(store_open(fdb.path, &fdb.st) == STORE_OK);
	FUZZ_ASSERT(sqlite3_open_v2(fdb.path, &fdb.db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	FUZZ_ASSERT(sqlite3_exec(fdb.db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) == SQLITE_OK);
	FUZZ_ASSERT(sqlite3_prepare_v2(fdb.db, "DELETE FROM calls", -1, &fdb.clear, NULL) == SQLITE_OK);
}

static void db_clear_calls(void)
{
	FUZZ_ASSERT(sqlite3_step(fdb.clear) == SQLITE_DONE);
	sqlite3_reset(fdb.clear);
}

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

/* The stored call of state s, made k half-seconds ago, with the fields a
 * call in s has (answered for accepted and hung up, ended for the end
 * states). */
static void make_call(struct calls_call *c, const char *id, const char *caller, const char *name,
		      const char *receiver, const char *call_type, const char *conv, enum calls_state s, int k)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->caller_id, sizeof(c->caller_id), "%s", caller);
	snprintf(c->caller_username, sizeof(c->caller_username), "%s", name);
	snprintf(c->receiver_id, sizeof(c->receiver_id), "%s", receiver);
	snprintf(c->call_type, sizeof(c->call_type), "%s", call_type);
	snprintf(c->conversation_id, sizeof(c->conversation_id), "%s", conv);
	c->state = s;
	c->created_at = NOW_MS - (int64_t)k * 500;
	c->ring_deadline = c->created_at + RING_MS;
	if (s == CALLS_ACCEPTED || s == CALLS_ENDED) {
		c->answered_at = c->created_at + 1;
		snprintf(c->answered_device, sizeof(c->answered_device), "d0");
	}
	const char *reason = calls_end_reason(s);
	if (reason) {
		c->ended_at = c->created_at + 2;
		snprintf(c->end_reason, sizeof(c->end_reason), "%s", reason);
		snprintf(c->ended_by, sizeof(c->ended_by), "%s",
			 s == CALLS_DECLINED ? receiver : s == CALLS_MISSED ? "" : caller);
	}
}

/* The lifecycle of calls.h, written out again: the code a call frame of
 * type t from a sender in role gets from a stored call in state s
 * ("Fine print" order: the call and the sender in it, role, state), and
 * the state it leaves the call in (*next) with the end reason (*reason,
 * NULL unless it ends the call). */
static int lifecycle(bool stored, enum calls_role role, enum calls_state s, enum frames_type t,
		     enum calls_state *next, const char **reason)
{
	*next = s;
	*reason = NULL;
	if (!stored || role == CALLS_OUTSIDER)
		return FRAMES_NOT_FOUND;
	if (t == FRAMES_T_CALL_ANSWER && role != CALLS_RECEIVER)
		return FRAMES_FORBIDDEN;
	if (s != CALLS_RINGING && s != CALLS_ACCEPTED)
		return FRAMES_INVALID_STATE;
	if (t == FRAMES_T_CALL_ANSWER) {
		if (s != CALLS_RINGING)
			return FRAMES_INVALID_STATE;
		*next = CALLS_ACCEPTED;
	} else if (t == FRAMES_T_CALL_END) {
		*next = s == CALLS_ACCEPTED ? CALLS_ENDED : role == CALLS_CALLER ? CALLS_CANCELLED : CALLS_DECLINED;
		*reason = *next == CALLS_ENDED ? "hangup" : *next == CALLS_CANCELLED ? "cancelled" : "declined";
	}
	return FRAMES_OK;
}

/* The call read back from the store is the one expected, field by field. */
static void check_stored(const struct calls_call *want)
{
	struct calls_call got;
	FUZZ_ASSERT(store_call_get(fdb.st, want->id, &got) == STORE_OK);
	FUZZ_ASSERT(!strcmp(got.id, want->id));
	FUZZ_ASSERT(!strcmp(got.caller_id, want->caller_id));
	FUZZ_ASSERT(!strcmp(got.caller_username, want->caller_username));
	FUZZ_ASSERT(!strcmp(got.receiver_id, want->receiver_id));
	FUZZ_ASSERT(!strcmp(got.call_type, want->call_type));
	FUZZ_ASSERT(!strcmp(got.conversation_id, want->conversation_id));
	FUZZ_ASSERT(got.state == want->state);
	FUZZ_ASSERT(got.created_at == want->created_at);
	FUZZ_ASSERT(got.answered_at == want->answered_at);
	FUZZ_ASSERT(got.ended_at == want->ended_at);
	FUZZ_ASSERT(!strcmp(got.end_reason, want->end_reason));
	FUZZ_ASSERT(!strcmp(got.ended_by, want->ended_by));
	FUZZ_ASSERT(got.ring_deadline == want->ring_deadline);
	FUZZ_ASSERT(!strcmp(got.answered_device, want->answered_device));
	FUZZ_ASSERT(got.caller_absent_since == want->caller_absent_since);
	FUZZ_ASSERT(got.receiver_absent_since == want->receiver_absent_since);
}

/* The answer to a refused frame (code) or a ping (code FRAMES_OK): one
 * publish to the sender. */
static void check_to_sender(const struct router_origin *o, const struct router_out *out, const char *type, int code)
{
	FUZZ_ASSERT(out->n == 1);
	const struct router_pub *p = &out->pub[0];
	FUZZ_ASSERT(str_is(p, "type", type));
	FUZZ_ASSERT(code == FRAMES_OK ? !json_object_get(p->payload, "code")
				      : str_is(p, "code", frames_code_name(code)));
	FUZZ_ASSERT(p->expiry_s == 0);
	const json_t *dev = json_object_get(p->payload, "device_id");
	if (o->response_topic && router_reply_topic_ok(o->response_topic)) {
		FUZZ_ASSERT(!strcmp(p->topic, o->response_topic));
		if (o->corr) {
			size_t n = strlen(o->corr);
			n = n < ROUTER_CORR_MAX - 1 ? n : ROUTER_CORR_MAX - 1;
			FUZZ_ASSERT(p->corr_len == (int)n && !memcmp(p->corr, o->corr, n));
		} else {
			FUZZ_ASSERT(p->corr_len == -1);
		}
		FUZZ_ASSERT(dev == NULL);
	} else {
		FUZZ_ASSERT(topic_is(p, "users", o->sender_id, "notifications"));
		FUZZ_ASSERT(p->corr_len == -1);
		FUZZ_ASSERT(o->device_id ? json_is_string(dev) && !strcmp(json_string_value(dev), o->device_id)
					 : dev == NULL);
	}
}

/* A stamped copy of the client's frame, carrying msg_id. */
static void check_copy(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
		       const char *reason, const struct router_pub *p, const char *msg_id)
{
	FUZZ_ASSERT(str_is(p, "type", f->type_name));
	FUZZ_ASSERT(str_is(p, "sender_id", o->sender_id));
	FUZZ_ASSERT(str_is(p, "sender_username", o->sender_username));
	FUZZ_ASSERT(str_is(p, "from_device", o->from_device));
	FUZZ_ASSERT(str_is(p, "msg_id", msg_id));
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
		FUZZ_ASSERT(str_is(p, "reason", reason));
		FUZZ_ASSERT(str_is(p, "ended_by", o->sender_id));
	}
}

/* One publish an accepted frame must make to a participant. */
struct want_pub {
	char topic[ROUTER_TOPIC_MAX];
	bool accepted; /* call.accepted, else a copy of the frame */
	bool seen;
};

static void want_user(struct want_pub *w, size_t *n, const char *uid, bool accepted)
{
	snprintf(w[*n].topic, sizeof(w[*n].topic), "users/%s/notifications", uid);
	w[*n].accepted = accepted;
	w[*n].seen = false;
	(*n)++;
}

/* An accepted frame: who got it and what they got. call is the call as
 * stored after the frame (NULL for a chat-only frame), reason the end
 * reason of a call.end, role the sender's. */
static void check_routed(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
			 const char *reason, enum calls_role role, const struct router_out *out)
{
	struct want_pub w[4];
	size_t nw = 0;
	if (call) {
		switch (f->type) {
		case FRAMES_T_CALL_ANSWER:
			want_user(w, &nw, call->caller_id, false);
			want_user(w, &nw, call->caller_id, true);
			want_user(w, &nw, call->receiver_id, true);
			break;
		case FRAMES_T_CALL_END:
			want_user(w, &nw, call->caller_id, false);
			want_user(w, &nw, call->receiver_id, false);
			break;
		default: /* offer, ICE: the counterpart */
			want_user(w, &nw, role == CALLS_CALLER ? call->receiver_id : call->caller_id, false);
			break;
		}
	}
	/* While the call rings, its copies for the parties expire with the ring. */
	uint32_t user_expiry = 0;
	if (call && call->state == CALLS_RINGING) {
		int64_t left = call->ring_deadline - NOW_MS;
		user_expiry = left > 0 ? (uint32_t)((left + 999) / 1000) : 1;
	}

	const char *msg_id = NULL;
	size_t room = 0;
	for (size_t i = 0; i < out->n; i++) {
		const struct router_pub *p = &out->pub[i];
		FUZZ_ASSERT(p->corr_len == -1);
		bool accepted = str_is(p, "type", "call.accepted");
		if (!accepted) {
			if (!msg_id) {
				msg_id = str(p, "msg_id");
				FUZZ_ASSERT(msg_id && ids_is_uuid(msg_id) && strcmp(msg_id, last_msg_id));
			}
			check_copy(o, f, call, reason, p, msg_id);
		}
		if (o->chat_id && topic_is(p, "chats", o->chat_id, "messages")) {
			FUZZ_ASSERT(!accepted && p->expiry_s == 0);
			room++;
			continue;
		}
		size_t j = 0;
		while (j < nw && (w[j].seen || w[j].accepted != accepted || strcmp(w[j].topic, p->topic)))
			j++;
		FUZZ_ASSERT(j < nw); /* nobody else, nothing else */
		w[j].seen = true;
		FUZZ_ASSERT(p->expiry_s == user_expiry);
		if (accepted) {
			FUZZ_ASSERT(str_is(p, "device_id", call->answered_device));
			FUZZ_ASSERT(str_is(p, "call_id", call->id));
		}
	}
	for (size_t j = 0; j < nw; j++)
		FUZZ_ASSERT(w[j].seen);
	FUZZ_ASSERT(room == (o->chat_id && (!call || !strcmp(call->conversation_id, o->chat_id))));
	FUZZ_ASSERT(msg_id != NULL);
	snprintf(last_msg_id, sizeof(last_msg_id), "%s", msg_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fdb.st)
		db_open();
	struct fuzz_input in = {data, size};
	uint8_t flags = fuzz_byte(&in);
	enum calls_state stored = (enum calls_state)(fuzz_byte(&in) % CALLS_STATE_COUNT);
	uint8_t kind = fuzz_byte(&in);
	const char *call_type = kind & 1 ? "video" : "voice";
	int age = kind >> 1;

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

	bool from_chat = flags & 1, store_it = flags & 2;
	int who = (flags >> 2) & 3;
	const char *sender = who == 1 ? receiver : who == 2 ? other : caller;
	if (flags & 64)
		snprintf(conv, sizeof(conv), "%s", chat);

	const struct signaling_msg m = {
		.payload = (const char *)in.p,
		.len = in.n,
		.sender_id = sender,
		.sender_username = sender == caller ? name : NULL,
		.from_device = flags & 128 ? NULL : device,
		.chat_id = from_chat ? chat : NULL,
		.response_topic = flags & 16 ? topic : NULL,
		.corr = flags & 32 ? corr : NULL,
	};

	/* The frame as signaling_handle sees it, and the origin it should
	 * stamp: the device names itself in the frame when it has no property. */
	struct frames_in f;
	const char *why = NULL;
	int code = frames_decode(m.payload, m.len, from_chat ? FRAMES_FROM_CHAT : FRAMES_FROM_NOTIFY, &f, &why);
	const json_t *dev = f.root && json_is_object(f.root) ? json_object_get(f.root, "device_id") : NULL;
	const char *frame_device = json_is_string(dev) && json_string_length(dev) > 0 ? json_string_value(dev) : NULL;
	/* A phone's answers name its device: the frame's, else the plugin's
	 * from_device property (no reply topic, not a chat frame). */
	const char *answer_device = frame_device;
	if (!frame_device && m.from_device && m.from_device[0] && !m.response_topic && !m.chat_id)
		answer_device = m.from_device;
	const struct router_origin o = {
		.sender_id = sender,
		.sender_username = m.sender_username ? m.sender_username : sender,
		.from_device = m.from_device ? m.from_device : frame_device ? frame_device : "mqtt",
		.chat_id = m.chat_id,
		.response_topic = m.response_topic,
		.corr = m.corr,
		.device_id = answer_device,
	};

	/* The stored call: only a call id the store could hold (a UUID). */
	bool have_call = store_it && f.call_id && ids_is_uuid(f.call_id);
	struct calls_call call;
	memset(&call, 0, sizeof(call));
	int64_t ring_added;
	bool watch_changed;
	if (have_call) {
		make_call(&call, f.call_id, caller, name, receiver, call_type, conv, stored, age);
		FUZZ_ASSERT(store_call_insert(fdb.st, &call) == STORE_OK);
		store_take_changes(fdb.st, &ring_added, &watch_changed);
		FUZZ_ASSERT(ring_added == (stored == CALLS_RINGING ? call.ring_deadline : 0));
		FUZZ_ASSERT(watch_changed == (stored == CALLS_ACCEPTED));
	}

	/* A chat frame's sender is a member of its chat (rules refuses a
	 * non-member's frame since 90384f7: that refusal is not under test). */
	if (from_chat) {
		bool created;
		FUZZ_ASSERT(store_conversation_put(fdb.st, chat, &sender, 1, &created) == STORE_OK);
	}

	struct router_out out;
	router_out_init(&out);
	FUZZ_ASSERT(signaling_handle(fdb.st, &m, NOW_MS, &out) == 0);

	struct calls_call want = call; /* the call as it must be stored after the frame */
	bool accepts = false; /* the frame answered the call */
	if (code != FRAMES_OK) {
		check_to_sender(&o, &out, "error", code);
	} else if (f.type == FRAMES_T_PING) {
		check_to_sender(&o, &out, "pong", FRAMES_OK);
	} else if (f.type == FRAMES_T_OTHER) {
		FUZZ_ASSERT(from_chat);
		check_routed(&o, &f, NULL, NULL, CALLS_OUTSIDER, &out);
	} else {
		enum calls_role role = !have_call ? CALLS_OUTSIDER
				       : !strcmp(sender, call.caller_id) ? CALLS_CALLER
				       : !strcmp(sender, call.receiver_id) ? CALLS_RECEIVER
									 : CALLS_OUTSIDER;
		enum calls_state next;
		const char *reason;
		int expect = lifecycle(have_call, role, stored, f.type, &next, &reason);
		/* The state machine agrees with the lifecycle written out here. */
		struct calls_decision d;
		FUZZ_ASSERT(calls_decide(have_call ? &call : NULL, sender, f.type, &d) == expect);
		FUZZ_ASSERT(d.code == expect && (expect == FRAMES_OK) == (d.why == NULL));
		if (expect != FRAMES_OK) {
			check_to_sender(&o, &out, "error", expect);
		} else {
			FUZZ_ASSERT(d.role == role);
			FUZZ_ASSERT(d.changes == (next != stored) && (!d.changes || d.next == next));
			if (next == CALLS_ACCEPTED && stored == CALLS_RINGING) {
				accepts = true;
				want.state = CALLS_ACCEPTED;
				want.answered_at = NOW_MS;
				snprintf(want.answered_device, sizeof(want.answered_device), "%s", o.from_device);
				/* Nobody has presence here: both absent from the answer on. */
				want.caller_absent_since = NOW_MS;
				want.receiver_absent_since = NOW_MS;
			} else if (reason) {
				want.state = next;
				want.ended_at = NOW_MS;
				snprintf(want.end_reason, sizeof(want.end_reason), "%s", reason);
				snprintf(want.ended_by, sizeof(want.ended_by), "%s", sender);
			}
			check_routed(&o, &f, &want, reason, role, &out);
		}
	}

	if (have_call) {
		check_stored(&want);
	} else if (f.call_id && ids_is_uuid(f.call_id)) {
		struct calls_call none;
		FUZZ_ASSERT(store_call_get(fdb.st, f.call_id, &none) == STORE_ENOTFOUND);
	}
	store_take_changes(fdb.st, &ring_added, &watch_changed);
	FUZZ_ASSERT(ring_added == 0 && watch_changed == accepts);

	for (size_t i = 0; i < out.n; i++) {
		FUZZ_ASSERT(memchr(out.pub[i].topic, 0, sizeof(out.pub[i].topic)) && out.pub[i].topic[0]);
		char *s = frames_dump(out.pub[i].payload, NULL);
		FUZZ_ASSERT(s != NULL);
		free(s);
	}
	router_out_clear(&out);
	frames_in_clear(&f);
	if (have_call)
		db_clear_calls();
	return 0;
}
