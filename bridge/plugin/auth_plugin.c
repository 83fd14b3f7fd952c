/* auth_plugin: ringmq_auth.so, the mosquitto 2.0 plugin (API v5) that makes
 * the broker the security boundary for mobile apps (issue 4).
 *
 * Talks to: the broker through the callbacks below and the exported
 * mosquitto_* functions; acl.c for every allow/deny decision; logins.c
 * for the live user connections; common/jwt.c and common/secret.c.
 *
 *   BASIC_AUTH  users: username = user id, password = JWT (jwt_check with
 *               the configured key set and policy: PROTOCOL.md "Tokens,
 *               strictly"), username == the token's id, client id
 *               "<user id>:<device>". Services: svc:bridge and
 *               svc:rules with the service secret (SHA-256 digests compared
 *               with CRYPTO_memcmp). A user's first live connection
 *               publishes {"user_id", "online": true} on svc/presence/mqtt.
 *   ACL_CHECK   acl_allows(). Read and subscribe checks go by the client's
 *               username (a persistent session that is offline still has
 *               its queue filled); a user's write counts as a will unless it
 *               comes from a live, not superseded connection we logged in.
 *               A live login's allowed SUBSCRIBE to its own notification
 *               topic publishes {"user_id", "subscribed": true, "device"}
 *               on svc/presence/mqtt: rules answers with the frames of the
 *               calls ringing for the user (a round trip, so after this
 *               SUBACK). A session resumed without a SUBSCRIBE gets none:
 *               its queue holds what it missed.
 *   MESSAGE     a user's PUBLISH to its outbox takes a token of the
 *               connection's bucket (limits.c: 50/s, bursts of 100) and
 *               must not name another device in its device_id than its
 *               client id's <device>; else it is dropped and an error
 *               (rate_limited / forbidden, with that device_id) goes to
 *               the user's notification topic marked "for_device" (what
 *               rules does for one phone: the bridges skip it), and the
 *               100th refusal within 10 s marks the connection for a kick.
 *               A frame that passes loses every property the device set
 *               and gets sender_id, sender_username (the token's name) and,
 *               unless its device_id names its device, from_device (the
 *               client id's <device>): rules may trust them. svc:rules'
 *               hello is answered with {"snapshot": [...]} on
 *               svc/presence/mqtt.
 *   TICK        (every pass of the broker's loop: at least every 100 ms)
 *               at the first of each second, or at once when a kick is
 *               due, disconnects each login whose token's exp plus the
 *               leeway has passed and each marked for a kick, with
 *               mosquitto_kick_client_by_clientid (v5: DISCONNECT 0x98;
 *               the session and its queue are kept as the client's
 *               session expiry says). Never from MESSAGE: the broker is
 *               still handling that client's packet there.
 *   DISCONNECT  forgets the connection; the user's last one publishes
 *               {"user_id", "online": false}.
 *   RELOAD      (SIGHUP) re-reads the config file (plugin_opt_config_file,
 *               section [plugin]: common/config.h) and every file the
 *               settings name, all or nothing: a failure keeps the old
 *               settings, keys and secrets and is logged (with the file's
 *               line). What changed is logged; the token settings and the
 *               outbox limits apply, the service secret's file and the
 *               client id rule need a restart. mosquitto 2.0 passes no
 *               options with the event, so the plugin_opt_* lines are those
 *               of plugin init, kept; they win over the file. Right after
 *               the event the broker re-runs BASIC_AUTH for every client it
 *               holds (mosquitto_security_apply), live or an offline
 *               persistent session, and disconnects those refused: until
 *               the next TICK those pass unchecked (see user_login), so a
 *               reload never drops a connection nor makes a session online.
 * The broker runs every callback on its one thread: no locks. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "acl.h"
#include "clock.h"
#include "config.h"
#include "frames.h"
#include "jwt.h"
#include "limits.h"
#include "log.h"
#include "logins.h"
#include "revoked.h"
#include "secret.h"
#include "topics.h"

#define PLUGIN_NAME "ringmq_auth"
#define LOG_FIELD_MAX 80 /* longest client-supplied string written to the log */
#define KICKS_PER_TICK 64 /* disconnections one TICK makes; more wait for the next */
#define FOR_DEVICE_PROP "for_device" /* user property of an answer for one phone (as rules': bridges skip it) */
#define PLUGIN_SPEC_MAX 16      /* entries of the option table */
#define PLUGIN_KEY_MAX 64       /* longest option name */
#define PLUGIN_PATHS_MAX 8192   /* the key files of one kind, comma-separated */

/* What mosquitto.conf (or the environment) configures; swapped whole on reload. */
struct plugin_config {
	struct jwt_keyset *keys;   /* plugin_opt_jwt_secret_file, _jwt_public_key_file */
	struct jwt_policy policy;  /* require_exp, jwt_leeway_s; audience and issuer below */
	char *audience;            /* plugin_opt_jwt_audience, malloc'd; NULL: aud ignored */
	char *issuer;              /* plugin_opt_jwt_issuer, malloc'd; NULL: iss ignored */
	unsigned char service_digest[SHA256_DIGEST_LENGTH];
	bool bind_client_id;       /* plugin_opt_client_id_rule strict (default) | any */
	struct limits_cfg limits;  /* plugin_opt_outbox_rate, plugin_opt_outbox_burst */
};

