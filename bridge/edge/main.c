/* ringmq-bridge: the WebSocket/HTTP edge of ringmq.
 *
 * main owns the configuration, the libwebsockets context and its loop, the
 * wiring of the parts (edge.h), SIGHUP (the key files read again) and the
 * shutdown: SIGTERM/SIGINT close every socket with 1001, flush, tell the
 * broker we are gone and exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "ask.h"
#include "broker.h"
#include "clock.h"
#include "edge.h"
#include "ice.h"
#include "inbox.h"
#include "log.h"
#include "options.h"
#include "presence.h"
#include "ratemap.h"
#include "secret.h"
#include "server.h"
#include "subs.h"
#include "ws.h"

#define BROKER_KEEPALIVE_S 15   /* MQTT keep-alive: a dead broker is noticed within 1.5x this */

/* Shutdown, driven by the loop: SIGTERM/SIGINT close every socket with
 * 1001, then the loop runs until they are gone (or EDGE_SHUTDOWN_FLUSH_MS
 * passed) and stops. */
struct shutdown {
	struct edge *e;
	struct ev_loop *loop;
	ev_signal sigterm, sigint, sighup;
	ev_timer poll;
	int64_t until;
};

static void shutdown_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct shutdown *s = w->data;
	if (!ws_hub_count(s->e->ws) || clock_mono_ms() >= s->until) {
		ev_timer_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
	}
}

/* SIGHUP: every key file read again, all or nothing; no socket dropped
 * (a socket's token was checked when it opened). */
static void on_reload(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct shutdown *s = w->data;
	char err[JWT_KEYS_ERR_MAX], keys[JWT_KEYS_ERR_MAX];
	if (jwt_keyset_reload(s->e->cfg.keys, err, sizeof(err)) != 0) {
		log_error("SIGHUP: key files not reloaded, the old keys stay in force: %s", err);
		return;
	}
	jwt_keyset_describe(s->e->cfg.keys, keys, sizeof(keys));
	log_info("SIGHUP: key files reloaded: %s", keys);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct shutdown *s = w->data;
	if (s->e->stopping)
		return;
	s->e->stopping = true;
	log_info("shutting down (signal %d): closing %zu sockets with 1001", w->signum, ws_hub_count(s->e->ws));
	ws_close_all(s->e->ws);
	s->until = clock_mono_ms() + EDGE_SHUTDOWN_FLUSH_MS;
	ev_timer_start(loop, &s->poll);
}

static const char about[] =
	"The WebSocket/HTTP edge of ringmq: web clients connect here; frames travel\n"
	"over MQTT to ringmq-rules and back.";

/* "a,b,c" of a list's items into buf; -1 when it does not fit or an item
 * holds a comma (jwt_keyset_load takes comma-separated lists). */
static int join_list(const struct options_list *l, char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = '\0';
	for (int i = 0; i < l->n; i++) {
		int n = snprintf(buf + at, cap - at, "%s%s", i ? "," : "", l->items[i]);
		if (strchr(l->items[i], ',') || n < 0 || (size_t)n >= cap - at)
			return -1;
		at += (size_t)n;
	}
	return 0;
}

/* The key set of the key files, or of $RINGMQ_JWT_SECRET when none is
 * named. 0, or -1 after a message. */
static int load_keys(struct edge_cfg *cfg, const struct options_list *secrets, const struct options_list *pems)
{
	char s[EDGE_PATHS_MAX], p[EDGE_PATHS_MAX], err[JWT_KEYS_ERR_MAX];
	if (join_list(secrets, s, sizeof(s)) || join_list(pems, p, sizeof(p))) {
		fprintf(stderr, "ringmq-bridge: key file names too long, or holding a comma\n");
		return -1;
	}
	if (jwt_keyset_load(&cfg->keys, s, p, err, sizeof(err)) != 0) {
		fprintf(stderr, "ringmq-bridge: %s\n", err);
		return -1;
	}
	if (secrets->n || pems->n)
		return 0;
	size_t len = 0;
	char *env = secret_load(NULL, "RINGMQ_JWT_SECRET", &len);
	int rc = env ? jwt_keyset_add_secret(cfg->keys, NULL, (const unsigned char *)env, len, err, sizeof(err)) : -1;
	free(env);
	if (rc != 0)
		fprintf(stderr, "ringmq-bridge: no key for user tokens (--jwt-secret-file, --jwt-public-key-file or "
				"$RINGMQ_JWT_SECRET)\n");
	return rc;
}

