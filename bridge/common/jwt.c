/* jwt: the token format and the claim policy; keys and signatures are
 * jwtkeys.c's. Minting (HS256) for demos and tests. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Decodes base64url without padding. Returns the decoded length, or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)))
		return -1;
	return (long)n;
}

static size_t b64url_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = tbl[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[n++] = tbl[(acc << (6 - bits)) & 63];
	out[n] = '\0';
	return n;
}

static json_t *decode_part(const char *p, size_t len)
{
	unsigned char buf[JWT_MAX_LEN];
	long n = b64url_decode(p, len, buf, sizeof(buf));
	if (n < 0)
		return NULL;
	json_t *j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void copy_username(char *dst, const char *src)
{
	size_t n = strlen(src);
	if (n > JWT_USERNAME_MAX) {
		n = JWT_USERNAME_MAX;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--; /* do not split a UTF-8 sequence */
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A token cut into its parts, its header read. */
struct parsed {
	enum jwt_alg alg;
	bool has_kid;
	char kid[JWT_KID_MAX + 1];
	size_t signing_len;  /* "header.payload": what the signature covers */
	const char *payload; /* base64url of the claims */
	size_t payload_len;
	unsigned char sig[JWT_SIG_MAX];
	size_t sig_len;
};

static int parse(const char *token, size_t len, struct parsed *p)
{
	if (!token || len == 0 || len > JWT_MAX_LEN)
		return JWT_EMALFORMED;
	const char *dot1 = memchr(token, '.', len);
	if (!dot1)
		return JWT_EMALFORMED;
	const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return JWT_EMALFORMED;

	int rc = JWT_EMALFORMED;
	json_t *hdr = decode_part(token, (size_t)(dot1 - token));
	if (!hdr)
		goto out;
	/* alg picks the keys that may try the token, never the other way round. */
	p->alg = jwt_alg_parse(json_string_value(json_object_get(hdr, "alg")));
	if (p->alg == JWT_ALG_UNKNOWN) {
		rc = JWT_EALG;
		goto out;
	}
	if (json_object_get(hdr, "crit"))
		goto out; /* RFC 7515 4.1.11: we understand no extension */
	json_t *kid = json_object_get(hdr, "kid");
	p->has_kid = kid != NULL;
	if (kid) {
		if (!json_is_string(kid))
			goto out;
		size_t n = json_string_length(kid);
		if (n == 0 || n > JWT_KID_MAX || memchr(json_string_value(kid), '\0', n)) {
			rc = JWT_EKID; /* no configured key has such a kid */
			goto out;
		}
		memcpy(p->kid, json_string_value(kid), n + 1);
	}
	long sig_len = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), p->sig, sizeof(p->sig));
	if (sig_len <= 0) {
		rc = JWT_ESIG;
		goto out;
	}
	p->sig_len = (size_t)sig_len;
	p->signing_len = (size_t)(dot2 - token);
	p->payload = dot1 + 1;
	p->payload_len = (size_t)(dot2 - dot1 - 1);
	rc = JWT_OK;
out:
	json_decref(hdr);
	return rc;
}

/* A numeric claim: 0 when absent, 1 when present (*v), -1 when not a number. */
static int num_claim(const json_t *claims, const char *name, double *v)
{
	json_t *j = json_object_get(claims, name);
	if (!j)
		return 0;
	if (!json_is_number(j))
		return -1;
	*v = json_number_value(j);
	return 1;
}

/* A claim in seconds as an int64_t: a huge or tiny double must not reach
 * the integer cast (undefined behaviour out of range). */
static int64_t seconds_of(double v)
{
	if (!(v > 0))
		return 0;
	return v >= (double)JWT_EXP_MAX ? (int64_t)JWT_EXP_MAX : (int64_t)v;
}