/* The options as read: the plugin_opt_* lines, then the config file
 * (plugin_opt_config_file); plugin_config is built from them. */
struct plugin_settings {
	const char *secret_files[JWT_KEYS_MAX], *pem_files[JWT_KEYS_MAX];
	struct options_list secrets, pems;
	long leeway;
	const char *audience, *issuer, *require_exp, *service_file, *client_id_rule, *config, *revocations_file;
	int outbox_rate, outbox_burst;
	struct options_spec spec[PLUGIN_SPEC_MAX];
};

struct plugin {
	mosquitto_plugin_id_t *id;
	struct mosquitto_opt *opts; /* the options of plugin init, copied: reload reads them again */
	int opt_count;
	struct config *cf;          /* the config file's strings */
	struct plugin_settings st;  /* the settings in force */
	struct plugin_config cfg;
	struct logins *logins;
	struct revoked *revoked;    /* svc/revocations/+ as rules publishes them */
	char *revocations_file;     /* plugin_opt_revocations_file (fixed at init): where they are kept */
	bool ticking;               /* a TICK came: the broker sends them (per_listener_settings false) */
	bool recheck;               /* from a RELOAD event to the next TICK */
	bool kick_due;              /* a login is marked for a kick: sweep at the next TICK */
	int64_t swept_s;            /* the second of the last sweep for expired tokens */
};

static int instances; /* one instance per broker: presence is per process */

/* Copies a client-supplied string for the log: bounded, printable ASCII. */
static const char *printable(const char *s, char out[LOG_FIELD_MAX + 1])
{
	size_t n = 0;
	for (; s && s[n] && n < LOG_FIELD_MAX; n++)
		out[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
	out[n] = '\0';
	return s ? out : "(none)";
}

static void plugin_config_free(struct plugin_config *c)
{
	jwt_keyset_free(c->keys);
	free(c->audience);
	free(c->issuer);
	OPENSSL_cleanse(c, sizeof(*c));
}

static void opts_free(struct mosquitto_opt *opts, int count)
{
	for (int i = 0; opts && i < count; i++) {
		free(opts[i].key);
		free(opts[i].value);
	}
	free(opts);
}

/* A copy of the broker's options (mosquitto 2.0 hands none to RELOAD). */
static struct mosquitto_opt *opts_copy(const struct mosquitto_opt *opts, int count)
{
	struct mosquitto_opt *c = calloc(count > 0 ? (size_t)count : 1, sizeof(*c));
	for (int i = 0; c && i < count; i++) {
		c[i].key = opts[i].key ? strdup(opts[i].key) : NULL;
		c[i].value = opts[i].value ? strdup(opts[i].value) : NULL;
		if ((opts[i].key && !c[i].key) || (opts[i].value && !c[i].value)) {
			opts_free(c, i + 1);
			return NULL;
		}
	}
	return c;
}

static int sha256(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int n = 0;
	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SHA256_DIGEST_LENGTH ? 0 : -1;
}

static int opt_bool(const char *v, bool dflt, bool *out)
{
	if (!v)
		*out = dflt;
	else if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* The defaults into st and its table over them: the plugin_opt_* names
 * with dashes, the keys of the config file's [plugin] section. */
static void settings_init(struct plugin_settings *st)
{
	memset(st, 0, sizeof(*st));
	st->secrets = (struct options_list){st->secret_files, 0, JWT_KEYS_MAX};
	st->pems = (struct options_list){st->pem_files, 0, JWT_KEYS_MAX};
	st->outbox_rate = LIMITS_RATE;
	st->outbox_burst = LIMITS_BURST;
	const struct options_spec spec[] = {
		{"config-file", OPTIONS_STR | OPTIONS_CLI, &st->config, 0, 0, "FILE", "the config file"},
		{"jwt-secret-file", OPTIONS_LIST | OPTIONS_LIVE, &st->secrets, 0, 0, "F", "HS256 key files"},
		{"jwt-public-key-file", OPTIONS_LIST | OPTIONS_LIVE, &st->pems, 0, 0, "F", "PEM public key files"},
		{"jwt-leeway-s", OPTIONS_LONG | OPTIONS_LIVE, &st->leeway, 0, JWT_LEEWAY_MAX_S, "N", "leeway"},
		{"jwt-audience", OPTIONS_STR | OPTIONS_LIVE, &st->audience, 0, 0, "A", "aud required"},
		{"jwt-issuer", OPTIONS_STR | OPTIONS_LIVE, &st->issuer, 0, 0, "I", "iss required"},
		{"require-exp", OPTIONS_STR | OPTIONS_LIVE, &st->require_exp, 0, 0, "B", "exp required"},
		{"service-secret-file", OPTIONS_STR, &st->service_file, 0, 0, "F", "svc:* password"},
		{"client-id-rule", OPTIONS_STR, &st->client_id_rule, 0, 0, "R", "strict or any"},
		{"outbox-rate", OPTIONS_INT | OPTIONS_LIVE, &st->outbox_rate, 1, LIMITS_RATE_MAX, "N", "frames/s"},
		{"outbox-burst", OPTIONS_INT | OPTIONS_LIVE, &st->outbox_burst, 1, LIMITS_RATE_MAX, "N", "burst"},
		{"revocations-file", OPTIONS_STR, &st->revocations_file, 0, 0, "F", "where revocations are kept"},
		{NULL, 0, NULL, 0, 0, NULL, NULL},
	};
	_Static_assert(sizeof(spec) / sizeof(spec[0]) <= PLUGIN_SPEC_MAX, "PLUGIN_SPEC_MAX");
	memcpy(st->spec, spec, sizeof(spec));
}

/* One plugin_opt_<key> into st: its name with dashes; a list of files is
 * comma-separated. 0, 1 (not an option of ours), or -1 with why in err. */
static int settings_opt(struct plugin_settings *st, struct config *cf, const struct mosquitto_opt *o, bool *given,
			char *err, size_t cap)
{
	char key[PLUGIN_KEY_MAX], list[PLUGIN_PATHS_MAX], *save = NULL;
	size_t n = o->key ? strlen(o->key) : 0;
	if (!n || n >= sizeof(key))
		return 1;
	for (size_t i = 0; i <= n; i++)
		key[i] = o->key[i] == '_' ? '-' : o->key[i];
	int i = 0;
	while (st->spec[i].name && strcmp(st->spec[i].name, key))
		i++;
	if (!st->spec[i].name)
		return 1;
	if (OPTIONS_KIND(&st->spec[i]) != OPTIONS_LIST)
		return config_set(cf, st->spec, key, o->value ? o->value : "", given, err, cap);
	if (snprintf(list, sizeof(list), "%s", o->value ? o->value : "") >= (int)sizeof(list)) {
		snprintf(err, cap, "%s: longer than %zu bytes", key, sizeof(list) - 1);
		return -1;
	}
	for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (config_set(cf, st->spec, key, f, given, err, cap))
			return -1;
	return 0;
}

/* st from the broker's options, then the config file they name (its
 * [plugin] section and the shared keys; an option wins over the file). 0,
 * or -1 (logged, with the file's line). */
static int settings_read(struct plugin_settings *st, struct config *cf, const struct mosquitto_opt *opts, int count)
{
	bool given[PLUGIN_SPEC_MAX] = {false};
	char err[CONFIG_ERR_MAX];
	settings_init(st);
	for (int i = 0; i < count; i++) {
		for (int j = 0; j < i; j++) {
			if (opts[i].key && opts[j].key && !strcmp(opts[j].key, opts[i].key)) {
				/* mosquitto keeps both: which one would count is not obvious */
				mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": plugin_opt_%s given twice (a list "
						     "of files is one option, comma-separated)", opts[i].key);
				return -1;
			}
		}
		int rc = settings_opt(st, cf, &opts[i], given, err, sizeof(err));
		if (rc == 1)
			mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": unknown option plugin_opt_%s ignored",
					     opts[i].key ? opts[i].key : "");
		if (rc < 0) {
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": plugin_opt_%s: %s", opts[i].key, err);
			return -1;
		}
	}
	if (st->config && config_read(cf, st->config, "plugin", st->spec, given, err, sizeof(err))) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s", err);
		return -1;
	}
	return 0;
}

