/* broker: the bridge's single MQTT connection inside the libwebsockets loop.
 * The link connects without blocking; its socket is dup()ed and adopted as a
 * raw descriptor at once (writable completes the connect), and readable and
 * writable events drive libmosquitto. An lws_sul tick runs its keep-alive
 * and gives up an attempt without CONNACK. After a failure (on_down, once
 * per socket, or an attempt that failed at once) a timerfd in the loop
 * brings the next attempt when the link's back-off says. Messages from the
 * broker are dispatched to sockets (sessions.c), to pending requests
 * (requests.c) or to one device (error replies). */
#ifndef RINGMQ_BROKER_H
#define RINGMQ_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "edge.h"

int broker_start(struct edge *e);
void broker_stop(struct edge *e);
bool broker_up(const struct edge *e);
/* Publishes and makes sure the bytes get written. 0 or -1 (down). */
int broker_publish(struct edge *e, const char *topic, const void *payload, size_t len, const struct mqtt_pub *opt);
int broker_subscribe(struct edge *e, const char *topic, int *mid);
int broker_unsubscribe(struct edge *e, const char *topic);

#endif
