/* metrics: rules' counters and their text; see metrics.h. */
#include "metrics.h"

#include "promtext.h"

struct rules_metrics metrics_rules = {.store_ok = -1};

/* A SQLite write in WAL mode (synchronous=NORMAL) takes microseconds; a
 * commit that waits for the disk, milliseconds. */
static const double store_le_s[METRICS_STORE_BUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1};

/* Label values by frames_type (auth.refresh never reaches rules as a frame). */
static const char *const type_names[FRAMES_T_AUTH_REFRESH + 1] = {
	[FRAMES_T_OTHER] = "other",          [FRAMES_T_PING] = "ping",
	[FRAMES_T_CALL_OFFER] = "call.offer", [FRAMES_T_CALL_ANSWER] = "call.answer",
	[FRAMES_T_CALL_ICE] = "call.ice_candidate", [FRAMES_T_CALL_END] = "call.end",
	[FRAMES_T_AUTH_REFRESH] = "auth.refresh",
};

/* The end reason of each ended state (PROTOCOL.md call.end). */
static const struct {
	enum calls_state state;
	const char *reason;
} ends[] = {
	{CALLS_ENDED, "hangup"},
	{CALLS_DECLINED, "declined"},
	{CALLS_CANCELLED, "cancelled"},
	{CALLS_MISSED, "missed"},
};

void metrics_call(struct rules_metrics *m, enum calls_state state)
{
	if ((int)state >= 0 && state < CALLS_STATE_COUNT)
		m->calls[state]++;
}

void metrics_routed(struct rules_metrics *m, enum frames_type t)
{
	if ((int)t >= 0 && t <= FRAMES_T_AUTH_REFRESH)
		m->routed[t]++;
}

void metrics_refused(struct rules_metrics *m, int code)
{
	if (code > 0 && code < FRAMES_CODE_COUNT)
		m->refused[code]++;
}

void metrics_store_write(struct rules_metrics *m, int64_t us)
{
	promtext_observe(m->store_write, &m->store_write_sum_s, store_le_s, METRICS_STORE_BUCKETS, (double)us / 1e6);
}

size_t metrics_rules_render(const struct rules_metrics *m, char *buf, size_t cap)
{
	struct promtext o;
	promtext_init(&o, buf, cap);
	uint64_t ended = 0;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		ended += m->calls[ends[i].state];
	promtext_family(&o, "ringmq_rules_calls_total", "counter",
			"Calls that were created (began ringing), accepted, or ended (any reason) since rules started");
	promtext_put(&o, "ringmq_rules_calls_total{event=\"created\"} %llu\n", (unsigned long long)m->calls[CALLS_RINGING]);
	promtext_put(&o, "ringmq_rules_calls_total{event=\"accepted\"} %llu\n",
		     (unsigned long long)m->calls[CALLS_ACCEPTED]);
	promtext_put(&o, "ringmq_rules_calls_total{event=\"ended\"} %llu\n", (unsigned long long)ended);
	promtext_family(&o, "ringmq_rules_calls_ended_total", "counter",
			"Calls ended since rules started, by the reason of their call.end");
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		promtext_put(&o, "ringmq_rules_calls_ended_total{reason=\"%s\"} %llu\n", ends[i].reason,
			     (unsigned long long)m->calls[ends[i].state]);
	promtext_family(&o, "ringmq_rules_frames_routed_total", "counter",
			"Client frames rules accepted and routed, by type (ping: answered with pong)");
	for (int t = FRAMES_T_OTHER; t < FRAMES_T_AUTH_REFRESH; t++)
		promtext_put(&o, "ringmq_rules_frames_routed_total{type=\"%s\"} %llu\n", type_names[t],
			     (unsigned long long)m->routed[t]);
	promtext_family(&o, "ringmq_rules_frames_refused_total", "counter",
			"Client frames rules refused (an error frame to the sender alone), by code");
	for (int c = 1; c < FRAMES_CODE_COUNT; c++)
		promtext_put(&o, "ringmq_rules_frames_refused_total{code=\"%s\"} %llu\n", frames_code_name(c),
			     (unsigned long long)m->refused[c]);
	promtext_histogram(&o, "ringmq_rules_store_write_seconds",
			   "Time of each SQLite write statement and commit of rules' store", store_le_s,
			   METRICS_STORE_BUCKETS, m->store_write, m->store_write_sum_s);
	promtext_family(&o, "ringmq_rules_store_failures_total", "counter",
			"Store statements that failed (SQLite errors: full disk, I/O, read-only file system)");
	promtext_put(&o, "ringmq_rules_store_failures_total %llu\n", (unsigned long long)m->store_failures);
	promtext_family(&o, "ringmq_rules_store_healthy", "gauge",
			"1 when rules' store was writable at the last health check (ping), 0 when failing, -1 before the first");
	promtext_put(&o, "ringmq_rules_store_healthy %d\n", m->store_ok);
	if (m->instance) {
		promtext_family(&o, "ringmq_rules_active", "gauge",
				"1 for the rules process that answers (the active one: a standby is not on the broker)");
		promtext_put(&o, "ringmq_rules_active{instance=\"%s\"} 1\n", m->instance);
	}
	if (m->hooks.on) {
		promtext_family(&o, "ringmq_rules_webhook_events_total", "counter",
				"Webhook events since rules started: queued in the outbox, delivered (a 2xx), "
				"expired (dropped after a day of failures), overflow (not queued: the outbox was full)");
		const struct {
			const char *result;
			uint64_t n;
		} ev[] = {{"queued", m->hooks.queued}, {"delivered", m->hooks.delivered},
			  {"expired", m->hooks.expired}, {"overflow", m->hooks.overflow}};
		for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
			promtext_put(&o, "ringmq_rules_webhook_events_total{result=\"%s\"} %llu\n", ev[i].result,
				     (unsigned long long)ev[i].n);
		promtext_family(&o, "ringmq_rules_webhook_attempts_failed_total", "counter",
				"Webhook deliveries that failed (a status other than 2xx, a refused connection, no "
				"answer in 5 s); each is retried or, after a day, expired");
		promtext_put(&o, "ringmq_rules_webhook_attempts_failed_total %llu\n", (unsigned long long)m->hooks.failed);
		promtext_family(&o, "ringmq_rules_webhook_queue_depth", "gauge", "Webhook events waiting in the outbox");
		promtext_put(&o, "ringmq_rules_webhook_queue_depth %zu\n", m->hooks.depth);
	}
	return o.len;
}

void metrics_webhooks(struct rules_metrics *m, uint64_t queued, uint64_t delivered, uint64_t failed,
		      uint64_t expired, uint64_t overflow, size_t depth)
{
	m->hooks.on = 1;
	m->hooks.queued = queued;
	m->hooks.delivered = delivered;
	m->hooks.failed = failed;
	m->hooks.expired = expired;
	m->hooks.overflow = overflow;
	m->hooks.depth = depth;
}