/* Fills cfg (holding the defaults) from argv; 0, 1 (--help) or 2 (bad). */
static int parse_args(int argc, char **argv, struct edge_cfg *cfg, int *level)
{
	const char *api_file = NULL, *svc_file = NULL, *turn_file = NULL, *secret_files[JWT_KEYS_MAX],
		   *pem_files[JWT_KEYS_MAX];
	struct options_list origins = {cfg->origins, 0, EDGE_MAX_ORIGINS};
	struct options_list turns = {cfg->ice.turn, 0, ICE_URIS_MAX}, stuns = {cfg->ice.stun, 0, ICE_URIS_MAX};
	struct options_list secrets = {secret_files, 0, JWT_KEYS_MAX}, pems = {pem_files, 0, JWT_KEYS_MAX};
	long leeway = 0;
	const struct options_spec spec[] = {
		{"listen", OPTIONS_STR, &cfg->listen, 0, 0, "ADDR", "listen address (default 127.0.0.1)"},
		{"port", OPTIONS_INT, &cfg->port, 0, 65535, "N", "HTTP/WebSocket port (default 8080)"},
		{"mqtt-host", OPTIONS_STR, &cfg->mqtt_host, 0, 0, "H", "broker host (default 127.0.0.1)"},
		{"mqtt-port", OPTIONS_INT, &cfg->mqtt_port, 1, 65535, "N", "broker port (default 1883)"},
		MQTT_TLS_OPTIONS(cfg->mqtt_tls),
		{"jwt-secret-file", OPTIONS_LIST, &secrets, 0, 0, "F",
		 "HS256 key for user tokens, kid = F's name without extension\n"
		 "(repeatable; none and no --jwt-public-key-file: $RINGMQ_JWT_SECRET)"},
		{"jwt-public-key-file", OPTIONS_LIST, &pems, 0, 0, "F",
		 "RS256 (RSA) or ES256 (P-256) PEM public key, kid = F's name\n"
		 "without extension (repeatable; SIGHUP re-reads every key file)"},
		{"jwt-leeway-s", OPTIONS_LONG, &leeway, 0, JWT_LEEWAY_MAX_S, "N",
		 "leeway on a token's exp, nbf and iat (default 0)"},
		{"jwt-audience", OPTIONS_STR, &cfg->policy.audience, 0, 0, "A", "tokens must name A in aud (default: aud ignored)"},
		{"jwt-issuer", OPTIONS_STR, &cfg->policy.issuer, 0, 0, "I", "tokens must have iss I (default: iss ignored)"},
		{"api-key-file", OPTIONS_STR, &api_file, 0, 0, "F",
		 "server API key (else $RINGMQ_API_KEY; none: /api/ answers 401)"},
		{"service-secret-file", OPTIONS_STR, &svc_file, 0, 0, "F",
		 "broker login as svc:bridge (else $RINGMQ_SERVICE_SECRET; none: anonymous)"},
		{"web-root", OPTIONS_STR, &cfg->web_root, 0, 0, "DIR", "serve the demo page from DIR at /"},
		{"allow-origin", OPTIONS_LIST, &origins, 0, 0, "ORIGIN",
		 "allow this Origin for WebSockets and CORS (repeatable; \"*\" = any;\n"
		 "the bridge's own origin is always allowed)"},
		{"initiate-per-minute", OPTIONS_INT, &cfg->initiate_per_minute, 1, 60000, "N",
		 "POST /calls/initiate/ per caller and minute, beyond: 429 (default 10)"},
		{"initiate-burst", OPTIONS_INT, &cfg->initiate_burst, 1, 10000, "N",
		 "... with bursts of N (default 5)"},
		{"request-timeout-ms", OPTIONS_INT, &cfg->request_timeout_ms, 10, 600000, "N",
		 "longest wait for rules before 503 (default 2000)"},
		{"max-frame", OPTIONS_SIZE, &cfg->max_frame, 128, 16 << 20, "BYTES",
		 "larger frames close the socket with 1009 (default 65536)"},
		{"rate", OPTIONS_INT, &cfg->rate, 1, 1000000, "N", "frames per second per socket (default 50)"},
		{"burst", OPTIONS_INT, &cfg->burst, 1, 1000000, "N", "burst allowance (default 100)"},
		{"send-queue", OPTIONS_SIZE, &cfg->send_queue, 1024, 1L << 30, "BYTES",
		 "queued for one socket before close 1013 (default 1048576)"},
		{"ping-interval-s", OPTIONS_INT, &cfg->ping_interval_s, 1, 86400, "N",
		 "WebSocket ping after N s of silence from a client (default 30)"},
		{"idle-timeout-s", OPTIONS_INT, &cfg->idle_timeout_s, 2, 86400, "N",
		 "drop a socket silent (no frame, no pong) for N s (default 60)"},
		{"handshake-timeout-s", OPTIONS_INT, &cfg->handshake_timeout_s, 1, 3600, "N",
		 "a connection must complete its HTTP request or WebSocket\n"
		 "handshake (and send an HTTP body) within N s (default 10)"},
		{"max-sockets-per-user", OPTIONS_INT, &cfg->max_sockets_per_user, 1, 1000000, "N",
		 "WebSockets one user may hold (both kinds); the next is closed\n"
		 "with 4429 (default 32)"},
		{"turn-uri", OPTIONS_LIST, &turns, 0, 0, "URI",
		 "TURN server for GET /calls/ice-servers/, e.g. turn:turn.example:3478\n"
		 "(repeatable; needs --turn-secret-file: without one the bridge\n"
		 "refuses to start)"},
		{"stun-uri", OPTIONS_LIST, &stuns, 0, 0, "URI",
		 "STUN server for GET /calls/ice-servers/, e.g. stun:turn.example:3478\n"
		 "(repeatable)"},
		{"turn-secret-file", OPTIONS_STR, &turn_file, 0, 0, "F",
		 "the TURN server's static-auth-secret (coturn use-auth-secret):\n"
		 "TURN credentials are HMACs of it; read at start"},
		{"turn-ttl-s", OPTIONS_LONG, &cfg->ice.ttl_s, 1, ICE_TTL_MAX_S, "N",
		 "a TURN credential is good for N s (default 86400)"},
		{"no-require-exp", OPTIONS_FALSE, &cfg->policy.require_exp, 0, 0, NULL, "accept tokens without exp"},
		{"log-level", OPTIONS_LEVEL, level, 0, 0, "L", "error, warn, info, debug (default info; or $RINGMQ_LOG_LEVEL)"},
		{NULL, 0, NULL, 0, 0, NULL, NULL},
	};
	int rc = options_parse("ringmq-bridge", about, spec, argc, argv);
	if (rc)
		return rc;
	cfg->norigins = origins.n;
	if (cfg->ping_interval_s >= cfg->idle_timeout_s) {
		fprintf(stderr, "ringmq-bridge: --ping-interval-s must be below --idle-timeout-s\n");
		return 2;
	}
	cfg->policy.leeway_s = leeway;
	if (load_keys(cfg, &secrets, &pems) != 0)
		return 2;
	cfg->api_key = secret_load(api_file, "RINGMQ_API_KEY", &cfg->api_key_len);
	if (api_file && !cfg->api_key)
		return 2;
	cfg->service_secret = secret_load(svc_file, "RINGMQ_SERVICE_SECRET", NULL);
	if (svc_file && !cfg->service_secret)
		return 2;
	cfg->ice.nturn = turns.n;
	cfg->ice.nstun = stuns.n;
	if (turn_file && !(cfg->ice.secret = secret_load(turn_file, NULL, &cfg->ice.secret_len)))
		return 2;
	char err[ICE_ERR_MAX > MQTT_TLS_ERR_MAX ? ICE_ERR_MAX : MQTT_TLS_ERR_MAX];
	if (ice_cfg_check(&cfg->ice, err, sizeof(err)) != 0 || mqtt_tls_check(&cfg->mqtt_tls, err, sizeof(err)) != 0) {
		fprintf(stderr, "ringmq-bridge: %s\n", err);
		return 2;
	}
	return 0;
}

