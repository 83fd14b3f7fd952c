/* Unit tests of timers.c: the in-memory next deadlines (pure) and how the
 * store's change reports and refresh keep them never later than the store's
 * own earliest deadline (in-memory SQLite). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "storefix.h"
#include "store.h"
#include "timers.h"

static struct calls_call make_call(int n, const char *caller, const char *receiver, int64_t created,
				   enum calls_state s)
{
	struct calls_call c;
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "00000000-0000-4000-8000-%012d", n);
	snprintf(c.caller_id, sizeof(c.caller_id), "%s", caller);
	snprintf(c.caller_username, sizeof(c.caller_username), "%s", caller);
	snprintf(c.receiver_id, sizeof(c.receiver_id), "%s", receiver);
	strcpy(c.call_type, "voice");
	strcpy(c.conversation_id, "c1");
	c.state = s;
	c.created_at = created;
	c.ring_deadline = s == CALLS_RINGING ? created + 45000 : 0;
	return c;
}

static void test_pure(void)
{
	struct timers_next t;
	timers_next_init(&t);
	/* Unknown: due at once, no sleep. */
	CHECK(timers_next_ring_due(&t, 0));
	CHECK(timers_next_watch_due(&t, 0));
	CHECK_EQ_INT(timers_next_wait_ms(&t, 1000, 0, 1000), 0);
	/* An insert while unknown keeps it unknown (the store answers). */
	timers_next_note(&t, 5000, false);
	CHECK_EQ_INT(t.ring_at, TIMERS_UNKNOWN);

	/* Nothing anywhere: sleep the cap, nothing due. */
	t.ring_at = 0;
	t.watch_at = 0;
	CHECK(!timers_next_ring_due(&t, 1000));
	CHECK(!timers_next_watch_due(&t, 1000));
	CHECK_EQ_INT(timers_next_wait_ms(&t, 1000, 0, 1000), 1000);
	timers_next_note(&t, 0, false);
	CHECK_EQ_INT(t.ring_at, 0);

	/* Inserted ringing calls lower the ring deadline, never raise it. */
	timers_next_note(&t, 46000, false);
	CHECK_EQ_INT(t.ring_at, 46000);
	timers_next_note(&t, 47000, false);
	CHECK_EQ_INT(t.ring_at, 46000);
	timers_next_note(&t, 45500, false);
	CHECK_EQ_INT(t.ring_at, 45500);
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 0, 1000), 500);
	CHECK_EQ_INT(timers_next_wait_ms(&t, 40000, 0, 1000), 1000);
	CHECK(!timers_next_ring_due(&t, 45499));
	CHECK(timers_next_ring_due(&t, 45500));
	CHECK_EQ_INT(timers_next_wait_ms(&t, 46000, 0, 1000), 0);

	/* The watch: an earlier watch deadline wins, not before watch_from. */
	t.watch_at = 45200;
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 0, 1000), 200);
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 45300, 1000), 300);
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 47000, 1000), 500); /* the ring comes first */
	t.ring_at = 0;
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 45900, 1000), 900);
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 47000, 1000), 1000);
	CHECK(timers_next_watch_due(&t, 45200));
	/* An accepted call written: the watch asks the store again. */
	timers_next_note(&t, 0, true);
	CHECK_EQ_INT(t.watch_at, TIMERS_UNKNOWN);
	CHECK(timers_next_watch_due(&t, 0));
	CHECK_EQ_INT(timers_next_wait_ms(&t, 45000, 0, 1000), 0);
}

