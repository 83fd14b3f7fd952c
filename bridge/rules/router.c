/* router: turns decisions into publishes. Pure; see router.h. */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "topics.h"

void router_out_init(struct router_out *out)
{
	out->n = 0;
}

void router_out_clear(struct router_out *out)
{
	for (size_t i = 0; i < out->n; i++)
		json_decref(out->pub[i].payload);
	out->n = 0;
}

bool router_reply_topic_ok(const char *topic)
{
	return topics_parse(topic, NULL) == TOPICS_BRIDGE_REPLIES && strlen(topic) < ROUTER_TOPIC_MAX;
}

/* Appends a publish of payload (reference taken) to topic. */
static int add(struct router_out *out, const char *topic, json_t *payload, uint32_t expiry_s)
{
	if (!payload)
		return -1;
	if (out->n >= ROUTER_MAX_PUBS) {
		json_decref(payload);
		return -1;
	}
	struct router_pub *p = &out->pub[out->n++];
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	p->payload = payload;
	p->expiry_s = expiry_s;
	p->corr_len = -1;
	p->for_device = false;
	p->retain = false;
	return 0;
}

static int add_user(struct router_out *out, const char *uid, json_t *payload, uint32_t expiry_s)
{
	char topic[ROUTER_TOPIC_MAX];
	if (topics_build(TOPICS_USER_NOTIFICATIONS, uid, topic, sizeof(topic)) != 0) {
		json_decref(payload);
		return -1;
	}
	return add(out, topic, payload, expiry_s);
}

static int add_room(struct router_out *out, const char *cid, json_t *payload)
{
	char topic[ROUTER_TOPIC_MAX];
	if (topics_build(TOPICS_CHAT_MESSAGES, cid, topic, sizeof(topic)) != 0) {
		json_decref(payload);
		return -1;
	}
	return add(out, topic, payload, 0);
}

/* The call's own fields, the service's version. */
static int set_call_fields(json_t *j, const struct calls_call *c)
{
	int rc = 0;
	rc |= json_object_set_new(j, "call_id", json_string(c->id));
	rc |= json_object_set_new(j, "caller_id", json_string(c->caller_id));
	rc |= json_object_set_new(j, "caller_username", json_string(c->caller_username));
	rc |= json_object_set_new(j, "receiver_id", json_string(c->receiver_id));
	rc |= json_object_set_new(j, "call_type", json_string(c->call_type));
	rc |= json_object_set_new(j, "conversation_id", json_string(c->conversation_id));
	return rc ? -1 : 0;
}

/* Top-level fields that name a user, on any client frame: the sender's
 * own (overwritten with the authenticated sender when the frame has them)
 * and someone else's, which the service cannot vouch for (removed). A call
 * frame then gets the stored call's caller_id, caller_username and
 * receiver_id (set_call_fields), a call.end its ended_by. */
static const char *const as_sender_id[] = {"caller_id", "user_id"};
static const char *const as_sender_name[] = {"caller_username", "username"};
static const char *const naming_others[] = {"receiver_id", "ended_by"};

static int scrub_users(json_t *j, const struct router_origin *o)
{
	int rc = 0;
	for (size_t i = 0; i < sizeof(as_sender_id) / sizeof(as_sender_id[0]); i++)
		if (json_object_get(j, as_sender_id[i]))
			rc |= json_object_set_new(j, as_sender_id[i], json_string(o->sender_id));
	for (size_t i = 0; i < sizeof(as_sender_name) / sizeof(as_sender_name[0]); i++)
		if (json_object_get(j, as_sender_name[i]))
			rc |= json_object_set_new(j, as_sender_name[i], json_string(o->sender_username));
	for (size_t i = 0; i < sizeof(naming_others) / sizeof(naming_others[0]); i++)
		json_object_del(j, naming_others[i]);
	return rc ? -1 : 0;
}

