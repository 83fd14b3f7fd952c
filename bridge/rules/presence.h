/* presence: who holds a notification socket or an MQTT session right now,
 * as the bridges and the auth plugin report it on svc/presence/<source>
 * (INTERNAL.md "Presence"). Events {"user_id", "online"} move one user;
 * {"snapshot": [...]} replaces all of a source (a dead bridge's will sends
 * an empty one). Kept in the store's TEMP table: a restarted rules asks
 * again with svc/rules/hello. Used for receiver_online, and for the
 * absences of accepted calls' participants (store_calls_presence_sync),
 * which rules ends after a grace (timers.h). The auth plugin (source
 * mqtt) also reports {"user_id", "subscribed": true, "device"} when a
 * user's MQTT session subscribes to its notification topic: that changes
 * no presence, it asks for the replay of the calls ringing for the user
 * (replay.h), which main.c publishes. */
#ifndef RINGMQ_PRESENCE_H
#define RINGMQ_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define PRESENCE_MAX_SNAPSHOT 100000 /* most users one snapshot may name */

/* Applies one presence message of source (the topic's last level) at
 * now_ms, then brings the absences of the accepted calls it concerns (an
 * event: that user's; a snapshot: all) up to date. A subscription report
 * of source mqtt sets replay_uid (IDS_MAX + 1 bytes, may be NULL; "" for
 * every other message) to the user whose MQTT devices get the replay.
 * Returns 0, or -1 for a payload that is not a presence event (logged,
 * ignored) or a store failure. */
int presence_handle(struct store *st, const char *source, const char *payload, size_t len, int64_t now_ms,
		    char *replay_uid);

#endif
