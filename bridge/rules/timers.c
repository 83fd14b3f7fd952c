/* timers: ring time-outs out of the calls table. */
#include "timers.h"

#include "log.h"

int timers_wait_ms(struct store *st, int64_t now_ms, int cap_ms)
{
	int64_t deadline;
	if (store_next_deadline(st, &deadline) != 1)
		return cap_ms;
	int64_t wait = deadline - now_ms;
	if (wait < 0)
		return 0;
	return wait < cap_ms ? (int)wait : cap_ms;
}

int timers_expire_one(struct store *st, int64_t now_ms, struct router_out *out)
{
	struct calls_call call;
	int rc = store_call_overdue(st, now_ms, &call);
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	if (calls_expire(&call, now_ms) < 0 || store_call_update(st, &call) != STORE_OK)
		return -1;
	log_info("call %s %s→%s ended missed (no answer within the ring time)", call.id, call.caller_id,
		 call.receiver_id);
	router_missed(&call, out);
	return 1;
}
