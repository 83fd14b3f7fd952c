/* acl: who may touch which topic on the broker, as a pure decision.
 * The auth plugin (auth_plugin.c) asks it on every login, SUBSCRIBE, PUBLISH
 * and delivery; it makes no mosquitto calls, keeps no state and does no I/O,
 * so unit tests and fuzzers drive it directly. The tables in acl.c follow
 * PROTOCOL.md "MQTT topics" (users) and schemas/INTERNAL.md "Topics"
 * (services); README.md next to this file lists them in prose. */
#ifndef RINGMQ_ACL_H
#define RINGMQ_ACL_H

#include <stdbool.h>

#define ACL_USERNAME_BRIDGE "svc:bridge"
#define ACL_USERNAME_RULES "svc:rules"

/* Who a broker login is. Users log in with their user id as username. */
enum acl_kind {
	ACL_NOBODY = 0, /* a username no one may log in with */
	ACL_USER,       /* a user (mobile app): username = user id */
	ACL_BRIDGE,     /* svc:bridge */
	ACL_RULES,      /* svc:rules */
};

enum acl_access {
	ACL_SUBSCRIBE = 1, /* a subscription filter (wildcards allowed) */
	ACL_READ,          /* delivery of a message on a concrete topic */
	ACL_WRITE,         /* a PUBLISH on a concrete topic */
	ACL_WILL,          /* a will message on a concrete topic */
	ACL_UNSUBSCRIBE,   /* always allowed: it can only shrink access */
};

/* Classifies a login name: the two service names, a user id that follows
 * the id rule (1-64 of [A-Za-z0-9_-], so no '+', '#', '/', '$' or ':'),
 * or ACL_NOBODY for anything else, NULL included. */
enum acl_kind acl_kind_of(const char *username);

/* True when a client of kind `kind` (user_id: its id, used for ACL_USER
 * only, may be NULL for services) may perform `access` on `topic` (a filter
 * for ACL_SUBSCRIBE / ACL_UNSUBSCRIBE, else a concrete topic). `retain` is
 * the PUBLISH's retain flag (WRITE / WILL only). A filter is allowed only
 * when every topic it can match is allowed: "#", "users/+/..." and
 * "users/<own id>/#" are refused to users. Topics starting with '$'
 * ($SYS, $share, $CONTROL) are refused to everyone. Users never retain and
 * never leave wills. Any NULL or empty topic is refused. */
bool acl_allows(enum acl_kind kind, const char *user_id, enum acl_access access, const char *topic, bool retain);

/* The client-id rule for users: "<user id>:<device>" where <device> follows
 * the id rule. It binds a session to its user, so no one can take over (or
 * kick) another user's or a service's session by reusing its client id. */
bool acl_client_id_ok(const char *user_id, const char *client_id);

#endif
