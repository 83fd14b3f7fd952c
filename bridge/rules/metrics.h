/* metrics: rules' own counters, and their Prometheus text (names
 * ringmq_rules_*). Rules has no HTTP listener and one rules serves many
 * bridges, so the text travels as the answer to the request op "metrics"
 * (requests.c) and each bridge serves it at GET /metrics/rules.
 *
 * Plain integers in one process-wide instance (metrics_rules): rules has
 * one thread. The few places that change a call (requests.c initiate,
 * signaling.c, timers.c), route or refuse a frame (signaling.c) and the
 * store's writes (store.c) add to it through the functions below; the
 * render is pure (unit-tested in tests/unit/test_rules_metrics.c). The
 * loop copies the webhook sender's figures in (metrics_webhooks) when
 * webhooks are on. */
#ifndef RINGMQ_RULES_METRICS_H
#define RINGMQ_RULES_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "calls.h"
#include "frames.h"

#define METRICS_STORE_BUCKETS 8      /* store write latency buckets (metrics.c) */
#define METRICS_RULES_TEXT_MAX 16384 /* the whole text; more is cut */

struct rules_metrics {
	uint64_t calls[CALLS_STATE_COUNT];  /* transitions into each state (ringing = created) */
	uint64_t routed[FRAMES_T_AUTH_REFRESH + 1]; /* accepted client frames, by frames_type (ping: answered pong) */
	uint64_t refused[FRAMES_CODE_COUNT];        /* refused client frames, by frames_code */
	uint64_t store_write[METRICS_STORE_BUCKETS + 1]; /* cumulative buckets + count (promtext.h) */
	double store_write_sum_s;
	uint64_t store_failures;            /* statements that failed (store.c) */
	int store_ok;                       /* the last health check (health.h): 1 writable, 0 failing, -1 none yet */
	const char *instance;               /* this process, "<host>/<pid>" (ringmq_rules_active); NULL: not shown */
	struct {
		int on;                     /* --webhook-url given: the families below are rendered */
		uint64_t queued, delivered, failed, expired, overflow;
		size_t depth;               /* events waiting in the outbox */
	} hooks;
};

extern struct rules_metrics metrics_rules;

/* A call entered state (CALLS_RINGING when it was created). */
void metrics_call(struct rules_metrics *m, enum calls_state state);
/* A client frame of type t was accepted and routed. */
void metrics_routed(struct rules_metrics *m, enum frames_type t);
/* A client frame was refused with code (frames_code). */
void metrics_refused(struct rules_metrics *m, int code);
/* A store write statement or commit took us microseconds. */
void metrics_store_write(struct rules_metrics *m, int64_t us);

/* The webhook sender's totals (webhooks.h's struct webhooks_stats, passed
 * field by field so metrics stays free of webhooks.h) and the outbox's
 * depth now. */
void metrics_webhooks(struct rules_metrics *m, uint64_t queued, uint64_t delivered, uint64_t failed,
		      uint64_t expired, uint64_t overflow, size_t depth);

/* Writes the Prometheus text of m into buf (cap bytes, NUL-terminated);
 * returns its length. Every family has # HELP and # TYPE. */
size_t metrics_rules_render(const struct rules_metrics *m, char *buf, size_t cap);

#endif
