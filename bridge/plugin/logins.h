/* logins: the users' live MQTT connections the auth plugin knows of.
 * One entry per connected user client (keyed by the broker's client pointer,
 * only ever compared, never dereferenced), holding the user id, the name from
 * the token and the client id; and per user a count of live connections,
 * whose 0->1 and 1->0 steps are the presence events of INTERNAL.md
 * "Presence". Each entry also carries the connection's limits (limits.h:
 * outbox rate, refusals, the token's end) and whether it is to be, or has
 * been, disconnected. Pure data structure: no mosquitto calls, no I/O. */
#ifndef RINGMQ_LOGINS_H
#define RINGMQ_LOGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "jwt.h"
#include "limits.h"

#define LOGINS_CLIENT_ID_MAX 160 /* "<id>:<device>" is at most 129 */

struct login {
	const void *client;                        /* the broker's struct mosquitto * */
	char user_id[IDS_MAX + 1];
	char username[JWT_USERNAME_MAX + 1];       /* the token's name */
	char client_id[LOGINS_CLIENT_ID_MAX + 1];
	bool superseded; /* a newer login took this client id: the old connection is on its way out */
	bool client_id_cut; /* the client id was longer than LOGINS_CLIENT_ID_MAX */
	struct limits limits; /* zeroed by logins_add: the caller sets them (limits_init) */
	int64_t iat;     /* the token's iat (0: none), for revocations; the caller sets it */
	bool kick;       /* to be disconnected (too many refused frames, revoked) at the next TICK */
	bool revoked;    /* ... because its user's revocation refuses its token */
	bool kicked;     /* disconnected by the plugin: its DISCONNECT event is on the way */
	struct login *next;
};

struct logins;

struct logins *logins_new(void);
/* NULL-safe. Frees every entry. */
void logins_free(struct logins *s);

/* Records a user's new connection. Strings are copied (client_id cut at
 * LOGINS_CLIENT_ID_MAX). A live entry of another client with the same
 * client id is marked superseded. An entry already held for `client` (a
 * disconnect we missed) is refreshed when it is the same user's (limits
 * and kick flags cleared), else dropped without a presence event.
 * Returns 1 when the user went from 0 to 1 live connections, 0 when it
 * already had some, -1 when out of memory or user_id breaks the id rule
 * (nothing added). */
int logins_add(struct logins *s, const void *client, const char *user_id, const char *username,
		 const char *client_id);

/* Forgets `client`. Returns 1 when its user went from 1 to 0 live
 * connections (user_id_out, IDS_MAX + 1 bytes, names the user), 0 when the
 * user still has others or `client` was unknown. user_id_out may be NULL. */
int logins_remove(struct logins *s, const void *client, char *user_id_out);

/* The entry of `client`, or NULL. Borrowed: valid until the next add/remove. */
const struct login *logins_find(const struct logins *s, const void *client);

/* The entry of `client` to change (limits, kick flags), or NULL. Borrowed
 * like logins_find's. */
struct login *logins_get(struct logins *s, const void *client);

/* Calls fn(entry, arg) once per entry. fn may change the entry's limits
 * and kick flags, must not add or remove. */
void logins_each(struct logins *s, void (*fn)(struct login *l, void *arg), void *arg);

/* Number of users with at least one live connection. */
size_t logins_users(const struct logins *s);

/* Calls fn(user_id, arg) once per user with a live connection. fn must not
 * add or remove. */
void logins_each_user(const struct logins *s, void (*fn)(const char *user_id, void *arg), void *arg);

#endif
