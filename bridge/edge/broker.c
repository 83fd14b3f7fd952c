/* broker: the MQTT link adopted into the libwebsockets loop. */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "frames.h"
#include "log.h"
#include "requests.h"
#include "sessions.h"
#include "ws.h"

#define BROKER_TICK_MS 1000     /* libmosquitto housekeeping (keep-alive, retries) */
#define BROKER_KEEPALIVE_S 15   /* MQTT keep-alive: a dead broker is noticed within 1.5x this */

static void kick(struct edge *e)
{
	if (e->link_wsi && mqtt_link_want_write(e->link))
		lws_callback_on_writable(e->link_wsi);
}

bool broker_up(const struct edge *e)
{
	return e->link && mqtt_link_is_up(e->link);
}

int broker_publish(struct edge *e, const char *topic, const void *payload, size_t len, const struct mqtt_pub *opt)
{
	if (mqtt_link_publish(e->link, topic, payload, len, opt) != 0)
		return -1;
	e->metrics.published++;
	kick(e);
	return 0;
}

int broker_subscribe(struct edge *e, const char *topic, int *mid)
{
	int rc = mqtt_link_subscribe(e->link, topic, 1, mid);
	kick(e);
	return rc;
}

int broker_unsubscribe(struct edge *e, const char *topic)
{
	int rc = mqtt_link_unsubscribe(e->link, topic);
	kick(e);
	return rc;
}

/* The retry timer: a timerfd adopted into the loop, not a lws_sul. lws
 * 4.1.6 on libev cannot bring its timer forward from a descriptor callback
 * (it re-arms its ev_timer while that is active, which libev ignores), so a
 * lws_sul scheduled there fires no sooner than the one already armed, up
 * to BROKER_TICK_MS late; and most failures are seen there (a connection
 * lost, a refusal that comes back later). A timerfd fires on time wherever
 * it was set. One bridge per process: one timer. */
static struct lws *retry_wsi;
static int retry_fd = -1;

/* The next attempt, when the link says (it picked the delay at the failure
 * and logged it). */
static void schedule_retry(struct edge *e)
{
	if (e->stopping || !retry_wsi)
		return;
	long ms = mqtt_link_retry_in_ms(e->link);
	struct itimerspec at = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L}};
	if (!ms)
		at.it_value.tv_nsec = 1; /* zero would disarm it */
	if (timerfd_settime(retry_fd, 0, &at, NULL) != 0)
		log_error("%s: timerfd_settime: %s: the broker link will not retry", __func__, strerror(errno));
}

/* Starts an attempt (it never blocks) and watches its socket: writable
 * completes the connect and sends the queued CONNECT. A failure at once
 * schedules the retry here; any later one reaches on_down. */
