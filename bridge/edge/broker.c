/* broker: the MQTT link adopted into the libwebsockets loop. */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

#define BROKER_TICK_MS 1000     /* libmosquitto housekeeping (keep-alive, retries) */

/* The retry timer is a timerfd adopted into the loop, not a lws_sul. lws
 * 4.1.6 on libev cannot bring its timer forward from a descriptor callback
 * (it re-arms its ev_timer while that is active, which libev ignores), so a
 * lws_sul scheduled there fires no sooner than the one already armed, up
 * to BROKER_TICK_MS late; and most failures are seen there (a connection
 * lost, a refusal that comes back later). A timerfd fires on time wherever
 * it was set. */
struct broker {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct mqtt_link *link;
	struct broker_cbs cbs;
	void *user;
	struct metrics *metrics;
	struct lws *link_wsi;  /* the adopted broker descriptor, or NULL */
	struct lws *retry_wsi; /* the adopted timerfd, or NULL */
	int retry_fd;
	lws_sorted_usec_list_t sul_tick;
	bool stopping;
};

static void kick(struct broker *b)
{
	if (b->link_wsi && mqtt_link_want_write(b->link))
		lws_callback_on_writable(b->link_wsi);
}

bool broker_up(const struct broker *b)
{
	return b && b->link && mqtt_link_is_up(b->link);
}

unsigned broker_unacked(const struct broker *b)
{
	return b && b->link ? mqtt_link_unacked(b->link) : 0;
}

int broker_publish(struct broker *b, const char *topic, const void *payload, size_t len, const struct mqtt_pub *opt)
{
	if (mqtt_link_publish(b->link, topic, payload, len, opt) != 0)
		return -1;
	b->metrics->published++;
	kick(b);
	return 0;
}

int broker_subscribe(struct broker *b, const char *topic, int *mid)
{
	int rc = mqtt_link_subscribe(b->link, topic, 1, mid);
	kick(b);
	return rc;
}

int broker_unsubscribe(struct broker *b, const char *topic)
{
	int rc = mqtt_link_unsubscribe(b->link, topic);
	kick(b);
	return rc;
}

/* The next attempt, when the link says (it picked the delay at the failure
 * and logged it). */
static void schedule_retry(struct broker *b)
{
	if (b->stopping || !b->retry_wsi)
		return;
	long ms = mqtt_link_retry_in_ms(b->link);
	struct itimerspec at = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L}};
	if (!ms)
		at.it_value.tv_nsec = 1; /* zero would disarm it */
	if (timerfd_settime(b->retry_fd, 0, &at, NULL) != 0)
		log_error("%s: timerfd_settime: %s: the broker link will not retry", __func__, strerror(errno));
}

static struct lws *adopt(struct broker *b, int fd)
{
	lws_sock_file_fd_type u = {.filefd = fd};
	struct lws *wsi = lws_adopt_descriptor_vhost(b->vh, LWS_ADOPT_RAW_FILE_DESC, u, BROKER_PROTOCOL, NULL);
	if (wsi)
		lws_set_opaque_user_data(wsi, b);
	return wsi;
}

/* Starts an attempt (it never blocks) and watches its socket: writable
 * completes the connect and sends the queued CONNECT. A failure at once
 * schedules the retry here; any later one reaches link_down. */
