/* fuzz_jwt: the HS256 token verifier (bridge/common/jwt.h).
 *
 * Input: one byte picks a mode, the rest feeds it.
 *   0  raw:    the rest is a token, verified as it comes (what a client sends
 *              in ?token=, Authorization or the MQTT password).
 *   1  signed: the rest is "<header JSON>\0<claims JSON>"; the harness encodes
 *              and signs them with the secret, so the fuzzer reaches the claim
 *              checks a forged signature never reaches.
 *   2  minted: the rest is "<user id>\0<name>\0<8 bytes exp>" for jwt_mint,
 *              whose token must verify when the id is valid and not expired.
 * Properties: a token verifies only with alg HS256, the right secret and an
 * untouched signature; a verified token has a valid user id, a non-empty
 * UTF-8 username of at most JWT_USERNAME_MAX bytes and an exp in the future
 * (or none, when not required). */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <jansson.h>

#include "fuzz_input.h"
#include "ids.h"
#include "jwt.h"

#define NOW_S INT64_C(1700000000)

static const unsigned char secret[] = "fuzz-secret-0123456789abcdef";
static const unsigned char other_secret[] = "fuzz-secret-0123456789abcdeF";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_claims(const struct jwt_claims *c, bool require_exp)
{
	FUZZ_ASSERT(ids_valid(c->user_id));
	size_t n = strnlen(c->username, sizeof(c->username));
	FUZZ_ASSERT(n > 0 && n <= JWT_USERNAME_MAX);
	json_t *s = json_string(c->username); /* NULL when not valid UTF-8 */
	FUZZ_ASSERT(s != NULL);
	json_decref(s);
	if (require_exp || c->exp != 0)
		FUZZ_ASSERT(c->exp > NOW_S);
}

/* Verifies tok both with and without exp required; returns the result
 * with exp required and checks what each says. */
static int verify(const char *tok, size_t len, const unsigned char *key, size_t key_len)
{
	int rc_req = 0;
	for (int req = 1; req >= 0; req--) {
		struct jwt_claims c;
		memset(&c, 0xa5, sizeof(c));
		int rc = jwt_verify(tok, len, key, key_len, NOW_S, req, &c);
		FUZZ_ASSERT(rc <= JWT_OK && rc >= JWT_ENOEXP);
		FUZZ_ASSERT(jwt_strerror(rc) != NULL);
		if (rc == JWT_OK)
			check_claims(&c, req);
		if (req)
			rc_req = rc;
		else if (rc_req == JWT_OK)
			FUZZ_ASSERT(rc == JWT_OK); /* dropping a requirement never refuses more */
	}
	return rc_req;
}

static size_t b64url(const unsigned char *in, size_t len, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = tbl[(v >> 18) & 63];
		out[n++] = tbl[(v >> 12) & 63];
		if (i + 1 < len)
			out[n++] = tbl[(v >> 6) & 63];
		if (i + 2 < len)
			out[n++] = tbl[v & 63];
	}
	out[n] = '\0';
	return n;
}

static bool alg_is_hs256(const char *hdr, size_t len)
{
	json_t *h = json_loadb(hdr, len, JSON_REJECT_DUPLICATES, NULL);
	const char *alg = json_string_value(json_object_get(h, "alg"));
	bool ok = alg && !strcmp(alg, "HS256");
	json_decref(h);
	return ok;
}

static void run_signed(struct fuzz_input *in)
{
	static char hdr[JWT_MAX_LEN], clm[JWT_MAX_LEN], tok[2 * JWT_MAX_LEN + 128];
	size_t hl = fuzz_str(in, hdr, JWT_MAX_LEN / 2);
	size_t cl = fuzz_str(in, clm, JWT_MAX_LEN / 2);
	size_t n = b64url((const unsigned char *)hdr, hl, tok);
	tok[n++] = '.';
	n += b64url((const unsigned char *)clm, cl, tok + n);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	FUZZ_ASSERT(HMAC(EVP_sha256(), secret, sizeof(secret) - 1, (const unsigned char *)tok, n, mac, &mac_len));
	tok[n++] = '.';
	n += b64url(mac, mac_len, tok + n);

	int rc = verify(tok, n, secret, sizeof(secret) - 1);
	if (rc == JWT_OK || rc == JWT_ENOEXP)
		FUZZ_ASSERT(alg_is_hs256(hdr, hl));
	if (rc == JWT_OK) {
		FUZZ_ASSERT(n <= JWT_MAX_LEN);
		FUZZ_ASSERT(verify(tok, n, other_secret, sizeof(other_secret) - 1) != JWT_OK);
		char last = tok[n - 1];
		tok[n - 1] = last == 'A' ? 'B' : 'A'; /* any other last character is another or a non-canonical MAC */
		FUZZ_ASSERT(verify(tok, n, secret, sizeof(secret) - 1) != JWT_OK);
		tok[n - 1] = last;
	}
}

static void run_minted(struct fuzz_input *in)
{
	char uid[IDS_MAX + 8], name[2 * JWT_USERNAME_MAX];
	fuzz_str(in, uid, sizeof(uid));
	fuzz_str(in, name, sizeof(name));
	uint64_t raw = 0;
	for (int i = 0; i < 8; i++)
		raw = raw << 8 | fuzz_byte(in);
	int64_t exp = (int64_t)raw;
	char *tok = jwt_mint(secret, sizeof(secret) - 1, uid, name[0] ? name : NULL, exp);
	if (!tok) {
		FUZZ_ASSERT(!ids_valid(uid));
		return;
	}
	struct jwt_claims c;
	int rc = jwt_verify(tok, strlen(tok), secret, sizeof(secret) - 1, NOW_S, false, &c);
	verify(tok, strlen(tok), secret, sizeof(secret) - 1);
	if (ids_valid(uid) && (exp <= 0 || exp > NOW_S)) {
		FUZZ_ASSERT(rc == JWT_OK);
		FUZZ_ASSERT(!strcmp(c.user_id, uid));
		if (exp < (INT64_C(1) << 53)) /* exact in a double, as JSON numbers are read */
			FUZZ_ASSERT(c.exp == (exp <= 0 ? 0 : exp > JWT_EXP_MAX ? JWT_EXP_MAX : exp));
		else
			FUZZ_ASSERT(c.exp == JWT_EXP_MAX); /* far future: clamped, never undefined */
		/* The name, cut at a UTF-8 boundary, or the id when there is none. */
		json_t *s = json_string(name);
		if (s && name[0])
			FUZZ_ASSERT(!strncmp(c.username, name, strlen(c.username)));
		else
			FUZZ_ASSERT(!strcmp(c.username, uid));
		json_decref(s);
	}
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * JWT_MAX_LEN)
		return 0;
	struct fuzz_input in = {data, size};
	switch (fuzz_byte(&in) % 3) {
	case 0:
		verify((const char *)in.p, in.n, secret, sizeof(secret) - 1);
		break;
	case 1:
		run_signed(&in);
		break;
	default:
		run_minted(&in);
		break;
	}
	return 0;
}
