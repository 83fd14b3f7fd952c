/* ringmq-rules: the rules wing. One thread, one loop: mqtt_link_poll()
 * waits for the broker socket or the next deadline (at most a second; the
 * deadlines are kept in memory and asked of SQLite again only when one
 * fires or a write changed them, timers.h); when one fires, the turn ends
 * the overdue ringing calls and the accepted calls whose
 * participant has had no presence for the grace or that have lasted the
 * longest allowed (timers.h). Calls are ended for lost presence only once
 * the link has been up RULES_PRESENCE_SETTLE_MS: the bridges' and the
 * plugin's presence snapshots (answers to svc/rules/hello) come first. Owns the MQTT session
 * (persistent, client id ringmq-rules) and the SQLite file; hands every
 * inbound message to the module for its topic:
 *   users/<uid>/outbox, chats/<cid>/in -> signaling.c (client frames)
 *   svc/rules/requests                 -> requests.c (the bridge's questions)
 *   svc/presence/<source>              -> presence.c (and, for an MQTT
 *                                         session that subscribed, the
 *                                         replay of replay.h)
 * and publishes what they return (revocations, retained, again after every
 * connect). SQLite's automatic WAL checkpoint is off:
 * the loop checkpoints after RULES_CHECKPOINT_IDLE_MS without a message, or
 * when the WAL reaches RULES_WAL_MAX_PAGES. With --webhook-url the loop
 * waits in curl's poll instead, the broker's socket added, and drives the
 * broker link without waiting after it (webhooks.h). Settings: flags, then
 * the config file (--config, section [rules]: config.h); SIGHUP reads the
 * file again and applies the time-outs and the log settings. See
 * schemas/INTERNAL.md. Hot standby: before it connects to the broker,
 * rules waits until it holds the store's lock (store_active_try: a
 * PostgreSQL advisory lock, or a flock beside the SQLite file); once
 * active it checks the database every RULES_DB_CHECK_MS and stops, exit
 * RULES_EXIT_DB_LOST, when the connection (and so the lock) is gone. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "health.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "mqtt.h"
#include "options.h"
#include "phones.h"
#include "presence.h"
#include "replay.h"
#include "requests.h"
#include "router.h"
#include "secret.h"
#include "signaling.h"
#include "store.h"
#include "store_pg.h"
#include "timers.h"
#include "topics.h"
#include "webhooks.h"

#define RULES_TICK_MS 1000              /* longest sleep of the loop */
#define RULES_READ_BURST 256            /* most packets read per wake-up before the timers get a turn */
#define RULES_CHECKPOINT_IDLE_MS 200    /* no message this long: checkpoint the WAL (store_checkpoint) */
#define RULES_WAL_MAX_PAGES 10000       /* ... and at this size (~40 MiB of 4 KiB pages) even when busy */
#define RULES_SESSION_EXPIRY_S 86400    /* the broker keeps our session a day */
#define RULES_FLUSH_MS 1000             /* longest wait for queued publishes at shutdown */
#define RULES_USERNAME "svc:rules"
#define RULES_PRESENCE_SETTLE_MS 2000   /* after each (re)connect, before ending calls for lost presence */
#define RULES_STANDBY_POLL_MS 500       /* a standby asks for the store's lock this often (store_active_try) */
#define RULES_DB_CHECK_MS 1000          /* the active one checks its database connection this often */
#define RULES_EXIT_DB_LOST 3            /* exit status when the database connection (and the lock) is gone */
#define RULES_GRACE_DEFAULT_MS 30000
#define RULES_MAX_CALL_DEFAULT_MS (4LL * 3600 * 1000)

static const enum topics_kind subscriptions[] = {
	TOPICS_USER_OUTBOX, TOPICS_CHAT_IN, TOPICS_REQUESTS, TOPICS_PRESENCE,
};

struct rules {
	struct mqtt_link *link;
	struct store *st;
	struct requests_cfg cfg;
	struct calls_limits lim;
	int64_t watch_from; /* wall ms: the watch ends no call before this (settle after a connect) */
	struct timers_next next; /* the next deadlines, as far as the loop knows */
	int64_t last_msg;        /* monotonic ms of the last message in */
	struct webhooks *hooks;  /* NULL without --webhook-url */
	struct health health;    /* ping's store check (health.h) */
	bool topics_acl;         /* --broker-acl topics: a broker without our plugin (docs/scaling.md) */
	struct phones *phones;   /* with topics_acl: the phones' leases (phones.h) */
	int64_t phones_at;       /* monotonic ms of the next lease sweep */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = sig;
}

