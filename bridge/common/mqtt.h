/* mqtt: the link to the broker. One libmosquitto client (MQTT v5, TCP_NODELAY)
 * driven from the caller's own loop: the caller watches mqtt_link_fd() and
 * calls the drivers below, so no thread of libmosquitto's ever runs. The
 * bridge adopts the descriptor into libwebsockets' loop (edge/broker.c);
 * rules uses mqtt_link_poll(). Connecting never blocks (a numeric host): the
 * TCP connect completes in the caller's loop, which watches for writable
 * while the queued CONNECT waits. Every failure, of an attempt or of a
 * connection that was up, takes one path: the next back-off delay is picked
 * once, logged, and kept for mqtt_link_retry_in_ms(); the link never
 * retries by itself. libmosquitto writes with write(2): callers ignore
 * SIGPIPE. With TLS (mqtt_tls.h) the handshake runs in the same drivers,
 * a failed one (certificate, host name) is a failed attempt like any other,
 * logged with OpenSSL's reason, and the readable driver reads what TLS
 * holds decrypted before it returns (no readable event would come for it). */
#ifndef RINGMQ_MQTT_H
#define RINGMQ_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "mqtt_tls.h"

/* The broker link's options, for a program's table (options.h), the same
 * in the bridge and rules: --mqtt-host (one host or a list), --mqtt-port
 * (int), the TLS ones (MQTT_TLS_OPTIONS), --mqtt-username (svc: its
 * default, a string literal) and --broker-acl. */
#define MQTT_LINK_OPTIONS(host, port, tls, username, acl, svc)                                                    \
	{"mqtt-host", OPTIONS_STR, &(host), 0, 0, "H[,H...]",                                                      \
	 "broker host, or a list host:port,host:port (connects to the\n"                                           \
	 "first that answers, fails over to the next; default 127.0.0.1)"},                                       \
	{"mqtt-port", OPTIONS_INT, &(port), 1, 65535, "N", "broker port (default 1883)"},                          \
	MQTT_TLS_OPTIONS(tls),                                                                                   \
	{"mqtt-username", OPTIONS_STR, &(username), 0, 0, "NAME",                                                  \
	 "broker login name with --service-secret-file (default " svc ")"},                                       \
	{"broker-acl", OPTIONS_STR, &(acl), 0, 0, "plugin|topics",                                                 \
	 "plugin: mosquitto with ringmq_auth.so (default); topics: a broker\n"                                     \
	 "with per-user topic rules only (lower-case ids; docs/scaling.md)"}

#define MQTT_RETRY_MIN_MS 100         /* first back-off delay, doubling per failure ... */
#define MQTT_RETRY_MAX_MS 5000        /* ... up to this */
#define MQTT_RETRY_JITTER_PCT 25      /* each delay is the step +- this much */
#define MQTT_CONNECT_TIMEOUT_MS 5000  /* TCP connect (+ TLS handshake) + CONNACK, checked by mqtt_link_on_tick */
#define MQTT_TLS_HELD_READS 8192      /* reads of what TLS holds, per readable event (a 16 KiB record of 2-byte packets) */
#define MQTT_HOSTS_MAX 8              /* brokers in one cfg->host list */
/* The Receive Maximum each link sends in its CONNECT. mosquitto 2.0 takes a
 * v5 client's Receive Maximum as its in-flight window toward that client,
 * in place of max_inflight_messages; libmosquitto's default is 20. A link
 * carries everyone's traffic (the bridge's routed frames, rules' input),
 * and what passes the window plus max_queued_messages the broker drops
 * without a word: the largest window the protocol allows (the queue
 * bounds in mosquitto.conf still apply to every client; bench/NOTES.md,
 * "Silent losses at saturation"). */
#define MQTT_RECEIVE_MAX 65535

struct mqtt_cfg {
	/* default 127.0.0.1; or a list "a:1883,b:1883" (at most MQTT_HOSTS_MAX,
	 * an entry without ":port" takes port): each attempt goes to the next
	 * broker of the list after a failure (of an attempt or of a connection
	 * that was up), with the same back-off; the first attempt to the first. */
	const char *host;
	int port;                /* default 1883 */
	const char *client_id;   /* NULL: the broker picks one */
	const char *username;    /* may be NULL */
	const char *password;    /* may be NULL */
	bool persistent;         /* clean start off, session kept session_expiry_s */
	uint32_t session_expiry_s;
	int keepalive_s;         /* default 30 */
	/* Publishes to users/<id>/... whose <id> has upper case are refused
	 * (logged): for a broker that folds user names to lower case in its
	 * topic rules (docs/scaling.md, "Ids and case"). */
	bool lower_ids;
	const char *will_topic;  /* may be NULL */
	const char *will_payload;
	struct mqtt_tls tls;     /* tls.on: TLS as mqtt_tls.h says (checked first with mqtt_tls_check) */
};

struct mqtt_cbs {
	/* CONNACK accepted: (re)subscribe here. */
	void (*on_up)(void *user, bool session_present);
	/* The socket of a mqtt_link_connect() that returned 0 is gone: the
	 * attempt failed or the connection was lost (was_up: CONNACK had come).
	 * Once per such socket; mqtt_link_retry_in_ms() says when to try again. */
	void (*on_down)(void *user, bool was_up, int reason);
	/* msg and props are the library's: copy what you keep. */
	void (*on_message)(void *user, const struct mosquitto_message *msg, const mosquitto_property *props);
	void (*on_subscribed)(void *user, int mid, int granted_qos);
};

