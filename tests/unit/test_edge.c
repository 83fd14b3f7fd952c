/* test_edge: the parts of the bridge that need the others linked: the inbox
 * dispatching what the broker delivers (to subscriptions, to one socket's
 * error, never an MQTT device's answer to web sockets), questions to rules
 * with the link down, presence with the link down, the metrics text, the
 * hub's empty bookkeeping and the protocol's dispatch of reasons. The
 * broker is a real, never-connected link. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ask.h"
#include "broker.h"
#include "check.h"
#include "frames.h"
#include "inbox.h"
#include "presence.h"
#include "server.h"
#include "subs.h"
#include "ws.h"

#define REPLIES "svc/bridges/b-0000000000000001/replies"

static bool fb_up(void *user)
{
	return true;
}

static int fb_subscribe(void *user, const char *topic, int *mid)
{
	*mid = 1;
	return 0;
}

static int fb_unsubscribe(void *user, const char *topic)
{
	return 0;
}

struct fake_member {
	struct subs_member m;
	int delivered;
};

static void fm_ready(struct subs_member *m)
{
}

static void fm_deliver(struct subs_member *m, struct outmsg *msg)
{
	((struct fake_member *)m)->delivered++;
}

static const struct subs_member_ops ops = {fm_ready, fm_ready, fm_deliver};

static char to_device[32];
static int to_socket_calls;
static void on_to_socket(void *user, const char *device_id, const void *payload, size_t len)
{
	to_socket_calls++;
	snprintf(to_device, sizeof(to_device), "%s", device_id);
}

static int answered = -1;
static void on_answer(void *arg, int status, json_t *body)
{
	answered = status;
}

static mosquitto_property *corr(const char *value)
{
	mosquitto_property *p = NULL;
	mosquitto_property_add_binary(&p, MQTT_PROP_CORRELATION_DATA, value, (uint16_t)strlen(value));
	return p;
}

int main(void)
{
	struct metrics metrics;
	memset(&metrics, 0, sizeof(metrics));
	struct mqtt_cfg mc = {.host = "127.0.0.1", .port = 1, .client_id = "b-0000000000000001"};
	struct broker_cbs bc = {0};
	struct broker *broker = broker_new(NULL, NULL, &mc, &bc, NULL, &metrics);
	CHECK(broker != NULL);
	CHECK(!broker_up(broker));
	CHECK_EQ_INT(broker_publish(broker, "users/u/notifications", "{}", 2, NULL), -1);

	struct subs_broker sb = {NULL, fb_up, fb_subscribe, fb_unsubscribe};
	struct subs *subs = subs_new(&sb, NULL);
	struct presence *presence = presence_new(broker, subs, "svc/presence/b-0000000000000001");
	struct ask *ask = ask_new(broker, &metrics, REPLIES, 2000);
	CHECK(subs && presence && ask);

	/* questions need the link */
	char key[ASK_KEY_MAX] = "";
	CHECK_EQ_INT(ask_send(ask, json_pack("{s:s}", "op", "ping"), on_answer, NULL, key), -1);
	CHECK_EQ_STR(key, "");
	ask_complete(ask, "r:1", "{\"status\":200}", 14); /* unknown: dropped */
	CHECK_EQ_INT(answered, -1);
	ask_cancel(ask, NULL);
	ask_cancel(ask, "");
	/* presence with the link down says nothing and does not fail */
	presence_changed(presence, "users/u/notifications", true);
	presence_snapshot(presence);
	presence_goodbye(presence);
	CHECK_EQ_INT(metrics.published, 0);

	struct inbox_cfg ic = {
		.replies_topic = REPLIES,
		.ask = ask,
		.subs = subs,
		.presence = presence,
		.metrics = &metrics,
		.to_socket = on_to_socket,
	};
	struct inbox *in = inbox_new(&ic);
	CHECK(in != NULL);
	struct fake_member web = {.m.ops = &ops}, room = {.m.ops = &ops};
	CHECK_EQ_INT(subs_join(subs, &web.m, "users/u/notifications"), 0);
	CHECK_EQ_INT(subs_join(subs, &room.m, "chats/c/messages"), 0);

	/* frames for a topic reach its members */
	inbox_message(in, "users/u/notifications", "{\"type\":\"call.end\"}", 19, NULL);
	CHECK_EQ_INT(web.delivered, 1);
	inbox_message(in, "chats/c/messages", "{\"type\":\"chat\"}", 15, NULL);
	CHECK_EQ_INT(room.delivered, 1);
	/* an answer for one MQTT device never reaches web sockets: by its user
	 * property, whatever the payload (a pong included) */
	mosquitto_property *dev = NULL;
	mosquitto_property_add_string_pair(&dev, MQTT_PROP_USER_PROPERTY, INBOX_FOR_DEVICE, "1");
	inbox_message(in, "users/u/notifications", "{\"type\":\"pong\",\"device_id\":\"p1\"}", 31, dev);
	inbox_message(in, "users/u/notifications", "{\"type\":\"error\",\"code\":\"bad_frame\"}", 35, dev);
	CHECK_EQ_INT(web.delivered, 1);
	mosquitto_property_free_all(&dev);
	/* an error frame for one of our sockets: to it, and counted by code */
	mosquitto_property *d = corr("d:d-0123456789abcdef");
	inbox_message(in, REPLIES, "{\"type\":\"error\",\"code\":\"not_found\",\"message\":\"x\"}", 49, d);
	CHECK_EQ_INT(to_socket_calls, 1);
	CHECK_EQ_STR(to_device, "d-0123456789abcdef");
	CHECK_EQ_INT(metrics.errors[FRAMES_NOT_FOUND], 1);
	/* another bridge's replies, and replies without correlation: ignored */
	inbox_message(in, "svc/bridges/b-0000000000000002/replies", "{}", 2, d);
	inbox_message(in, REPLIES, "{}", 2, NULL);
	CHECK_EQ_INT(to_socket_calls, 1);
	mosquitto_property_free_all(&d);
	/* an answer too late for its question is dropped */
	mosquitto_property *r = corr("r:7");
	inbox_message(in, REPLIES, "{\"status\":200}", 14, r);
	CHECK_EQ_INT(answered, -1);
	mosquitto_property_free_all(&r);
	/* hello: a snapshot (the link is down: nothing published) */
	inbox_message(in, "svc/rules/hello", "{}", 2, NULL);
	CHECK_EQ_INT(metrics.published, 0);

	/* the metrics text names every family */
	char text[16384];
	size_t n = metrics_render(&metrics, 0, text, sizeof(text));
	CHECK(n > 0 && n < sizeof(text));
	CHECK(strstr(text, "ringmq_errors_total{code=\"not_found\"} 1") != NULL);
	CHECK(strstr(text, "ringmq_broker_up 0") != NULL);

	/* the protocol's reasons: WebSocket ones to ws.c, the rest to http.c */
	CHECK(ws_handles(LWS_CALLBACK_ESTABLISHED));
	CHECK(ws_handles(LWS_CALLBACK_RECEIVE));
	CHECK(ws_handles(LWS_CALLBACK_CLOSED));
	CHECK(ws_handles(LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION));
	CHECK(!ws_handles(LWS_CALLBACK_HTTP));
	CHECK(!ws_handles(LWS_CALLBACK_HTTP_BODY));
	CHECK(!ws_handles(LWS_CALLBACK_CLOSED_HTTP));
	CHECK(!ws_handles(LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED));
	/* every accepted socket gets TCP_NODELAY before anything else */
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 0;
	socklen_t ol = sizeof(on);
	CHECK_EQ_INT(server_callback(NULL, LWS_CALLBACK_FILTER_NETWORK_CONNECTION, NULL, (void *)(lws_intptr_t)fd, 0), 0);
	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &ol);
	CHECK(on != 0);
	close(fd);

	subs_leave(subs, &web.m);
	subs_leave(subs, &room.m);
	inbox_free(in);
	presence_free(presence);
	ask_free(ask);
	subs_free(subs);
	broker_free(broker);
	return check_done("test_edge");
}
