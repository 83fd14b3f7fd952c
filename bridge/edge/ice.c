/* ice: TURN REST API credentials and the ice-servers body. HMAC-SHA1 and
 * base64 are OpenSSL's (as jwt.c's HMAC-SHA256); the JSON is jansson's.
 * Nothing here reads a clock, a file or a socket. */
#include "ice.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ICE_SHA1_LEN 20

/* The length of uri's "plain:" or "secure:" (lower case, as browsers and
 * schemas/ write them), or 0. */
static size_t scheme_len(const char *uri, const char *plain, const char *secure)
{
	size_t a = strlen(plain), b = strlen(secure);
	if (!strncmp(uri, secure, b) && uri[b] == ':')
		return b + 1;
	if (!strncmp(uri, plain, a) && uri[a] == ':')
		return a + 1;
	return 0;
}

static int check_uris(const char *const *uris, int n, const char *plain, const char *secure, const char *flag,
		      char *err, size_t cap)
{
	for (int i = 0; i < n; i++) {
		const char *u = uris[i];
		size_t len = strnlen(u, ICE_URI_MAX + 1), scheme = scheme_len(u, plain, secure);
		if (len > ICE_URI_MAX) {
			snprintf(err, cap, "%s: longer than %d bytes", flag, ICE_URI_MAX);
			return -1;
		}
		if (!scheme || len == scheme) {
			snprintf(err, cap, "%s \"%s\": must be %s:HOST[:PORT][?transport=udp|tcp] (or %s:...)", flag, u,
				 plain, secure);
			return -1;
		}
		for (size_t k = 0; k < len; k++) {
			if (isspace((unsigned char)u[k]) || iscntrl((unsigned char)u[k])) {
				snprintf(err, cap, "%s: a space or control character in \"%s\"", flag, u);
				return -1;
			}
		}
	}
	return 0;
}

int ice_cfg_check(const struct ice_cfg *cfg, char *err, size_t cap)
{
	if (check_uris(cfg->turn, cfg->nturn, "turn", "turns", "--turn-uri", err, cap) ||
	    check_uris(cfg->stun, cfg->nstun, "stun", "stuns", "--stun-uri", err, cap))
		return -1;
	if (cfg->secret && !cfg->secret_len) {
		snprintf(err, cap, "--turn-secret-file: the file is empty");
		return -1;
	}
	if (cfg->nturn && !cfg->secret) {
		snprintf(err, cap, "--turn-uri needs --turn-secret-file (the TURN server's static-auth-secret): "
				   "without it no browser could log in to the TURN server");
		return -1;
	}
	if (cfg->secret && !cfg->nturn) {
		snprintf(err, cap, "--turn-secret-file needs at least one --turn-uri");
		return -1;
	}
	if (cfg->ttl_s < 1 || cfg->ttl_s > ICE_TTL_MAX_S) {
		snprintf(err, cap, "--turn-ttl-s must be 1..%ld", ICE_TTL_MAX_S);
		return -1;
	}
	return 0;
}

int ice_username(int64_t expiry_s, const char *user_id, char out[ICE_USERNAME_MAX + 1])
{
	if (expiry_s < 0 || !ids_valid(user_id))
		return -1;
	int n = snprintf(out, ICE_USERNAME_MAX + 1, "%" PRId64 ":%s", expiry_s, user_id);
	return n > 0 && n <= ICE_USERNAME_MAX ? 0 : -1;
}

int ice_credential(const char *secret, size_t secret_len, const char *username, char out[ICE_CREDENTIAL_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha1(), secret, (int)secret_len, (const unsigned char *)username, strlen(username), mac,
		  &mac_len) ||
	    mac_len != ICE_SHA1_LEN)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, mac, ICE_SHA1_LEN) == ICE_CREDENTIAL_LEN ? 0 : -1;
}

/* A JSON array of n strings, or NULL. */
static json_t *uri_list(const char *const *uris, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(uris[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *ice_servers(const struct ice_cfg *cfg, const char *user_id, int64_t now_s)
{
	json_t *list = json_array();
	json_t *body = json_pack("{s:o, s:I}", "ice_servers", list, "ttl", (json_int_t)cfg->ttl_s);
	if (!body)
		return NULL;
	if (cfg->nturn) {
		char username[ICE_USERNAME_MAX + 1], credential[ICE_CREDENTIAL_LEN + 1];
		int rc = ice_username(now_s + cfg->ttl_s, user_id, username) ||
			 ice_credential(cfg->secret, cfg->secret_len, username, credential) ||
			 json_array_append_new(list, json_pack("{s:o, s:s, s:s}", "urls", uri_list(cfg->turn, cfg->nturn),
							       "username", username, "credential", credential));
		OPENSSL_cleanse(credential, sizeof(credential));
		if (rc) {
			json_decref(body);
			return NULL;
		}
	}
	if (cfg->nstun && json_array_append_new(list, json_pack("{s:o}", "urls", uri_list(cfg->stun, cfg->nstun)))) {
		json_decref(body);
		return NULL;
	}
	return body;
}

void ice_describe(const struct ice_cfg *cfg, char *buf, size_t cap)
{
	if (!cfg->nturn && !cfg->nstun)
		snprintf(buf, cap, "none (GET /calls/ice-servers/ answers an empty list)");
	else if (!cfg->nturn)
		snprintf(buf, cap, "no TURN; %d STUN URI(s), first %s", cfg->nstun, cfg->stun[0]);
	else
		snprintf(buf, cap, "%d TURN URI(s), first %s, credentials good for %ld s; %d STUN URI(s)", cfg->nturn,
			 cfg->turn[0], cfg->ttl_s, cfg->nstun);
}
