/* ringmq-bridge: the WebSocket/HTTP edge of ringmq.
 *
 * main owns the configuration (flags, then the config file: config.h), the
 * libwebsockets context and its loop, the wiring of the parts (edge.h),
 * SIGHUP (the config file and the key files read again, the live settings
 * applied) and the shutdown: SIGTERM/SIGINT close every socket with 1001,
 * flush, tell the broker we are gone and exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "ask.h"
#include "broker.h"
#include "clock.h"
#include "config.h"
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

#define BRIDGE_SPEC_MAX 64 /* entries of the option table */

/* One reading of the command line and the config file: cfg (the one in
 * force, or a fresh one on SIGHUP) and the options that are read into it. */
struct settings {
	struct edge_cfg *cfg;
	const char *api_file, *svc_file, *secret_files[JWT_KEYS_MAX], *pem_files[JWT_KEYS_MAX];
	struct options_list origins, secrets, pems, turns, stuns;
	const char *turn_file;
	long leeway;
	int level, format;
	const char *config;
	bool check;
	struct options_spec spec[BRIDGE_SPEC_MAX];
};

/* What SIGHUP reads again: the settings in force, the config file's
 * strings, the command line. */
static struct {
	struct settings st;
	struct config *cf;
	int argc;
	char **argv;
} loaded;

/* The key set of the key files, or of $RINGMQ_JWT_SECRET when none is
 * named, into cfg->keys. 0, or -1 with why in err. */
static int load_keys(struct edge_cfg *cfg, const struct options_list *secrets, const struct options_list *pems,
		     char *err, size_t cap)
{
	char s[EDGE_PATHS_MAX], p[EDGE_PATHS_MAX];
	if (options_list_join(secrets, s, sizeof(s)) || options_list_join(pems, p, sizeof(p))) {
		snprintf(err, cap, "key file names too long, or holding a comma");
		return -1;
	}
	if (jwt_keyset_load(&cfg->keys, s, p, err, cap) != 0)
		return -1;
	if (secrets->n || pems->n)
		return 0;
	size_t len = 0;
	char *env = secret_load(NULL, "RINGMQ_JWT_SECRET", &len);
	int rc = env ? jwt_keyset_add_secret(cfg->keys, NULL, (const unsigned char *)env, len, err, cap) : -1;
	free(env);
	if (rc != 0) {
		snprintf(err, cap, "no key for user tokens (--jwt-secret-file, --jwt-public-key-file or $RINGMQ_JWT_SECRET)");
		jwt_keyset_free(cfg->keys);
		cfg->keys = NULL;
	}
	return rc;
}

