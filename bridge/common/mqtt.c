/* mqtt: one libmosquitto client per process, driven by the caller's loop. */
#include "mqtt.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include "clock.h"
#include "ids.h"
#include "log.h"

struct mqtt_link {
	struct mosquitto *mosq;
	struct mqtt_cbs cbs;
	void *user;
	char *client_id, *username, *password, *will_topic, *will_payload;
	char *hosts[MQTT_HOSTS_MAX]; /* the brokers of cfg->host, tried in turn */
	int ports[MQTT_HOSTS_MAX];
	int nhosts, cur;             /* cur: the one of this (or the next) attempt */
	int keepalive_s;
	bool persistent, lower_ids;
	bool tls;           /* cfg->tls.on */
	uint32_t session_expiry_s;
	bool up;            /* CONNACK accepted, not lost since */
	unsigned unacked;   /* QoS 1 publishes without PUBACK (mqtt_link_unacked) */
	bool sock_open;     /* a socket exists (maybe still connecting, maybe before CONNACK) */
	int backoff_ms;     /* the step of the next back-off delay */
	int64_t retry_at;   /* monotonic ms of the next attempt */
	int64_t connect_by; /* monotonic ms: no CONNACK by then and the attempt is given up */
	char why[128];      /* why the library is closing the socket, when we know better than its code */
	char lib_err[192];  /* what libmosquitto logged as errors during this attempt (its TLS failures) */
	char tls_why[320];  /* a TLS failure's reason, made of lib_err and the verify result */
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

#define HOST(l) ((l)->hosts[(l)->cur])
#define PORT(l) ((l)->ports[(l)->cur])

/* "a:1883,b,c:1884" into l->hosts / l->ports (an entry without ":port", or
 * an IPv6 literal, takes default_port). 0, or -1 (logged). */
static int hosts_parse(struct mqtt_link *l, const char *list, int default_port)
{
	const char *p = list;
	for (;;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == 0 || l->nhosts == MQTT_HOSTS_MAX)
			goto bad;
		char *h = strndup(p, n);
		if (!h)
			goto bad;
		int port = default_port;
		char *colon = strchr(h, ':');
		if (colon && !strchr(colon + 1, ':')) {
			char *end;
			long v = strtol(colon + 1, &end, 10);
			if (colon == h || *end || end == colon + 1 || v < 1 || v > 65535) {
				free(h);
				goto bad;
			}
			*colon = '\0';
			port = (int)v;
		}
		l->hosts[l->nhosts] = h;
		l->ports[l->nhosts++] = port;
		p += strcspn(p, ",");
		if (!*p)
			return 0;
		p++;
	}
bad:
	log_error("%s: broker list \"%s\": want host[:port][,host[:port]...], at most %d", __func__, list,
		  MQTT_HOSTS_MAX);
	return -1;
}

/* What a libmosquitto result means; err is errno right after the call.
 * With TLS, what libmosquitto logged of OpenSSL's reason (a handshake that
 * failed, an alert read later: a client certificate refused) and, when the
 * broker's certificate was refused, why. */
static const char *describe(struct mqtt_link *l, int rc, int err)
{
	const char *base = rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc);
	if (!l->lib_err[0])
		return base;
	const char *verify = mqtt_tls_verify_error(l->mosq);
	if (rc == MOSQ_ERR_TLS)
		snprintf(l->tls_why, sizeof(l->tls_why), "TLS: %s%s%s%s", l->lib_err, verify ? " (" : "",
			 verify ? verify : "", verify ? ")" : "");
	else
		snprintf(l->tls_why, sizeof(l->tls_why), "%s (TLS: %s)", base, l->lib_err);
	return l->tls_why;
}

/* libmosquitto's own log: its errors (OpenSSL's, of a TLS handshake) are
 * kept for describe(), each once, without their prefixes. */