/* A copy of a non-empty string setting in *out (NULL when not set). 0, or
 * -1 (logged). */
static int setting_string(const char *v, const char *name, char **out)
{
	*out = NULL;
	if (!v)
		return 0;
	if (!*v) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s must not be empty", name);
		return -1;
	}
	*out = strdup(v);
	return *out ? 0 : -1;
}

/* The token keys and policy of *c. 0, or -1 (logged, naming the file). */
static int plugin_config_jwt(const struct plugin_settings *st, struct plugin_config *c)
{
	char secrets[PLUGIN_PATHS_MAX], pems[PLUGIN_PATHS_MAX], err[JWT_KEYS_ERR_MAX];

	c->policy = JWT_POLICY_DEFAULT;
	if (opt_bool(st->require_exp, true, &c->policy.require_exp)) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": require_exp must be true or false");
		return -1;
	}
	c->policy.leeway_s = st->leeway;
	if (setting_string(st->audience, "jwt_audience", &c->audience) ||
	    setting_string(st->issuer, "jwt_issuer", &c->issuer))
		return -1;
	c->policy.audience = c->audience;
	c->policy.issuer = c->issuer;

	if (options_list_join(&st->secrets, secrets, sizeof(secrets)) ||
	    options_list_join(&st->pems, pems, sizeof(pems))) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": JWT key file names too long");
		return -1;
	}
	if (jwt_keyset_load(&c->keys, secrets, pems, err, sizeof(err))) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": JWT keys: %s", err);
		return -1;
	}
	if (!st->secrets.n && !st->pems.n) {
		/* No key file: the secret of the environment, as before key files. */
		size_t len = 0;
		char *env = secret_load(NULL, "RINGMQ_JWT_SECRET", &len);
		int rc = env ? jwt_keyset_add_secret(c->keys, NULL, (unsigned char *)env, len, err, sizeof(err)) : -1;
		if (env) {
			OPENSSL_cleanse(env, len);
			free(env);
		}
		if (rc) {
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": no JWT key (plugin_opt_jwt_secret_file, "
					     "plugin_opt_jwt_public_key_file or RINGMQ_JWT_SECRET)");
			return -1;
		}
	}
	if (jwt_keyset_count(c->keys, JWT_ALG_UNKNOWN) == 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": no JWT key in the files named");
		return -1;
	}
	return 0;
}

