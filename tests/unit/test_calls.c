/* test_calls: the call state machine, table-driven over every state, frame
 * type and role, plus calls_apply / calls_expire / calls_to_json. */
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "check.h"

static struct calls_call make_call(enum calls_state s)
{
	struct calls_call c;
	memset(&c, 0, sizeof(c));
	strcpy(c.id, "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f");
	strcpy(c.caller_id, "alice");
	strcpy(c.caller_username, "Alice");
	strcpy(c.receiver_id, "bob");
	strcpy(c.call_type, "video");
	strcpy(c.conversation_id, "c1");
	c.state = s;
	c.created_at = 1000;
	c.ring_deadline = 46000;
	return c;
}

static const char *const sender_of[] = {[CALLS_OUTSIDER] = "eve", [CALLS_CALLER] = "alice", [CALLS_RECEIVER] = "bob"};

struct row {
	enum calls_state state;
	enum frames_type type;
	enum calls_role role;
	int code;
	int next; /* -1: no change */
};

/* Live states: every frame from every role, spelled out. */
static const struct row live[] = {
	{CALLS_RINGING, FRAMES_T_CALL_OFFER, CALLS_CALLER, FRAMES_OK, -1},
	{CALLS_RINGING, FRAMES_T_CALL_OFFER, CALLS_RECEIVER, FRAMES_OK, -1},
	{CALLS_RINGING, FRAMES_T_CALL_OFFER, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_RINGING, FRAMES_T_CALL_ANSWER, CALLS_CALLER, FRAMES_FORBIDDEN, -1},
	{CALLS_RINGING, FRAMES_T_CALL_ANSWER, CALLS_RECEIVER, FRAMES_OK, CALLS_ACCEPTED},
	{CALLS_RINGING, FRAMES_T_CALL_ANSWER, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_RINGING, FRAMES_T_CALL_ICE, CALLS_CALLER, FRAMES_OK, -1},
	{CALLS_RINGING, FRAMES_T_CALL_ICE, CALLS_RECEIVER, FRAMES_OK, -1},
	{CALLS_RINGING, FRAMES_T_CALL_ICE, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_RINGING, FRAMES_T_CALL_END, CALLS_CALLER, FRAMES_OK, CALLS_CANCELLED},
	{CALLS_RINGING, FRAMES_T_CALL_END, CALLS_RECEIVER, FRAMES_OK, CALLS_DECLINED},
	{CALLS_RINGING, FRAMES_T_CALL_END, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_OFFER, CALLS_CALLER, FRAMES_OK, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_OFFER, CALLS_RECEIVER, FRAMES_OK, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_OFFER, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_ANSWER, CALLS_CALLER, FRAMES_FORBIDDEN, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_ANSWER, CALLS_RECEIVER, FRAMES_INVALID_STATE, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_ANSWER, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_ICE, CALLS_CALLER, FRAMES_OK, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_ICE, CALLS_RECEIVER, FRAMES_OK, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_ICE, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
	{CALLS_ACCEPTED, FRAMES_T_CALL_END, CALLS_CALLER, FRAMES_OK, CALLS_ENDED},
	{CALLS_ACCEPTED, FRAMES_T_CALL_END, CALLS_RECEIVER, FRAMES_OK, CALLS_ENDED},
	{CALLS_ACCEPTED, FRAMES_T_CALL_END, CALLS_OUTSIDER, FRAMES_NOT_FOUND, -1},
};

static void check_row(const struct row *r)
{
	struct calls_call c = make_call(r->state);
	struct calls_decision d;
	int code = calls_decide(&c, sender_of[r->role], r->type, &d);
	if (code != r->code || d.changes != (r->next >= 0) || (r->next >= 0 && (int)d.next != r->next))
		fprintf(stderr, "row: state %s type %d role %d\n", calls_state_name(r->state), (int)r->type,
			(int)r->role);
	CHECK_EQ_INT(code, r->code);
	CHECK_EQ_INT(d.code, r->code);
	CHECK_EQ_INT(d.changes, r->next >= 0);
	if (r->next >= 0)
		CHECK_EQ_INT(d.next, r->next);
	if (r->code != FRAMES_OK)
		CHECK(d.why != NULL);
	CHECK_EQ_INT(d.role, r->role);
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		check_row(&live[i]);
	/* Ended states: nothing is allowed. Outsiders still see not_found (a
	 * call is never revealed), the caller answering is still forbidden
	 * (role before state), everything else is invalid_state. */
	static const enum calls_state ended[] = {CALLS_ENDED, CALLS_DECLINED, CALLS_CANCELLED, CALLS_MISSED};
	static const enum frames_type types[] = {FRAMES_T_CALL_OFFER, FRAMES_T_CALL_ANSWER, FRAMES_T_CALL_ICE,
						 FRAMES_T_CALL_END};
	for (size_t s = 0; s < 4; s++)
		for (size_t t = 0; t < 4; t++)
			for (int role = CALLS_OUTSIDER; role <= CALLS_RECEIVER; role++) {
				int code = FRAMES_INVALID_STATE;
				if (role == CALLS_OUTSIDER)
					code = FRAMES_NOT_FOUND;
				else if (types[t] == FRAMES_T_CALL_ANSWER && role == CALLS_CALLER)
					code = FRAMES_FORBIDDEN;
				struct row r = {ended[s], types[t], (enum calls_role)role, code, -1};
				check_row(&r);
			}
}

static void test_no_call_and_other_types(void)
{
	struct calls_decision d;
	CHECK_EQ_INT(calls_decide(NULL, "alice", FRAMES_T_CALL_OFFER, &d), FRAMES_NOT_FOUND);
	CHECK_EQ_INT(d.role, CALLS_OUTSIDER);
	struct calls_call c = make_call(CALLS_RINGING);
	CHECK_EQ_INT(calls_decide(&c, "alice", FRAMES_T_PING, &d), FRAMES_UNKNOWN_TYPE);
	CHECK_EQ_INT(calls_decide(&c, "alice", FRAMES_T_OTHER, &d), FRAMES_UNKNOWN_TYPE);
	CHECK_EQ_INT(calls_decide(&c, NULL, FRAMES_T_CALL_OFFER, &d), FRAMES_NOT_FOUND);
	/* A prefix of a participant's id is not that participant. */
	CHECK_EQ_INT(calls_decide(&c, "alic", FRAMES_T_CALL_OFFER, &d), FRAMES_NOT_FOUND);
}

static void test_apply(void)
{
	struct calls_call c = make_call(CALLS_RINGING);
	struct calls_decision d;
	calls_decide(&c, "bob", FRAMES_T_CALL_ANSWER, &d);
	calls_apply(&c, &d, "bob", "d-bob1", 5000);
	CHECK_EQ_INT(c.state, CALLS_ACCEPTED);
	CHECK_EQ_INT(c.answered_at, 5000);
	CHECK_EQ_STR(c.answered_device, "d-bob1");
	CHECK_EQ_INT(c.ended_at, 0);

	calls_decide(&c, "bob", FRAMES_T_CALL_END, &d);
	calls_apply(&c, &d, "bob", "d-bob1", 9000);
	CHECK_EQ_INT(c.state, CALLS_ENDED);
	CHECK_EQ_INT(c.ended_at, 9000);
	CHECK_EQ_STR(c.end_reason, "hangup");
	CHECK_EQ_STR(c.ended_by, "bob");

	/* A refused decision changes nothing. */
	struct calls_call before = c;
	calls_decide(&c, "bob", FRAMES_T_CALL_END, &d);
	calls_apply(&c, &d, "bob", "x", 10000);
	CHECK(!memcmp(&before, &c, sizeof(c)));

	/* Cancel, decline. */
	c = make_call(CALLS_RINGING);
	calls_decide(&c, "alice", FRAMES_T_CALL_END, &d);
	calls_apply(&c, &d, "alice", "p", 2000);
	CHECK_EQ_STR(c.end_reason, "cancelled");
	CHECK_EQ_STR(calls_state_name(c.state), "cancelled");
	CHECK_EQ_STR(c.ended_by, "alice");
	c = make_call(CALLS_RINGING);
	calls_decide(&c, "bob", FRAMES_T_CALL_END, &d);
	calls_apply(&c, &d, "bob", "p", 2000);
	CHECK_EQ_STR(c.end_reason, "declined");

	/* A long device id is cut, not overflowed. */
	char longdev[400];
	memset(longdev, 'x', sizeof(longdev) - 1);
	longdev[sizeof(longdev) - 1] = '\0';
	c = make_call(CALLS_RINGING);
	calls_decide(&c, "bob", FRAMES_T_CALL_ANSWER, &d);
	calls_apply(&c, &d, "bob", longdev, 1);
	CHECK_EQ_INT(strlen(c.answered_device), CALLS_DEVICE_MAX);
}

static void test_expire(void)
{
	struct calls_call c = make_call(CALLS_RINGING);
	CHECK_EQ_INT(calls_expire(&c, 46000), 0);
	CHECK_EQ_INT(c.state, CALLS_MISSED);
	CHECK_EQ_STR(c.end_reason, "missed");
	CHECK_EQ_STR(c.ended_by, "");
	CHECK_EQ_INT(c.ended_at, 46000);
	/* Only once. */
	CHECK_EQ_INT(calls_expire(&c, 47000), -1);
	CHECK_EQ_INT(c.ended_at, 46000);
	c = make_call(CALLS_ACCEPTED);
	CHECK_EQ_INT(calls_expire(&c, 47000), -1);
	CHECK_EQ_INT(c.state, CALLS_ACCEPTED);
}

/* The watch of accepted calls: when the service ends one by itself. */
static void test_watch(void)
{
	const struct calls_limits lim = {.presence_grace_ms = 30000, .max_call_ms = 4 * 3600 * 1000LL};
	const struct calls_limits off = {0, 0};
	enum calls_cause cause;
	enum calls_role who;

	/* Only accepted calls are watched. */
	for (int s = 0; s < CALLS_STATE_COUNT; s++) {
		struct calls_call c = make_call((enum calls_state)s);
		c.answered_at = 2000;
		c.caller_absent_since = 3000;
		int64_t at = calls_watch_deadline(&c, &lim, &cause, &who);
		CHECK_EQ_INT(at, s == CALLS_ACCEPTED ? 33000 : 0);
		if (s != CALLS_ACCEPTED) {
			CHECK_EQ_INT(calls_watch_end(&c, &lim, 1LL << 50), CALLS_CAUSE_NONE);
			CHECK_EQ_INT(c.state, s);
		}
	}

	/* Both present: the length limit alone, or nothing when it is off. */
	struct calls_call c = make_call(CALLS_ACCEPTED);
	c.answered_at = 2000;
	CHECK_EQ_INT(calls_watch_deadline(&c, &lim, &cause, &who), 2000 + 4 * 3600 * 1000LL);
	CHECK_EQ_INT(cause, CALLS_CAUSE_MAX_DURATION);
	CHECK_EQ_INT(who, CALLS_OUTSIDER);
	CHECK_EQ_INT(calls_watch_deadline(&c, &off, &cause, &who), 0);
	CHECK_EQ_INT(cause, CALLS_CAUSE_NONE);
	CHECK_EQ_INT(calls_watch_deadline(&c, &off, NULL, NULL), 0);

	/* The receiver absent: grace after the start of the absence. */
	c.receiver_absent_since = 10000;
	CHECK_EQ_INT(calls_watch_deadline(&c, &lim, &cause, &who), 40000);
	CHECK_EQ_INT(cause, CALLS_CAUSE_PRESENCE_LOST);
	CHECK_EQ_INT(who, CALLS_RECEIVER);
	/* Both absent: the longer absence first; a tie goes to the caller. */
	c.caller_absent_since = 12000;
	CHECK_EQ_INT(calls_watch_deadline(&c, &lim, &cause, &who), 40000);
	CHECK_EQ_INT(who, CALLS_RECEIVER);
	c.caller_absent_since = 10000;
	CHECK_EQ_INT(calls_watch_deadline(&c, &lim, &cause, &who), 40000);
	CHECK_EQ_INT(who, CALLS_CALLER);
	/* Grace off: absences never end a call. */
	const struct calls_limits no_grace = {.presence_grace_ms = 0, .max_call_ms = 60000};
	CHECK_EQ_INT(calls_watch_deadline(&c, &no_grace, &cause, &who), 62000);
	CHECK_EQ_INT(cause, CALLS_CAUSE_MAX_DURATION);
	/* The length limit before a later absence deadline. */
	const struct calls_limits short_max = {.presence_grace_ms = 30000, .max_call_ms = 5000};
	CHECK_EQ_INT(calls_watch_deadline(&c, &short_max, &cause, &who), 7000);
	CHECK_EQ_INT(cause, CALLS_CAUSE_MAX_DURATION);

	/* Not before the deadline; at it: ended, hangup, by the absent one; once. */
	c.caller_absent_since = 0;
	CHECK_EQ_INT(calls_watch_end(&c, &lim, 39999), CALLS_CAUSE_NONE);
	CHECK_EQ_INT(c.state, CALLS_ACCEPTED);
	CHECK_EQ_INT(c.ended_at, 0);
	CHECK_EQ_INT(calls_watch_end(&c, &lim, 40000), CALLS_CAUSE_PRESENCE_LOST);
	CHECK_EQ_INT(c.state, CALLS_ENDED);
	CHECK_EQ_STR(c.end_reason, "hangup");
	CHECK_EQ_STR(c.ended_by, "bob");
	CHECK_EQ_INT(c.ended_at, 40000);
	CHECK_EQ_INT(calls_watch_end(&c, &lim, 50000), CALLS_CAUSE_NONE);
	CHECK_EQ_INT(c.ended_at, 40000);

	/* The length limit: hangup by nobody. */
	c = make_call(CALLS_ACCEPTED);
	c.answered_at = 2000;
	CHECK_EQ_INT(calls_watch_end(&c, &short_max, 7000), CALLS_CAUSE_MAX_DURATION);
	CHECK_EQ_INT(c.state, CALLS_ENDED);
	CHECK_EQ_STR(c.end_reason, "hangup");
	CHECK_EQ_STR(c.ended_by, "");

	CHECK_EQ_STR(calls_cause_name(CALLS_CAUSE_PRESENCE_LOST), "presence_lost");
	CHECK_EQ_STR(calls_cause_name(CALLS_CAUSE_MAX_DURATION), "max_duration");
	CHECK(calls_cause_name(CALLS_CAUSE_NONE) == NULL);
}

static void test_names_and_json(void)
{
	for (int s = 0; s < CALLS_STATE_COUNT; s++)
		CHECK_EQ_INT(calls_state_parse(calls_state_name((enum calls_state)s)), s);
	CHECK_EQ_INT(calls_state_parse("nope"), -1);
	CHECK_EQ_INT(calls_state_parse(NULL), -1);
	CHECK(calls_end_reason(CALLS_RINGING) == NULL);

	struct calls_call c = make_call(CALLS_RINGING);
	json_t *j = calls_to_json(&c);
	CHECK(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "call_id")), c.id);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "status")), "ringing");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "created_at")), "1970-01-01T00:00:01.000Z");
	CHECK(json_is_null(json_object_get(j, "answered_at")));
	CHECK(json_is_null(json_object_get(j, "ended_at")));
	CHECK(json_is_null(json_object_get(j, "end_reason")));
	CHECK(json_is_null(json_object_get(j, "ended_by")));
	static const char *const keys[] = {"caller_id", "receiver_id", "call_type", "conversation_id"};
	for (size_t i = 0; i < 4; i++)
		CHECK(json_is_string(json_object_get(j, keys[i])));
	json_decref(j);
}

int main(void)
{
	test_table();
	test_no_call_and_other_types();
	test_apply();
	test_expire();
	test_watch();
	test_names_and_json();
	return check_done("test_calls");
}