static bool aud_names(const json_t *aud, const char *audience)
{
	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), audience);
	size_t i;
	json_t *a;
	json_array_foreach(aud, i, a)
		if (json_is_string(a) && !strcmp(json_string_value(a), audience))
			return true;
	return false;
}

static int64_t clamp_leeway(int64_t leeway_s)
{
	return leeway_s < 0 ? 0 : leeway_s > JWT_LEEWAY_MAX_S ? JWT_LEEWAY_MAX_S : leeway_s;
}

bool jwt_expired(int64_t exp, int64_t leeway_s, int64_t now_s)
{
	return !(exp > now_s - clamp_leeway(leeway_s));
}

static int check_claims(const json_t *claims, const struct jwt_policy *pol, int64_t now_s, struct jwt_claims *out)
{
	int64_t leeway = clamp_leeway(pol->leeway_s);
	double v = 0;
	int has;

	memset(out, 0, sizeof(*out));
	json_t *type = json_object_get(claims, "token_type");
	if (type && (!json_is_string(type) || strcmp(json_string_value(type), "access") != 0))
		return JWT_ETYPE;
	/* nbf and iat are compared as doubles (a huge one must not be cast). */
	has = num_claim(claims, "exp", &v);
	if (has < 0)
		return JWT_EMALFORMED;
	if (has) {
		/* A fraction of a second does not count: the exp reported is the
		 * exp checked, so exp + leeway > now holds for the caller too. */
		out->exp = seconds_of(v);
		if (jwt_expired(out->exp, leeway, now_s))
			return JWT_EEXPIRED;
	} else if (pol->require_exp) {
		return JWT_ENOEXP;
	}
	has = num_claim(claims, "nbf", &v);
	if (has < 0)
		return JWT_EMALFORMED;
	if (has && !(v <= (double)(now_s + leeway)))
		return JWT_ENOTYET;
	has = num_claim(claims, "iat", &v);
	if (has < 0)
		return JWT_EMALFORMED;
	if (has) {
		if (!(v <= (double)(now_s + leeway)))
			return JWT_EIAT;
		out->iat = seconds_of(v);
	}
	if (pol->audience && !aud_names(json_object_get(claims, "aud"), pol->audience))
		return JWT_EAUD;
	if (pol->issuer) {
		const char *iss = json_string_value(json_object_get(claims, "iss"));
		if (!iss || strcmp(iss, pol->issuer) != 0)
			return JWT_EISS;
	}

	json_t *uid = json_object_get(claims, "sub");
	if (!uid)
		uid = json_object_get(claims, "user_id");
	if (ids_from_json(uid, out->user_id) != 0)
		return JWT_ENOUSER;
	const char *name = NULL;
	static const char *const name_keys[] = {"name", "username", "preferred_username"};
	for (size_t i = 0; i < 3 && !name; i++) {
		const char *s = json_string_value(json_object_get(claims, name_keys[i]));
		if (s && *s)
			name = s;
	}
	copy_username(out->username, name ? name : out->user_id);
	return JWT_OK;
}

/* Who checks the signature: a key set, or (jwt_verify) one kid-less secret. */
struct verifier {
	const struct jwt_keyset *keys;
	const unsigned char *secret;
	size_t secret_len;
};

static int check(const char *token, size_t len, const struct verifier *v, const struct jwt_policy *policy,
		 int64_t now_s, struct jwt_claims *out)
{
	struct parsed p;
	int rc = parse(token, len, &p);
	if (rc != JWT_OK)
		return rc;
	const char *kid = p.has_kid ? p.kid : NULL;
	if (v->keys)
		rc = jwt_keyset_verify(v->keys, p.alg, kid, token, p.signing_len, p.sig, p.sig_len);
	else if (kid)
		rc = JWT_EKID;
	else if (p.alg != JWT_ALG_HS256)
		rc = JWT_ENOKEY;
	else
		rc = jwt_hs256_verify(v->secret, v->secret_len, token, p.signing_len, p.sig, p.sig_len);
	if (rc != JWT_OK)
		return rc;

	json_t *claims = decode_part(p.payload, p.payload_len);
	if (!claims)
		return JWT_EMALFORMED;
	rc = check_claims(claims, policy ? policy : &JWT_POLICY_DEFAULT, now_s, out);
	json_decref(claims);
	return rc;
}