/* The configuration settings say: the key files and the service secret
 * read. 0, or -1 (logged). */
static int plugin_config_build(const struct plugin_settings *st, struct plugin_config *c)
{
	char *svc = NULL;
	size_t svc_len = 0;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (plugin_config_jwt(st, c))
		goto out;
	const char *rule = st->client_id_rule;
	if (!rule || !strcmp(rule, "strict")) {
		c->bind_client_id = true;
	} else if (!strcmp(rule, "any")) {
		c->bind_client_id = false;
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				     PLUGIN_NAME ": client_id_rule any: a user can take over another's session");
	} else {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": plugin_opt_client_id_rule must be strict or any");
		goto out;
	}
	c->limits = (struct limits_cfg){.rate = st->outbox_rate, .burst = st->outbox_burst};

	svc = secret_load(st->service_file, "RINGMQ_SERVICE_SECRET", &svc_len);
	if (!svc) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME
				     ": no service secret (plugin_opt_service_secret_file or RINGMQ_SERVICE_SECRET)");
		goto out;
	}
	if (sha256(svc, svc_len, c->service_digest)) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": SHA-256 unavailable");
		goto out;
	}
	rc = 0;
out:
	if (svc) {
		OPENSSL_cleanse(svc, svc_len);
		free(svc);
	}
	if (rc)
		plugin_config_free(c);
	return rc;
}

/* Queues a JSON object on the presence topic (QoS 1, not retained). */
static void presence_send(json_t *obj)
{
	char topic[TOPICS_MAX];
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (!text || topics_build(TOPICS_PRESENCE, TOPICS_PRESENCE_MQTT, topic, sizeof(topic)) ||
	    mosquitto_broker_publish_copy(NULL, topic, (int)strlen(text), text, 1, false, NULL))
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s: could not publish presence", __func__);
	free(text);
	json_decref(obj);
}

static void presence_user(const char *user_id, bool online)
{
	presence_send(json_pack("{s:s, s:b}", "user_id", user_id, "online", online));
}

static void snapshot_add(const char *user_id, void *arg)
{
	json_array_append_new(arg, json_string(user_id));
}

static void presence_snapshot(const struct plugin *p)
{
	json_t *users = json_array();
	if (users)
		logins_each_user(p->logins, snapshot_add, users);
	presence_send(users ? json_pack("{s:o}", "snapshot", users) : NULL);
}

static int refuse_login(struct mosquitto *client, const char *username, const char *why)
{
	char u[LOG_FIELD_MAX + 1], c[LOG_FIELD_MAX + 1];
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": refused login of \"%s\" (client id \"%s\") from %s: %s",
			     printable(username, u), printable(mosquitto_client_id(client), c),
			     mosquitto_client_address(client) ? mosquitto_client_address(client) : "?", why);
	return MOSQ_ERR_AUTH;
}

static int service_login(struct plugin *p, struct mosquitto *client, const char *username, const char *password)
{
	unsigned char got[SHA256_DIGEST_LENGTH];
	if (!password)
		return refuse_login(client, username, "no password");
	if (sha256(password, strlen(password), got))
		return MOSQ_ERR_UNKNOWN;
	if (CRYPTO_memcmp(got, p->cfg.service_digest, sizeof(got)) != 0)
		return refuse_login(client, username, "wrong service secret");
	return MOSQ_ERR_SUCCESS;
}

/* True when client is a live login of ours as username with its client id:
 * the broker re-checking it after a reload, not a new CONNECT. */
static bool is_live_login(const struct plugin *p, const struct mosquitto *client, const char *username,
			  const char *client_id)
{
	const struct login *se = logins_find(p->logins, client);
	return se && !se->superseded && client_id && !strcmp(se->user_id, username) &&
	       !strncmp(se->client_id, client_id, LOGINS_CLIENT_ID_MAX);
}

