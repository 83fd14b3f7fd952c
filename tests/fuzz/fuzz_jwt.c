/* fuzz_jwt: the token check (bridge/common/jwt.h, jwtkeys.h).
 *
 * Input: one byte picks a mode (its low 3 bits, mod 5) and a policy (its
 * high bits: 0x08 leeway 60 s, 0x10 audience "ringmq", 0x20 issuer
 * "https://auth.example", 0x40 exp not required); the rest feeds the mode.
 *   0  raw:    the rest is a token, checked as it comes (what a client sends
 *              in ?token=, Authorization or the MQTT password).
 *   1  HS256:  the rest is "<header JSON>\0<claims JSON>"; the harness encodes
 *              them and signs with the HS256 secret, so the fuzzer reaches
 *              the claim checks a forged signature never reaches.
 *   2  minted: the rest is "<user id>\0<name>\0<8 bytes exp>" for jwt_mint,
 *              whose token must verify when the id is valid and not expired.
 *   3  ES256:  as 1, signed with the EC key (R||S).
 *   4  RS256:  as 1, signed with the RSA key.
 * The key set: an HS256 secret (kid "fuzz-hs"), an RSA key ("fuzz-rsa"), a
 * P-256 key ("fuzz-ec"), made when the fuzzer starts, the public ones loaded
 * from PEM files as the services load them; a twin set holds other keys of
 * the same kids.
 * Properties: every result is an enum jwt_err with a text; a token verifies
 * only with a known alg, a key of that alg (of its kid, when it names one)
 * and an untouched signature, never with the twin set, never when HS256 is
 * "signed" with a public key's PEM; a verified token has a valid user id, a
 * non-empty UTF-8 username of at most JWT_USERNAME_MAX bytes, exp (when
 * there or required) and iat within the leeway; relaxing the policy (no
 * aud, no iss, exp optional, the largest leeway) never refuses more, and
 * never changes a refusal about the header or the signature; jwt_verify is
 * jwt_check with one kid-less secret. */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_input.h"
#include "ids.h"
#include "jwt.h"
#include "jwtkeys.h"

#define NOW_S INT64_C(1700000000)
#define LEEWAY_S 60

static const unsigned char secret[] = "fuzz-secret-0123456789abcdef";
static const unsigned char other_secret[] = "fuzz-secret-0123456789abcdeF";

static struct {
	EVP_PKEY *rsa, *ec;
	unsigned char rsa_pem[2048];
	size_t rsa_pem_len;
	struct jwt_keyset *keys, *twin, *only_secret;
} K;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Writes pkey's public PEM to dir/kid.pem, returns the path (static). */
static const char *write_pub(const char *dir, const char *kid, EVP_PKEY *pkey)
{
	static char paths[2][256];
	static int next;
	char *path = paths[next++ % 2];
	snprintf(path, sizeof(paths[0]), "%s/%s.pem", dir, kid);
	FILE *f = fopen(path, "w");
	FUZZ_ASSERT(f && PEM_write_PUBKEY(f, pkey) == 1 && fclose(f) == 0);
	return path;
}

static struct jwt_keyset *make_set(const char *dir, const unsigned char *hs, size_t hs_len, EVP_PKEY *rsa,
				   EVP_PKEY *ec)
{
	char err[JWT_KEYS_ERR_MAX], pems[600];
	const char *r = write_pub(dir, "fuzz-rsa", rsa);
	const char *e = write_pub(dir, "fuzz-ec", ec);
	snprintf(pems, sizeof(pems), "%s,%s", r, e);
	struct jwt_keyset *ks = NULL;
	if (jwt_keyset_load(&ks, NULL, pems, err, sizeof(err))) {
		fprintf(stderr, "fuzz_jwt: %s\n", err);
		abort();
	}
	FUZZ_ASSERT(jwt_keyset_add_secret(ks, "fuzz-hs", hs, hs_len, err, sizeof(err)) == 0);
	unlink(r);
	unlink(e);
	return ks;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz_jwt.XXXXXX";
	FUZZ_ASSERT(mkdtemp(dir));
	K.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	K.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FUZZ_ASSERT(K.rsa && K.ec && rsa2 && ec2);
	K.keys = make_set(dir, secret, sizeof(secret) - 1, K.rsa, K.ec);
	K.twin = make_set(dir, other_secret, sizeof(other_secret) - 1, rsa2, ec2);
	rmdir(dir);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec2);
	K.only_secret = jwt_keyset_new();
	FUZZ_ASSERT(K.only_secret &&
		    jwt_keyset_add_secret(K.only_secret, NULL, secret, sizeof(secret) - 1, NULL, 0) == 0);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(b, K.rsa);
	char *pem = NULL;
	long n = BIO_get_mem_data(b, &pem);
	FUZZ_ASSERT(n > 0 && (size_t)n <= sizeof(K.rsa_pem));
	memcpy(K.rsa_pem, pem, (size_t)n);
	K.rsa_pem_len = (size_t)n;
	BIO_free(b);
	return 0;
}