static void cb_log(struct mosquitto *m, void *obj, int level, const char *line)
{
	struct mqtt_link *l = obj;
	if (level != MOSQ_LOG_ERR || !l->tls)
		return;
	const char *prefixes[] = {"Error: ", "OpenSSL Error"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(line, prefixes[i], strlen(prefixes[i])))
			line += strlen(prefixes[i]);
	if (line[0] == '[' && strstr(line, "]: "))
		line = strstr(line, "]: ") + 3;
	char one[sizeof(l->lib_err)];
	size_t n = (size_t)snprintf(one, sizeof(one), "%s", line), used = strlen(l->lib_err);
	for (n = n < sizeof(one) ? n : sizeof(one) - 1; n && (one[n - 1] == '.' || one[n - 1] == '\n');)
		one[--n] = '\0';
	if (n && !strstr(l->lib_err, one))
		snprintf(l->lib_err + used, sizeof(l->lib_err) - used, "%s%s", used ? "; " : "", one);
}

/* The delay before the next attempt, and the back-off one step on. Only
 * link_failed calls it: once per failure. */
static int backoff_next(struct mqtt_link *l)
{
	int step = l->backoff_ms;
	l->backoff_ms = step * 2 > MQTT_RETRY_MAX_MS ? MQTT_RETRY_MAX_MS : step * 2;
	unsigned char r = UINT8_MAX / 2;
	RAND_bytes(&r, 1);
	long spread = (long)step * 2 * MQTT_RETRY_JITTER_PCT / 100;
	return (int)((long)step - spread / 2 + spread * r / UINT8_MAX);
}

/* The one path of every failure: an attempt that failed (at once or later)
 * and a connection lost. The socket is closed or left to the next attempt.
 * Picks the delay, logs it with what happened, and runs on_down when the
 * attempt had got a socket. */
static void link_failed(struct mqtt_link *l, int reason, const char *what)
{
	bool had_socket = l->sock_open, was_up = l->up;
	l->sock_open = false;
	l->up = false;
	int delay = backoff_next(l);
	l->retry_at = clock_mono_ms() + delay;
	int failed = l->cur;
	if (l->nhosts > 1)
		l->cur = (l->cur + 1) % l->nhosts;
	char next[300] = "";
	if (l->nhosts > 1)
		snprintf(next, sizeof(next), " at %s:%d", HOST(l), PORT(l));
	log_warn("broker %s:%d %s (%s); retrying in %d ms%s", l->hosts[failed], l->ports[failed],
		 was_up ? "connection lost" : "connect failed", what, delay, next);
	l->why[0] = '\0';
	if (had_socket && l->cbs.on_down)
		l->cbs.on_down(l->user, was_up, reason);
}

static void cb_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	struct mqtt_link *l = obj;
	if (rc != 0) {
		/* The library closes the socket next: cb_disconnect logs this. */
		snprintf(l->why, sizeof(l->why), "refused: %s", mosquitto_reason_string(rc));
		return;
	}
	l->up = true;
	if (!(flags & 1))
		l->unacked = 0;
	l->backoff_ms = MQTT_RETRY_MIN_MS;
	log_info("broker %s:%d connected%s", HOST(l), PORT(l), (flags & 1) ? " (session present)" : "");
	if (l->cbs.on_up)
		l->cbs.on_up(l->user, (flags & 1) != 0);
}

/* The library closed its socket. Not a failure after our own goodbye
 * (say_goodbye clears sock_open first). */
static void cb_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	struct mqtt_link *l = obj;
	int err = errno;
	if (l->sock_open)
		link_failed(l, rc, l->why[0] ? l->why : rc ? describe(l, rc, err) : "disconnected");
}

static void cb_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct mqtt_link *l = obj;
	if (l->cbs.on_message)
		l->cbs.on_message(l->user, msg, props);
}

/* PUBACK of a QoS 1 publish (libmosquitto also calls this once a QoS 0
 * publish is written; the links send none, and it could only undercount). */
static void cb_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *props)
{
	struct mqtt_link *l = obj;
	if (l->unacked)
		l->unacked--;
}

static void cb_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
			 const mosquitto_property *props)
{
	struct mqtt_link *l = obj;
	if (l->cbs.on_subscribed)
		l->cbs.on_subscribed(l->user, mid, count > 0 ? granted[0] : 0x80);
}

/* The session expiry interval, for every CONNECT. libmosquitto 2.0.11 has
 * no non-blocking connect that takes v5 properties (the _async connects
 * have no argument for them), but every connect, blocking or not, sends the
 * CONNECT properties kept from the last mosquitto_connect_bind_v5, which
 * stores them before it checks its host: called without a host it keeps
 * them and returns MOSQ_ERR_INVAL, the network untouched (lib/connect.c). */
