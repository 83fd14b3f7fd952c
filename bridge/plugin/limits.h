/* limits: what one phone connection may do over time, as pure decisions
 * (PROTOCOL.md "Revocation and per-user limits", "Live connections end with
 * their token"): the rate of its outbox (a token bucket, common/bucket.c,
 * as a bridge socket's), the count of refused frames that ends it, and the
 * end of its token. The auth plugin keeps one struct limits per login
 * (logins.h) and asks these functions on every PUBLISH and every TICK; they
 * make no mosquitto calls and read no clock (the caller passes the time). */
#ifndef RINGMQ_LIMITS_H
#define RINGMQ_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "bucket.h"

#define LIMITS_RATE 50                  /* outbox frames a second (plugin_opt_outbox_rate) */
#define LIMITS_BURST 100                /* held at most (plugin_opt_outbox_burst) */
#define LIMITS_RATE_MAX 100000          /* the largest rate or burst an option may set */
#define LIMITS_REFUSED_MAX 100          /* refused frames within the window that end the connection */
#define LIMITS_REFUSED_WINDOW_MS 10000  /* the window, opened by the first refusal */

struct limits_cfg {
	int rate;  /* frames a second, >= 1 */
	int burst; /* frames held, >= 1 */
};
#define LIMITS_CFG_DEFAULT ((struct limits_cfg){.rate = LIMITS_RATE, .burst = LIMITS_BURST})

struct limits {
	struct bucket bucket;
	int64_t refused_since_ms; /* the first refusal of the current window */
	int refused;              /* refusals in it */
	int64_t exp;              /* the token's exp; 0: it has none */
	int64_t leeway_s;
};

/* A connection that logged in at now_ms (monotonic) with a token that
 * expires at exp (seconds since the epoch; 0: no exp) under leeway_s: a
 * full bucket, no refusals. */
void limits_init(struct limits *l, const struct limits_cfg *cfg, int64_t exp, int64_t leeway_s, int64_t now_ms);

/* One outbox frame at now_ms: true when it may pass (a token taken). */
bool limits_take(struct limits *l, const struct limits_cfg *cfg, int64_t now_ms);

/* Counts one refused frame at now_ms. True when it is the
 * LIMITS_REFUSED_MAXth within LIMITS_REFUSED_WINDOW_MS of the window's first:
 * the connection is to be disconnected. */
bool limits_refused(struct limits *l, int64_t now_ms);

/* True when the token is over at now_s (wall clock, seconds since the
 * epoch): jwt_expired, the second from which jwt_check refuses it. */
bool limits_expired(const struct limits *l, int64_t now_s);

#endif