/* Publishes every entry of out and empties it. Copies that share one
 * payload (the router hands the room and the counterparts the same stamped
 * object) are serialized once and the same bytes go to each topic. */
static void publish_all(struct rules *r, struct router_out *out)
{
	char *bufs[ROUTER_MAX_PUBS];
	size_t lens[ROUTER_MAX_PUBS];
	bool owned[ROUTER_MAX_PUBS];
	for (size_t i = 0; i < out->n; i++) {
		struct router_pub *p = &out->pub[i];
		size_t same = 0;
		while (same < i && out->pub[same].payload != p->payload)
			same++;
		owned[i] = same == i;
		lens[i] = 0;
		bufs[i] = owned[i] ? frames_dump(p->payload, &lens[i]) : bufs[same];
		if (!owned[i])
			lens[i] = lens[same];
		const char *buf = bufs[i];
		size_t len = lens[i];
		static const char *const device_props[] = {"for_device", "1", NULL};
		struct mqtt_pub opt = {
			.qos = 1,
			.expiry_s = p->expiry_s,
			.corr = p->corr_len >= 0 ? p->corr : NULL,
			.corr_len = p->corr_len >= 0 ? (uint16_t)p->corr_len : 0,
			.user_props = p->for_device ? device_props : NULL,
			.retain = p->retain,
		};
		if (!buf || mqtt_link_publish(r->link, p->topic, buf, len, &opt) < 0)
			log_warn("%s: could not publish to %s", __func__, p->topic);
		else
			log_debug("-> %s %s", p->topic, buf);
	}
	for (size_t i = 0; i < out->n; i++)
		if (owned[i])
			free(bufs[i]);
	router_out_clear(out);
}

static void on_client_frame(struct rules *r, const struct mosquitto_message *msg, const mosquitto_property *props,
			    const char *outbox_uid, const char *chat_id)
{
	char sender[IDS_MAX + 1], name[JWT_USERNAME_MAX + 1], device[CALLS_DEVICE_MAX + 1];
	char reply_topic[ROUTER_TOPIC_MAX], corr[ROUTER_CORR_MAX];
	struct signaling_msg m = {
		.payload = msg->payload ? msg->payload : "",
		.len = (size_t)msg->payloadlen,
		.chat_id = chat_id,
	};
	/* The bridge's stamps, read in one pass. */
	static const char *const names[] = {"sender_id", "sender_username", "from_device"};
	char *const bufs[] = {sender, name, device};
	const size_t caps[] = {sizeof(sender), sizeof(name), sizeof(device)};
	const char *found[3];
	mqtt_prop_users(props, 3, names, bufs, caps, found);
	if (outbox_uid) {
		m.sender_id = outbox_uid; /* the topic wins over any property */
	} else if (found[0] && ids_valid(sender)) {
		m.sender_id = sender;
	} else {
		log_warn("%s: %s without a valid sender_id property: dropped", __func__, msg->topic);
		return;
	}
	m.sender_username = found[1];
	m.from_device = found[2];
	if (mqtt_prop_response_topic(props, reply_topic, sizeof(reply_topic)) >= 0)
		m.response_topic = reply_topic;
	if (mqtt_prop_corr(props, corr, sizeof(corr)) >= 0)
		m.corr = corr;

	struct router_out out;
	router_out_init(&out);
	signaling_handle(r->st, &m, clock_now_ms(), &out);
	publish_all(r, &out);
}