static int user_login(struct plugin *p, struct mosquitto *client, const char *username, const char *password)
{
	struct jwt_claims claims;
	const char *client_id = mosquitto_client_id(client);
	/* After RELOAD, mosquitto 2.0 runs BASIC_AUTH again, in the same loop
	 * pass, for each client it holds and disconnects those refused. A live
	 * login of ours stays whatever the keys are now (PROTOCOL.md: no
	 * connection dropped); an offline persistent session is no login (no
	 * presence) and must not be "disconnected" again either. The only new
	 * CONNECTs the broker handles before the next TICK come over
	 * WebSockets (lws_service runs in between; plain sockets are read at
	 * the top of the loop): those are checked as always. */
	if (p->recheck) {
		if (is_live_login(p, client, username, client_id))
			return MOSQ_ERR_SUCCESS;
		if (mosquitto_client_protocol(client) != mp_websockets)
			return MOSQ_ERR_SUCCESS; /* an offline session: it logs in when it comes back */
	}
	if (!password)
		return refuse_login(client, username, "no token");
	int err = jwt_check(password, strnlen(password, JWT_MAX_LEN + 1), p->cfg.keys, &p->cfg.policy,
			    (int64_t)time(NULL), &claims);
	if (err == JWT_OK)
		err = revoked_check(p->revoked, &claims);
	if (err != JWT_OK)
		return refuse_login(client, username, jwt_strerror(err));
	if (strcmp(claims.user_id, username) != 0)
		return refuse_login(client, username, "username is not the token's user id");
	if (p->cfg.bind_client_id && !acl_client_id_ok(username, client_id))
		return refuse_login(client, username, "client id is not \"<user id>:<device>\"");

	int went_online = logins_add(p->logins, client, username, claims.username, client_id);
	if (went_online < 0)
		return MOSQ_ERR_NOMEM;
	struct login *l = logins_get(p->logins, client);
	if (l) {
		limits_init(&l->limits, &p->cfg.limits, claims.exp, p->cfg.policy.leeway_s, clock_mono_ms());
		l->iat = claims.iat;
	}
	if (went_online)
		presence_user(username, true);
	return MOSQ_ERR_SUCCESS;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ev = event_data;
	struct plugin *p = userdata;

	switch (acl_kind_of(ev->username)) {
	case ACL_USER:
		return user_login(p, ev->client, ev->username, ev->password);
	case ACL_BRIDGE:
	case ACL_RULES:
		return service_login(p, ev->client, ev->username, ev->password);
	default:
		return refuse_login(ev->client, ev->username, "username breaks the id rule");
	}
}

static const char *device_of(const struct login *l);

/* A user's live login subscribed to its own notification topic: rules
 * replays the calls ringing for it (schemas/INTERNAL.md "Presence"). */
static void report_subscribe(const struct plugin *p, const struct mosquitto *client, const char *username,
			     const char *topic)
{
	char id[IDS_MAX + 1];
	const struct login *l = logins_find(p->logins, client);
	if (!l || l->superseded || strcmp(l->user_id, username) ||
	    topics_parse(topic, id) != TOPICS_USER_NOTIFICATIONS || strcmp(id, username))
		return;
	json_t *ev = json_pack("{s:s, s:b}", "user_id", username, "subscribed", 1);
	const char *device = device_of(l);
	if (ev && device)
		json_object_set_new(ev, "device", json_string(device));
	presence_send(ev);
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ev = event_data;
	struct plugin *p = userdata;
	const char *username = mosquitto_client_username(ev->client);
	enum acl_kind kind = acl_kind_of(username);
	enum acl_access access;

	switch (ev->access) {
	case MOSQ_ACL_SUBSCRIBE:
		access = ACL_SUBSCRIBE;
		break;
	case MOSQ_ACL_UNSUBSCRIBE:
		access = ACL_UNSUBSCRIBE;
		break;
	case MOSQ_ACL_READ:
		access = ACL_READ;
		break;
	case MOSQ_ACL_WRITE:
		access = ACL_WRITE;
		break;
	default:
		return MOSQ_ERR_ACL_DENIED;
	}
	if (access == ACL_WRITE && kind == ACL_USER) {
		/* The broker checks a will as a write, sent after the disconnect
		 * event (or, on a session takeover, after the newer login). */
		const struct login *se = logins_find(p->logins, ev->client);
		if (!se || se->superseded || strcmp(se->user_id, username) != 0)
			access = ACL_WILL;
	}
	if (acl_allows(kind, username, access, ev->topic, ev->retain)) {
		if (access == ACL_SUBSCRIBE && kind == ACL_USER)
			report_subscribe(p, ev->client, username, ev->topic);
		return MOSQ_ERR_SUCCESS;
	}

	static const char *const names[] = {"?", "subscribe", "read", "publish", "will", "unsubscribe"};
	char u[LOG_FIELD_MAX + 1], t[LOG_FIELD_MAX + 1];
	mosquitto_log_printf(access == ACL_READ ? MOSQ_LOG_DEBUG : MOSQ_LOG_NOTICE,
			     PLUGIN_NAME ": refused %s%s of \"%s\" by \"%s\"", names[access],
			     ev->retain && access != ACL_SUBSCRIBE ? " (retained)" : "", printable(ev->topic, t),
			     printable(username, u));
	return MOSQ_ERR_ACL_DENIED;
}

/* True when topic is exactly the outbox of user_id. */
static bool is_own_outbox(const char *topic, const char *user_id)
{
	char id[IDS_MAX + 1];
	return topics_parse(topic, id) == TOPICS_USER_OUTBOX && !strcmp(id, user_id);
}

/* The <device> of a login's client id "<user id>:<device>", or NULL when
 * it has none (plugin_opt_client_id_rule any) or one too long to name. */
static const char *device_of(const struct login *l)
{
	size_t n = strlen(l->user_id);
	if (l->client_id_cut || strncmp(l->client_id, l->user_id, n) || l->client_id[n] != ':')
		return NULL;
	const char *d = l->client_id + n + 1;
	size_t len = strlen(d);
	return len > 0 && len <= FRAMES_DEVICE_MAX ? d : NULL;
}

