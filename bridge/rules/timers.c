/* timers: ring time-outs and the watch of accepted calls, out of the calls table. */
#include "timers.h"

#include <inttypes.h>
#include <string.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "msgid.h"

int timers_expire_one(struct store *st, int64_t now_ms, struct router_out *out)
{
	struct calls_call call;
	int rc = store_call_overdue(st, now_ms, &call);
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	if (calls_expire(&call, now_ms) < 0 || store_call_update(st, &call) != STORE_OK)
		return -1;
	metrics_call(&metrics_rules, call.state);
	log_event(LOG_LEVEL_INFO, call.id, NULL, NULL, "call %s %s→%s ended missed (no answer within the ring time)",
		  call.id, call.caller_id, call.receiver_id);
	router_missed(&call, out);
	return 1;
}

/* 1 and the accepted call with the earliest watch deadline (*at), 0 when
 * nothing will end one, -1 on a store failure. The first call of each
 * index order holds the earliest deadline of its kind; the earliest of
 * those three is the earliest of all. */
static int watch_next(struct store *st, const struct calls_limits *lim, int64_t *at, struct calls_call *out)
{
	static const enum store_watch kinds[] = {STORE_WATCH_CALLER_ABSENT, STORE_WATCH_RECEIVER_ABSENT,
						 STORE_WATCH_ANSWERED};
	*at = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i] == STORE_WATCH_ANSWERED ? lim->max_call_ms <= 0 : lim->presence_grace_ms <= 0)
			continue;
		struct calls_call c;
		int rc = store_call_watch_first(st, kinds[i], &c);
		if (rc < 0)
			return -1;
		int64_t d = rc ? calls_watch_deadline(&c, lim, NULL, NULL) : 0;
		if (d && (!*at || d < *at)) {
			*at = d;
			*out = c;
		}
	}
	return *at != 0;
}

int timers_watch_one(struct store *st, const struct calls_limits *lim, int64_t now_ms, struct router_out *out)
{
	int64_t at;
	struct calls_call call;
	int rc = watch_next(st, lim, &at, &call);
	if (rc <= 0 || at > now_ms)
		return rc < 0 ? -1 : 0;
	enum calls_cause cause = calls_watch_end(&call, lim, now_ms);
	if (cause == CALLS_CAUSE_NONE || store_call_update(st, &call) != STORE_OK)
		return -1;
	metrics_call(&metrics_rules, call.state);
	if (cause == CALLS_CAUSE_PRESENCE_LOST) {
		int64_t absent_since = !strcmp(call.ended_by, call.caller_id) ? call.caller_absent_since
								      : call.receiver_absent_since;
		log_event(LOG_LEVEL_INFO, call.id, call.ended_by, NULL,
			  "call %s %s→%s ended hangup by %s: no notification socket or MQTT session of %s for %" PRId64
			  " ms (grace %" PRId64 " ms)",
			  call.id, call.caller_id, call.receiver_id, call.ended_by, call.ended_by, now_ms - absent_since,
			  lim->presence_grace_ms);
	} else {
		log_event(LOG_LEVEL_INFO, call.id, NULL, NULL,
			  "call %s %s→%s ended hangup by nobody: accepted for %" PRId64 " ms, the longest call is %" PRId64
			  " ms",
			  call.id, call.caller_id, call.receiver_id, now_ms - call.answered_at, lim->max_call_ms);
	}
	char msg_id[IDS_UUID_LEN + 1];
	msgid_next(msg_id);
	router_service_end(&call, calls_cause_name(cause), msg_id, out);
	return 1;
}

void timers_next_init(struct timers_next *t)
{
	t->ring_at = TIMERS_UNKNOWN;
	t->watch_at = TIMERS_UNKNOWN;
}

void timers_next_note(struct timers_next *t, int64_t ring_added, bool watch_changed)
{
	if (ring_added > 0 && t->ring_at != TIMERS_UNKNOWN && (!t->ring_at || ring_added < t->ring_at))
		t->ring_at = ring_added;
	if (watch_changed)
		t->watch_at = TIMERS_UNKNOWN;
}

static bool due(int64_t at, int64_t now_ms)
{
	return at == TIMERS_UNKNOWN || (at && at <= now_ms);
}

bool timers_next_ring_due(const struct timers_next *t, int64_t now_ms)
{
	return due(t->ring_at, now_ms);
}

bool timers_next_watch_due(const struct timers_next *t, int64_t now_ms)
{
	return due(t->watch_at, now_ms);
}

int timers_next_wait_ms(const struct timers_next *t, int64_t now_ms, int64_t watch_from, int cap_ms)
{
	if (t->ring_at == TIMERS_UNKNOWN || t->watch_at == TIMERS_UNKNOWN)
		return 0;
	int64_t at = t->ring_at;
	if (t->watch_at) {
		int64_t w = t->watch_at > watch_from ? t->watch_at : watch_from;
		if (!at || w < at)
			at = w;
	}
	if (!at)
		return cap_ms;
	int64_t wait = at - now_ms;
	if (wait < 0)
		return 0;
	return wait < cap_ms ? (int)wait : cap_ms;
}

int timers_next_refresh(struct timers_next *t, struct store *st, const struct calls_limits *lim)
{
	int rc = 0;
	if (t->ring_at == TIMERS_UNKNOWN) {
		int64_t at;
		int found = store_next_deadline(st, &at);
		if (found < 0)
			rc = -1;
		else
			t->ring_at = found ? at : 0;
	}
	if (t->watch_at == TIMERS_UNKNOWN) {
		int64_t at;
		struct calls_call c;
		int found = watch_next(st, lim, &at, &c);
		if (found < 0)
			rc = -1;
		else
			t->watch_at = found ? at : 0;
	}
	return rc;
}
