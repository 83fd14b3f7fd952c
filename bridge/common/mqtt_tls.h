/* mqtt_tls: the TLS settings of the broker link (mqtt.c), for bridge and
 * rules alike: their command-line options, the check that refuses a
 * program's start on settings that cannot work, and what they mean for
 * libmosquitto. The server's certificate is always verified (against the
 * given CA file or directory, else the system store), and so is its name
 * (the --mqtt-host, a DNS name or an IP address in the certificate's
 * subjectAltName); TLS 1.2 or later. A client certificate is optional.
 * Also what mqtt.c asks of a TLS connection: is the handshake still under
 * way, does it wait to write, are decrypted bytes held that no readable
 * event will announce. */
#ifndef RINGMQ_MQTT_TLS_H
#define RINGMQ_MQTT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>

#include "options.h"

#define MQTT_TLS_ERR_MAX 256 /* room for the message of mqtt_tls_check */

struct mqtt_tls {
	bool on;              /* --mqtt-tls; the others need it */
	const char *cafile;   /* PEM CA certificates; NULL with capath NULL: the system store */
	const char *capath;   /* a directory of hashed CA certificates (c_rehash) */
	const char *certfile; /* client certificate (PEM chain), with keyfile or not at all */
	const char *keyfile;  /* its unencrypted PEM key */
};

/* The options' entries, for a program's table (options.h): --mqtt-tls,
 * --mqtt-cafile, --mqtt-capath, --mqtt-certfile, --mqtt-keyfile, writing
 * into the struct mqtt_tls t. */
#define MQTT_TLS_OPTIONS(t)                                                                                       \
	{"mqtt-tls", OPTIONS_TRUE, &(t).on, 0, 0, NULL, "connect to the broker over TLS (server certificate and name\n" \
							 "always verified, TLS 1.2 or later)"},                           \
	{"mqtt-cafile", OPTIONS_STR, &(t).cafile, 0, 0, "F", "CA certificates (PEM) for the broker's certificate\n"      \
							     "(default: the system store)"},                         \
	{"mqtt-capath", OPTIONS_STR, &(t).capath, 0, 0, "DIR", "... or a directory of hashed CA certificates"},         \
	{"mqtt-certfile", OPTIONS_STR, &(t).certfile, 0, 0, "F", "client certificate (PEM) for the broker (optional)"},  \
	{"mqtt-keyfile", OPTIONS_STR, &(t).keyfile, 0, 0, "F", "its key (PEM, unencrypted; with --mqtt-certfile)"}

/* 0 when t can work: nothing set without on, certfile and keyfile both or
 * neither, every file readable and parsed (CA certificates, a certificate
 * with the key that matches it). Else -1 and err (cap bytes, may be cut)
 * says what, naming the option and the file. Opens the files, changes
 * nothing. */
int mqtt_tls_check(const struct mqtt_tls *t, char *err, size_t cap);

/* Makes mosq connect with TLS as t says (t->on; checked first by
 * mqtt_tls_check). libmosquitto copies the strings. 0, or a MOSQ_ERR_*. */
int mqtt_tls_apply(struct mosquitto *mosq, const struct mqtt_tls *t);

/* A TLS connection whose handshake has not finished: libmosquitto moves it
 * on only in mosquitto_loop_read (its loop_write waits for it), and it
 * waits to write only when mqtt_tls_handshake_wants_write says so. False
 * without TLS or without a socket. */
bool mqtt_tls_handshaking(struct mosquitto *mosq);
bool mqtt_tls_handshake_wants_write(struct mosquitto *mosq);

/* Decrypted bytes are held by TLS, already off the socket: no readable
 * event will come for them, so they must be read now. */
bool mqtt_tls_pending(struct mosquitto *mosq);

/* Why the broker's certificate was refused in the last handshake (OpenSSL's
 * words, static), or NULL when it was not. */
const char *mqtt_tls_verify_error(struct mosquitto *mosq);

#endif