static int keep_connect_props(struct mqtt_link *l)
{
	mosquitto_property *props = NULL;
	int rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, l->session_expiry_s);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_bind_v5(l->mosq, NULL, PORT(l), l->keepalive_s, NULL, props);
	mosquitto_property_free_all(&props);
	return rc == MOSQ_ERR_INVAL ? 0 : -1;
}

struct mqtt_link *mqtt_link_new(const struct mqtt_cfg *cfg, const struct mqtt_cbs *cbs, void *user)
{
	static bool lib_ready;
	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	struct mqtt_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->cbs = *cbs;
	l->user = user;
	if (hosts_parse(l, cfg->host ? cfg->host : "127.0.0.1", cfg->port ? cfg->port : 1883) != 0) {
		mqtt_link_free(l);
		return NULL;
	}
	l->keepalive_s = cfg->keepalive_s ? cfg->keepalive_s : 30;
	l->client_id = dup_or_null(cfg->client_id);
	l->username = dup_or_null(cfg->username);
	l->password = dup_or_null(cfg->password);
	l->will_topic = dup_or_null(cfg->will_topic);
	l->will_payload = dup_or_null(cfg->will_payload);
	l->persistent = cfg->persistent;
	l->tls = cfg->tls.on;
	l->lower_ids = cfg->lower_ids;
	l->session_expiry_s = cfg->session_expiry_s;
	l->backoff_ms = MQTT_RETRY_MIN_MS;
	l->mosq = mosquitto_new(l->client_id, !l->persistent, l);
	if (!l->mosq)
		goto fail;
	mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(l->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, MQTT_RECEIVE_MAX);
	mosquitto_connect_v5_callback_set(l->mosq, cb_connect);
	mosquitto_disconnect_v5_callback_set(l->mosq, cb_disconnect);
	mosquitto_message_v5_callback_set(l->mosq, cb_message);
	mosquitto_subscribe_v5_callback_set(l->mosq, cb_subscribe);
	mosquitto_log_callback_set(l->mosq, cb_log);
	if (cfg->tls.on && mqtt_tls_apply(l->mosq, &cfg->tls) != MOSQ_ERR_SUCCESS)
		goto fail;
	mosquitto_publish_v5_callback_set(l->mosq, cb_publish);
	if (l->username && mosquitto_username_pw_set(l->mosq, l->username, l->password) != MOSQ_ERR_SUCCESS)
		goto fail;
	if (l->will_topic &&
	    mosquitto_will_set_v5(l->mosq, l->will_topic, (int)strlen(l->will_payload ? l->will_payload : ""),
				  l->will_payload ? l->will_payload : "", 1, false, NULL) != MOSQ_ERR_SUCCESS)
		goto fail;
	if (l->persistent && keep_connect_props(l) != 0)
		goto fail;
	return l;
fail:
	log_error("%s: cannot create the MQTT client", __func__);
	mqtt_link_free(l);
	return NULL;
}

void mqtt_link_free(struct mqtt_link *l)
{
	if (!l)
		return;
	if (l->mosq) {
		if (l->sock_open)
			mqtt_link_disconnect(l);
		mosquitto_destroy(l->mosq);
	}
	for (int i = 0; i < l->nhosts; i++)
		free(l->hosts[i]);
	free(l->client_id);
	free(l->username);
	free(l->password);
	free(l->will_topic);
	free(l->will_payload);
	free(l);
}

int mqtt_link_connect(struct mqtt_link *l)
{
	if (l->sock_open)
		return 0;
	log_debug("connecting to broker %s:%d", HOST(l), PORT(l));
	l->why[0] = '\0';
	l->lib_err[0] = '\0';
	/* EINPROGRESS is success: the CONNECT waits in the queue (and the
	 * connect properties of keep_connect_props go with it). */
	int rc = mosquitto_connect_bind_async(l->mosq, HOST(l), PORT(l), l->keepalive_s, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		link_failed(l, rc, describe(l, rc, errno));
		return -1;
	}
	l->sock_open = true;
	l->connect_by = clock_mono_ms() + MQTT_CONNECT_TIMEOUT_MS;
	return 0;
}