static void try_connect(struct broker *b)
{
	if (b->stopping || mqtt_link_fd(b->link) >= 0)
		return;
	if (mqtt_link_connect(b->link) != 0) {
		schedule_retry(b);
		return;
	}
	int fd = dup(mqtt_link_fd(b->link));
	if (fd < 0) {
		char what[64];
		snprintf(what, sizeof(what), "cannot watch its socket: dup: %s", strerror(errno));
		mqtt_link_abort(b->link, what);
		return;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	b->link_wsi = adopt(b, fd);
	if (!b->link_wsi) {
		mqtt_link_abort(b->link, "cannot adopt its socket into the loop");
		return;
	}
	kick(b);
}

/* Keep-alive, and the time-out of an attempt without CONNACK. */
static void tick(lws_sorted_usec_list_t *sul)
{
	struct broker *b = lws_container_of(sul, struct broker, sul_tick);
	if (b->link_wsi && mqtt_link_on_tick(b->link) == 0)
		kick(b);
	lws_sul_schedule(b->ctx, 0, &b->sul_tick, tick, BROKER_TICK_MS * LWS_US_PER_MS);
}

static void link_up(void *user, bool session_present)
{
	struct broker *b = user;
	if (b->cbs.on_up)
		b->cbs.on_up(b->user);
}

/* The one link-down path: the link's socket is gone (an attempt that
 * failed, a connection lost). The adopted descriptor is let go (closed on
 * the next turn of the loop; its callbacks no longer drive the link) and
 * the retry scheduled. */
static void link_down(void *user, bool was_up, int reason)
{
	struct broker *b = user;
	if (was_up) {
		b->metrics->broker_reconnects++;
		if (b->cbs.on_down)
			b->cbs.on_down(b->user);
	}
	if (b->link_wsi) {
		lws_set_timeout(b->link_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		b->link_wsi = NULL;
	}
	schedule_retry(b);
}

static void link_message(void *user, const struct mosquitto_message *msg, const mosquitto_property *props)
{
	struct broker *b = user;
	if (b->cbs.on_message)
		b->cbs.on_message(b->user, msg->topic, msg->payload, (size_t)msg->payloadlen, props);
}

static void link_subscribed(void *user, int mid, int granted)
{
	struct broker *b = user;
	if (b->cbs.on_subscribed)
		b->cbs.on_subscribed(b->user, mid, granted);
}

int broker_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct broker *b = lws_get_opaque_user_data(wsi);
	if (!b)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == b->retry_wsi) {
			uint64_t expirations;
			if (read(b->retry_fd, &expirations, sizeof(expirations)) == sizeof(expirations))
				try_connect(b);
			break;
		}
		if (wsi != b->link_wsi || mqtt_link_on_readable(b->link) < 0)
			return -1;
		kick(b);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (wsi != b->link_wsi || mqtt_link_on_writable(b->link) < 0)
			return -1;
		kick(b);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* Closed by the loop, not let go by link_down: the link's socket
		 * (if still open) goes with it, down the same path. */
		if (wsi == b->link_wsi) {
			b->link_wsi = NULL;
			mqtt_link_abort(b->link, "its descriptor was closed by the loop");
		} else if (wsi == b->retry_wsi) {
			b->retry_wsi = NULL; /* lws closed the timerfd */
			if (!b->stopping)
				log_error("%s: the retry timer was closed: the broker link will not retry", __func__);
		}
		break;
	default:
		break;
	}
	return 0;
}

struct broker *broker_new(struct lws_context *ctx, struct lws_vhost *vh, const struct mqtt_cfg *cfg,
			  const struct broker_cbs *cbs, void *user, struct metrics *metrics)
{
	struct broker *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->ctx = ctx;
	b->vh = vh;
	b->cbs = *cbs;
	b->user = user;
	b->metrics = metrics;
	b->retry_fd = -1;
	struct mqtt_cbs lcbs = {
		.on_up = link_up,
		.on_down = link_down,
		.on_message = link_message,
		.on_subscribed = link_subscribed,
	};
	b->link = mqtt_link_new(cfg, &lcbs, b);
	if (!b->link) {
		free(b);
		return NULL;
	}
	return b;
}

int broker_start(struct broker *b)
{
	b->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->retry_fd < 0) {
		log_error("%s: timerfd_create: %s", __func__, strerror(errno));
		return -1;
	}
	b->retry_wsi = adopt(b, b->retry_fd);
	if (!b->retry_wsi) {
		log_error("%s: cannot adopt the retry timer into the loop", __func__);
		return -1;
	}
	schedule_retry(b); /* due now: the first attempt */
	lws_sul_schedule(b->ctx, 0, &b->sul_tick, tick, BROKER_TICK_MS * LWS_US_PER_MS);
	return 0;
}

void broker_stop(struct broker *b)
{
	if (!b)
		return;
	b->stopping = true;
	if (b->retry_wsi) {
		struct itimerspec never = {{0, 0}, {0, 0}};
		timerfd_settime(b->retry_fd, 0, &never, NULL);
	}
	lws_sul_cancel(&b->sul_tick);
	if (b->link)
		mqtt_link_end_session(b->link); /* nobody will come back for it */
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	mqtt_link_free(b->link);
	free(b);
}