static void on_request(struct rules *r, const struct mosquitto_message *msg, const mosquitto_property *props)
{
	char reply_topic[ROUTER_TOPIC_MAX], corr[ROUTER_CORR_MAX];
	int corr_len = mqtt_prop_corr(props, corr, sizeof(corr));
	int status;
	json_t *body;
	struct router_out extra;
	router_out_init(&extra);
	requests_handle(r->st, &r->cfg, msg->payload ? msg->payload : "", (size_t)msg->payloadlen, clock_now_ms(),
			&status, &body, &extra);
	if (mqtt_prop_response_topic(props, reply_topic, sizeof(reply_topic)) < 0 || strpbrk(reply_topic, "+#")) {
		log_warn("%s: a request without a usable response topic (status %d not sent)", __func__, status);
	} else {
		json_t *reply = json_pack("{s:i, s:o}", "status", status, "body", body);
		body = NULL;
		size_t len = 0;
		char *buf = reply ? frames_dump(reply, &len) : NULL;
		struct mqtt_pub opt = {.qos = 1, .corr = corr_len >= 0 ? corr : NULL,
				       .corr_len = corr_len >= 0 ? (uint16_t)corr_len : 0};
		if (!buf || mqtt_link_publish(r->link, reply_topic, buf, len, &opt) < 0)
			log_warn("%s: could not reply on %s", __func__, reply_topic);
		else
			log_debug("-> %s %s", reply_topic, buf);
		free(buf);
		json_decref(reply);
	}
	json_decref(body);
	/* The reply first: the caller learns of the call before the receiver rings. */
	publish_all(r, &extra);
}

struct replay_to {
	struct rules *r;
	const char *uid;
	int64_t now_ms;
};

static void publish_replayed(json_t *frame, int64_t ring_deadline, void *arg)
{
	struct replay_to *t = arg;
	struct router_out out;
	router_out_init(&out);
	if (router_replayed(t->uid, frame, clock_expiry_s(ring_deadline - t->now_ms), &out) == 0)
		publish_all(t->r, &out);
	router_out_clear(&out);
}

/* An MQTT session of uid subscribed to its notification topic: the frames
 * of the calls ringing for uid, for its MQTT devices (replay.h). After
 * the broker's SUBACK: the plugin's report took a round trip through us. */
static void replay_to_phones(struct rules *r, const char *uid)
{
	struct replay_to t = {.r = r, .uid = uid, .now_ms = clock_now_ms()};
	int n = replay_each(r->st, uid, t.now_ms, publish_replayed, &t);
	if (n < 0)
		log_warn("%s: no replay for the MQTT devices of %s (the store failed)", __func__, uid);
	else if (n)
		log_info("replayed %d frame(s) of ringing calls to the MQTT devices of %s", n, uid);
}

/* A presence event of source mqtt for uid, as the plugin would send it. */
static void phone_presence(struct rules *r, const char *uid, bool online)
{
	char ev[IDS_MAX + 48];
	int n = snprintf(ev, sizeof(ev), "{\"user_id\":\"%s\",\"online\":%s}", uid, online ? "true" : "false");
	presence_handle(r->st, TOPICS_PRESENCE_MQTT, ev, (size_t)n, clock_now_ms(), NULL);
	log_info("MQTT devices of %s: %s (outbox lease)", uid, online ? "online" : "offline");
}

static void phone_gone(const char *uid, void *arg)
{
	phone_presence(arg, uid, false);
}

/* --broker-acl topics: a frame on users/<uid>/outbox came from a session of
 * uid (the broker's topic rule is the only proof): nothing it set in its
 * properties is believed (sender_username = the id, from_device = the
 * frame's device_id, answers on the user's own topic), and it renews the
 * user's lease: a first one is the user's MQTT presence and its replay. */
static void on_phone_frame(struct rules *r, const struct mosquitto_message *msg, const char *uid)
{
	for (const char *c = uid; *c; c++)
		if (*c >= 'A' && *c <= 'Z') {
			log_warn("%s: %s: a user id with upper case on a case-folding broker: dropped", __func__, msg->topic);
			return;
		}
	if (msg->retain) {
		log_warn("%s: %s: a retained frame: dropped", __func__, msg->topic);
		return;
	}
	int step = phones_seen(r->phones, uid, clock_mono_ms());
	if (step == 1)
		phone_presence(r, uid, true);
	on_client_frame(r, msg, NULL, uid, NULL);
	if (step == 1)
		replay_to_phones(r, uid);
}