/* --- wiring: callbacks go up, calls go down ------------------------------ */

static bool subs_broker_up(void *user)
{
	return broker_up(user);
}

static int subs_broker_subscribe(void *user, const char *topic, int *mid)
{
	return broker_subscribe(user, topic, mid);
}

static int subs_broker_unsubscribe(void *user, const char *topic)
{
	return broker_unsubscribe(user, topic);
}

static void first_socket(void *user, const char *topic)
{
	presence_changed(user, topic, true);
}

static void last_socket(void *user, const char *topic)
{
	presence_changed(user, topic, false);
}

/* Subscribes again whether or not the broker kept the session: a
 * re-SUBSCRIBE replaces the old one, and the session may be gone (a broker
 * that lost its state, an expiry). Frames the session queued arrive first
 * and go to the sockets that are still open. */
static void on_broker_up(void *user)
{
	struct edge *e = user;
	broker_subscribe(e->broker, e->replies_topic, NULL);
	broker_subscribe(e->broker, TOPICS_RULES_HELLO, NULL);
	broker_subscribe(e->broker, topics_filter(TOPICS_REVOCATION), NULL);
	broker_subscribe(e->broker, topics_filter(TOPICS_MEMBERS), NULL);
	subs_link_up(e->subs);
	presence_snapshot(e->presence);
}

