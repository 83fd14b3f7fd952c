/* timers: ring time-outs. The deadline of every ringing call is a column of
 * the calls table (store.c), so nothing lives in memory: the loop asks how
 * long it may sleep, and after each turn ends the overdue calls as missed.
 * A restart of rules re-arms by itself, and an overdue call ends once
 * (its state leaves "ringing" in the same step). */
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

#endif