/* Tells a phone its frame was dropped: an error frame with the phone's
 * device_id on its user's notification topic (QoS 1), marked for_device so
 * the bridges keep it from web sockets. ref and call_id may be NULL. */
static void refuse_frame_send(const struct login *l, int code, const char *why, const char *ref, const char *call_id)
{
	char topic[TOPICS_MAX];
	const char *device = device_of(l);
	json_t *err = frames_error(code, why, ref, call_id);
	if (err && device)
		json_object_set_new(err, "device_id", json_string(device));
	char *text = err ? json_dumps(err, JSON_COMPACT) : NULL;
	json_decref(err);
	mosquitto_property *props = NULL;
	if (!text || topics_build(TOPICS_USER_NOTIFICATIONS, l->user_id, topic, sizeof(topic)) ||
	    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, FOR_DEVICE_PROP, "1") ||
	    mosquitto_broker_publish_copy(NULL, topic, (int)strlen(text), text, 1, false, props)) {
		mosquitto_property_free_all(&props);
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s: could not publish an error for %s", __func__,
				     l->user_id);
	}
	free(text);
}

/* Drops a user's frame: the error to the phone, and a refusal counted
 * (the LIMITS_REFUSED_MAXth in the window marks the login for a kick).
 * Returns what MESSAGE returns for it. */
static int refuse_frame(struct plugin *p, struct login *l, int code, const char *why, const char *ref,
			const char *call_id)
{
	refuse_frame_send(l, code, why, ref, call_id);
	if (limits_refused(&l->limits, clock_mono_ms()) && !l->kick) {
		l->kick = true;
		p->kick_due = true;
	}
	return MOSQ_ERR_ACL_DENIED; /* dropped; v5 PUBACK 0x87, the connection stays */
}

enum frame_device { DEVICE_NONE, DEVICE_SAME, DEVICE_OTHER };

/* What the frame's device_id says next to the connection's device (NULL:
 * none known): no string device_id (or JSON the plugin cannot read, left
 * to rules, which refuses it), the same device, or another one. For
 * DEVICE_OTHER, *ref and *call_id get the frame's type and call_id
 * (malloc'd; NULL when absent), for the error. */
static enum frame_device frame_device(const struct mosquitto_evt_message *ev, const char *device, char **ref,
				      char **call_id)
{
	*ref = *call_id = NULL;
	if (!ev->payload || ev->payloadlen == 0)
		return DEVICE_NONE;
	json_t *root = json_loadb(ev->payload, ev->payloadlen, JSON_REJECT_DUPLICATES, NULL);
	const json_t *dev = json_is_object(root) ? json_object_get(root, "device_id") : NULL;
	enum frame_device got = DEVICE_NONE;
	if (json_is_string(dev)) {
		bool same = device && json_string_length(dev) == strlen(device) &&
			    !memcmp(json_string_value(dev), device, strlen(device));
		got = same ? DEVICE_SAME : DEVICE_OTHER;
	}
	if (got == DEVICE_OTHER) {
		const json_t *t = json_object_get(root, "type"), *c = json_object_get(root, "call_id");
		if (json_is_string(t) && json_string_length(t) > 0 && json_string_length(t) < 128)
			*ref = strdup(json_string_value(t));
		if (json_is_string(c) && json_string_length(c) > 0 && json_string_length(c) < 128)
			*call_id = strdup(json_string_value(c));
	}
	json_decref(root);
	return got;
}

static void mark_revoked(struct login *l, void *arg)
{
	struct plugin *p = arg;
	if (!l->kicked && revoked_refuses(p->revoked, l->user_id, l->iat)) {
		l->kick = l->revoked = true;
		p->kick_due = true;
	}
}

/* A revocation from rules: kept (and written to the file, when one is
 * set), and every live login whose token it refuses is disconnected at
 * the next TICK. An unchanged rule (rules publishes them all again after
 * each connect) changes nothing: no login got in past it. */