static void test_with_store(void)
{
	struct store *st = NULL;
	CHECK_EQ_INT(storefix_open(&st), STORE_OK);
	if (!st)
		return;
	const struct calls_limits lim = {.presence_grace_ms = 30000, .max_call_ms = 3600000};
	struct timers_next t;
	int64_t ring_added = -5;
	bool watch_changed = true;
	timers_next_init(&t);

	/* An empty store: nothing rings, nothing is watched. */
	CHECK_EQ_INT(timers_next_refresh(&t, st, &lim), 0);
	CHECK_EQ_INT(t.ring_at, 0);
	CHECK_EQ_INT(t.watch_at, 0);
	store_take_changes(st, &ring_added, &watch_changed);
	CHECK_EQ_INT(ring_added, 0);
	CHECK(!watch_changed);

	/* Two ringing calls: the change report carries the earlier deadline. */
	struct calls_call a = make_call(1, "ann", "bob", 2000, CALLS_RINGING);
	struct calls_call b = make_call(2, "cid", "dan", 1000, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &a), STORE_OK);
	CHECK_EQ_INT(store_call_insert(st, &b), STORE_OK);
	store_take_changes(st, &ring_added, &watch_changed);
	CHECK_EQ_INT(ring_added, 46000);
	CHECK(!watch_changed);
	timers_next_note(&t, ring_added, watch_changed);
	CHECK_EQ_INT(t.ring_at, 46000);
	/* Reported once. */
	store_take_changes(st, &ring_added, &watch_changed);
	CHECK_EQ_INT(ring_added, 0);

	/* b is answered: its ring deadline may stay (early is safe), the watch
	 * is asked again and finds the longest-call deadline. */
	b.state = CALLS_ACCEPTED;
	b.answered_at = 3000;
	CHECK_EQ_INT(store_call_update(st, &b), STORE_OK);
	store_take_changes(st, &ring_added, &watch_changed);
	CHECK_EQ_INT(ring_added, 0);
	CHECK(watch_changed);
	timers_next_note(&t, ring_added, watch_changed);
	CHECK_EQ_INT(timers_next_refresh(&t, st, &lim), 0);
	CHECK_EQ_INT(t.ring_at, 46000);
	CHECK_EQ_INT(t.watch_at, 3000 + 3600000);

	/* The ring deadline fires early (b left ringing): the store has none
	 * overdue, and asked again it names a's deadline. */
	struct router_out out;
	router_out_init(&out);
	CHECK(timers_next_ring_due(&t, 46000));
	CHECK_EQ_INT(timers_expire_one(st, 46000, &out), 0);
	t.ring_at = TIMERS_UNKNOWN;
	CHECK_EQ_INT(timers_next_refresh(&t, st, &lim), 0);
	CHECK_EQ_INT(t.ring_at, 47000);
	/* At a's deadline it ends once; then nothing rings. */
	CHECK_EQ_INT(timers_expire_one(st, 47000, &out), 1);
	CHECK_EQ_INT((int)out.n, 2);
	router_out_clear(&out);
	CHECK_EQ_INT(timers_expire_one(st, 47000, &out), 0);
	t.ring_at = TIMERS_UNKNOWN;
	CHECK_EQ_INT(timers_next_refresh(&t, st, &lim), 0);
	CHECK_EQ_INT(t.ring_at, 0);
	store_take_changes(st, &ring_added, &watch_changed); /* a ended: no report needed */
	CHECK_EQ_INT(ring_added, 0);
	CHECK(!watch_changed);

	/* b's caller goes away: the presence sync reports a watch change, and
	 * the refreshed deadline is the absence plus the grace. */
	CHECK_EQ_INT(store_presence_set(st, "b-1", "dan", true), STORE_OK);
	int changed = 0;
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 50000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 1);
	store_take_changes(st, &ring_added, &watch_changed);
	CHECK(watch_changed);
	timers_next_note(&t, ring_added, watch_changed);
	CHECK_EQ_INT(timers_next_refresh(&t, st, &lim), 0);
	CHECK_EQ_INT(t.watch_at, 50000 + 30000);
	/* A sync that changes nothing reports nothing. */
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 51000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 0);
	store_take_changes(st, &ring_added, &watch_changed);
	CHECK(!watch_changed);
	/* Due at the deadline: ended once, then nothing is watched. */
	CHECK(!timers_next_watch_due(&t, 79999));
	CHECK(timers_next_watch_due(&t, 80000));
	CHECK_EQ_INT(timers_watch_one(st, &lim, 80000, &out), 1);
	router_out_clear(&out);
	CHECK_EQ_INT(timers_watch_one(st, &lim, 80000, &out), 0);
	t.watch_at = TIMERS_UNKNOWN;
	CHECK_EQ_INT(timers_next_refresh(&t, st, &lim), 0);
	CHECK_EQ_INT(t.watch_at, 0);
	store_close(st);
}

int main(void)
{
	storefix_say("test_timers");
	test_pure();
	test_with_store();
	return check_done("test_timers");
}