/* The defaults into *cfg and the table of st over them. */
static void settings_init(struct settings *st, struct edge_cfg *cfg)
{
	*cfg = (struct edge_cfg){
		.listen = "127.0.0.1",
		.port = 8080,
		.mqtt_host = "127.0.0.1",
		.mqtt_port = 1883,
		.mqtt_username = "svc:bridge",
		.broker_acl = "plugin",
		.request_timeout_ms = 2000,
		.initiate_per_minute = EDGE_INITIATE_PER_MINUTE,
		.initiate_burst = EDGE_INITIATE_BURST,
		.max_frame = 64 * 1024,
		.rate = 50,
		.burst = 100,
		.send_queue = 1024 * 1024,
		.max_unacked = EDGE_MAX_UNACKED,
		.handshake_timeout_s = EDGE_HANDSHAKE_TIMEOUT_S,
		.ping_interval_s = EDGE_WS_PING_S,
		.idle_timeout_s = EDGE_WS_HANGUP_S,
		.max_sockets_per_user = EDGE_MAX_SOCKETS_PER_USER,
		.policy = JWT_POLICY_DEFAULT,
		.ice = {.ttl_s = ICE_TTL_DEFAULT_S},
	};
	memset(st, 0, sizeof(*st));
	st->cfg = cfg;
	st->origins = (struct options_list){cfg->origins, 0, EDGE_MAX_ORIGINS};
	st->secrets = (struct options_list){st->secret_files, 0, JWT_KEYS_MAX};
	st->pems = (struct options_list){st->pem_files, 0, JWT_KEYS_MAX};
	st->turns = (struct options_list){cfg->ice.turn, 0, ICE_URIS_MAX};
	st->stuns = (struct options_list){cfg->ice.stun, 0, ICE_URIS_MAX};
	int env_level = log_level_parse(getenv("RINGMQ_LOG_LEVEL"));
	st->level = env_level < 0 ? LOG_LEVEL_INFO : env_level;
	const struct options_spec spec[] = {
		CONFIG_OPTIONS(&st->config, &st->check, "[bridge]"),
		{"listen", OPTIONS_STR, &cfg->listen, 0, 0, "ADDR", "listen address (default 127.0.0.1)"},
		{"port", OPTIONS_INT, &cfg->port, 0, 65535, "N", "HTTP/WebSocket port (default 8080)"},
		MQTT_LINK_OPTIONS(cfg->mqtt_host, cfg->mqtt_port, cfg->mqtt_tls, cfg->mqtt_username, cfg->broker_acl,
				  "svc:bridge"),
		{"jwt-secret-file", OPTIONS_LIST | OPTIONS_LIVE, &st->secrets, 0, 0, "F",
		 "HS256 key for user tokens, kid = F's name without extension\n"
		 "(repeatable; none and no --jwt-public-key-file: $RINGMQ_JWT_SECRET)"},
		{"jwt-public-key-file", OPTIONS_LIST | OPTIONS_LIVE, &st->pems, 0, 0, "F",
		 "RS256 (RSA) or ES256 (P-256) PEM public key, kid = F's name\n"
		 "without extension (repeatable; SIGHUP re-reads every key file)"},
		{"jwt-leeway-s", OPTIONS_LONG | OPTIONS_LIVE, &st->leeway, 0, JWT_LEEWAY_MAX_S, "N",
		 "leeway on a token's exp, nbf and iat (default 0)"},
		{"jwt-audience", OPTIONS_STR | OPTIONS_LIVE, &cfg->policy.audience, 0, 0, "A",
		 "tokens must name A in aud (default: aud ignored)"},
		{"jwt-issuer", OPTIONS_STR | OPTIONS_LIVE, &cfg->policy.issuer, 0, 0, "I",
		 "tokens must have iss I (default: iss ignored)"},
		{"api-key-file", OPTIONS_STR, &st->api_file, 0, 0, "F",
		 "server API key (else $RINGMQ_API_KEY; none: /api/ answers 401)"},
		{"service-secret-file", OPTIONS_STR, &st->svc_file, 0, 0, "F",
		 "broker login as --mqtt-username (else $RINGMQ_SERVICE_SECRET;\nnone: anonymous)"},
		{"web-root", OPTIONS_STR, &cfg->web_root, 0, 0, "DIR", "serve the demo page from DIR at /"},
		{"allow-origin", OPTIONS_LIST | OPTIONS_LIVE, &st->origins, 0, 0, "ORIGIN",
		 "allow this Origin for WebSockets and CORS (repeatable; \"*\" = any;\n"
		 "the bridge's own origin is always allowed)"},
		{"initiate-per-minute", OPTIONS_INT | OPTIONS_LIVE, &cfg->initiate_per_minute, 1, 60000, "N",
		 "POST /calls/initiate/ per caller and minute, beyond: 429 (default 10)"},
		{"initiate-burst", OPTIONS_INT | OPTIONS_LIVE, &cfg->initiate_burst, 1, 10000, "N",
		 "... with bursts of N (default 5)"},
		{"request-timeout-ms", OPTIONS_INT, &cfg->request_timeout_ms, 10, 600000, "N",
		 "longest wait for rules before 503 (default 2000)"},
		{"max-frame", OPTIONS_SIZE | OPTIONS_LIVE, &cfg->max_frame, 128, 16 << 20, "BYTES",
		 "larger frames close the socket with 1009 (default 65536)"},
		{"rate", OPTIONS_INT | OPTIONS_LIVE, &cfg->rate, 1, 1000000, "N", "frames per second per socket (default 50)"},
		{"burst", OPTIONS_INT | OPTIONS_LIVE, &cfg->burst, 1, 1000000, "N", "burst allowance (default 100)"},
		{"send-queue", OPTIONS_SIZE | OPTIONS_LIVE, &cfg->send_queue, 1024, 1L << 30, "BYTES",
		 "queued for one socket before close 1013 (default 1048576)"},
		{"max-unacked", OPTIONS_INT | OPTIONS_LIVE, &cfg->max_unacked, 1, 1000000, "N",
		 "publishes the broker has not acknowledged yet beyond which a client's\n"
		 "frame is answered `error` `unavailable`, not queued (default 2000)"},
		{"ping-interval-s", OPTIONS_INT | OPTIONS_LIVE, &cfg->ping_interval_s, 1, 86400, "N",
		 "WebSocket ping after N s of silence from a client (default 30)"},
		{"idle-timeout-s", OPTIONS_INT | OPTIONS_LIVE, &cfg->idle_timeout_s, 2, 86400, "N",
		 "drop a socket silent (no frame, no pong) for N s (default 60)"},
		{"handshake-timeout-s", OPTIONS_INT, &cfg->handshake_timeout_s, 1, 3600, "N",
		 "a connection must complete its HTTP request or WebSocket\n"
		 "handshake (and send an HTTP body) within N s (default 10)"},
		{"max-sockets-per-user", OPTIONS_INT | OPTIONS_LIVE, &cfg->max_sockets_per_user, 1, 1000000, "N",
		 "WebSockets one user may hold (both kinds); the next is closed\n"
		 "with 4429 (default 32)"},
		{"turn-uri", OPTIONS_LIST, &st->turns, 0, 0, "URI",
		 "TURN server for GET /calls/ice-servers/, e.g. turn:turn.example:3478\n"
		 "(repeatable; needs --turn-secret-file: without one the bridge\n"
		 "refuses to start)"},
		{"stun-uri", OPTIONS_LIST, &st->stuns, 0, 0, "URI",
		 "STUN server for GET /calls/ice-servers/, e.g. stun:turn.example:3478\n"
		 "(repeatable)"},
		{"turn-secret-file", OPTIONS_STR, &st->turn_file, 0, 0, "F",
		 "the TURN server's static-auth-secret (coturn use-auth-secret):\n"
		 "TURN credentials are HMACs of it; read at start"},
		{"turn-ttl-s", OPTIONS_LONG, &cfg->ice.ttl_s, 1, ICE_TTL_MAX_S, "N",
		 "a TURN credential is good for N s (default 86400)"},
		{"no-require-exp", OPTIONS_FALSE | OPTIONS_LIVE, &cfg->policy.require_exp, 0, 0, NULL,
		 "accept tokens without exp"},
		{"log-level", OPTIONS_LEVEL | OPTIONS_LIVE, &st->level, 0, 0, "L",
		 "error, warn, info, debug (default info; or $RINGMQ_LOG_LEVEL)"},
		{"log-format", OPTIONS_FORMAT | OPTIONS_LIVE, &st->format, 0, 0, "F",
		 "text (default) or json: one object a line (ts, level, msg, ids)"},
		{NULL, 0, NULL, 0, 0, NULL, NULL},
	};
	_Static_assert(sizeof(spec) / sizeof(spec[0]) <= BRIDGE_SPEC_MAX, "BRIDGE_SPEC_MAX");
	memcpy(st->spec, spec, sizeof(spec));
}