static void revocation(struct plugin *p, const void *payload, size_t len)
{
	char uid[IDS_MAX + 1];
	int64_t before;
	int changed = revoked_parse(payload, len, uid, &before) == 0 ? revoked_set(p->revoked, uid, before) : -1;
	if (changed <= 0) {
		if (changed < 0)
			mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": %s: a revocation not taken", __func__);
		return;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": user \"%s\" revoked: tokens issued at or before %lld",
			     uid, (long long)before);
	if (p->revocations_file && revoked_save(p->revoked, p->revocations_file) != 0)
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": cannot write %s: %s", p->revocations_file,
				     strerror(errno));
	logins_each(p->logins, mark_revoked, p);
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ev = event_data;
	struct plugin *p = userdata;
	const char *username = mosquitto_client_username(ev->client);
	enum acl_kind kind = acl_kind_of(username);

	if (kind == ACL_RULES && topics_parse(ev->topic, NULL) == TOPICS_HELLO) {
		presence_snapshot(p);
		return MOSQ_ERR_SUCCESS;
	}
	if (kind == ACL_RULES && topics_parse(ev->topic, NULL) == TOPICS_REVOCATION) {
		revocation(p, ev->payload, (size_t)ev->payloadlen);
		return MOSQ_ERR_SUCCESS; /* on its way, retained, to the bridges */
	}
	if (kind != ACL_USER)
		return MOSQ_ERR_SUCCESS;

	struct login *se = logins_get(p->logins, ev->client);
	if (!se || !ev->topic || !is_own_outbox(ev->topic, se->user_id))
		return MOSQ_ERR_ACL_DENIED; /* acl_allows let it through: cannot happen */
	if (se->kick || se->kicked)
		return MOSQ_ERR_ACL_DENIED; /* on its way out: dropped without a word */
	if (!limits_take(&se->limits, &p->cfg.limits, clock_mono_ms()))
		return refuse_frame(p, se, FRAMES_RATE_LIMITED, "rate limit exceeded", NULL, NULL);

	const char *device = device_of(se);
	char *ref = NULL, *call_id = NULL;
	enum frame_device named = frame_device(ev, device, &ref, &call_id);
	if (p->cfg.bind_client_id && named == DEVICE_OTHER) {
		int rc = refuse_frame(p, se, FRAMES_FORBIDDEN, "device_id is not this connection's device (its client id)",
				      ref, call_id);
		free(ref);
		free(call_id);
		return rc;
	}
	free(ref);
	free(call_id);

	/* rules takes from_device from the property, else from the frame's
	 * device_id: a frame naming its own device already says it. */
	mosquitto_property *props = NULL;
	if (mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "sender_id", se->user_id) ||
	    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "sender_username", se->username) ||
	    (device && named != DEVICE_SAME &&
	     mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "from_device", device))) {
		mosquitto_property_free_all(&props);
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s: out of memory", __func__);
		return MOSQ_ERR_NOMEM;
	}
	mosquitto_property_free_all(&ev->properties);
	ev->properties = props;
	return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ev = event_data;
	struct plugin *p = userdata;
	char user_id[IDS_MAX + 1];

	if (logins_remove(p->logins, ev->client, user_id) == 1)
		presence_user(user_id, false);
	return MOSQ_ERR_SUCCESS;
}

/* One log line of what tokens are checked against. */
static void log_config(const struct plugin_config *c, const char *what)
{
	char keys[512];
	jwt_keyset_describe(c->keys, keys, sizeof(keys));
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			     PLUGIN_NAME ": %s (keys: %s; exp %s, leeway %lld s, audience %s, issuer %s, client ids %s)",
			     what, keys, c->policy.require_exp ? "required" : "optional", (long long)c->policy.leeway_s,
			     c->audience ? c->audience : "not checked", c->issuer ? c->issuer : "not checked",
			     c->bind_client_id ? "\"<user id>:<device>\"" : "unbound");
}

static void say_change(void *arg, const char *line)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": SIGHUP: %s", line);
}

static int on_reload(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	struct plugin_settings *fresh = malloc(sizeof(*fresh));
	struct plugin_config cand;
	int restart = 0;

	/* The broker's BASIC_AUTH re-checks follow this event: see user_login.
	 * Only when TICKs come to close that window again. */
	p->recheck = p->ticking;
	/* ev->options is NULL in mosquitto 2.0: the options of init count,
	 * then the config file as it is now. Nothing changes unless the whole
	 * of it, key files included, reads. */
	if (!fresh || settings_read(fresh, p->cf, p->opts, p->opt_count) || plugin_config_build(fresh, &cand)) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": reload failed, keeping the old settings, keys and secrets");
		goto out;
	}
	int applied = config_apply(p->st.spec, fresh->spec, say_change, NULL, &restart);
	if (restart) {
		/* what needs a restart stays: build again from what is in force */
		plugin_config_free(&cand);
		if (plugin_config_build(&p->st, &cand)) {
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": reload failed, keeping the old keys and secrets");
			goto out;
		}
	}
	plugin_config_free(&p->cfg);
	p->cfg = cand;
	log_config(&p->cfg, "reloaded");
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": SIGHUP: %d change(s) applied, %d need a restart", applied,
			     restart);
out:
	config_keep(p->cf, p->st.spec);
	free(fresh);
	return MOSQ_ERR_SUCCESS;
}

struct sweep {
	int64_t now_s;
	size_t n;
	bool more; /* a login to disconnect did not fit: sweep again next TICK */
	struct {
		char client_id[LOGINS_CLIENT_ID_MAX + 1];
		char user_id[IDS_MAX + 1];
		bool expired;
		bool revoked;
	} due[KICKS_PER_TICK];
};

/* Picks the logins to disconnect. A superseded login's client id names
 * the connection that took it over: the broker ends the old one itself. */
static void sweep_one(struct login *l, void *arg)
{
	struct sweep *sw = arg;
	bool expired = limits_expired(&l->limits, sw->now_s);
	if (l->kicked || (!expired && !l->kick))
		return;
	if (l->superseded) {
		l->kicked = true;
		return;
	}
	if (l->client_id_cut) {
		char u[LOG_FIELD_MAX + 1];
		l->kicked = true;
		mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": cannot disconnect \"%s\": client id too long",
				     printable(l->user_id, u));
		return;
	}
	if (sw->n == KICKS_PER_TICK) {
		sw->more = true;
		return;
	}
	l->kicked = true;
	memcpy(sw->due[sw->n].client_id, l->client_id, sizeof(l->client_id));
	memcpy(sw->due[sw->n].user_id, l->user_id, sizeof(l->user_id));
	sw->due[sw->n].expired = expired;
	sw->due[sw->n].revoked = l->revoked;
	sw->n++;
}

