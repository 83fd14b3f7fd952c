/* signaling: one client frame in (from users/<uid>/outbox or
 * chats/<cid>/in), state and publishes out. Decodes and checks the frame
 * (frames.c), loads the call (store.c), asks the state machine (calls.c),
 * writes the new state, and lets the router (router.c) say who gets what;
 * while the call rings, the copies for its receiver are kept (replay.h).
 * Knows nothing of MQTT: main.c hands it the payload and properties and
 * sends what it returns. Logs every state change with the call and users,
 * and counts changes, routed and refused frames (metrics.h). */
#ifndef RINGMQ_SIGNALING_H
#define RINGMQ_SIGNALING_H

#include <stddef.h>
#include <stdint.h>

#include "router.h"
#include "store.h"

#define SIGNALING_MAX_FRAME (1024 * 1024) /* larger payloads are refused (bad_frame) unread */

/* One inbound message. Strings borrowed; only payload/len and sender_id
 * are required. */
struct signaling_msg {
	const char *payload;
	size_t len;
	const char *sender_id;       /* outbox: the <uid> of the topic; chat: the sender_id property */
	const char *sender_username; /* property; NULL: the sender id */
	const char *from_device;     /* property; NULL: the frame's device_id, else "mqtt" */
	const char *chat_id;         /* <cid> of chats/<cid>/in, NULL for an outbox */
	const char *response_topic;  /* v5 response topic, NULL when none */
	const char *corr;            /* correlation data as a string, NULL when none */
};

/* Handles m at now_ms and appends the publishes to out (an error frame to
 * the sender when the frame is refused, a pong for a ping). Returns 0, or
 * -1 when nothing could be done (logged; out may hold an "unavailable"
 * error for the sender). */
int signaling_handle(struct store *st, const struct signaling_msg *m, int64_t now_ms, struct router_out *out);

#endif