/* libmosquitto 2.0.11 cannot be told to drop its socket without a
 * DISCONNECT; after shutdown(2) no write succeeds, so the DISCONNECT it is
 * given cannot go out and the write's failure makes it close the socket the
 * usual way (cb_disconnect, with l->why). Should it keep the socket anyway,
 * the failure runs here and the next attempt closes it. */
void mqtt_link_abort(struct mqtt_link *l, const char *what)
{
	if (!l->sock_open)
		return;
	snprintf(l->why, sizeof(l->why), "%s", what);
	int fd = mosquitto_socket(l->mosq);
	if (fd >= 0) {
		shutdown(fd, SHUT_RDWR);
		mosquitto_disconnect(l->mosq);
		mosquitto_loop_write(l->mosq, 1);
	}
	if (l->sock_open)
		link_failed(l, MOSQ_ERR_CONN_LOST, l->why);
}

static void say_goodbye(struct mqtt_link *l, const mosquitto_property *props)
{
	if (!l->sock_open)
		return;
	/* Cleared first: our own goodbye is not a lost connection. */
	l->sock_open = false;
	l->up = false;
	mosquitto_disconnect_v5(l->mosq, MQTT_RC_NORMAL_DISCONNECTION, props);
	/* Flush the DISCONNECT; the library closes the socket. */
	mosquitto_loop_write(l->mosq, 1);
}

void mqtt_link_disconnect(struct mqtt_link *l)
{
	say_goodbye(l, NULL);
}

void mqtt_link_end_session(struct mqtt_link *l)
{
	mosquitto_property *props = NULL;
	if (l->persistent && l->up)
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0);
	say_goodbye(l, props);
	mosquitto_property_free_all(&props);
}

int mqtt_link_fd(const struct mqtt_link *l)
{
	return l->sock_open ? mosquitto_socket(l->mosq) : -1;
}

/* During a TLS handshake, only what the handshake waits for: libmosquitto's
 * own answer then may stay true while the handshake waits to read. */
bool mqtt_link_want_write(const struct mqtt_link *l)
{
	if (!l->sock_open)
		return false;
	if (mqtt_tls_handshaking(l->mosq))
		return mqtt_tls_handshake_wants_write(l->mosq);
	return mosquitto_want_write(l->mosq);
}

bool mqtt_link_is_up(const struct mqtt_link *l)
{
	return l->up;
}

/* A driver's result. The library ends the connection itself on a network
 * error (cb_disconnect); any other error ends it here. */
static int driver_result(struct mqtt_link *l, int rc)
{
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	if (l->sock_open)
		mqtt_link_abort(l, describe(l, rc, errno));
	return -1;
}

/* Whatever the socket became ready for, a TLS handshake under way moves on
 * in mosquitto_loop_read. A socket that failed (a refused or reset TCP
 * connection) leaves libmosquitto waiting (SSL_ERROR_SYSCALL): that is
 * the attempt's failure, said here. */
static int drive_handshake(struct mqtt_link *l)
{
	int rc = mosquitto_loop_read(l->mosq, 1), err = errno;
	if (driver_result(l, rc) < 0)
		return -1;
	int fd = mosquitto_socket(l->mosq);
	struct pollfd p = {.fd = fd, .events = 0};
	if (mqtt_tls_handshaking(l->mosq) && poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (!soerr && err != EAGAIN && err != EWOULDBLOCK)
			soerr = err;
		mqtt_link_abort(l, soerr ? strerror(soerr) : "connection closed during the TLS handshake");
		return -1;
	}
	return 0;
}

/* What TLS holds decrypted after a read: already off the socket, so no
 * readable event comes for it, and libmosquitto's loop_read stops early
 * when a callback left errno at EAGAIN whatever TLS still holds. Each read
 * takes a packet or what is held; at most MQTT_TLS_HELD_READS of them
 * (what is left after that, only in a flood, waits for the next event). */
static int read_tls_held(struct mqtt_link *l)
{
	for (int i = 0; i < MQTT_TLS_HELD_READS && l->sock_open && mqtt_tls_pending(l->mosq); i++)
		if (driver_result(l, mosquitto_loop_read(l->mosq, 1)) < 0)
			return -1;
	return 0;
}

