/* presence: this bridge's reports to rules of which users hold a
 * notification socket here (schemas/INTERNAL.md "Presence"): an event when
 * a user's first socket opens or last one closes, a snapshot of all of them
 * when rules asks (svc/rules/hello) or the link comes back, and an empty
 * snapshot as the link's will and at shutdown. */
#ifndef RINGMQ_EDGE_PRESENCE_H
#define RINGMQ_EDGE_PRESENCE_H

#include <stdbool.h>

#include "broker.h"
#include "subs.h"

#define PRESENCE_GONE "{\"snapshot\":[]}" /* the will and the goodbye */

struct presence;

/* Reports on topic (svc/presence/<bridge id>, copied) through broker, for
 * the notification topics of subs. NULL when out of memory. */
struct presence *presence_new(struct broker *broker, struct subs *subs, const char *topic);
void presence_free(struct presence *p);
/* subs' first/last hook: an event when topic is a user's notification
 * topic (others are ignored). Nothing while the link is down: the snapshot
 * after it comes back says it all. */
void presence_changed(struct presence *p, const char *topic, bool online);
/* Publishes the snapshot of every user with a notification socket here. */
void presence_snapshot(struct presence *p);
/* Publishes the empty snapshot (the bridge is going away). */
void presence_goodbye(struct presence *p);

#endif
