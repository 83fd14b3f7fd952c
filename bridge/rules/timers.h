/* timers: ring time-outs and the watch of accepted calls. The deadline of
 * every ringing call is a column of the calls table (store.c), and so are
 * the absences of accepted calls' participants and their answer times: the
 * truth stays in SQLite. The loop keeps only the next deadline of each kind
 * in memory (struct timers_next, never later than the true one): a ringing
 * call inserted lowers it, an accepted call written (answered, absences
 * changed: store_take_changes) makes the watch's unknown; it is asked of the
 * store again only then, or when it fires. When one fires, the loop ends
 * the overdue calls (ringing ones as missed; accepted ones whose
 * participant has had no presence for the grace, or that are longer than
 * the longest call, as hung up: calls_watch_end). A restart of rules
 * re-arms from the store (everything starts unknown), and an overdue call
 * ends once (its state changes in the same step). */
#ifndef RINGMQ_TIMERS_H
#define RINGMQ_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "router.h"
#include "store.h"

/* Ends the earliest overdue ringing call as missed (stored) and appends
 * its call.end to both parties to out. Returns 1 when a call was ended, 0
 * when none is overdue, -1 on a store failure (logged). Call it until it
 * returns 0, publishing out each time. */
int timers_expire_one(struct store *st, int64_t now_ms, struct router_out *out);

/* Ends the accepted call whose watch deadline came first, when it is due
 * at now_ms: stored as ended (hangup), logged with the call, the users and
 * the cause, its call.end to both parties appended to out. Returns 1 when
 * a call was ended, 0 when none is due, -1 on a store failure (logged).
 * Call it until it returns 0, publishing out each time. */
int timers_watch_one(struct store *st, const struct calls_limits *lim, int64_t now_ms, struct router_out *out);

/* The next deadlines as the loop knows them: wall ms, 0 = none,
 * TIMERS_UNKNOWN = ask the store (timers_next_refresh). Never later than
 * the store's own earliest deadline; it may be earlier (a call that ended
 * since), which only costs a look at the store when it fires. */
#define TIMERS_UNKNOWN (-1)
struct timers_next {
	int64_t ring_at;  /* the earliest ring deadline */
	int64_t watch_at; /* the earliest watch deadline (calls_watch_deadline) */
};

/* Both unknown: the first turn asks the store. Pure. */
void timers_next_init(struct timers_next *t);
/* Takes in what store_take_changes() reported: a ringing call inserted
 * with deadline ring_added (0: none) lowers ring_at; watch_changed makes
 * watch_at unknown. Pure. */
void timers_next_note(struct timers_next *t, int64_t ring_added, bool watch_changed);
/* True when the ring (watch) deadline is unknown or due at now_ms. Pure. */
bool timers_next_ring_due(const struct timers_next *t, int64_t now_ms);
bool timers_next_watch_due(const struct timers_next *t, int64_t now_ms);
/* Milliseconds the loop may sleep: until the ring deadline or the watch
 * deadline (not before watch_from, when the watch may end calls),
 * clamped to 0..cap_ms; 0 while either is unknown. Pure. */
int timers_next_wait_ms(const struct timers_next *t, int64_t now_ms, int64_t watch_from, int cap_ms);
/* Asks the store for each unknown deadline. 0, or -1 on a store failure
 * (logged; that one stays unknown). */
int timers_next_refresh(struct timers_next *t, struct store *st, const struct calls_limits *lim);

#endif
