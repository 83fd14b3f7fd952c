/* inbox: what the broker delivers to this bridge, handed to whoever waits
 * for it. By topic (common/topics.h):
 *   svc/bridges/<our id>/replies  correlation "r:<n>": an answer to a
 *                                 question (ask.c); "d:<device>": an error
 *                                 frame rules decided for one socket
 *   svc/rules/hello               rules wants our presence snapshot
 *   svc/revocations/<uid>         a user's revocation rule (revoked.h)
 *   chats/<cid>/members           a conversation's members now
 *   anything else                 a frame for the topic's sockets (subs.c),
 *                                 except one meant for a single MQTT device
 *                                 (user property INBOX_FOR_DEVICE, set by
 *                                 rules), which web sockets never see. */
#ifndef RINGMQ_INBOX_H
#define RINGMQ_INBOX_H

#include <stddef.h>

#include <jansson.h>
#include <mosquitto.h>

#include "ask.h"
#include "metrics.h"
#include "presence.h"
#include "subs.h"

#define INBOX_FOR_DEVICE "for_device" /* the user property of a frame for one MQTT device */

struct inbox_cfg {
	const char *replies_topic;
	struct ask *ask;
	struct subs *subs;
	struct presence *presence;
	struct metrics *metrics;
	/* An error frame for one socket of this bridge (may be gone). */
	void (*to_socket)(void *user, const char *device_id, const void *payload, size_t len);
	/* A user's revocation rule: tokens with iat <= before are refused. */
	void (*revoked)(void *user, const char *user_id, int64_t before);
	/* Conversation cid's members now (a JSON array of ids, borrowed; empty:
	 * the conversation is gone). */
	void (*members)(void *user, const char *cid, const json_t *members);
	void *user;
};

struct inbox;

/* cfg is copied (replies_topic too). NULL when out of memory. */
struct inbox *inbox_new(const struct inbox_cfg *cfg);
void inbox_free(struct inbox *in);
/* One message from the broker (payload borrowed for the call). */
void inbox_message(struct inbox *in, const char *topic, const void *payload, size_t len,
		   const mosquitto_property *props);

#endif