struct mqtt_link;

/* cfg strings are copied. Returns NULL on allocation failure, or when
 * libmosquitto refuses the TLS settings (logged). */
struct mqtt_link *mqtt_link_new(const struct mqtt_cfg *cfg, const struct mqtt_cbs *cbs, void *user);
/* Disconnects cleanly if connected; NULL-safe. */
void mqtt_link_free(struct mqtt_link *l);

/* One connection attempt, without blocking: a non-blocking TCP connect
 * with CONNECT queued behind it (the name lookup of a host name still
 * blocks). 0: the socket is open (maybe still connecting); on_up follows
 * CONNACK, on_down a failure, and one that has no CONNACK within
 * MQTT_CONNECT_TIMEOUT_MS is given up by mqtt_link_on_tick. <0: failed at
 * once (logged); mqtt_link_retry_in_ms() says when to try again. */
int mqtt_link_connect(struct mqtt_link *l);
/* Ends the socket (or the attempt) now, without DISCONNECT, as a failure:
 * what says why (logged), on_down runs. Nothing when there is no socket. */
void mqtt_link_abort(struct mqtt_link *l, const char *what);
/* Sends DISCONNECT (best effort) and closes the socket. A persistent
 * session stays with the broker for session_expiry_s. */
void mqtt_link_disconnect(struct mqtt_link *l);
/* The same, and the broker drops the session now (DISCONNECT with session
 * expiry 0): for a client whose session is only worth keeping across a
 * lost connection, not across its own exit. */
void mqtt_link_end_session(struct mqtt_link *l);

int mqtt_link_fd(const struct mqtt_link *l); /* -1 when no socket */
/* Bytes are queued: watch for writable (while connecting, that is the
 * queued CONNECT: writable completes the connect). */
bool mqtt_link_want_write(const struct mqtt_link *l);
bool mqtt_link_is_up(const struct mqtt_link *l);

/* Drivers: when the descriptor is readable, writable, and about once a
 * second. 0, or <0 when the connection was lost (on_down has run). */
int mqtt_link_on_readable(struct mqtt_link *l);
int mqtt_link_on_writable(struct mqtt_link *l);
int mqtt_link_on_tick(struct mqtt_link *l);

/* Milliseconds until the next attempt is due (0: now). The delay after a
 * failure is MQTT_RETRY_MIN_MS doubling per failure to MQTT_RETRY_MAX_MS,
 * +- MQTT_RETRY_JITTER_PCT; back to the minimum once a connection comes up.
 * Changes nothing. */
int mqtt_link_retry_in_ms(const struct mqtt_link *l);

struct mqtt_pub {
	int qos;                        /* 0 or 1 */
	bool retain;
	uint32_t expiry_s;              /* v5 message expiry; 0 = none */
	const char *response_topic;     /* may be NULL */
	const void *corr;               /* correlation data, may be NULL */
	uint16_t corr_len;
	const char *const *user_props;  /* name, value, name, value, ..., NULL */
};

/* Publishes; opt NULL means QoS 1, nothing else. 0 or <0 (not connected,
 * no memory, payload too large). */
int mqtt_link_publish(struct mqtt_link *l, const char *topic, const void *payload, size_t len,
		      const struct mqtt_pub *opt);
/* Subscribes with no-local off and retain-as-published off. *mid (may be
 * NULL) names it in on_subscribed. */
int mqtt_link_subscribe(struct mqtt_link *l, const char *topic, int qos, int *mid);
int mqtt_link_unsubscribe(struct mqtt_link *l, const char *topic);
/* QoS 1 publishes of this link the broker has not acknowledged yet: in
 * flight, or still in libmosquitto's queue behind the broker's Receive
 * Maximum (which bounds only what is in flight). Counted from
 * mqtt_link_publish to PUBACK; back to 0 on a CONNACK without a session
 * (the library's queue starts anew). Changes nothing. */
unsigned mqtt_link_unacked(const struct mqtt_link *l);

/* The first user property called name, copied into buf (NUL-terminated,
 * cut to cap - 1). Returns buf, or NULL when absent. */
const char *mqtt_prop_user(const mosquitto_property *props, const char *name, char *buf, size_t cap);
/* The first user property of each of the n names, in one pass over props:
 * found[i] is bufs[i] holding its value (NUL-terminated, cut to caps[i] -
 * 1), or NULL when absent. Returns how many names were found. */
size_t mqtt_prop_users(const mosquitto_property *props, size_t n, const char *const *names, char *const *bufs,
		       const size_t *caps, const char **found);
/* Correlation data / response topic copied into buf as a string. Return the
 * length, or -1 when absent or longer than cap - 1. */
int mqtt_prop_corr(const mosquitto_property *props, char *buf, size_t cap);
int mqtt_prop_response_topic(const mosquitto_property *props, char *buf, size_t cap);

/* For programs with no other loop: waits up to timeout_ms for the socket,
 * runs the drivers, and reconnects when the back-off has passed. Returns 0,
 * or <0 when poll itself failed (EINTR is 0). */
int mqtt_link_poll(struct mqtt_link *l, int timeout_ms);
/* The same, but when the socket is readable it reads packet after packet
 * until nothing more is there or max_packets were read (a burst costs one
 * poll, not one per packet), then writes what the callbacks queued. */
int mqtt_link_poll_burst(struct mqtt_link *l, int timeout_ms, int max_packets);

#endif