static void on_message(void *user, const struct mosquitto_message *msg, const mosquitto_property *props)
{
	struct rules *r = user;
	char id[IDS_MAX + 1];
	r->last_msg = clock_mono_ms();
	log_debug("<- %s (%d bytes)", msg->topic, msg->payloadlen);
	switch (topics_parse(msg->topic, id)) {
	case TOPICS_USER_OUTBOX:
		if (r->topics_acl)
			on_phone_frame(r, msg, id);
		else
			on_client_frame(r, msg, props, id, NULL);
		break;
	case TOPICS_SVC_OUTBOX: /* a bridge's, for a notification socket: its properties hold */
		if (r->topics_acl)
			on_client_frame(r, msg, props, id, NULL);
		break;
	case TOPICS_CHAT_IN:
		on_client_frame(r, msg, props, NULL, id);
		break;
	case TOPICS_REQUESTS:
		on_request(r, msg, props);
		break;
	case TOPICS_PRESENCE: {
		char replay_uid[IDS_MAX + 1];
		presence_handle(r->st, id, msg->payload ? msg->payload : "", (size_t)msg->payloadlen, clock_now_ms(),
				replay_uid);
		if (replay_uid[0])
			replay_to_phones(r, replay_uid);
		break;
	}
	default:
		log_debug("ignoring a message on %s", msg->topic);
		break;
	}
}

static void republish_one(const char *uid, int64_t before, void *arg)
{
	struct rules *r = arg;
	struct router_out out;
	router_out_init(&out);
	if (router_revocation(uid, before, &out) == 0)
		publish_all(r, &out);
	router_out_clear(&out);
}

/* Every revocation rule again, retained: repairs a broker that lost its
 * retained messages (and so the plugin's memory of them). */
static void republish_revocations(struct rules *r)
{
	if (store_revocations_each(r->st, republish_one, r) != STORE_OK)
		log_warn("%s: the revocations were not published again (the store failed)", __func__);
}

static void on_up(void *user, bool session_present)
{
	struct rules *r = user;
	/* Subscribing again is harmless when the session kept them, and
	 * repairs a session the broker lost. */
	for (size_t i = 0; i < sizeof(subscriptions) / sizeof(subscriptions[0]); i++)
		if (mqtt_link_subscribe(r->link, topics_filter(subscriptions[i]), 1, NULL) < 0)
			log_error("%s: cannot subscribe to %s", __func__, topics_filter(subscriptions[i]));
	if (r->topics_acl && mqtt_link_subscribe(r->link, topics_filter(TOPICS_SVC_OUTBOX), 1, NULL) < 0)
		log_error("%s: cannot subscribe to %s", __func__, topics_filter(TOPICS_SVC_OUTBOX));
	/* After the SUBSCRIBEs on the same connection: the snapshots the
	 * bridges send in answer reach us. */
	if (mqtt_link_publish(r->link, TOPICS_RULES_HELLO, "{}", 2, NULL) < 0)
		log_warn("%s: cannot publish %s", __func__, TOPICS_RULES_HELLO);
	/* Whoever is not (yet) known present counts as absent from now unless
	 * already absent; the snapshots clear those who are there. */
	int64_t now = clock_now_ms();
	if (store_calls_presence_sync(r->st, NULL, now, NULL) != STORE_OK)
		log_warn("%s: absences of accepted calls not brought up to date", __func__);
	r->watch_from = now + RULES_PRESENCE_SETTLE_MS;
	republish_revocations(r);
}

static void on_down(void *user, bool was_up, int reason)
{
	if (was_up && !stopping)
		log_warn("broker link down; ring time-outs wait until it is back");
}

/* Takes in what the store changed, ends every overdue ringing call when
 * the ring deadline fires, then every accepted call the watch ends when its
 * deadline fires (once the presence has settled), and asks the store again
 * for whatever deadline is unknown (timers.h). -1 when the store failed. */
static int run_timers(struct rules *r)
{
	struct router_out out;
	router_out_init(&out);
	int64_t ring_added;
	bool watch_changed;
	store_take_changes(r->st, &ring_added, &watch_changed);
	timers_next_note(&r->next, ring_added, watch_changed);
	int rc = 0;
	if (timers_next_ring_due(&r->next, clock_now_ms())) {
		while ((rc = timers_expire_one(r->st, clock_now_ms(), &out)) == 1)
			publish_all(r, &out);
		r->next.ring_at = TIMERS_UNKNOWN;
	}
	if (rc == 0 && clock_now_ms() >= r->watch_from && timers_next_watch_due(&r->next, clock_now_ms())) {
		while ((rc = timers_watch_one(r->st, &r->lim, clock_now_ms(), &out)) == 1)
			publish_all(r, &out);
		r->next.watch_at = TIMERS_UNKNOWN;
	}
	router_out_clear(&out);
	/* Ending calls only makes deadlines later: nothing to take in. */
	store_take_changes(r->st, &ring_added, &watch_changed);
	timers_next_note(&r->next, ring_added, watch_changed);
	if (timers_next_refresh(&r->next, r->st, &r->lim) < 0)
		rc = -1;
	return rc < 0 ? -1 : 0;
}