/* Fills st (defaults, then argv, then the config file argv names, cf
 * holding its strings). 0, 1 (--help), or 2 with why in err (empty when
 * options_parse said it). */
static int settings_read(struct settings *st, struct edge_cfg *cfg, struct config *cf, int argc, char **argv,
			 char *err, size_t cap)
{
	settings_init(st, cfg);
	int rc = config_parse("ringmq-bridge", about, st->spec, argc, argv, &st->config, "bridge", cf, err, cap);
	if (rc)
		return rc;
	if (cfg->ping_interval_s >= cfg->idle_timeout_s) {
		snprintf(err, cap, "ping-interval-s must be below idle-timeout-s");
		return 2;
	}
	if (strcmp(cfg->broker_acl, "plugin") && strcmp(cfg->broker_acl, "topics")) {
		snprintf(err, cap, "broker-acl takes plugin or topics, not \"%s\"", cfg->broker_acl);
		return 2;
	}
	cfg->topics_acl = !strcmp(cfg->broker_acl, "topics");
	cfg->norigins = st->origins.n;
	cfg->policy.leeway_s = st->leeway;
	cfg->ice.nturn = st->turns.n;
	cfg->ice.nstun = st->stuns.n;
	return 0;
}

/* The startup: settings_read into cfg (holding nothing yet), the log set
 * up, the secrets read. 0, 1 (exit 0: --help, --check-config) or 2. */
static int parse_args(int argc, char **argv, struct edge_cfg *cfg)
{
	struct settings *st = &loaded.st;
	char err[CONFIG_ERR_MAX];
	loaded.argc = argc;
	loaded.argv = argv;
	loaded.cf = config_new();
	int rc = loaded.cf ? settings_read(st, cfg, loaded.cf, argc, argv, err, sizeof(err)) : 2;
	if (!rc && load_keys(cfg, &st->secrets, &st->pems, err, sizeof(err)))
		rc = 2;
	if (rc) {
		if (rc == 2 && err[0])
			fprintf(stderr, "ringmq-bridge: %s\n", err);
		return rc;
	}
	log_init("ringmq-bridge", (enum log_level)st->level);
	log_set_format((enum log_format)st->format);
	cfg->api_key = secret_load(st->api_file, "RINGMQ_API_KEY", &cfg->api_key_len);
	if (st->api_file && !cfg->api_key)
		return 2;
	cfg->service_secret = secret_load(st->svc_file, "RINGMQ_SERVICE_SECRET", NULL);
	if (st->svc_file && !cfg->service_secret)
		return 2;
	if (st->turn_file && !(cfg->ice.secret = secret_load(st->turn_file, NULL, &cfg->ice.secret_len)))
		return 2;
	char ice_err[ICE_ERR_MAX > MQTT_TLS_ERR_MAX ? ICE_ERR_MAX : MQTT_TLS_ERR_MAX];
	if (ice_cfg_check(&cfg->ice, ice_err, sizeof(ice_err)) != 0 ||
	    mqtt_tls_check(&cfg->mqtt_tls, ice_err, sizeof(ice_err)) != 0) {
		fprintf(stderr, "ringmq-bridge: %s\n", ice_err);
		return 2;
	}
	if (st->check) {
		if (!st->config) {
			fprintf(stderr, "ringmq-bridge: --check-config needs --config FILE\n");
			return 2;
		}
		printf("ringmq-bridge: %s: ok\n", st->config);
		return 1;
	}
	return 0;
}

