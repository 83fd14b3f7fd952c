/* topics: every MQTT topic of the system (schemas/INTERNAL.md "Topics"),
 * built and parsed in one place. Bridge, rules and the plugin name topics
 * only through this module, so a topic's shape is written once.
 *
 *   users/<uid>/notifications   server -> client frames for a user
 *   users/<uid>/outbox          client -> server frames of a user's devices
 *   chats/<cid>/in              client -> server frames of a chat socket
 *   chats/<cid>/messages        room copies for a conversation's sockets
 *   chats/<cid>/members         rules -> bridges: the members now (PUT/DELETE)
 *   svc/rules/requests          bridges' requests to rules
 *   svc/rules/hello             rules (re)connected: send your presence
 *   svc/bridges/<bid>/replies   rules' replies to one bridge
 *   svc/presence/<source>       presence events (a bridge id, or "mqtt")
 *   svc/revocations/<uid>       rules -> bridges, plugin: a user's revocation (retained)
 *   svc/in/users/<uid>          a bridge's notification-socket frames on a broker
 *                               without ringmq's plugin (--broker-acl topics)
 *
 * Pure functions, no allocation. */
#ifndef RINGMQ_TOPICS_H
#define RINGMQ_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "ids.h"

/* Longest topic this module builds: "svc/bridges/" + an id + "/replies"
 * and "users/" + an id + "/notifications" both fit. */
#define TOPICS_MAX 96

#define TOPICS_RULES_REQUESTS "svc/rules/requests"
#define TOPICS_RULES_HELLO "svc/rules/hello"
#define TOPICS_PRESENCE_MQTT "mqtt" /* the plugin's presence source */

enum topics_kind {
	TOPICS_OTHER = 0,         /* not one of ours (or a bad id) */
	TOPICS_USER_NOTIFICATIONS,
	TOPICS_USER_OUTBOX,
	TOPICS_CHAT_IN,
	TOPICS_CHAT_MESSAGES,
	TOPICS_REQUESTS,
	TOPICS_HELLO,
	TOPICS_BRIDGE_REPLIES,
	TOPICS_PRESENCE,
	TOPICS_MEMBERS,
	TOPICS_REVOCATION,
	TOPICS_SVC_OUTBOX,
	TOPICS_KIND_COUNT,
};

/* Builds the topic of kind for id (a user, conversation, bridge id or
 * presence source; ignored for TOPICS_REQUESTS and TOPICS_HELLO) into out.
 * Returns 0, or -1 when the id breaks the id rule (ids_valid), the kind has
 * no topic or out is too small (out is then ""). */
int topics_build(enum topics_kind kind, const char *id, char *out, size_t size);

/* What topic is, and its id (a user, conversation, bridge id or presence
 * source; "" for the two fixed topics) into id. An id that breaks the
 * id rule makes the topic TOPICS_OTHER. id may be NULL. */
enum topics_kind topics_parse(const char *topic, char id[IDS_MAX + 1]);

/* The subscription filter matching every topic of kind ("users/+/outbox"),
 * or NULL for a kind that has none. A static string. */
const char *topics_filter(enum topics_kind kind);

#endif
