/* signaling: decode -> load -> decide -> store -> route, for one frame. */
#include "signaling.h"

#include <string.h>

#include "clock.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "msgid.h"
#include "replay.h"
#include "topics.h"

/* router_refuse, counted (metrics.h). */
static int refuse(const struct router_origin *o, int code, const char *why, const char *ref, const char *call_id,
		  struct router_out *out)
{
	metrics_refused(&metrics_rules, code);
	return router_refuse(o, code, why, ref, call_id, out);
}

/* router_route, counted. */
static int route(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
		 const struct calls_decision *d, struct router_out *out)
{
	int rc = router_route(o, f, call, d, out);
	if (rc == 0)
		metrics_routed(&metrics_rules, f->type);
	return rc;
}

static void log_change(const struct calls_call *c)
{
	if (c->state == CALLS_ACCEPTED)
		log_event(LOG_LEVEL_INFO, c->id, c->receiver_id, c->answered_device, "call %s %s→%s accepted by device %s",
			  c->id, c->caller_id, c->receiver_id, c->answered_device);
	else
		log_event(LOG_LEVEL_INFO, c->id, c->ended_by[0] ? c->ended_by : NULL, NULL, "call %s %s→%s ended %s by %s",
			  c->id, c->caller_id, c->receiver_id, c->end_reason, c->ended_by[0] ? c->ended_by : "nobody");
}

/* While a call rings, the copies for the parties' devices (offer, ICE)
 * expire with the ring, as call.incoming does (PROTOCOL.md): a phone whose
 * persistent session comes back after the ring window gets none of them.
 * The copies are out->pub[from..]; room copies keep no expiry. */
static void expire_with_ring(const struct calls_call *c, int64_t now_ms, struct router_out *out, size_t from)
{
	uint32_t expiry_s = clock_expiry_s(c->ring_deadline - now_ms);
	for (size_t i = from; i < out->n; i++)
		if (topics_parse(out->pub[i].topic, NULL) == TOPICS_USER_NOTIFICATIONS)
			out->pub[i].expiry_s = expiry_s;
}

/* A call frame f the decoder accepted. */
static int handle_call(struct store *st, const struct router_origin *o, const struct frames_in *f, int64_t now_ms,
		       struct router_out *out)
{
	struct calls_call call;
	int rc = store_call_get(st, f->call_id, &call);
	if (rc == STORE_EDB) {
		refuse(o, FRAMES_UNAVAILABLE, "the call store failed", f->type_name, f->call_id, out);
		return -1;
	}
	struct calls_decision d;
	if (calls_decide(rc == STORE_OK ? &call : NULL, o->sender_id, f->type, &d) != FRAMES_OK) {
		log_debug("%s from %s for call %s refused: %s", f->type_name, o->sender_id, f->call_id, d.why);
		return refuse(o, d.code, d.why, f->type_name, f->call_id, out);
	}
	if (d.changes) {
		calls_apply(&call, &d, o->sender_id, o->from_device, now_ms);
		if (store_call_update(st, &call) != STORE_OK) {
			refuse(o, FRAMES_UNAVAILABLE, "the call store failed", f->type_name, f->call_id, out);
			return -1;
		}
		log_change(&call);
		metrics_call(&metrics_rules, call.state);
		/* Accepted: from now on a participant without presence is watched. */
		if (call.state == CALLS_ACCEPTED && store_calls_presence_sync(st, call.caller_id, now_ms, NULL) != STORE_OK)
			log_warn("%s: call %s: absences not recorded (the store failed)", __func__, call.id);
	}
	size_t first = out->n;
	rc = route(o, f, &call, &d, out);
	if (call.state == CALLS_RINGING) {
		expire_with_ring(&call, now_ms, out, first);
		replay_keep(st, &call, out, first); /* for the receiver's devices still to come */
	}
	return rc;
}

int signaling_handle(struct store *st, const struct signaling_msg *m, int64_t now_ms, struct router_out *out)
{
	char msg_id[IDS_UUID_LEN + 1];
	msgid_next(msg_id);
	struct router_origin o = {
		.sender_id = m->sender_id,
		.sender_username = m->sender_username && m->sender_username[0] ? m->sender_username : m->sender_id,
		.from_device = m->from_device,
		.msg_id = msg_id,
		.chat_id = m->chat_id,
		.response_topic = m->response_topic,
		.corr = m->corr,
	};
	if (m->len > SIGNALING_MAX_FRAME) {
		o.from_device = o.from_device ? o.from_device : "mqtt";
		return refuse(&o, FRAMES_BAD_FRAME, "frame too large", NULL, NULL, out);
	}

	struct frames_in f;
	const char *why = NULL;
	int code = frames_decode(m->payload, m->len, m->chat_id ? FRAMES_FROM_CHAT : FRAMES_FROM_NOTIFY, &f, &why);
	/* The device names itself in the frame when it is an MQTT device. */
	const json_t *dev = f.root && json_is_object(f.root) ? json_object_get(f.root, "device_id") : NULL;
	if (json_is_string(dev) && json_string_length(dev) > 0)
		o.device_id = json_string_value(dev);
	if (!o.from_device || !o.from_device[0])
		o.from_device = o.device_id ? o.device_id : "mqtt";
	/* A phone (no reply topic): the plugin's from_device is its client id's
	 * <device>, the one its answers name when the frame named none. */
	else if (!o.device_id && !m->response_topic && !m->chat_id)
		o.device_id = o.from_device;

	int rc, member = m->chat_id && code == FRAMES_OK ? store_member(st, m->chat_id, o.sender_id) : 1;
	if (member == 0) {
		/* Removed from the conversation while its socket was open: its
		 * bridge closes it (4403); until then nothing reaches the room. */
		log_debug("chat frame from %s refused: not a member of %s", o.sender_id, m->chat_id);
		rc = refuse(&o, FRAMES_FORBIDDEN, "not a member of this conversation", f.type_name, f.call_id, out);
	} else if (member < 0) {
		rc = refuse(&o, FRAMES_UNAVAILABLE, "the store failed", f.type_name, f.call_id, out);
	} else if (code != FRAMES_OK) {
		log_debug("frame from %s refused: %s (%s)", o.sender_id, frames_code_name(code), why);
		rc = refuse(&o, code, why, f.type_name, f.call_id, out);
	} else if (f.type == FRAMES_T_PING) {
		rc = router_to_sender(&o, json_pack("{s:s}", "type", "pong"), out);
		if (rc == 0)
			metrics_routed(&metrics_rules, FRAMES_T_PING);
	} else if (f.type == FRAMES_T_OTHER) {
		rc = route(&o, &f, NULL, NULL, out); /* only chat frames get here */
	} else {
		rc = handle_call(st, &o, &f, now_ms, out);
	}
	frames_in_clear(&f);
	return rc;
}