/* libwebsockets' own lines through log.c (so json stays one object a line). */
static void lws_emit(int level, const char *line)
{
	size_t n = strcspn(line, "\n");
	log_write(level & LLL_ERR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "libwebsockets: %.*s", (int)n, line);
}

static void set_log_level(int level)
{
	log_set_level((enum log_level)level);
	lws_set_log_level(LLL_ERR | (level >= LOG_LEVEL_DEBUG ? LLL_WARN : 0), lws_emit);
}

static void say_change(void *arg, const char *line)
{
	log_info("SIGHUP: %s", line);
}

/* SIGHUP: the config file and every key file read again, all or nothing;
 * what changed and is live applies at once, the rest is logged as needing
 * a restart. No socket dropped (a socket's token was checked when it
 * opened; a lower limit applies to what comes next). */
static void on_reload(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct shutdown *s = w->data;
	struct edge *e = s->e;
	struct settings *cur = &loaded.st, *fresh = malloc(sizeof(*fresh));
	struct edge_cfg *fcfg = malloc(sizeof(*fcfg));
	char err[CONFIG_ERR_MAX], keys[JWT_KEYS_ERR_MAX];
	if (!fresh || !fcfg) {
		log_error("SIGHUP: out of memory: nothing changed");
		goto out;
	}
	if (settings_read(fresh, fcfg, loaded.cf, loaded.argc, loaded.argv, err, sizeof(err)) != 0) {
		log_error("SIGHUP: %s: refused, the old settings stay", err);
		goto out;
	}
	if (load_keys(fcfg, &fresh->secrets, &fresh->pems, err, sizeof(err)) != 0) {
		log_error("SIGHUP: key files not reloaded, the old settings and keys stay in force: %s", err);
		goto out;
	}
	int per_minute = e->cfg.initiate_per_minute, burst = e->cfg.initiate_burst, restart = 0;
	int applied = config_apply(cur->spec, fresh->spec, say_change, NULL, &restart);
	e->cfg.norigins = cur->origins.n;
	e->cfg.policy.leeway_s = cur->leeway;
	set_log_level(cur->level);
	log_set_format((enum log_format)cur->format);
	if (per_minute != e->cfg.initiate_per_minute || burst != e->cfg.initiate_burst) {
		struct ratemap *m = ratemap_new(e->cfg.initiate_burst, 60000 / e->cfg.initiate_per_minute,
						EDGE_INITIATE_USERS_MAX);
		if (m) {
			ratemap_free(e->initiates);
			e->initiates = m; /* every caller starts with a full bucket of the new size */
		} else {
			log_error("SIGHUP: out of memory: the initiate limit stays as it was");
		}
	}
	jwt_keyset_free(e->cfg.keys);
	e->cfg.keys = fcfg->keys;
	jwt_keyset_describe(e->cfg.keys, keys, sizeof(keys));
	if (cur->config)
		log_info("SIGHUP: %s reloaded: %d change(s) applied, %d need a restart", cur->config, applied, restart);
	log_info("SIGHUP: key files reloaded: %s", keys);
out:
	config_keep(loaded.cf, cur->spec);
	free(fresh);
	free(fcfg);
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
		.username = e->cfg.service_secret ? e->cfg.mqtt_username : NULL,
		.lower_ids = e->cfg.topics_acl,
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
	int rc = parse_args(argc, argv, &e.cfg);
	if (rc) {
		jwt_keyset_free(e.cfg.keys);
		free(e.cfg.api_key);
		free(e.cfg.service_secret);
		config_free(loaded.cf);
		return rc == 1 ? 0 : rc;
	}
	set_log_level(loaded.st.level);

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
	config_free(loaded.cf);
	log_info("stopped");
	return 0;
}