/* Checkpoints the WAL once the loop has had no message for
 * RULES_CHECKPOINT_IDLE_MS, or when it holds RULES_WAL_MAX_PAGES, so its
 * fdatasyncs do not stall the requests queued behind a commit; else
 * shortens *wait_ms to the moment the loop will be idle. */
static void checkpoint_when_idle(struct rules *r, int *wait_ms)
{
	int pages = store_wal_pages(r->st);
	if (!pages)
		return;
	int64_t idle_in = r->last_msg + RULES_CHECKPOINT_IDLE_MS - clock_mono_ms();
	if (idle_in <= 0 || pages >= RULES_WAL_MAX_PAGES) {
		int64_t t0 = clock_mono_ms();
		if (store_checkpoint(r->st) == STORE_OK)
			log_debug("WAL checkpoint of %d pages (%s) in %" PRId64 " ms", pages, idle_in <= 0 ? "idle" : "size",
				  clock_mono_ms() - t0);
	} else if (idle_in < *wait_ms) {
		*wait_ms = (int)idle_in;
	}
}

/* With webhooks on: moves the transfers on, then waits in curl's poll for
 * curl's sockets or the broker's (or its reconnect), at most *wait_ms; the
 * broker link's own poll that follows then must not wait (*wait_ms = 0). */
static void wait_with_webhooks(struct rules *r, int *wait_ms)
{
	webhooks_run(r->hooks, clock_now_ms(), wait_ms);
	int fd = mqtt_link_fd(r->link);
	if (fd < 0 && mqtt_link_retry_in_ms(r->link) < *wait_ms)
		*wait_ms = mqtt_link_retry_in_ms(r->link);
	webhooks_wait(r->hooks, fd, fd >= 0 && mqtt_link_want_write(r->link), *wait_ms);
	*wait_ms = 0;
	const struct webhooks_stats *ws = webhooks_stats(r->hooks);
	metrics_webhooks(&metrics_rules, ws->queued, ws->delivered, ws->failed, ws->expired, ws->overflow,
			 store_outbox_count(r->st));
}

#define RULES_INSTANCE_MAX 300 /* "<host name>/<pid>" */

/* Names this process for /healthz and /metrics/rules ("which rules is
 * active": a standby is not on the broker, so whoever answers is). */
static void rules_instance(char *out, size_t cap)
{
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, cap, "%s/%ld", host, (long)getpid());
}

static const char about[] =
	"Routes call signaling, owns call and conversation state (SQLite), answers\n"
	"the bridges' requests, runs ring time-outs and ends stuck calls. See README.md.";

#define RULES_SPEC_MAX 48 /* entries of the option table */

/* One reading of the command line and the config file. */
struct settings {
	const char *host, *username, *broker_acl, *db, *client_id, *secret_file, *config, *hook_url, *hook_secret_file;
	size_t hook_max;
	struct mqtt_tls tls;
	int port;
	long ring_ms, grace_ms, max_call_ms, phone_lease_s;
	int level, format;
	bool check;
	struct options_spec spec[RULES_SPEC_MAX];
};

