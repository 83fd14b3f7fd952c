/* sessions: which local sockets want which broker topic. One MQTT
 * subscription per topic, however many sockets share it (counted); the
 * first socket subscribes, the last unsubscribes. A socket is told it is
 * ready (ws_ready) once the broker has acknowledged the subscription, so
 * every frame published after its connection.ack reaches it. Also the
 * bridge's presence reports to rules (INTERNAL.md "Presence"). */
#ifndef RINGMQ_SESSIONS_H
#define RINGMQ_SESSIONS_H

#include <stddef.h>

#include "edge.h"

struct ws_conn;

struct sub {
	char topic[EDGE_TOPIC_MAX];
	int refs;
	int mid;          /* pending SUBSCRIBE, 0 when none */
	bool active;      /* SUBACK received on the current connection */
	struct ws_conn *head;
};

int sessions_init(struct edge *e);
void sessions_free(struct edge *e);
/* Adds c to topic's list. Calls ws_ready(c) at once when the subscription
 * is already active, else when its SUBACK comes. 0, or -1 (no memory). */
int sessions_join(struct edge *e, struct ws_conn *c, const char *topic);
/* Removes c from its list (no-op when in none). */
void sessions_leave(struct edge *e, struct ws_conn *c);
void sessions_subscribed(struct edge *e, int mid, int granted_qos);
void sessions_link_up(struct edge *e);
void sessions_link_down(struct edge *e);
/* Sends payload to every ready socket of topic. Returns how many. */
size_t sessions_deliver(struct edge *e, const char *topic, const void *payload, size_t len);
/* Publishes {"snapshot": [...]} of users holding notification sockets here. */
void sessions_presence_snapshot(struct edge *e);

#endif
