/* calls: the call state machine. Pure; see calls.h for the picture. */
#include "calls.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

static const char *const state_names[CALLS_STATE_COUNT] = {
	"ringing", "accepted", "ended", "declined", "cancelled", "missed",
};

const char *calls_state_name(enum calls_state s)
{
	if ((int)s < 0 || s >= CALLS_STATE_COUNT)
		return "unknown";
	return state_names[s];
}

int calls_state_parse(const char *name)
{
	for (int i = 0; name && i < CALLS_STATE_COUNT; i++)
		if (!strcmp(name, state_names[i]))
			return i;
	return -1;
}

/* Ringing and accepted: the states in which signaling flows. */
static bool state_live(enum calls_state s)
{
	return s == CALLS_RINGING || s == CALLS_ACCEPTED;
}

const char *calls_end_reason(enum calls_state s)
{
	switch (s) {
	case CALLS_ENDED: return "hangup";
	case CALLS_DECLINED: return "declined";
	case CALLS_CANCELLED: return "cancelled";
	case CALLS_MISSED: return "missed";
	default: return NULL;
	}
}

enum calls_role calls_role_of(const struct calls_call *call, const char *user_id)
{
	if (!call || !user_id)
		return CALLS_OUTSIDER;
	if (!strcmp(call->caller_id, user_id))
		return CALLS_CALLER;
	if (!strcmp(call->receiver_id, user_id))
		return CALLS_RECEIVER;
	return CALLS_OUTSIDER;
}

const char *calls_counterpart(const struct calls_call *call, enum calls_role role)
{
	return role == CALLS_CALLER ? call->receiver_id : call->caller_id;
}

static int refuse(struct calls_decision *out, int code, const char *why)
{
	out->code = code;
	out->why = why;
	out->changes = false;
	return code;
}

int calls_decide(const struct calls_call *call, const char *sender_id, enum frames_type t,
		 struct calls_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (!frames_is_call_type(t))
		return refuse(out, FRAMES_UNKNOWN_TYPE, "not a call frame");
	out->role = calls_role_of(call, sender_id);
	if (out->role == CALLS_OUTSIDER)
		return refuse(out, FRAMES_NOT_FOUND, "no such call");

	/* Role before state: the caller answering is forbidden whatever the state. */
	if (t == FRAMES_T_CALL_ANSWER && out->role != CALLS_RECEIVER)
		return refuse(out, FRAMES_FORBIDDEN, "only the receiver answers a call");

	if (!state_live(call->state))
		return refuse(out, FRAMES_INVALID_STATE, "the call has ended");

	switch (t) {
	case FRAMES_T_CALL_ANSWER:
		if (call->state != CALLS_RINGING)
			return refuse(out, FRAMES_INVALID_STATE, "the call was already answered");
		out->changes = true;
		out->next = CALLS_ACCEPTED;
		break;
	case FRAMES_T_CALL_END:
		out->changes = true;
		if (call->state == CALLS_ACCEPTED)
			out->next = CALLS_ENDED;
		else
			out->next = out->role == CALLS_CALLER ? CALLS_CANCELLED : CALLS_DECLINED;
		break;
	default: /* offer (renegotiation too) and ICE: either participant, any live state */
		break;
	}
	out->code = FRAMES_OK;
	return FRAMES_OK;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void calls_apply(struct calls_call *call, const struct calls_decision *d, const char *sender_id, const char *device,
		 int64_t now_ms)
{
	if (d->code != FRAMES_OK || !d->changes)
		return;
	call->state = d->next;
	if (d->next == CALLS_ACCEPTED) {
		call->answered_at = now_ms;
		copy_str(call->answered_device, sizeof(call->answered_device), device);
		return;
	}
	const char *reason = calls_end_reason(d->next);
	if (reason) {
		call->ended_at = now_ms;
		copy_str(call->end_reason, sizeof(call->end_reason), reason);
		copy_str(call->ended_by, sizeof(call->ended_by), sender_id);
	}
}

int calls_expire(struct calls_call *call, int64_t now_ms)
{
	if (call->state != CALLS_RINGING)
		return -1;
	struct calls_decision d = {.code = FRAMES_OK, .changes = true, .next = CALLS_MISSED};
	calls_apply(call, &d, NULL, NULL, now_ms);
	return 0;
}

int64_t calls_watch_deadline(const struct calls_call *c, const struct calls_limits *lim, enum calls_cause *cause,
			     enum calls_role *who)
{
	int64_t best = 0;
	enum calls_cause best_cause = CALLS_CAUSE_NONE;
	enum calls_role best_who = CALLS_OUTSIDER;
	if (c->state == CALLS_ACCEPTED) {
		const struct {
			int64_t at;
			enum calls_cause cause;
			enum calls_role who;
		} cand[] = {
			{lim->presence_grace_ms > 0 && c->caller_absent_since ? c->caller_absent_since + lim->presence_grace_ms
									       : 0,
			 CALLS_CAUSE_PRESENCE_LOST, CALLS_CALLER},
			{lim->presence_grace_ms > 0 && c->receiver_absent_since
				 ? c->receiver_absent_since + lim->presence_grace_ms
				 : 0,
			 CALLS_CAUSE_PRESENCE_LOST, CALLS_RECEIVER},
			{lim->max_call_ms > 0 && c->answered_at ? c->answered_at + lim->max_call_ms : 0,
			 CALLS_CAUSE_MAX_DURATION, CALLS_OUTSIDER},
		};
		for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
			if (cand[i].at && (!best || cand[i].at < best)) {
				best = cand[i].at;
				best_cause = cand[i].cause;
				best_who = cand[i].who;
			}
	}
	if (cause)
		*cause = best_cause;
	if (who)
		*who = best_who;
	return best;
}

enum calls_cause calls_watch_end(struct calls_call *c, const struct calls_limits *lim, int64_t now_ms)
{
	enum calls_cause cause;
	enum calls_role who;
	int64_t at = calls_watch_deadline(c, lim, &cause, &who);
	if (!at || at > now_ms)
		return CALLS_CAUSE_NONE;
	struct calls_decision d = {.code = FRAMES_OK, .changes = true, .next = CALLS_ENDED};
	calls_apply(c, &d, who == CALLS_OUTSIDER ? NULL : who == CALLS_CALLER ? c->caller_id : c->receiver_id, NULL,
		    now_ms);
	return cause;
}

const char *calls_cause_name(enum calls_cause cause)
{
	switch (cause) {
	case CALLS_CAUSE_PRESENCE_LOST: return "presence_lost";
	case CALLS_CAUSE_MAX_DURATION: return "max_duration";
	default: return NULL;
	}
}

static json_t *time_or_null(int64_t ms)
{
	if (!ms)
		return json_null();
	char iso[CLOCK_ISO_LEN + 1];
	clock_iso8601(ms, iso);
	return json_string(iso);
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

json_t *calls_to_json(const struct calls_call *c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
			 "call_id", c->id, "caller_id", c->caller_id, "caller_username", c->caller_username,
			 "receiver_id", c->receiver_id, "call_type", c->call_type, "conversation_id",
			 c->conversation_id, "status", calls_state_name(c->state), "created_at",
			 time_or_null(c->created_at), "answered_at", time_or_null(c->answered_at), "ended_at",
			 time_or_null(c->ended_at), "end_reason", str_or_null(c->end_reason), "ended_by",
			 str_or_null(c->ended_by));
}