static struct jwt_policy policy_of(uint8_t flags)
{
	struct jwt_policy p = JWT_POLICY_DEFAULT;
	p.leeway_s = flags & 0x08 ? LEEWAY_S : 0;
	p.audience = flags & 0x10 ? "ringmq" : NULL;
	p.issuer = flags & 0x20 ? "https://auth.example" : NULL;
	p.require_exp = !(flags & 0x40);
	return p;
}

static void check_claims(const struct jwt_claims *c, const struct jwt_policy *pol)
{
	FUZZ_ASSERT(ids_valid(c->user_id));
	size_t n = strnlen(c->username, sizeof(c->username));
	FUZZ_ASSERT(n > 0 && n <= JWT_USERNAME_MAX);
	json_t *s = json_string(c->username); /* NULL when not valid UTF-8 */
	FUZZ_ASSERT(s != NULL);
	json_decref(s);
	if (pol->require_exp || c->exp != 0)
		FUZZ_ASSERT(c->exp > NOW_S - pol->leeway_s);
	FUZZ_ASSERT(c->iat >= 0 && c->iat <= NOW_S + pol->leeway_s);
}

/* A refusal decided before the claims' times and audience are read. */
static bool header_or_signature(int rc)
{
	return rc == JWT_EALG || rc == JWT_ESIG || rc == JWT_EKID || rc == JWT_ENOKEY || rc == JWT_ETYPE;
}

/* Checks tok with keys under pol and under the most relaxed policy;
 * returns the result under pol. */
static int check(const char *tok, size_t len, const struct jwt_keyset *keys, const struct jwt_policy *pol)
{
	struct jwt_policy relaxed = {.require_exp = false, .leeway_s = JWT_LEEWAY_MAX_S};
	struct jwt_claims c, r;
	memset(&c, 0xa5, sizeof(c));
	int rc = jwt_check(tok, len, keys, pol, NOW_S, &c);
	FUZZ_ASSERT(rc <= JWT_OK && rc >= JWT_ERR_LAST);
	FUZZ_ASSERT(strcmp(jwt_strerror(rc), "unknown error") != 0);
	if (rc == JWT_OK)
		check_claims(&c, pol);
	int rr = jwt_check(tok, len, keys, &relaxed, NOW_S, &r);
	if (rc == JWT_OK) {
		FUZZ_ASSERT(rr == JWT_OK); /* relaxing never refuses more */
		FUZZ_ASSERT(!strcmp(c.user_id, r.user_id) && c.exp == r.exp && c.iat == r.iat);
	}
	if (header_or_signature(rr))
		FUZZ_ASSERT(rc == rr);
	return rc;
}

/* jwt_verify is jwt_check with one secret without kid, leeway 0, no aud/iss. */
static void check_wrapper(const char *tok, size_t len, bool require_exp)
{
	struct jwt_policy p = JWT_POLICY_DEFAULT;
	p.require_exp = require_exp;
	struct jwt_claims a, b;
	int ra = jwt_verify(tok, len, secret, sizeof(secret) - 1, NOW_S, require_exp, &a);
	int rb = jwt_check(tok, len, K.only_secret, &p, NOW_S, &b);
	FUZZ_ASSERT(ra == rb);
	if (ra == JWT_OK)
		FUZZ_ASSERT(!strcmp(a.user_id, b.user_id) && !strcmp(a.username, b.username) && a.exp == b.exp);
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

/* The header's alg when it is a JSON object with alg a string, else NULL
 * (the caller frees with free()). */
static char *alg_of(const char *hdr, size_t len)
{
	json_t *h = json_loadb(hdr, len, JSON_REJECT_DUPLICATES, NULL);
	const char *alg = json_string_value(json_object_get(h, "alg"));
	char *copy = alg ? strdup(alg) : NULL;
	json_decref(h);
	return copy;
}

/* The signature of the signing input tok[0..n) for alg: HMAC with key, or
 * pkey's (ES256 as R||S). Returns its length. */
static size_t sign(const char *alg, const char *tok, size_t n, const unsigned char *key, size_t key_len,
		   EVP_PKEY *pkey, unsigned char *out)
{
	if (!strcmp(alg, "HS256")) {
		unsigned int len = 0;
		FUZZ_ASSERT(HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)tok, n, out, &len));
		return len;
	}
	unsigned char der[600];
	size_t len = sizeof(der);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FUZZ_ASSERT(ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		    EVP_DigestSign(ctx, der, &len, (const unsigned char *)tok, n) == 1);
	EVP_MD_CTX_free(ctx);
	if (!strcmp(alg, "RS256")) {
		memcpy(out, der, len);
		return len;
	}
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	FUZZ_ASSERT(es);
	ECDSA_SIG_get0(es, &r, &s);
	BN_bn2binpad(r, out, 32);
	BN_bn2binpad(s, out + 32, 32);
	ECDSA_SIG_free(es);
	return 64;
}