int mqtt_link_on_readable(struct mqtt_link *l)
{
	if (!l->sock_open)
		return -1;
	if (mqtt_tls_handshaking(l->mosq))
		return drive_handshake(l);
	if (driver_result(l, mosquitto_loop_read(l->mosq, 64)) < 0)
		return -1;
	return read_tls_held(l);
}

/* Writes every queued packet: packet__write empties the queue by itself;
 * a max_packets above 1 only makes mosquitto_loop_write (2.0.11) call it
 * again and again on an empty queue (its loop stops on EAGAIN, not when the
 * queue is empty): ~16k instructions per call with 64. */
static int write_queued(struct mqtt_link *l)
{
	return driver_result(l, mosquitto_loop_write(l->mosq, 1));
}

int mqtt_link_on_writable(struct mqtt_link *l)
{
	if (!l->sock_open)
		return -1;
	if (mqtt_tls_handshaking(l->mosq))
		return drive_handshake(l);
	return write_queued(l);
}

int mqtt_link_on_tick(struct mqtt_link *l)
{
	if (!l->sock_open)
		return -1;
	if (!l->up && clock_mono_ms() >= l->connect_by) {
		char what[64];
		snprintf(what, sizeof(what), "no CONNACK within %d ms", MQTT_CONNECT_TIMEOUT_MS);
		mqtt_link_abort(l, what);
		return -1;
	}
	return driver_result(l, mosquitto_loop_misc(l->mosq));
}

int mqtt_link_retry_in_ms(const struct mqtt_link *l)
{
	int64_t in = l->retry_at - clock_mono_ms();
	return in > 0 ? (int)in : 0;
}

int mqtt_link_publish(struct mqtt_link *l, const char *topic, const void *payload, size_t len,
		      const struct mqtt_pub *opt)
{
	static const struct mqtt_pub plain = {.qos = 1};
	if (!opt)
		opt = &plain;
	if (!l->up)
		return -1;
	if (len > 256u * 1024 * 1024)
		return -1;
	if (l->lower_ids && !strncmp(topic, "users/", 6)) {
		for (const char *c = topic + 6; *c && *c != '/'; c++)
			if (*c >= 'A' && *c <= 'Z') {
				log_warn("%s: %s: a user id with upper case (this broker folds case): not sent", __func__,
					 topic);
				return -1;
			}
	}
	mosquitto_property *props = NULL;
	int rc = MOSQ_ERR_SUCCESS;
	if (opt->expiry_s)
		rc = mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, opt->expiry_s);
	if (!rc && opt->response_topic)
		rc = mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, opt->response_topic);
	if (!rc && opt->corr)
		rc = mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, opt->corr, opt->corr_len);
	for (const char *const *p = opt->user_props; !rc && p && p[0] && p[1]; p += 2)
		rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, p[0], p[1]);
	if (!rc)
		rc = mosquitto_publish_v5(l->mosq, NULL, topic, (int)len, payload, opt->qos, opt->retain, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_warn("%s: %s: %s", __func__, topic, mosquitto_strerror(rc));
		return -1;
	}
	if (opt->qos > 0)
		l->unacked++;
	return 0;
}

unsigned mqtt_link_unacked(const struct mqtt_link *l)
{
	return l->unacked;
}

