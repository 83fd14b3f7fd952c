/* requests: the answers to svc/rules/requests (INTERNAL.md "Requests"):
 * ping (with the store's health, health.h), member, initiate, calls.list,
 * calls.get, conversation.put, conversation.delete, user.disconnect,
 * ringing.replay (replay.h), metrics (rules' Prometheus text, metrics.h).
 * Each request is {"op": ..., fields}; each answer an
 * HTTP status and a JSON body, which main.c sends as {"status", "body"} to
 * the request's response topic. Everything is validated again here (rules
 * trusts only the broker's ACL). Talks to the store; a successful initiate
 * also yields the call.incoming publish (with its msg_id, kept for late
 * devices: replay.h).
 *
 * Glare rule: when A initiates a call to B while a call between A and B is
 * still ringing (B's call to A, or A's own earlier one), no second call is
 * made: the answer is 409 {"error": "busy", "call_id": <the ringing call>}
 * so the client can answer (or wait for) that call instead. The older call
 * always wins; two calls between the same pair never ring at once. */
#ifndef RINGMQ_REQUESTS_H
#define RINGMQ_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "health.h"
#include "router.h"
#include "store.h"

#define REQUESTS_LIST_DEFAULT 20  /* calls.list without a limit */
#define REQUESTS_MAX_SIZE (256 * 1024) /* larger requests are refused (400) unread */

struct requests_cfg {
	int64_t ring_timeout_ms; /* a ringing call becomes missed after this */
	struct health *health;   /* ping's store check (health.h); NULL: ping answers {} */
	const char *instance;    /* this rules process, "<host>/<pid>" (ping; NULL: not said) */
	const char *store_kind;  /* "sqlite" or "postgresql" (ping) */
};

/* Answers the request in payload (len bytes) at now_ms. Always sets
 * *status and *body (a new reference; JSON null for 204); appends what
 * must be published besides the reply (call.incoming) to extra. Returns 0,
 * or -1 when the store failed (the answer is then 503). */
int requests_handle(struct store *st, const struct requests_cfg *cfg, const char *payload, size_t len,
		    int64_t now_ms, int *status, json_t **body, struct router_out *extra);

/* calls.list pages with an opaque cursor: next_before in an answer,
 * before in the next request ("<created_at_ms>_<call_id>" of the last call
 * on the page), shorter than REQUESTS_CURSOR_MAX. */
#define REQUESTS_CURSOR_MAX 64

#endif
