/* ringmq-ejabberd-auth: ringmq's login check for ejabberd's mod_mqtt
 * (auth_method: external, extauth_program). ejabberd runs it as a port and
 * writes requests on stdin, each a 2-byte big-endian length and then
 * "auth:<user>:<server>:<password>" (also isuser, setpass, tryregister,
 * removeuser, removeuser3); the answer is a 2-byte length (2) and a 2-byte
 * result, 1 yes, 0 no (ejabberd src/extauth.erl). The decision is the
 * mosquitto plugin's (bridge/plugin/README.md "Logins"), from the same code:
 *
 *   user ids     password = the user's JWT, jwt_check (common/jwt.c) with the
 *                keys of --jwt-secret-file / --jwt-public-key-file and the
 *                same policy options; the token's user id must be <user>
 *   --service-user NAME   (repeatable) password = the service secret,
 *                SHA-256 compared in constant time
 *
 * ejabberd hands over <user> after its nodeprep, lower-cased: a token whose
 * id has upper case never matches it and is refused (docs/scaling.md, "Ids
 * and case"). isuser is true for the service names only; everything else is
 * refused. SIGHUP re-reads every key file (all or nothing). Logs go to
 * stderr (ejabberd's log). No state, no network: one request at a time. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ids.h"
#include "jwt.h"
#include "jwtkeys.h"
#include "log.h"
#include "options.h"
#include "secret.h"

#define EXTAUTH_MAX_SERVICES 8
#define EXTAUTH_REQUEST_MAX 65535 /* the 2-byte length's bound */

static const char about[] =
	"ejabberd external authentication (auth_method: external) with ringmq's\n"
	"token check: users log in with their JWT, services with the service secret.\n"
	"See docs/scaling.md.";

struct auth {
	struct jwt_keyset *keys;
	struct jwt_policy policy;
	const char *services[EXTAUTH_MAX_SERVICES];
	int nservices;
	unsigned char service_digest[SHA256_DIGEST_LENGTH];
	bool have_service;
};

static volatile sig_atomic_t reload_due;

static void on_hup(int sig)
{
	(void)sig;
	reload_due = 1;
}

static int sha256(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int n = 0;
	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SHA256_DIGEST_LENGTH ? 0 : -1;
}

static bool is_service(const struct auth *a, const char *user)
{
	for (int i = 0; i < a->nservices; i++)
		if (!strcmp(a->services[i], user))
			return true;
	return false;
}

/* The decision on "auth:<user>:<server>:<password>" (req without "auth:"). */
static bool check_login(const struct auth *a, char *req)
{
	char *user = req, *server = strchr(req, ':');
	if (!server)
		return false;
	*server++ = '\0';
	char *password = strchr(server, ':');
	if (!password)
		return false;
	*password++ = '\0';
	if (is_service(a, user)) {
		unsigned char got[SHA256_DIGEST_LENGTH];
		bool ok = a->have_service && sha256(password, strlen(password), got) == 0 &&
			  CRYPTO_memcmp(got, a->service_digest, sizeof(got)) == 0;
		if (!ok)
			log_warn("refused login of service \"%s\"@%s: wrong secret", user, server);
		return ok;
	}
	if (!ids_valid(user)) {
		log_warn("refused login of \"%s\"@%s: not a user id", user, server);
		return false;
	}
	struct jwt_claims claims;
	int err = jwt_check(password, strnlen(password, JWT_MAX_LEN + 1), a->keys, &a->policy, (int64_t)time(NULL),
			    &claims);
	if (err != JWT_OK) {
		log_warn("refused login of \"%s\"@%s: %s", user, server, jwt_strerror(err));
		return false;
	}
	if (strcmp(claims.user_id, user) != 0) {
		log_warn("refused login of \"%s\"@%s: the token's user id is \"%s\" (ejabberd lower-cases names)", user,
			 server, claims.user_id);
		return false;
	}
	log_debug("login of \"%s\"@%s", user, server);
	return true;
}