int mqtt_link_subscribe(struct mqtt_link *l, const char *topic, int qos, int *mid)
{
	if (!l->up)
		return -1;
	int rc = mosquitto_subscribe_v5(l->mosq, mid, topic, qos, 0, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_warn("%s: %s: %s", __func__, topic, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

int mqtt_link_unsubscribe(struct mqtt_link *l, const char *topic)
{
	if (!l->up)
		return -1;
	return mosquitto_unsubscribe_v5(l->mosq, NULL, topic, NULL) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

const char *mqtt_prop_user(const mosquitto_property *props, const char *name, char *buf, size_t cap)
{
	const char *found = NULL;
	bool skip = false;
	for (const mosquitto_property *p = props; p && !found; skip = true) {
		char *k = NULL, *v = NULL;
		p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, skip);
		if (p && k && v && !strcmp(k, name) && cap > 0) {
			size_t n = strlen(v);
			if (n >= cap)
				n = cap - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			found = buf;
		}
		free(k);
		free(v);
	}
	return found;
}

size_t mqtt_prop_users(const mosquitto_property *props, size_t n, const char *const *names, char *const *bufs,
		       const size_t *caps, const char **found)
{
	size_t got = 0;
	for (size_t i = 0; i < n; i++)
		found[i] = NULL;
	bool skip = false;
	for (const mosquitto_property *p = props; p && got < n; skip = true) {
		char *k = NULL, *v = NULL;
		p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, skip);
		for (size_t i = 0; p && k && v && i < n; i++) {
			if (found[i] || caps[i] == 0 || strcmp(k, names[i]))
				continue;
			size_t len = strlen(v);
			if (len >= caps[i])
				len = caps[i] - 1;
			memcpy(bufs[i], v, len);
			bufs[i][len] = '\0';
			found[i] = bufs[i];
			got++;
			break;
		}
		free(k);
		free(v);
	}
	return got;
}

int mqtt_prop_corr(const mosquitto_property *props, char *buf, size_t cap)
{
	void *v = NULL;
	uint16_t n = 0;
	if (!mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &v, &n, false))
		return -1;
	int rc = -1;
	if (n < cap) {
		memcpy(buf, v, n);
		buf[n] = '\0';
		rc = n;
	}
	free(v);
	return rc;
}

int mqtt_prop_response_topic(const mosquitto_property *props, char *buf, size_t cap)
{
	char *v = NULL;
	if (!mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &v, false))
		return -1;
	int rc = -1;
	size_t n = strlen(v);
	if (n < cap) {
		memcpy(buf, v, n + 1);
		rc = (int)n;
	}
	free(v);
	return rc;
}

/* Reads until the socket has nothing more or max_packets reads, then
 * writes what the callbacks queued, once. libmosquitto's loop_read stops after a packet
 * when errno is EAGAIN (its read came up empty) and otherwise reads as many
 * packets as its queues hold (often one): errno is cleared before each call
 * so EAGAIN afterwards means drained. A stale errno only costs one more
 * empty read, or one more poll. 0, or <0 when the connection was lost. */
static int read_burst(struct mqtt_link *l, int max_packets)
{
	if (mqtt_tls_handshaking(l->mosq))
		return drive_handshake(l);
	for (int i = 0; i < max_packets; i++) {
		errno = 0;
		int rc = mosquitto_loop_read(l->mosq, 1);
		bool drained = errno == EAGAIN || errno == EWOULDBLOCK;
		if (driver_result(l, rc) < 0)
			return -1;
		if (drained)
			break;
	}
	if (read_tls_held(l) < 0)
		return -1;
	return mosquitto_want_write(l->mosq) ? write_queued(l) : 0;
}

/* mqtt_link_poll (max_packets 0: one mqtt_link_on_readable) or
 * mqtt_link_poll_burst. */
static int poll_link(struct mqtt_link *l, int timeout_ms, int max_packets)
{
	if (!l->sock_open) {
		int64_t wait = l->retry_at - clock_mono_ms();
		if (wait <= 0) {
			mqtt_link_connect(l);
		} else {
			struct pollfd none;
			poll(&none, 0, (int)(wait < timeout_ms ? wait : timeout_ms));
			return 0;
		}
		if (!l->sock_open)
			return 0;
	}
	struct pollfd pfd = {.fd = mqtt_link_fd(l), .events = POLLIN};
	if (mqtt_link_want_write(l))
		pfd.events |= POLLOUT;
	int n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
		if ((max_packets > 0 ? read_burst(l, max_packets) : mqtt_link_on_readable(l)) < 0)
			return 0;
	/* After a burst, only when the burst left something to write. */
	if (n > 0 && (pfd.revents & POLLOUT) && l->sock_open && (!max_packets || mqtt_link_want_write(l)) &&
	    mqtt_link_on_writable(l) < 0)
		return 0;
	mqtt_link_on_tick(l);
	return 0;
}

int mqtt_link_poll(struct mqtt_link *l, int timeout_ms)
{
	return poll_link(l, timeout_ms, 0);
}

int mqtt_link_poll_burst(struct mqtt_link *l, int timeout_ms, int max_packets)
{
	return poll_link(l, timeout_ms, max_packets > 0 ? max_packets : 1);
}