static void run_signed(struct fuzz_input *in, const char *alg, const struct jwt_policy *pol)
{
	static char hdr[JWT_MAX_LEN], clm[JWT_MAX_LEN], tok[2 * JWT_MAX_LEN + 1024];
	unsigned char sig[1024];
	size_t hl = fuzz_str(in, hdr, JWT_MAX_LEN / 2);
	size_t cl = fuzz_str(in, clm, JWT_MAX_LEN / 2);
	size_t n = b64url((const unsigned char *)hdr, hl, tok);
	tok[n++] = '.';
	n += b64url((const unsigned char *)clm, cl, tok + n);
	size_t signing = n;
	size_t sl = sign(alg, tok, signing, secret, sizeof(secret) - 1, !strcmp(alg, "RS256") ? K.rsa : K.ec, sig);
	tok[n++] = '.';
	n += b64url(sig, sl, tok + n);

	int rc = check(tok, n, K.keys, pol);
	if (!strcmp(alg, "HS256"))
		check_wrapper(tok, n, pol->require_exp);
	if (rc != JWT_OK)
		return;
	char *hdr_alg = alg_of(hdr, hl);
	FUZZ_ASSERT(hdr_alg && !strcmp(hdr_alg, alg)); /* the signer's algorithm, no other */
	free(hdr_alg);
	FUZZ_ASSERT(n <= JWT_MAX_LEN);
	FUZZ_ASSERT(check(tok, n, K.twin, pol) != JWT_OK); /* other keys of the same kids */
	char last = tok[n - 1];
	tok[n - 1] = last == 'A' ? 'B' : 'A'; /* any other last character is another or a non-canonical signature */
	FUZZ_ASSERT(check(tok, n, K.keys, pol) != JWT_OK);
	tok[n - 1] = last;
	if (!strcmp(alg, "HS256")) {
		/* alg confusion: the same token HMAC'd with the RSA key's PEM text */
		sl = sign("HS256", tok, signing, K.rsa_pem, K.rsa_pem_len, NULL, sig);
		n = signing;
		tok[n++] = '.';
		n += b64url(sig, sl, tok + n);
		FUZZ_ASSERT(check(tok, n, K.keys, pol) != JWT_OK);
	}
}

static void run_minted(struct fuzz_input *in, const struct jwt_policy *pol)
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
	struct jwt_policy lax = JWT_POLICY_DEFAULT;
	lax.require_exp = false;
	struct jwt_claims c;
	int rc = jwt_check(tok, strlen(tok), K.keys, &lax, NOW_S, &c);
	check(tok, strlen(tok), K.keys, pol);
	check_wrapper(tok, strlen(tok), true);
	check_wrapper(tok, strlen(tok), false);
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
		/* minted with the secret's kid: that key, and no other */
		char *kt = jwt_mint_hs256(secret, sizeof(secret) - 1, "fuzz-hs", uid, NULL, NOW_S, exp);
		FUZZ_ASSERT(kt && jwt_check(kt, strlen(kt), K.keys, &lax, NOW_S, &c) == JWT_OK);
		FUZZ_ASSERT(jwt_check(kt, strlen(kt), K.twin, &lax, NOW_S, &c) == JWT_ESIG);
		free(kt);
		kt = jwt_mint_hs256(secret, sizeof(secret) - 1, "fuzz-rsa", uid, NULL, 0, exp);
		FUZZ_ASSERT(kt && jwt_check(kt, strlen(kt), K.keys, &lax, NOW_S, &c) == JWT_ENOKEY);
		free(kt);
	}
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * JWT_MAX_LEN)
		return 0;
	struct fuzz_input in = {data, size};
	uint8_t b = fuzz_byte(&in);
	struct jwt_policy pol = policy_of(b);
	switch ((b & 7) % 5) {
	case 0:
		check((const char *)in.p, in.n, K.keys, &pol);
		check_wrapper((const char *)in.p, in.n, pol.require_exp);
		break;
	case 1:
		run_signed(&in, "HS256", &pol);
		break;
	case 2:
		run_minted(&in, &pol);
		break;
	case 3:
		run_signed(&in, "ES256", &pol);
		break;
	default:
		run_signed(&in, "RS256", &pol);
		break;
	}
	return 0;
}