/* A stamped copy of the client's frame; NULL on allocation failure. */
static json_t *stamp(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call)
{
	json_t *j = json_copy(f->root); /* shallow: only top-level keys change */
	if (!j)
		return NULL;
	int rc = scrub_users(j, o);
	if (call) {
		/* An MQTT device names itself in device_id; copies carry from_device. */
		json_object_del(j, "device_id");
		rc |= set_call_fields(j, call);
		if (f->type == FRAMES_T_CALL_END) {
			rc |= json_object_set_new(j, "reason", json_string(call->end_reason));
			rc |= json_object_set_new(j, "ended_by",
						  call->ended_by[0] ? json_string(call->ended_by) : json_null());
		}
	}
	rc |= json_object_set_new(j, "sender_id", json_string(o->sender_id));
	rc |= json_object_set_new(j, "sender_username", json_string(o->sender_username));
	rc |= json_object_set_new(j, "from_device", json_string(o->from_device));
	rc |= json_object_set_new(j, "msg_id", json_string(o->msg_id));
	if (rc) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *accepted(const struct calls_call *c)
{
	json_t *j = json_pack("{s:s, s:s}", "type", "call.accepted", "device_id", c->answered_device);
	if (j && set_call_fields(j, c)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int router_route(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
		 const struct calls_decision *d, struct router_out *out)
{
	json_t *copy = stamp(o, f, call);
	if (!copy)
		return -1;
	int rc = 0;
	if (o->chat_id && (!call || !strcmp(call->conversation_id, o->chat_id)))
		rc |= add_room(out, o->chat_id, json_incref(copy));
	if (call) {
		const char *other = calls_counterpart(call, d->role);
		switch (f->type) {
		case FRAMES_T_CALL_ANSWER:
			rc |= add_user(out, call->caller_id, json_incref(copy), 0);
			rc |= add_user(out, call->caller_id, accepted(call), 0);
			rc |= add_user(out, call->receiver_id, accepted(call), 0);
			break;
		case FRAMES_T_CALL_END:
			rc |= add_user(out, call->caller_id, json_incref(copy), 0);
			rc |= add_user(out, call->receiver_id, json_incref(copy), 0);
			break;
		default:
			rc |= add_user(out, other, json_incref(copy), 0);
			break;
		}
	}
	json_decref(copy);
	return rc ? -1 : 0;
}

int router_to_sender(const struct router_origin *o, json_t *payload, struct router_out *out)
{
	if (!payload)
		return -1;
	if (o->response_topic && router_reply_topic_ok(o->response_topic)) {
		if (add(out, o->response_topic, payload, 0) < 0)
			return -1;
		struct router_pub *p = &out->pub[out->n - 1];
		if (o->corr) {
			size_t n = strlen(o->corr);
			if (n >= sizeof(p->corr))
				n = sizeof(p->corr) - 1;
			memcpy(p->corr, o->corr, n);
			p->corr[n] = '\0';
			p->corr_len = (int)n;
		}
		return 0;
	}
	if (o->device_id && json_object_set_new(payload, "device_id", json_string(o->device_id))) {
		json_decref(payload);
		return -1;
	}
	if (add_user(out, o->sender_id, payload, 0) < 0)
		return -1;
	out->pub[out->n - 1].for_device = true;
	return 0;
}

int router_refuse(const struct router_origin *o, int code, const char *why, const char *ref, const char *call_id,
		  struct router_out *out)
{
	return router_to_sender(o, frames_error(code, why, ref, call_id), out);
}

int router_incoming(const struct calls_call *call, const char *msg_id, uint32_t expiry_s, struct router_out *out)
{
	json_t *j = json_pack("{s:s, s:s}", "type", "call.incoming", "msg_id", msg_id);
	if (j && set_call_fields(j, call)) {
		json_decref(j);
		j = NULL;
	}
	return add_user(out, call->receiver_id, j, expiry_s);
}

int router_service_end(const struct calls_call *call, const char *cause, const char *msg_id, struct router_out *out)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "type", "call.end", "reason", call->end_reason, "msg_id", msg_id);
	int rc = !j || set_call_fields(j, call);
	if (!rc)
		rc |= json_object_set_new(j, "ended_by", call->ended_by[0] ? json_string(call->ended_by) : json_null());
	if (!rc && cause)
		rc |= json_object_set_new(j, "cause", json_string(cause));
	if (rc) {
		json_decref(j);
		return -1;
	}
	rc = add_user(out, call->caller_id, json_incref(j), 0);
	rc |= add_user(out, call->receiver_id, j, 0);
	return rc ? -1 : 0;
}

int router_missed(const struct calls_call *call, struct router_out *out)
{
	json_t *j = json_pack("{s:s, s:s, s:n}", "type", "call.end", "reason", calls_end_reason(call->state),
			      "ended_by");
	if (!j || set_call_fields(j, call)) {
		json_decref(j);
		return -1;
	}
	int rc = add_user(out, call->caller_id, json_incref(j), 0);
	rc |= add_user(out, call->receiver_id, j, 0);
	return rc ? -1 : 0;
}

int router_revocation(const char *uid, int64_t before, struct router_out *out)
{
	char topic[ROUTER_TOPIC_MAX];
	if (topics_build(TOPICS_REVOCATION, uid, topic, sizeof(topic)) != 0 ||
	    add(out, topic, json_pack("{s:s, s:I}", "user_id", uid, "before", (json_int_t)before), 0) != 0)
		return -1;
	out->pub[out->n - 1].retain = true;
	return 0;
}

int router_members(const char *cid, json_t *members, struct router_out *out)
{
	char topic[ROUTER_TOPIC_MAX];
	if (topics_build(TOPICS_MEMBERS, cid, topic, sizeof(topic)) != 0) {
		json_decref(members);
		return -1;
	}
	return add(out, topic, json_pack("{s:s, s:o}", "conversation_id", cid, "members", members), 0);
}

int router_replayed(const char *uid, json_t *frame, uint32_t expiry_s, struct router_out *out)
{
	if (add_user(out, uid, frame, expiry_s) < 0)
		return -1;
	out->pub[out->n - 1].for_device = true;
	return 0;
}
