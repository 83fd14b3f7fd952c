/* replay: what a device that comes online while a call rings is sent
 * (PROTOCOL.md "Joining while a call rings"). While a call rings, rules
 * keeps in the store (store_ring_keep) the copies it routed to the
 * receiver, exactly as published, msg_id included: the call.incoming, the
 * caller's latest call.offer (each offer replaces the one kept) and the
 * caller's ICE candidates (the first REPLAY_ICE_MAX; later ones are not
 * kept). The store drops them when the call stops ringing. A new device
 * of the receiver gets them again, oldest call first, each call's
 * incoming, offer, candidates in that order:
 *   a notification socket: the bridge asks (op ringing.replay,
 *     requests.c) once the socket has its connection.ack;
 *   an MQTT session: the auth plugin reports its SUBSCRIBE to the user's
 *     notification topic on svc/presence/mqtt (presence.c), and rules
 *     publishes the frames there, marked for_device (router_replayed).
 * Devices that already have a frame drop the copy by its msg_id. */
#ifndef RINGMQ_REPLAY_H
#define RINGMQ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "calls.h"
#include "router.h"
#include "store.h"

#define REPLAY_ICE_MAX 64             /* candidates kept per ringing call; later ones are not */
#define REPLAY_MAX_BYTES (128 * 1024) /* JSON text of one replay, all calls together: the reply
				       * stays well under the broker's 256 KiB packet limit;
				       * frames past it are left out (logged) */

/* Keeps the copies among out->pub[from..] that a late device of call's
 * receiver must get: those on the receiver's notification topic of type
 * call.incoming, call.offer or call.ice_candidate (the router sends an
 * offer or candidate there only when the caller sent it). Nothing when
 * call is not ringing. 0, or -1 when the store failed (logged; the
 * frames went out all the same). */
int replay_keep(struct store *st, const struct calls_call *call, const struct router_out *out, size_t from);

/* Calls fn with each frame to replay to uid at now_ms (a new reference:
 * fn owns it) and the ring deadline of its call, in order, until
 * REPLAY_MAX_BYTES. fn must not use the store. Returns the number of
 * frames, or -1 when the store failed. */
int replay_each(struct store *st, const char *uid, int64_t now_ms,
		void (*fn)(json_t *frame, int64_t ring_deadline, void *arg), void *arg);

#endif
