/* broker: the bridge's one MQTT connection inside the libwebsockets loop.
 * The link connects without blocking; its socket is dup()ed and adopted as
 * a raw descriptor at once (writable completes the connect), and readable
 * and writable events drive libmosquitto. An lws_sul tick runs its
 * keep-alive and gives up an attempt without CONNACK. After a failure (the
 * link's on_down, once per socket, or an attempt that failed at once) a
 * timerfd in the loop brings the next attempt when the link's back-off
 * says. broker knows MQTT, not what topics mean: what arrives goes up
 * through struct broker_cbs (main.c wires it to the inbox). */
#ifndef RINGMQ_BROKER_H
#define RINGMQ_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "metrics.h"
#include "mqtt.h"

#define BROKER_PROTOCOL "ringmq-broker" /* the lws protocol of the adopted descriptors */

struct broker;

struct broker_cbs {
	/* CONNACK accepted: subscribe here (a session the broker kept or not). */
	void (*on_up)(void *user);
	/* The connection that was up is gone (a retry is scheduled). */
	void (*on_down)(void *user);
	/* topic, payload and props are the library's: copy what you keep. */
	void (*on_message)(void *user, const char *topic, const void *payload, size_t len,
			   const mosquitto_property *props);
	void (*on_subscribed)(void *user, int mid, int granted_qos);
};

/* A link with cfg (copied by the link) in ctx/vh's loop, counting into
 * metrics (published frames, reconnects). Not connected: broker_start.
 * NULL on failure (logged). */
struct broker *broker_new(struct lws_context *ctx, struct lws_vhost *vh, const struct mqtt_cfg *cfg,
			  const struct broker_cbs *cbs, void *user, struct metrics *metrics);
/* Ends the session and frees (NULL-safe). */
void broker_free(struct broker *b);
/* First attempt now, then retries with back-off. 0 or -1 (logged). */
int broker_start(struct broker *b);
/* No more attempts or callbacks; a last publish may still be flushed by
 * broker_free. */
void broker_stop(struct broker *b);
bool broker_up(const struct broker *b);
/* Publishes the broker has not acknowledged yet (mqtt_link_unacked). */
unsigned broker_unacked(const struct broker *b);
/* Publishes and makes sure the bytes get written. 0 or -1 (down). */
int broker_publish(struct broker *b, const char *topic, const void *payload, size_t len, const struct mqtt_pub *opt);
int broker_subscribe(struct broker *b, const char *topic, int *mid);
int broker_unsubscribe(struct broker *b, const char *topic);

/* The lws protocol callback of BROKER_PROTOCOL. */
int broker_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
