/* timers: ring time-outs and the watch of accepted calls. The deadline of
 * every ringing call is a column of the calls table (store.c), and so are
 * the absences of accepted calls' participants and their answer times, so
 * nothing lives in memory: the loop asks how long it may sleep, and after
 * each turn ends the overdue calls (ringing ones as missed; accepted ones
 * whose participant has had no presence for the grace, or that are longer
 * than the longest call, as hung up: calls_watch_end). A restart of rules
 * re-arms by itself, and an overdue call ends once (its state changes in
 * the same step). */
#ifndef RINGMQ_TIMERS_H
#define RINGMQ_TIMERS_H

#include <stdint.h>

#include "router.h"
#include "store.h"

/* Milliseconds the loop may wait before the next ring deadline, clamped to
 * 0..cap_ms (cap_ms when nothing rings or the store fails). */
int timers_wait_ms(struct store *st, int64_t now_ms, int cap_ms);

/* Ends the earliest overdue ringing call as missed (stored) and appends
 * its call.end to both parties to out. Returns 1 when a call was ended, 0
 * when none is overdue, -1 on a store failure (logged). Call it until it
 * returns 0, publishing out each time. */
int timers_expire_one(struct store *st, int64_t now_ms, struct router_out *out);

/* Milliseconds the loop may wait before the watch deadline of an
 * accepted call (calls_watch_deadline under lim), clamped to 0..cap_ms. */
int timers_watch_wait_ms(struct store *st, const struct calls_limits *lim, int64_t now_ms, int cap_ms);

/* Ends the accepted call whose watch deadline came first, when it is due
 * at now_ms: stored as ended (hangup), logged with the call, the users and
 * the cause, its call.end to both parties appended to out. Returns 1 when
 * a call was ended, 0 when none is due, -1 on a store failure (logged).
 * Call it until it returns 0, publishing out each time. */
int timers_watch_one(struct store *st, const struct calls_limits *lim, int64_t now_ms, struct router_out *out);

#endif
