/* calls: the call record and its state machine (PROTOCOL.md "Call
 * lifecycle" and "Routing rule"). Pure: no I/O, no clock. Given the stored
 * call, who sent a frame and the frame's type, calls_decide() answers with
 * an error code (checked in the "Fine print" order: call exists and the
 * sender is in it -> role -> state) or the state the call moves to;
 * calls_apply() writes that decision into the record. The store keeps the
 * record, the router turns the decision into publishes.
 *
 *   ringing --answer by receiver--> accepted --end by either--> ended (hangup)
 *   ringing --end by receiver--> declined
 *   ringing --end by caller----> cancelled
 *   ringing --ring time-out----> missed
 *   accepted --a participant without presence for the grace----> ended
 *   accepted --longer than the longest call allowed------------> ended
 *
 * The last two are the watch of accepted calls: calls_watch_deadline()
 * says when the service must end a call by itself, calls_watch_end() ends
 * it (reason hangup; ended_by the absent participant, none for the length
 * limit). The absences themselves (when a participant's last notification
 * socket or MQTT session went) are columns the store keeps up to date.
 */
#ifndef RINGMQ_CALLS_H
#define RINGMQ_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "frames.h"
#include "ids.h"
#include "jwt.h"

#define CALLS_DEVICE_MAX 128  /* longest device id kept (longer ones are cut) */
#define CALLS_TYPE_MAX 8      /* "voice" / "video" */
#define CALLS_REASON_MAX 16   /* "cancelled" is the longest */

enum calls_state {
	CALLS_RINGING = 0,
	CALLS_ACCEPTED,
	CALLS_ENDED,     /* hung up after being accepted */
	CALLS_DECLINED,
	CALLS_CANCELLED,
	CALLS_MISSED,
	CALLS_STATE_COUNT
};

enum calls_role { CALLS_OUTSIDER = 0, CALLS_CALLER, CALLS_RECEIVER };

/* One call as the store keeps it. Times are ms since the epoch, 0 = none;
 * empty strings stand for SQL NULL. */
struct calls_call {
	char id[IDS_UUID_LEN + 1];
	char caller_id[IDS_MAX + 1];
	char caller_username[JWT_USERNAME_MAX + 1];
	char receiver_id[IDS_MAX + 1];
	char call_type[CALLS_TYPE_MAX];
	char conversation_id[IDS_MAX + 1];
	enum calls_state state;
	int64_t created_at;
	int64_t answered_at;
	int64_t ended_at;
	char end_reason[CALLS_REASON_MAX];
	char ended_by[IDS_MAX + 1];
	int64_t ring_deadline;
	char answered_device[CALLS_DEVICE_MAX + 1];
	int64_t caller_absent_since;   /* accepted calls: the caller has had no presence since; 0 = present */
	int64_t receiver_absent_since; /* the same for the receiver */
};

/* When the service ends an accepted call by itself. 0 turns either off. */
struct calls_limits {
	int64_t presence_grace_ms; /* a participant without presence this long: ended */
	int64_t max_call_ms;       /* accepted longer than this: ended */
};

enum calls_cause {
	CALLS_CAUSE_NONE = 0,
	CALLS_CAUSE_PRESENCE_LOST, /* ended_by the participant who vanished */
	CALLS_CAUSE_MAX_DURATION,  /* ended_by nobody */
};

struct calls_decision {
	int code;               /* FRAMES_OK, FRAMES_NOT_FOUND, FRAMES_FORBIDDEN or FRAMES_INVALID_STATE */
	const char *why;        /* static English reason when code != FRAMES_OK */
	enum calls_role role;   /* the sender's role (CALLS_OUTSIDER when not found) */
	bool changes;           /* the frame moves the call to `next` */
	enum calls_state next;  /* valid when changes */
};

/* "ringing", "accepted", "ended", "declined", "cancelled", "missed". */
const char *calls_state_name(enum calls_state s);
/* The inverse; -1 for an unknown name. */
int calls_state_parse(const char *name);
/* "hangup", "declined", "cancelled", "missed" for an end state; NULL otherwise. */
const char *calls_end_reason(enum calls_state s);

/* The role of user_id in call (NULL-safe: no call, no role). */
enum calls_role calls_role_of(const struct calls_call *call, const char *user_id);
/* The other participant of call, seen from a participant's role. */
const char *calls_counterpart(const struct calls_call *call, enum calls_role role);

/* Decides what a call frame of type t from sender_id does to call (NULL
 * when no such call exists). Always fills *out; returns out->code. A type
 * that is not a call frame is FRAMES_UNKNOWN_TYPE. */
int calls_decide(const struct calls_call *call, const char *sender_id, enum frames_type t,
		 struct calls_decision *out);

/* Writes an accepted decision (code FRAMES_OK, changes) into call: the new
 * state, answered_at/answered_device on answer, ended_at/end_reason/ended_by
 * on an end. sender_id and device may be NULL (a time-out). */
void calls_apply(struct calls_call *call, const struct calls_decision *d, const char *sender_id, const char *device,
		 int64_t now_ms);

/* Ends a ringing call as missed at now_ms (ended_by none). Returns 0, or -1
 * (and leaves the call alone) when it is not ringing. */
int calls_expire(struct calls_call *call, int64_t now_ms);

/* The time (ms) at which the service must end call c by itself: the
 * earliest of absent_since + grace of each absent participant and
 * answered_at + max_call_ms. 0 when c is not accepted or nothing will end
 * it. *cause and *who (the absent participant's role; CALLS_OUTSIDER for
 * the length limit) say why; either may be NULL. Ties go to the caller's
 * absence, then the receiver's, then the length limit. */
int64_t calls_watch_deadline(const struct calls_call *c, const struct calls_limits *lim, enum calls_cause *cause,
			     enum calls_role *who);

/* Ends c at now_ms if its watch deadline has come: state ended, reason
 * hangup, ended_at now_ms, ended_by the absent participant (empty for the
 * length limit). Returns the cause, or CALLS_CAUSE_NONE (c untouched) when
 * nothing is due. */
enum calls_cause calls_watch_end(struct calls_call *c, const struct calls_limits *lim, int64_t now_ms);

/* "presence_lost", "max_duration"; NULL for CALLS_CAUSE_NONE. */
const char *calls_cause_name(enum calls_cause cause);

/* The call as history shows it (PROTOCOL.md "GET /calls/"): call_id,
 * caller_id, caller_username, receiver_id, call_type, conversation_id,
 * status, created_at, answered_at, ended_at, end_reason, ended_by (times ISO
 * 8601 or null). Returns a new reference, NULL on allocation failure. */
json_t *calls_to_json(const struct calls_call *call);

#endif