/* The defaults into st and its table over them. */
static void settings_init(struct settings *st)
{
	*st = (struct settings){
		.host = "127.0.0.1", .username = RULES_USERNAME, .broker_acl = "plugin", .db = "ringmq.db", .client_id = "ringmq-rules",
		.port = 1883, .ring_ms = 45000, .phone_lease_s = PHONES_LEASE_DEFAULT_MS / 1000,
		.grace_ms = RULES_GRACE_DEFAULT_MS, .max_call_ms = RULES_MAX_CALL_DEFAULT_MS, .level = LOG_LEVEL_INFO,
		.hook_max = WEBHOOKS_OUTBOX_DEFAULT,
	};
	const char *env_level = getenv("RINGMQ_LOG_LEVEL");
	if (env_level && log_level_parse(env_level) >= 0)
		st->level = log_level_parse(env_level);
	const struct options_spec spec[] = {
		CONFIG_OPTIONS(&st->config, &st->check, "[rules]"),
		MQTT_LINK_OPTIONS(st->host, st->port, st->tls, st->username, st->broker_acl, "svc:rules"),
		{"phone-lease-s", OPTIONS_LONG, &st->phone_lease_s, 1, 3600, "N",
		 "with --broker-acl topics: a phone counts as online for N s after\n"
		 "each frame on its outbox (default 60)"},
		{"service-secret-file", OPTIONS_STR, &st->secret_file, 0, 0, "F",
		 "broker login as --mqtt-username with the secret in F\n(default $RINGMQ_SERVICE_SECRET; none: anonymous)"},
		{"db", OPTIONS_STR, &st->db, 0, 0, "PATH",
		 "SQLite file, created if missing (default ringmq.db),\nor a postgresql:// conninfo"},
		{"ring-timeout-ms", OPTIONS_LONG | OPTIONS_LIVE, &st->ring_ms, 1, 24L * 3600 * 1000, "N",
		 "a ringing call becomes missed after N ms (default 45000)"},
		{"presence-grace-ms", OPTIONS_LONG | OPTIONS_LIVE, &st->grace_ms, 0, 24L * 3600 * 1000, "N",
		 "end an accepted call (hangup, by that participant) when a\n"
		 "participant has had no notification socket and no MQTT\n"
		 "session for N ms (default 30000; 0 = never)"},
		{"max-call-ms", OPTIONS_LONG | OPTIONS_LIVE, &st->max_call_ms, 0, 30L * 24 * 3600 * 1000, "N",
		 "end an accepted call (hangup, by nobody) N ms after the\n"
		 "answer (default 14400000 = 4 h; 0 = no limit)"},
		{"client-id", OPTIONS_STR, &st->client_id, 0, 0, "ID",
		 "MQTT client id of the persistent session (default ringmq-rules)"},
		{"webhook-url", OPTIONS_STR, &st->hook_url, 0, 0, "URL",
		 "POST call events (call.ringing, call.accepted, call.ended)\n"
		 "to this http:// or https:// URL (default none: no events)"},
		{"webhook-secret-file", OPTIONS_STR, &st->hook_secret_file, 0, 0, "F",
		 "sign them with the secret in F (default $RINGMQ_WEBHOOK_SECRET;\n"
		 "required with --webhook-url)"},
		{"webhook-outbox-max", OPTIONS_SIZE, &st->hook_max, 1, 100000000, "N",
		 "events waiting for delivery at most; more are dropped\n(default 100000)"},
		{"log-level", OPTIONS_LEVEL | OPTIONS_LIVE, &st->level, 0, 0, "L", "error, warn, info, debug (default info)"},
		{"log-format", OPTIONS_FORMAT | OPTIONS_LIVE, &st->format, 0, 0, "F",
		 "text (default) or json: one object a line (ts, level, msg, ids)"},
		{NULL, 0, NULL, 0, 0, NULL, NULL},
	};
	_Static_assert(sizeof(spec) / sizeof(spec[0]) <= RULES_SPEC_MAX, "RULES_SPEC_MAX");
	memcpy(st->spec, spec, sizeof(spec));
}

/* Fills st: defaults, then argv, then the config file argv names (cf
 * holds its strings). 0, 1 (--help), or 2 with why in err (empty when
 * options_parse said it). */
static int settings_read(struct settings *st, struct config *cf, int argc, char **argv, char *err, size_t cap)
{
	settings_init(st);
	int rc = config_parse("ringmq-rules", about, st->spec, argc, argv, &st->config, "rules", cf, err, cap);
	if (rc)
		return rc;
	if (!st->client_id[0]) {
		snprintf(err, cap, "client-id must not be empty");
		return 2;
	}
	return 0;
}

/* Hot standby: only the rules holding the store's lock connects to the
 * broker (with the shared client id: the broker's session takeover fences
 * a previous holder and hands over the queued frames). Waits, asking every
 * RULES_STANDBY_POLL_MS. 0 once active, 1 when stopped by a signal, -1 on
 * a database error. */
static int wait_active(struct store *st)
{
	int rc = store_active_try(st);
	if (rc == 0)
		log_info("standby: another ringmq-rules holds the store's lock; waiting for it");
	while (rc == 0 && !stopping) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = RULES_STANDBY_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
		rc = store_active_try(st);
	}
	if (rc < 0)
		return -1;
	if (stopping)
		return 1;
	log_info("active: this ringmq-rules holds the store's lock");
	return 0;
}