static void on_broker_down(void *user)
{
	struct edge *e = user;
	subs_link_down(e->subs);
}

static void on_broker_message(void *user, const char *topic, const void *payload, size_t len,
			      const mosquitto_property *props)
{
	struct edge *e = user;
	inbox_message(e->inbox, topic, payload, len, props);
}

static void on_broker_subscribed(void *user, int mid, int granted_qos)
{
	struct edge *e = user;
	subs_subscribed(e->subs, mid, granted_qos);
}

/* Makes the parts and connects them; 0, or -1 (logged). */
static int wire(struct edge *e)
{
	struct mqtt_cfg mc = {
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
		.will_payload = PRESENCE_GONE,
		.tls = e->cfg.mqtt_tls,
	};
	struct broker_cbs bc = {
		.on_up = on_broker_up,
		.on_down = on_broker_down,
		.on_message = on_broker_message,
		.on_subscribed = on_broker_subscribed,
	};
	e->broker = broker_new(e->ctx, e->vh, &mc, &bc, e, &e->metrics);
	if (!e->broker)
		return -1;
	struct subs_broker sb = {e->broker, subs_broker_up, subs_broker_subscribe, subs_broker_unsubscribe};
	e->subs = subs_new(&sb, NULL);
	e->presence = e->subs ? presence_new(e->broker, e->subs, e->presence_topic) : NULL;
	struct subs_hooks hooks = {e->presence, first_socket, last_socket};
	if (!e->presence)
		goto fail;
	subs_set_hooks(e->subs, &hooks);
	e->ask = ask_new(e->broker, &e->metrics, e->replies_topic, e->cfg.request_timeout_ms);
	e->ws = ws_hub_new(e);
	e->initiates = ratemap_new(e->cfg.initiate_burst, 60000 / e->cfg.initiate_per_minute, EDGE_INITIATE_USERS_MAX);
	e->revoked = revoked_new();
	if (!e->ask || !e->ws || !e->initiates || !e->revoked)
		goto fail;
	struct inbox_cfg ic = {
		.replies_topic = e->replies_topic,
		.ask = e->ask,
		.subs = e->subs,
		.presence = e->presence,
		.metrics = &e->metrics,
		.to_socket = ws_to_device,
		.revoked = ws_revoked,
		.members = ws_members,
		.user = e->ws,
	};
	e->inbox = inbox_new(&ic);
	if (!e->inbox)
		goto fail;
	return 0;
fail:
	log_error("%s: out of memory", __func__);
	return -1;
}

