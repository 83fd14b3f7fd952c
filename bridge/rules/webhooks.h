/* webhooks: events about calls to the application's backend (README.md
 * "Your backend"). Rules owns call state, so rules sends them: call.ringing
 * (a call was created), call.accepted and call.ended, each a POST of
 * {"id", "type", "created_at", "call"} to the configured URL, signed with
 * HMAC-SHA256 of "<timestamp>.<body>" (X-Ringmq-Signature: v1=<hex>).
 *
 * Durable: webhooks_new() sets the store's outbox hook (store.h), so every
 * call write queues its event in the same SQLite transaction as the call's
 * row, whichever path made it (requests.c's initiate, signaling.c's answer
 * and end, timers.c's time-outs and watch). Nothing else in rules knows of
 * webhooks. Delivery is at least once and in order per call: only the
 * oldest event of a call is ever sent, the next one once it is done. A 2xx
 * is delivered (the row goes); anything else, a refused connection or no
 * answer within WEBHOOKS_TIMEOUT_MS is retried after
 * webhooks_backoff_ms(), for WEBHOOKS_RETRY_FOR_MS at least, then dropped
 * (logged, counted). The body and its id are stored, so a retry (also
 * after a restart of rules) sends the same bytes; each attempt is signed
 * afresh with its own time.
 *
 * Never blocking the loop: transfers run on libcurl's multi interface, at
 * most WEBHOOKS_MAX_INFLIGHT at once. main.c waits in webhooks_wait(),
 * which is curl_multi_poll() over curl's sockets with the broker's socket
 * added as an extra descriptor, so one poll wakes the loop for either; the
 * broker link is then driven without waiting and webhooks_run() moves the
 * transfers on. A slow or dead endpoint only holds its own transfer slots.
 * (curl resolves a host name on a thread of its own; a numeric address
 * needs none.)
 *
 * The pure parts (event type, body, signature, back-off, URL check) are
 * unit-tested without a network (tests/unit/test_webhooks.c). */
#ifndef RINGMQ_WEBHOOKS_H
#define RINGMQ_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls.h"
#include "store.h"

#define WEBHOOKS_MAX_INFLIGHT 8                  /* concurrent transfers */
#define WEBHOOKS_TIMEOUT_MS 5000                 /* one attempt, connect to answer */
#define WEBHOOKS_RETRY_MIN_MS 1000               /* first back-off, doubling per failure ... */
#define WEBHOOKS_RETRY_MAX_MS (5 * 60 * 1000)    /* ... up to this between tries */
#define WEBHOOKS_RETRY_FOR_MS (24LL * 3600 * 1000) /* retried this long after the first failure, then dropped */
#define WEBHOOKS_OUTBOX_DEFAULT 100000           /* --webhook-outbox-max: queued events beyond are dropped */
#define WEBHOOKS_SIG_HEX_LEN 64                  /* hex HMAC-SHA256 */
#define WEBHOOKS_STORE_RETRY_MS 1000             /* after a store failure, look again this much later */

enum webhooks_type { WEBHOOKS_NONE = 0, WEBHOOKS_RINGING, WEBHOOKS_ACCEPTED, WEBHOOKS_ENDED };

/* "call.ringing", "call.accepted", "call.ended"; NULL for WEBHOOKS_NONE. */
const char *webhooks_type_name(enum webhooks_type t);
/* The event a write of c makes: a ringing call inserted -> ringing, an
 * update to accepted -> accepted, to an end state -> ended; else none. */
enum webhooks_type webhooks_type_of(const struct calls_call *c, bool inserted);
/* The body of event id (a UUID) of type t for c, compact JSON:
 * {"id", "type", "created_at" (the change's time: created, answered or
 * ended), "call": calls_to_json(c) + "receiver_online" (ringing) or
 * "duration_ms" (ended: ended_at - answered_at, null when never
 * answered)}. malloc'd (caller frees); NULL on allocation failure or for
 * WEBHOOKS_NONE. */
char *webhooks_body(const struct calls_call *c, enum webhooks_type t, bool receiver_online, const char *id);
/* out = lower-case hex HMAC-SHA256 with key over "<ts_s>.<body>". 0, or -1
 * (out empty) when OpenSSL failed. */
int webhooks_sign(const void *key, size_t key_len, int64_t ts_s, const char *body, size_t body_len,
		  char out[WEBHOOKS_SIG_HEX_LEN + 1]);
/* The wait after the n-th failed attempt (n >= 1): WEBHOOKS_RETRY_MIN_MS
 * doubling per failure, at most WEBHOOKS_RETRY_MAX_MS. */
int64_t webhooks_backoff_ms(int n);
/* True for an http:// or https:// URL with a host (case-insensitive scheme). */
bool webhooks_url_ok(const char *url);

struct webhooks_cfg {
	const char *url;     /* checked with webhooks_url_ok */
	const char *secret;  /* the signing key (borrowed: outlives the webhooks) */
	size_t secret_len;
	size_t outbox_max;   /* 0: WEBHOOKS_OUTBOX_DEFAULT */
};

/* What happened since the start (logged as it happens, and at the end). */
struct webhooks_stats {
	uint64_t queued;    /* events written to the outbox */
	uint64_t delivered; /* 2xx answers */
	uint64_t failed;    /* attempts that failed (each is retried or dropped) */
	uint64_t expired;   /* dropped after WEBHOOKS_RETRY_FOR_MS of failures */
	uint64_t overflow;  /* not queued: the outbox held outbox_max events */
};

struct webhooks;

/* A sender for cfg over st; sets st's outbox hook (so from now on call
 * writes queue events). NULL when curl could not start (logged). */
struct webhooks *webhooks_new(const struct webhooks_cfg *cfg, struct store *st);
/* Clears the hook and abandons the transfers in flight (their events stay
 * queued, to be sent again by the next run). NULL-safe. */
void webhooks_free(struct webhooks *w);

/* Moves the transfers on at now_ms: finishes those done (delivered, to
 * retry or dropped, in the store), starts the due events while slots are
 * free, and lowers *wait_ms to when the next one is due. 0, or -1 when
 * the store failed (logged; the loop goes on). */
int webhooks_run(struct webhooks *w, int64_t now_ms, int *wait_ms);
/* Waits up to timeout_ms for curl's sockets, or for fd (>= 0: readable,
 * or writable when want_write). 0, or -1 when curl's poll failed. */
int webhooks_wait(struct webhooks *w, int fd, bool want_write, int timeout_ms);

const struct webhooks_stats *webhooks_stats(const struct webhooks *w);

#endif