static void try_connect(struct edge *e)
{
	if (e->stopping || mqtt_link_fd(e->link) >= 0)
		return;
	if (mqtt_link_connect(e->link) != 0) {
		schedule_retry(e);
		return;
	}
	int fd = dup(mqtt_link_fd(e->link));
	if (fd < 0) {
		char what[64];
		snprintf(what, sizeof(what), "cannot watch its socket: dup: %s", strerror(errno));
		mqtt_link_abort(e->link, what);
		return;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	lws_sock_file_fd_type u = {.filefd = fd};
	e->link_wsi = lws_adopt_descriptor_vhost(e->vh, LWS_ADOPT_RAW_FILE_DESC, u, "ringmq-broker", NULL);
	if (!e->link_wsi) {
		mqtt_link_abort(e->link, "cannot adopt its socket into the loop");
		return;
	}
	kick(e);
}

/* Keep-alive, and the time-out of an attempt without CONNACK. */
static void tick(lws_sorted_usec_list_t *sul)
{
	struct edge *e = lws_container_of(sul, struct edge, sul_tick);
	if (e->link_wsi && mqtt_link_on_tick(e->link) == 0)
		kick(e);
	lws_sul_schedule(e->ctx, 0, &e->sul_tick, tick, BROKER_TICK_MS * LWS_US_PER_MS);
}

/* Subscribes again whether or not the broker kept the session: a
 * re-SUBSCRIBE replaces the old one, and the session may be gone (a broker
 * that lost its state, an expiry). Frames the session queued arrive first
 * and go to the sockets that are still open. */
static void on_up(void *user, bool session_present)
{
	struct edge *e = user;
	mqtt_link_subscribe(e->link, e->replies_topic, 1, NULL);
	mqtt_link_subscribe(e->link, "svc/rules/hello", 1, NULL);
	sessions_link_up(e);
}

/* The one link-down path: the link's socket is gone (an attempt that
 * failed, a connection lost). The adopted descriptor is let go (closed on
 * the next turn of the loop; its callbacks no longer drive the link) and
 * the retry scheduled. */
static void on_down(void *user, bool was_up, int reason)
{
	struct edge *e = user;
	if (was_up) {
		e->metrics.broker_reconnects++;
		sessions_link_down(e);
	}
	if (e->link_wsi) {
		lws_set_timeout(e->link_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		e->link_wsi = NULL;
	}
	schedule_retry(e);
}

/* Error frames for one MQTT device travel on the user's notification
 * topic; web sockets skip them (rules builds them with "type" first). */
static bool is_device_error(const void *payload, size_t len)
{
	static const char prefix[] = "{\"type\":\"error\"";
	return len >= sizeof(prefix) - 1 && !memcmp(payload, prefix, sizeof(prefix) - 1);
}

/* Replies to one socket are error frames rules decided: count them by code
 * like the bridge's own (ringmq_errors_total). */
static void count_error(struct edge *e, const void *payload, size_t len)
{
	json_t *j = json_loadb(payload, len, 0, NULL);
	int code = frames_code_parse(json_string_value(json_object_get(j, "code")));
	if (code > 0)
		e->metrics.errors[code]++;
	json_decref(j);
}

static void on_message(void *user, const struct mosquitto_message *msg, const mosquitto_property *props)
{
	struct edge *e = user;
	const char *t = msg->topic;
	if (!strcmp(t, e->replies_topic)) {
		char corr[64];
		if (mqtt_prop_corr(props, corr, sizeof(corr)) < 0)
			return;
		if (!strncmp(corr, "r:", 2)) {
			requests_complete(e, corr, msg->payload, (size_t)msg->payloadlen);
		} else if (!strncmp(corr, "d:", 2)) {
			struct ws_conn *c = ws_by_device(e, corr + 2);
			count_error(e, msg->payload, (size_t)msg->payloadlen);
			if (c) {
				struct outmsg *m = outmsg_new(msg->payload, (size_t)msg->payloadlen);
				if (m) {
					ws_send(c, m);
					outmsg_unref(m);
				}
			}
		}
	} else if (!strcmp(t, "svc/rules/hello")) {
		sessions_presence_snapshot(e);
	} else if (!strncmp(t, "users/", 6)) {
		if (!is_device_error(msg->payload, (size_t)msg->payloadlen))
			sessions_deliver(e, t, msg->payload, (size_t)msg->payloadlen);
	} else {
		sessions_deliver(e, t, msg->payload, (size_t)msg->payloadlen);
	}
}

static void on_subscribed(void *user, int mid, int granted)
{
	sessions_subscribed(user, mid, granted);
}

int broker_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct edge *e = edge_of(wsi);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == retry_wsi) {
			uint64_t expirations;
			if (read(retry_fd, &expirations, sizeof(expirations)) == sizeof(expirations))
				try_connect(e);
			break;
		}
		if (wsi != e->link_wsi || mqtt_link_on_readable(e->link) < 0)
			return -1;
		kick(e);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (wsi != e->link_wsi || mqtt_link_on_writable(e->link) < 0)
			return -1;
		kick(e);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* Closed by the loop, not let go by on_down: the link's socket
		 * (if still open) goes with it, down the same path. */
		if (wsi == e->link_wsi) {
			e->link_wsi = NULL;
			mqtt_link_abort(e->link, "its descriptor was closed by the loop");
		} else if (wsi == retry_wsi) {
			retry_wsi = NULL; /* lws closed the timerfd */
			if (!e->stopping)
				log_error("%s: the retry timer was closed: the broker link will not retry", __func__);
		}
		break;
	default:
		break;
	}
	return 0;
}

int broker_start(struct edge *e)
{
	char will[64];
	snprintf(will, sizeof(will), "{\"snapshot\":[]}");
	struct mqtt_cfg cfg = {
		.host = e->cfg.mqtt_host,
		.port = e->cfg.mqtt_port,
		.client_id = e->bridge_id,
		.username = e->cfg.service_secret ? "svc:bridge" : NULL,
		.password = e->cfg.service_secret,
		.keepalive_s = BROKER_KEEPALIVE_S,
		/* A persistent session: frames published for our sockets while
		 * the link is down (a broker restart, rules routing its backlog
		 * before we are back) wait in the broker instead of being lost. */
		.persistent = true,
		.session_expiry_s = EDGE_SESSION_EXPIRY_S,
		.will_topic = e->presence_topic,
		.will_payload = will,
	};
	struct mqtt_cbs cbs = {
		.on_up = on_up,
		.on_down = on_down,
		.on_message = on_message,
		.on_subscribed = on_subscribed,
	};
	e->link = mqtt_link_new(&cfg, &cbs, e);
	if (!e->link)
		return -1;
	retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (retry_fd < 0) {
		log_error("%s: timerfd_create: %s", __func__, strerror(errno));
		return -1;
	}
	lws_sock_file_fd_type u = {.filefd = retry_fd};
	retry_wsi = lws_adopt_descriptor_vhost(e->vh, LWS_ADOPT_RAW_FILE_DESC, u, "ringmq-broker", NULL);
	if (!retry_wsi) {
		log_error("%s: cannot adopt the retry timer into the loop", __func__);
		return -1;
	}
	schedule_retry(e); /* due now: the first attempt */
	lws_sul_schedule(e->ctx, 0, &e->sul_tick, tick, BROKER_TICK_MS * LWS_US_PER_MS);
	return 0;
}

void broker_stop(struct edge *e)
{
	e->stopping = true;
	if (retry_wsi) {
		struct itimerspec never = {{0, 0}, {0, 0}};
		timerfd_settime(retry_fd, 0, &never, NULL);
	}
	lws_sul_cancel(&e->sul_tick);
	if (broker_up(e)) {
		static const char gone[] = "{\"snapshot\":[]}";
		mqtt_link_publish(e->link, e->presence_topic, gone, sizeof(gone) - 1, NULL);
	}
	if (e->link)
		mqtt_link_end_session(e->link); /* nobody will come back for it */
}