int main(int argc, char **argv)
{
	static struct edge e;
	int level = log_level_parse(getenv("RINGMQ_LOG_LEVEL"));
	e.cfg = (struct edge_cfg){
		.listen = "127.0.0.1",
		.port = 8080,
		.mqtt_host = "127.0.0.1",
		.mqtt_port = 1883,
		.request_timeout_ms = 2000,
		.initiate_per_minute = EDGE_INITIATE_PER_MINUTE,
		.initiate_burst = EDGE_INITIATE_BURST,
		.max_frame = 64 * 1024,
		.rate = 50,
		.burst = 100,
		.send_queue = 1024 * 1024,
		.handshake_timeout_s = EDGE_HANDSHAKE_TIMEOUT_S,
		.ping_interval_s = EDGE_WS_PING_S,
		.idle_timeout_s = EDGE_WS_HANGUP_S,
		.max_sockets_per_user = EDGE_MAX_SOCKETS_PER_USER,
		.policy = JWT_POLICY_DEFAULT,
		.ice = {.ttl_s = ICE_TTL_DEFAULT_S},
	};
	int rc = parse_args(argc, argv, &e.cfg, &level);
	if (rc)
		return rc == 1 ? 0 : rc;
	log_init("ringmq-bridge", level < 0 ? LOG_LEVEL_INFO : (enum log_level)level);
	lws_set_log_level(LLL_ERR | (level >= LOG_LEVEL_DEBUG ? LLL_WARN : 0), NULL);

	ids_bridge_id(e.bridge_id);
	if (topics_build(TOPICS_BRIDGE_REPLIES, e.bridge_id, e.replies_topic, sizeof(e.replies_topic)) ||
	    topics_build(TOPICS_PRESENCE, e.bridge_id, e.presence_topic, sizeof(e.presence_topic)))
		return 1;

	static const struct lws_protocols protocols[] = {
		{SERVER_PROTOCOL, server_callback, sizeof(struct server_pss), EDGE_RX_BUF, 0, NULL, 0},
		{BROKER_PROTOCOL, broker_callback, 0, 0, 0, NULL, 0},
		{NULL, NULL, 0, 0, 0, NULL, 0},
	};
	/* No lws validity timers: lws re-inserts one per socket into a sorted
	 * list on every frame (O(sockets)); ws.c's one sweep pings and drops. */
	static const lws_retry_bo_t no_validity_timers; /* all zero: none */
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = e.cfg.port;
	info.iface = e.cfg.listen;
	info.protocols = protocols;
	info.vhost_name = "ringmq";
	info.user = &e;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | (strchr(e.cfg.listen, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
	info.retry_and_idle_policy = &no_validity_timers;
	info.max_http_header_data = EDGE_HTTP_HEADER_MAX;
	/* lws drops a connection whose request headers are not complete
	 * timeout_secs_ah_idle after it opened (slow or silent clients), and
	 * one whose HTTP body stalls for timeout_secs; it restarts that at
	 * every byte of a body, so http.c ends a request still incomplete
	 * handshake_timeout_s after its start (408). */
	info.timeout_secs_ah_idle = (unsigned int)e.cfg.handshake_timeout_s;
	info.timeout_secs = (unsigned int)e.cfg.handshake_timeout_s;
	info.keepalive_timeout = EDGE_HTTP_KEEPALIVE_S;
	info.pt_serv_buf_size = EDGE_SERV_BUF;

	/* libwebsockets on our own libev loop (epoll): lws's default poll()
	 * loop walks every descriptor on every wake-up, which with thousands of
	 * idle sockets cost most of the bridge's CPU (bench/NOTES.md). */
	struct shutdown sd = {.e = &e, .loop = ev_default_loop(EVFLAG_AUTO)};
	if (!sd.loop) {
		log_error("cannot create the event loop");
		return 1;
	}
	void *foreign_loops[1] = {sd.loop};
	info.options |= LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = foreign_loops;

	signal(SIGPIPE, SIG_IGN);
	e.ctx = lws_create_context(&info);
	if (!e.ctx) {
		log_error("cannot listen on %s:%d", e.cfg.listen, e.cfg.port);
		return 1;
	}
	e.vh = lws_get_vhost_by_name(e.ctx, "ringmq");
	ev_signal_init(&sd.sigterm, on_signal, SIGTERM);
	ev_signal_init(&sd.sigint, on_signal, SIGINT);
	ev_signal_init(&sd.sighup, on_reload, SIGHUP);
	sd.sigterm.data = sd.sigint.data = sd.sighup.data = &sd;
	ev_signal_start(sd.loop, &sd.sigterm);
	ev_signal_start(sd.loop, &sd.sigint);
	ev_signal_start(sd.loop, &sd.sighup);
	ev_timer_init(&sd.poll, shutdown_poll, EDGE_SHUTDOWN_POLL_MS / 1000.0, EDGE_SHUTDOWN_POLL_MS / 1000.0);
	sd.poll.data = &sd;

	if (wire(&e) != 0 || broker_start(e.broker) != 0) {
		lws_context_destroy(e.ctx);
		return 1;
	}
	ws_hub_start(e.ws);
	log_info("ringmq-bridge %s listening on http://%s:%d (broker %s:%d%s, %s)", e.bridge_id, e.cfg.listen,
		 e.cfg.port, e.cfg.mqtt_host, e.cfg.mqtt_port, e.cfg.mqtt_tls.on ? " over TLS" : "", ev_backend(sd.loop) == EVBACKEND_EPOLL ? "epoll" : "libev");
	char ice[ICE_DESCRIBE_MAX];
	ice_describe(&e.cfg.ice, ice, sizeof(ice));
	log_info("ICE servers: %s", ice);

	ev_run(sd.loop, 0);

	ws_close_all(e.ws); /* stops the sweep (and closes what SIGTERM did not) */
	presence_goodbye(e.presence);
	broker_stop(e.broker);
	ev_signal_stop(sd.loop, &sd.sigterm);
	ev_signal_stop(sd.loop, &sd.sigint);
	ev_signal_stop(sd.loop, &sd.sighup);
	lws_context_destroy(e.ctx);
	inbox_free(e.inbox);
	presence_free(e.presence);
	ask_free(e.ask);
	subs_free(e.subs);
	ws_hub_free(e.ws);
	ratemap_free(e.initiates);
	revoked_free(e.revoked);
	broker_free(e.broker);
	jwt_keyset_free(e.cfg.keys);
	free(e.cfg.api_key);
	free(e.cfg.service_secret);
	free(e.cfg.ice.secret);
	log_info("stopped");
	return 0;
}
