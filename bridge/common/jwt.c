/* jwt: HS256 verification and minting over libcrypto and jansson. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
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

int jwt_verify(const char *token, size_t len, const unsigned char *secret, size_t secret_len, int64_t now_s,
	       bool require_exp, struct jwt_claims *out)
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
	json_t *claims = NULL;
	if (!hdr)
		goto out;
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || strcmp(alg, "HS256") != 0) {
		rc = JWT_EALG;
		goto out;
	}

	/* Signature over "header.payload". */
	unsigned char want[EVP_MAX_MD_SIZE];
	unsigned int want_len = 0;
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)token, (size_t)(dot2 - token), want,
		  &want_len))
		goto out;
	unsigned char got[64];
	long got_len = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), got, sizeof(got));
	if (got_len != (long)want_len || CRYPTO_memcmp(got, want, want_len) != 0) {
		rc = JWT_ESIG;
		goto out;
	}

	claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!claims)
		goto out;
	json_t *exp = json_object_get(claims, "exp");
	memset(out, 0, sizeof(*out));
	if (exp) {
		if (!json_is_number(exp))
			goto out;
		/* Compared as a double first: a huge or tiny exp must not reach the
		 * integer cast (undefined behaviour out of range). */
		double v = json_number_value(exp);
		if (!(v > (double)now_s)) {
			rc = JWT_EEXPIRED;
			goto out;
		}
		out->exp = v >= JWT_EXP_MAX ? (int64_t)JWT_EXP_MAX : (int64_t)v;
	} else if (require_exp) {
		rc = JWT_ENOEXP;
		goto out;
	}
	json_t *uid = json_object_get(claims, "sub");
	if (!uid)
		uid = json_object_get(claims, "user_id");
	if (ids_from_json(uid, out->user_id) != 0) {
		rc = JWT_ENOUSER;
		goto out;
	}
	const char *name = NULL;
	static const char *const name_keys[] = {"name", "username", "preferred_username"};
	for (size_t i = 0; i < 3 && !name; i++) {
		const char *s = json_string_value(json_object_get(claims, name_keys[i]));
		if (s && *s)
			name = s;
	}
	copy_username(out->username, name ? name : out->user_id);
	rc = JWT_OK;
out:
	json_decref(hdr);
	json_decref(claims);
	return rc;
}

char *jwt_mint(const unsigned char *secret, size_t secret_len, const char *user_id, const char *username, int64_t exp)
{
	char *result = NULL, *hdr_s = NULL, *clm_s = NULL;
	json_t *clm = json_pack("{s:s}", "sub", user_id);
	if (!clm)
		return NULL;
	if (username)
		json_object_set_new(clm, "name", json_string(username));
	if (exp > 0)
		json_object_set_new(clm, "exp", json_integer(exp));
	hdr_s = strdup("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	clm_s = json_dumps(clm, JSON_COMPACT);
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
	case JWT_EALG: return "algorithm not allowed (HS256 only)";
	case JWT_ESIG: return "bad signature";
	case JWT_EEXPIRED: return "token expired";
	case JWT_ENOUSER: return "no valid user id in token";
	case JWT_ENOEXP: return "token has no exp";
	default: return "unknown error";
	}
}