/* True when the database connection is gone (checked every
 * RULES_DB_CHECK_MS): the lock went with it, so routing stops. */
static bool db_lost(struct store *st, int64_t *next_check)
{
	int64_t now = clock_mono_ms();
	if (now < *next_check)
		return false;
	*next_check = now + RULES_DB_CHECK_MS;
	return store_check(st) != STORE_OK;
}

static volatile sig_atomic_t reload_due;

static void on_hup(int sig)
{
	reload_due = 1;
}

static void say_change(void *arg, const char *line)
{
	log_info("SIGHUP: %s", line);
}

/* SIGHUP: the config file read again; the live settings (time-outs, log)
 * apply from the next call and the next turn of the timers, the others are
 * logged as needing a restart. A file that does not read changes nothing. */
static void reload(struct rules *r, struct settings *cur, struct config *cf, int argc, char **argv)
{
	struct settings *fresh = malloc(sizeof(*fresh));
	char err[CONFIG_ERR_MAX];
	if (!fresh) {
		log_error("SIGHUP: out of memory: nothing changed");
	} else if (settings_read(fresh, cf, argc, argv, err, sizeof(err)) != 0) {
		log_error("SIGHUP: %s: refused, the old settings stay", err);
	} else {
		int restart = 0;
		int applied = config_apply(cur->spec, fresh->spec, say_change, NULL, &restart);
		log_set_level((enum log_level)cur->level);
		log_set_format((enum log_format)cur->format);
		r->cfg.ring_timeout_ms = cur->ring_ms;
		r->lim = (struct calls_limits){.presence_grace_ms = cur->grace_ms, .max_call_ms = cur->max_call_ms};
		r->next.watch_at = TIMERS_UNKNOWN; /* the limits move the watch's deadline */
		log_info("SIGHUP: %s reloaded: %d change(s) applied, %d need a restart",
			 cur->config ? cur->config : "(no config file)", applied, restart);
	}
	config_keep(cf, cur->spec);
	free(fresh);
}

