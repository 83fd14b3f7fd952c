/* router: who gets a frame. Pure (jansson only): given a client frame that
 * calls.c accepted (or a refusal, or a service event) it returns the list of
 * publishes INTERNAL.md and PROTOCOL.md ask for; main.c sends them.
 *
 * An accepted client frame is copied, stamped with sender_id,
 * sender_username, from_device and msg_id (the same msg_id on every copy),
 * and, for call.* frames, with the stored call's caller_id, caller_username,
 * receiver_id, call_type and conversation_id: whatever the client claimed
 * about those is overwritten. On every frame, chat frames included, the
 * top-level fields that name a user are the service's: caller_id and
 * user_id, when present, become the sender's id, caller_username and
 * username the sender's name; receiver_id and ended_by are removed (a call
 * frame then gets the call's). Copies go to:
 *   call.offer / call.ice_candidate -> the counterpart's notifications
 *   call.answer -> the caller's notifications, then call.accepted
 *                  {call_id, device_id} to both parties
 *   call.end    -> both parties, with the service's reason and ended_by
 *   any frame that came in on chats/<cid>/in -> chats/<cid>/messages too
 *                  (for a call frame only when the call belongs to <cid>)
 *   other types (chat sockets only) -> the room only
 * A refused frame reaches only its sender (router_to_sender). */
#ifndef RINGMQ_ROUTER_H
#define RINGMQ_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "calls.h"
#include "frames.h"

#define ROUTER_MAX_PUBS 6    /* most copies one frame makes (an answer: room, caller, 2x accepted) */
#define ROUTER_TOPIC_MAX 256 /* longest topic we publish to; longer response topics are ignored */
#define ROUTER_CORR_MAX 256  /* longest correlation data we echo */

struct router_pub {
	char topic[ROUTER_TOPIC_MAX];
	json_t *payload;         /* owned (one reference) */
	uint32_t expiry_s;       /* v5 message expiry, 0 = none */
	int corr_len;            /* -1: no correlation data */
	char corr[ROUTER_CORR_MAX];
	bool for_device;         /* an answer for one MQTT device on its user's notification
				  * topic: published with the user property "for_device",
				  * which web sockets' bridges skip */
	bool retain;             /* kept by the broker for later subscribers (revocations) */
};

struct router_out {
	struct router_pub pub[ROUTER_MAX_PUBS];
	size_t n;
};

/* Who sent a frame and where it came in. All strings borrowed. */
struct router_origin {
	const char *sender_id;       /* the authenticated user */
	const char *sender_username; /* name from the sender's token (never NULL: the id at worst) */
	const char *from_device;     /* the sending socket's or device's id */
	const char *msg_id;          /* fresh UUID for this frame */
	const char *chat_id;         /* <cid> of chats/<cid>/in; NULL for users/<uid>/outbox */
	const char *response_topic;  /* a bridge's reply topic, or NULL (an MQTT device) */
	const char *corr;            /* its correlation data, NULL when none */
	const char *device_id;       /* the frame's own device_id field, or NULL */
};

/* Starts an empty list. */
void router_out_init(struct router_out *out);
/* Drops the payloads and empties the list. */
void router_out_clear(struct router_out *out);

/* True when topic is one rules answers a socket on: svc/bridges/<bid>/replies
 * style, no wildcards, not too long. Anything else a client could have set to
 * make rules publish into someone else's topic, so it is ignored. */
bool router_reply_topic_ok(const char *topic);

/* Routes a frame f the state machine accepted. For a call frame, call is
 * the stored call after calls_apply() and d the decision; for any other
 * type both are NULL (only a chat frame gets that far). Appends to out.
 * Returns 0, or -1 on allocation failure (out holds what was done). */
int router_route(const struct router_origin *o, const struct frames_in *f, const struct calls_call *call,
		 const struct calls_decision *d, struct router_out *out);

/* Addresses payload (the reference is taken, even on failure) to the
 * sender alone: the bridge's response topic with its correlation data
 * when there is one, else users/<sender>/notifications with device_id set
 * to the refused frame's device_id. 0 or -1. */
int router_to_sender(const struct router_origin *o, json_t *payload, struct router_out *out);

/* The error frame of PROTOCOL.md for a refused frame, to its sender alone.
 * ref and call_id may be NULL. */
int router_refuse(const struct router_origin *o, int code, const char *why, const char *ref, const char *call_id,
		  struct router_out *out);

/* call.incoming {call_id, caller_id, caller_username, call_type,
 * conversation_id, receiver_id, msg_id} to the receiver, with message
 * expiry expiry_s (the ring time). msg_id (msgid.h) is the one every copy
 * carries, the replayed ones included (replay.h). */
int router_incoming(const struct calls_call *call, const char *msg_id, uint32_t expiry_s, struct router_out *out);

/* call.end {call_id, reason: "missed", ended_by: null, ...} to both
 * parties of call (already expired by calls_expire). */
int router_missed(const struct calls_call *call, struct router_out *out);

/* call.end {call_id, reason, ended_by, cause, msg_id, the call's fields}
 * to both parties of call, ended by the service itself (calls_watch_end):
 * ended_by is the vanished participant, or null for the length limit. A
 * service-made frame carries no sender stamp (no sender_id,
 * sender_username, from_device), only a fresh msg_id for de-duplication.
 * cause may be NULL. */
int router_service_end(const struct calls_call *call, const char *cause, const char *msg_id, struct router_out *out);

/* A user's revocation rule (revoked.h) for the bridges and the plugin:
 * {user_id, before} on svc/revocations/<uid>, retained. */
int router_revocation(const char *uid, int64_t before, struct router_out *out);

/* A conversation's members now, for the bridges (they close the chat
 * sockets of users no longer in it, 4403): {conversation_id, members} on
 * chats/<cid>/members; members is a JSON array of ids (reference taken),
 * empty when the conversation was deleted. */
int router_members(const char *cid, json_t *members, struct router_out *out);

/* One replayed frame (replay.h; reference taken) for the MQTT devices of
 * uid that just subscribed: on users/<uid>/notifications, marked
 * for_device (web bridges skip it: their sockets get their own replay),
 * with message expiry expiry_s (what is left of the ring). */
int router_replayed(const char *uid, json_t *frame, uint32_t expiry_s, struct router_out *out);

#endif