static bool answer(const struct auth *a, char *req)
{
	if (!strncmp(req, "auth:", 5))
		return check_login(a, req + 5);
	if (!strncmp(req, "isuser:", 7)) {
		char *end = strchr(req + 7, ':');
		if (end)
			*end = '\0';
		return is_service(a, req + 7);
	}
	return false; /* setpass, tryregister, removeuser...: not ours to change */
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t w = write(fd, (const char *)buf + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *secret_files[JWT_KEYS_MAX], *pem_files[JWT_KEYS_MAX], *service_file = NULL;
	struct options_list secrets = {secret_files, 0, JWT_KEYS_MAX}, pems = {pem_files, 0, JWT_KEYS_MAX};
	struct auth a = {.policy = JWT_POLICY_DEFAULT};
	struct options_list services = {a.services, 0, EXTAUTH_MAX_SERVICES};
	long leeway = 0;
	int level = LOG_LEVEL_INFO;
	const struct options_spec spec[] = {
		{"jwt-secret-file", OPTIONS_LIST, &secrets, 0, 0, "F", "HS256 key of user tokens (repeatable)"},
		{"jwt-public-key-file", OPTIONS_LIST, &pems, 0, 0, "F", "RS256 / ES256 PEM public key (repeatable)"},
		{"jwt-leeway-s", OPTIONS_LONG, &leeway, 0, JWT_LEEWAY_MAX_S, "N", "leeway on exp, nbf, iat (default 0)"},
		{"jwt-audience", OPTIONS_STR, &a.policy.audience, 0, 0, "A", "tokens must name A in aud"},
		{"jwt-issuer", OPTIONS_STR, &a.policy.issuer, 0, 0, "I", "tokens must have iss I"},
		{"no-require-exp", OPTIONS_FALSE, &a.policy.require_exp, 0, 0, NULL, "accept tokens without exp"},
		{"service-secret-file", OPTIONS_STR, &service_file, 0, 0, "F",
		 "password of the service users (else $RINGMQ_SERVICE_SECRET)"},
		{"service-user", OPTIONS_LIST, &services, 0, 0, "NAME",
		 "a service login (repeatable), e.g. svc-bridge, svc-rules"},
		{"log-level", OPTIONS_LEVEL, &level, 0, 0, "L", "error, warn, info, debug (default info)"},
		{NULL, 0, NULL, 0, 0, NULL, NULL},
	};
	int rc = options_parse("ringmq-ejabberd-auth", about, spec, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	log_init("ringmq-ejabberd-auth", (enum log_level)level);
	a.nservices = services.n;
	a.policy.leeway_s = leeway;

	char s[4096], p[4096], err[256];
	if (options_list_join(&secrets, s, sizeof(s)) || options_list_join(&pems, p, sizeof(p))) {
		log_error("key file names too long, or holding a comma");
		return 2;
	}
	if (!secrets.n && !pems.n) {
		log_error("no key for user tokens (--jwt-secret-file or --jwt-public-key-file)");
		return 2;
	}
	if (jwt_keyset_load(&a.keys, s, p, err, sizeof(err)) != 0) {
		log_error("JWT keys: %s", err);
		return 2;
	}
	if (a.nservices) {
		size_t len = 0;
		char *svc = secret_load(service_file, "RINGMQ_SERVICE_SECRET", &len);
		if (!svc || sha256(svc, len, a.service_digest) != 0) {
			log_error("--service-user needs --service-secret-file (or $RINGMQ_SERVICE_SECRET)");
			free(svc);
			return 2;
		}
		OPENSSL_cleanse(svc, len);
		free(svc);
		a.have_service = true;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup; /* no SA_RESTART: read_full retries EINTR itself */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	char describe[512];
	jwt_keyset_describe(a.keys, describe, sizeof(describe));
	log_info("ready (keys: %s; %d service logins)", describe, a.nservices);

	static char req[EXTAUTH_REQUEST_MAX + 1];
	for (;;) {
		unsigned char hdr[2];
		if (read_full(STDIN_FILENO, hdr, 2) != 0)
			break;
		size_t n = (size_t)hdr[0] << 8 | hdr[1];
		if (read_full(STDIN_FILENO, req, n) != 0)
			break;
		req[n] = '\0';
		if (reload_due) {
			reload_due = 0;
			if (jwt_keyset_reload(a.keys, err, sizeof(err)) != 0)
				log_warn("reload failed, keeping the old keys: %s", err);
			else
				log_info("reloaded the JWT keys");
		}
		bool yes = memchr(req, '\0', n) == NULL && answer(&a, req);
		OPENSSL_cleanse(req, n);
		unsigned char out[4] = {0, 2, 0, yes ? 1 : 0};
		if (write_full(STDOUT_FILENO, out, sizeof(out)) != 0)
			break;
	}
	jwt_keyset_free(a.keys);
	return 0;
}