int main(int argc, char **argv)
{
	static struct settings st;
	char err[CONFIG_ERR_MAX];
	struct config *cf = config_new();
	int rc = cf ? settings_read(&st, cf, argc, argv, err, sizeof(err)) : 2;
	if (rc) {
		if (rc == 2 && err[0])
			fprintf(stderr, "ringmq-rules: %s\n", err);
		config_free(cf);
		return rc == 1 ? 0 : rc;
	}
	log_init("ringmq-rules", (enum log_level)st.level);
	log_set_format((enum log_format)st.format);
	const char *host = st.host, *db = st.db, *client_id = st.client_id, *secret_file = st.secret_file;
	long port = st.port, ring_ms = st.ring_ms, grace_ms = st.grace_ms, max_call_ms = st.max_call_ms;
	const char *hook_url = st.hook_url, *hook_secret_file = st.hook_secret_file;
	size_t hook_max = st.hook_max;
	struct mqtt_tls tls = st.tls;
	char tls_err[MQTT_TLS_ERR_MAX];
	if (mqtt_tls_check(&tls, tls_err, sizeof(tls_err)) != 0) {
		fprintf(stderr, "ringmq-rules: %s\n", tls_err);
		config_free(cf);
		return 2;
	}

	if (strcmp(st.broker_acl, "plugin") && strcmp(st.broker_acl, "topics")) {
		fprintf(stderr, "ringmq-rules: --broker-acl takes plugin or topics, not \"%s\"\n", st.broker_acl);
		config_free(cf);
		return 2;
	}
	if (hook_url && !webhooks_url_ok(hook_url)) {
		fprintf(stderr, "ringmq-rules: --webhook-url takes an http:// or https:// URL\n");
		return 2;
	}
	size_t hook_secret_len = 0;
	char *hook_secret = hook_url ? secret_load(hook_secret_file, "RINGMQ_WEBHOOK_SECRET", &hook_secret_len) : NULL;
	if (hook_url && !hook_secret) {
		fprintf(stderr, "ringmq-rules: --webhook-url needs --webhook-secret-file (or $RINGMQ_WEBHOOK_SECRET)\n");
		return 2;
	}
	size_t secret_len = 0;
	char *secret = secret_load(secret_file, "RINGMQ_SERVICE_SECRET", &secret_len);
	if (secret_file && !secret) {
		free(hook_secret);
		config_free(cf);
		return 2; /* secret_load said why */
	}
	if (st.check) {
		free(secret);
		free(hook_secret);
		config_free(cf);
		if (!st.config) {
			fprintf(stderr, "ringmq-rules: --check-config needs --config FILE\n");
			return 2;
		}
		printf("ringmq-rules: %s: ok\n", st.config);
		return 0;
	}

	struct rules r = {.cfg = {.ring_timeout_ms = ring_ms},
			  .lim = {.presence_grace_ms = grace_ms, .max_call_ms = max_call_ms}};
	int status = 1;
	timers_next_init(&r.next);
	r.topics_acl = !strcmp(st.broker_acl, "topics");
	if (r.topics_acl && !(r.phones = phones_new(st.phone_lease_s * 1000)))
		goto out;
	health_init(&r.health);
	r.cfg.health = &r.health;
	char instance[RULES_INSTANCE_MAX];
	rules_instance(instance, sizeof(instance));
	r.cfg.instance = instance;
	r.cfg.store_kind = store_pg_is_conninfo(db) ? "postgresql" : "sqlite";
	metrics_rules.instance = instance;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (store_open(db, &r.st) != STORE_OK)
		goto out;
	int waited = wait_active(r.st);
	if (waited) {
		status = waited < 0 ? 1 : 0;
		goto out;
	}
	struct webhooks_cfg hook_cfg = {.url = hook_url, .secret = hook_secret, .secret_len = hook_secret_len,
					.outbox_max = hook_max};
	if (hook_url && !(r.hooks = webhooks_new(&hook_cfg, r.st)))
		goto out;
	struct mqtt_cfg cfg = {
		.host = host,
		.port = (int)port,
		.client_id = client_id,
		.username = secret ? st.username : NULL,
		.lower_ids = r.topics_acl,
		.password = secret,
		.persistent = true,
		.session_expiry_s = RULES_SESSION_EXPIRY_S,
		.tls = tls,
	};
	struct mqtt_cbs cbs = {.on_up = on_up, .on_down = on_down, .on_message = on_message};
	r.link = mqtt_link_new(&cfg, &cbs, &r);
	if (!r.link)
		goto out;

	log_info("ringmq-rules: db %s, broker %s:%ld%s as %s, ring time-out %ld ms, presence grace %ld ms, "
		 "longest call %ld ms", db, host, port, tls.on ? " over TLS" : "", secret ? st.username : "anonymous",
		 ring_ms, grace_ms,
		 max_call_ms);
	int64_t db_next_check = 0;
	bool lost = false;
	while (!stopping) {
		if ((lost = db_lost(r.st, &db_next_check))) {
			log_error("lost the database: stopping at once (what was decided is sent, frames still arriving "
				  "are answered unavailable), exit %d; a standby takes over", RULES_EXIT_DB_LOST);
			break;
		}
		if (reload_due) {
			reload_due = 0;
			reload(&r, &st, cf, argc, argv);
		}
		int wait = RULES_TICK_MS;
		if (r.phones && clock_mono_ms() >= r.phones_at) {
			phones_expire(r.phones, clock_mono_ms(), phone_gone, &r);
			r.phones_at = clock_mono_ms() + 1000;
		}
		if (mqtt_link_is_up(r.link) && run_timers(&r) == 0)
			wait = timers_next_wait_ms(&r.next, clock_now_ms(), r.watch_from, RULES_TICK_MS);
		checkpoint_when_idle(&r, &wait);
		if (r.hooks)
			wait_with_webhooks(&r, &wait);
		if (mqtt_link_poll_burst(r.link, wait, RULES_READ_BURST) < 0) {
			log_error("poll failed; stopping");
			break;
		}
	}
	if (!lost)
		log_info("stopping (signal %d)", (int)stopping);
	/* Only a link that is up has publishes queued (while connecting, the
	 * CONNECT is what waits). */
	for (int64_t end = clock_mono_ms() + RULES_FLUSH_MS;
	     mqtt_link_is_up(r.link) && mqtt_link_want_write(r.link) && clock_mono_ms() < end;)
		mqtt_link_poll(r.link, 50);
	status = lost ? RULES_EXIT_DB_LOST : 0;
out:
	mqtt_link_free(r.link);
	phones_free(r.phones);
	webhooks_free(r.hooks);
	store_close(r.st);
	free(secret);
	free(hook_secret);
	config_free(cf);
	return status;
}