int jwt_check(const char *token, size_t len, const struct jwt_keyset *keys, const struct jwt_policy *policy,
	      int64_t now_s, struct jwt_claims *out)
{
	struct verifier v = {.keys = keys};
	if (!keys)
		return JWT_ENOKEY;
	return check(token, len, &v, policy, now_s, out);
}

int jwt_verify(const char *token, size_t len, const unsigned char *secret, size_t secret_len, int64_t now_s,
	       bool require_exp, struct jwt_claims *out)
{
	struct verifier v = {.secret = secret, .secret_len = secret_len};
	struct jwt_policy pol = JWT_POLICY_DEFAULT;
	pol.require_exp = require_exp;
	return check(token, len, &v, &pol, now_s, out);
}

char *jwt_mint(const unsigned char *secret, size_t secret_len, const char *user_id, const char *username, int64_t exp)
{
	return jwt_mint_hs256(secret, secret_len, NULL, user_id, username, 0, exp);
}

char *jwt_mint_hs256(const unsigned char *secret, size_t secret_len, const char *kid, const char *user_id,
		     const char *username, int64_t iat, int64_t exp)
{
	char *result = NULL, *hdr_s = NULL, *clm_s = NULL;
	json_t *hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
	json_t *clm = json_pack("{s:s}", "sub", user_id);
	if (!hdr || !clm)
		goto out;
	if (kid && json_object_set_new(hdr, "kid", json_string(kid)))
		goto out;
	if (username)
		json_object_set_new(clm, "name", json_string(username));
	if (iat > 0)
		json_object_set_new(clm, "iat", json_integer(iat));
	if (exp > 0)
		json_object_set_new(clm, "exp", json_integer(exp));
	hdr_s = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	clm_s = json_dumps(clm, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!hdr_s || !clm_s)
		goto out;
	size_t hl = strlen(hdr_s), cl = strlen(clm_s);
	size_t cap = (hl + cl) * 4 / 3 + 4 + 2 + 64;
	result = malloc(cap);
	if (!result)
		goto out;
	size_t n = b64url_encode((const unsigned char *)hdr_s, hl, result);
	result[n++] = '.';
	n += b64url_encode((const unsigned char *)clm_s, cl, result + n);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)result, n, mac, &mac_len)) {
		free(result);
		result = NULL;
		goto out;
	}
	result[n++] = '.';
	b64url_encode(mac, mac_len, result + n);
out:
	json_decref(hdr);
	json_decref(clm);
	free(hdr_s);
	free(clm_s);
	return result;
}

const char *jwt_strerror(int err)
{
	switch (err) {
	case JWT_OK: return "ok";
	case JWT_EMALFORMED: return "malformed token";
	case JWT_EALG: return "algorithm not allowed (HS256, RS256, ES256 only)";
	case JWT_ESIG: return "bad signature";
	case JWT_EEXPIRED: return "token expired";
	case JWT_ENOUSER: return "no valid user id in token";
	case JWT_ENOEXP: return "token has no exp";
	case JWT_ETYPE: return "not an access token (token_type)";
	case JWT_ENOTYET: return "token not yet valid (nbf)";
	case JWT_EIAT: return "token issued in the future (iat)";
	case JWT_EAUD: return "token not for this audience (aud)";
	case JWT_EISS: return "token from another issuer (iss)";
	case JWT_EKID: return "unknown key id (kid)";
	case JWT_ENOKEY: return "no key for the token's algorithm";
	case JWT_EREVOKED: return "token revoked (issued before its user was disconnected)";
	default: return "unknown error";
	}
}