/* Disconnects the logins whose token ended and those marked for a kick.
 * The kicks run after the walk: each one calls on_disconnect, which
 * removes its login. */
static void sweep(struct plugin *p, int64_t now_s)
{
	struct sweep *sw = malloc(sizeof(*sw));
	if (!sw)
		return; /* the next TICK tries again */
	sw->now_s = now_s;
	sw->n = 0;
	sw->more = false;
	logins_each(p->logins, sweep_one, sw);
	p->kick_due = sw->more;
	p->swept_s = sw->more ? 0 : now_s;
	for (size_t i = 0; i < sw->n; i++) {
		char u[LOG_FIELD_MAX + 1], c[LOG_FIELD_MAX + 1];
		mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": disconnecting \"%s\" (client id \"%s\"): %s",
				     printable(sw->due[i].user_id, u), printable(sw->due[i].client_id, c),
				     sw->due[i].expired ? "token expired" : sw->due[i].revoked ? "token revoked"
									  : "too many refused frames");
		int rc = mosquitto_kick_client_by_clientid(sw->due[i].client_id, false);
		if (rc != MOSQ_ERR_SUCCESS)
			mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": %s: client id \"%s\" not found (%d)",
					     __func__, c, rc);
	}
	free(sw);
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	p->ticking = true;
	p->recheck = false; /* the re-checks of a reload are over */
	/* mosquitto 2.0.11 leaves the event's times at 0: read the clock. */
	int64_t now_s = (int64_t)time(NULL);
	if (p->kick_due || now_s != p->swept_s)
		sweep(p, now_s);
	return MOSQ_ERR_SUCCESS;
}

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} callbacks[] = {
	{MOSQ_EVT_BASIC_AUTH, on_basic_auth}, {MOSQ_EVT_ACL_CHECK, on_acl_check},
	{MOSQ_EVT_MESSAGE, on_message},       {MOSQ_EVT_DISCONNECT, on_disconnect},
	{MOSQ_EVT_RELOAD, on_reload},         {MOSQ_EVT_TICK, on_tick},
};
#define N_CALLBACKS (sizeof(callbacks) / sizeof(callbacks[0]))

static void plugin_free(struct plugin *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < N_CALLBACKS; i++)
		mosquitto_callback_unregister(p->id, callbacks[i].event, callbacks[i].cb, NULL);
	logins_free(p->logins);
	revoked_free(p->revoked);
	free(p->revocations_file);
	plugin_config_free(&p->cfg);
	config_free(p->cf);
	opts_free(p->opts, p->opt_count);
	free(p);
}

/* The revocations kept by the last run: a restarted broker refuses a
 * revoked token before rules has told it again. A file that cannot be
 * read is logged and the broker starts (rules publishes every rule again
 * once it connects). -1 only when out of memory. */
static int revocations_open(struct plugin *p)
{
	const char *path = p->st.revocations_file;
	if (!path || !path[0])
		return 0;
	if (!(p->revocations_file = strdup(path)))
		return -1;
	errno = 0;
	if (revoked_load(p->revoked, path) != 0)
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": cannot read the revocations in %s: %s", path,
				     errno ? strerror(errno) : "not a JSON object of user id -> before");
	else
		mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": %zu revocations from %s", revoked_count(p->revoked),
				     path);
	return 0;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
			  int option_count)
{
	struct plugin *p = NULL;
	int rc = MOSQ_ERR_UNKNOWN;

	if (instances > 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": load it once, globally (per_listener_settings false)");
		return MOSQ_ERR_INVAL;
	}
	log_init(PLUGIN_NAME, LOG_LEVEL_INFO); /* for secret_load's messages */
	p = calloc(1, sizeof(*p));
	if (!p)
		return MOSQ_ERR_NOMEM;
	p->id = identifier;
	p->logins = logins_new();
	p->revoked = revoked_new();
	if (!p->logins || !p->revoked) {
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	p->opt_count = option_count > 0 ? option_count : 0;
	p->opts = opts_copy(options, p->opt_count);
	if (!p->opts) {
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	p->cf = config_new();
	if (!p->cf) {
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	if (settings_read(&p->st, p->cf, p->opts, p->opt_count) || plugin_config_build(&p->st, &p->cfg)) {
		rc = MOSQ_ERR_INVAL;
		goto fail;
	}
	if (revocations_open(p)) {
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < N_CALLBACKS; i++) {
		rc = mosquitto_callback_register(identifier, callbacks[i].event, callbacks[i].cb, NULL, p);
		if (rc) {
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": cannot register callback %d: %d",
					     callbacks[i].event, rc);
			goto fail;
		}
	}
	instances++;
	*userdata = p;
	log_config(&p->cfg, "ready");
	return MOSQ_ERR_SUCCESS;
fail:
	plugin_free(p);
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	plugin_free(userdata);
	if (instances > 0)
		instances--;
	return MOSQ_ERR_SUCCESS;
}
