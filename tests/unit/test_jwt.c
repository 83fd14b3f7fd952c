/* test_jwt: the token check of PROTOCOL.md "Identity" and "Tokens,
 * strictly" (jwt.h, jwtkeys.h). Tokens are built here from raw JSON so every
 * field can be wrong on purpose, and signed here: HS256 with HMAC, RS256 and
 * ES256 with keys made at run time with OpenSSL's EVP API (their public
 * halves written as PEM files into a temp dir, so the key set is loaded the
 * way the bridge and the plugin load it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "check.h"
#include "jwt.h"
#include "jwtkeys.h"

static const unsigned char secret[] = "test-secret";
#define SECRET_LEN (sizeof(secret) - 1)
#define NOW 1800000000

static char dir[64];

static void b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (int i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
}

/* The signature of alg over tbs: HMAC with key/key_len (HS256), or with
 * pkey (RS256; ES256 as R||S, or as DER when der). Returns its length. */
static size_t sign(const char *tbs, const char *alg, const unsigned char *key, size_t key_len, EVP_PKEY *pkey,
		   bool der, unsigned char *out)
{
	if (!strcmp(alg, "HS256")) {
		unsigned int n = 0;
		HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)tbs, strlen(tbs), out, &n);
		return n;
	}
	unsigned char raw[1024];
	size_t n = sizeof(raw);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, raw, &n, (const unsigned char *)tbs, strlen(tbs)) != 1) {
		fprintf(stderr, "signing failed\n");
		abort();
	}
	EVP_MD_CTX_free(ctx);
	if (!strcmp(alg, "RS256") || der) {
		memcpy(out, raw, n);
		return n;
	}
	const unsigned char *p = raw;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	BN_bn2binpad(r, out, 32);
	BN_bn2binpad(s, out + 32, 32);
	ECDSA_SIG_free(es);
	return 64;
}

/* header.payload.signature; the signature as sign() makes it. */
static char *make_with(const char *header, const char *payload, const char *alg, const unsigned char *key,
		       size_t key_len, EVP_PKEY *pkey, bool der)
{
	static char tok[8192];
	char h[2048], p[4096], s[1500];
	unsigned char sig[1024];
	b64url((const unsigned char *)header, strlen(header), h);
	b64url((const unsigned char *)payload, strlen(payload), p);
	snprintf(tok, sizeof(tok), "%s.%s", h, p);
	size_t n = sign(tok, alg, key, key_len, pkey, der, sig);
	b64url(sig, n, s);
	strcat(tok, ".");
	strcat(tok, s);
	return tok;
}

/* HS256-signed with key, whatever the header says. */
static char *make(const char *header, const char *payload, const unsigned char *key, size_t key_len)
{
	return make_with(header, payload, "HS256", key, key_len, NULL, false);
}

static int verify(const char *tok, bool require_exp, struct jwt_claims *c)
{
	return jwt_verify(tok, strlen(tok), secret, SECRET_LEN, NOW, require_exp, c);
}

static int check_tok(const char *tok, const struct jwt_keyset *ks, const struct jwt_policy *pol, struct jwt_claims *c)
{
	return jwt_check(tok, strlen(tok), ks, pol, NOW, c);
}

static const char *HS = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *GOOD = "{\"sub\":\"alice\",\"exp\":1900000000}";

static char *path_of(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(path_of(name), "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "cannot write %s\n", name);
		abort();
	}
}

static void write_pub(const char *name, EVP_PKEY *pkey)
{
	FILE *f = fopen(path_of(name), "wb");
	if (!f || PEM_write_PUBKEY(f, pkey) != 1 || fclose(f)) {
		fprintf(stderr, "cannot write %s\n", name);
		abort();
	}
}

static void write_priv(const char *name, EVP_PKEY *pkey)
{
	FILE *f = fopen(path_of(name), "wb");
	if (!f || PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f)) {
		fprintf(stderr, "cannot write %s\n", name);
		abort();
	}
}

/* The PEM text of pkey's public half (for the alg-confusion tests). */
static size_t pub_pem(EVP_PKEY *pkey, unsigned char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(b, pkey);
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	size_t len = (size_t)n < cap ? (size_t)n : cap;
	memcpy(out, data, len);
	BIO_free(b);
	return len;
}

static void test_hs256_wrapper(void)
{
	struct jwt_claims c;

	/* good: sub + name */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"alice\",\"name\":\"Alice A.\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "alice");
	CHECK_EQ_STR(c.username, "Alice A.");
	CHECK_EQ_INT(c.exp, 1900000000);
	CHECK_EQ_INT(c.iat, 0);

	/* SimpleJWT access token: integer user_id, username claim, token_type */
	CHECK_EQ_INT(verify(make(HS, "{\"user_id\":42,\"username\":\"bob\",\"exp\":1900000000,\"iat\":1799999000,\"jti\":\"x\",\"token_type\":\"access\"}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "42");
	CHECK_EQ_STR(c.username, "bob");
	CHECK_EQ_INT(c.iat, 1799999000);

	/* sub wins over user_id; no name: the id */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"7\",\"user_id\":8,\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "7");
	CHECK_EQ_STR(c.username, "7");
	/* preferred_username */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"7\",\"preferred_username\":\"pp\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.username, "pp");

	/* bad signature: another key, and a flipped signature byte */
	CHECK_EQ_INT(verify(make(HS, GOOD, (const unsigned char *)"other", 5), true, &c), JWT_ESIG);
	char *t = make(HS, GOOD, secret, SECRET_LEN);
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(verify(t, true, &c), JWT_ESIG);
	/* payload changed after signing */
	t = make(HS, GOOD, secret, SECRET_LEN);
	char *dot = strchr(t, '.');
	dot[2] = dot[2] == 'a' ? 'b' : 'a';
	CHECK(verify(t, true, &c) != JWT_OK);
	/* no signature at all */
	t = make(HS, GOOD, secret, SECRET_LEN);
	strrchr(t, '.')[1] = '\0';
	CHECK_EQ_INT(verify(t, true, &c), JWT_ESIG);

	/* alg none (no signature, and with one), unknown algorithms, no alg */
	t = make("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD, secret, SECRET_LEN);
	CHECK_EQ_INT(verify(t, true, &c), JWT_EALG);
	*strrchr(t, '.') = '\0';
	strcat(t, ".");
	CHECK_EQ_INT(verify(t, true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"alg\":\"HS512\"}", GOOD, secret, SECRET_LEN), true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"typ\":\"JWT\"}", GOOD, secret, SECRET_LEN), true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"alg\":\"hs256\"}", GOOD, secret, SECRET_LEN), true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"alg\":[\"HS256\"]}", GOOD, secret, SECRET_LEN), true, &c), JWT_EALG);
	/* a known algorithm the one secret does not verify; a kid it lacks */
	CHECK_EQ_INT(verify(make("{\"alg\":\"RS256\"}", GOOD, secret, SECRET_LEN), true, &c), JWT_ENOKEY);
	CHECK_EQ_INT(verify(make("{\"alg\":\"ES256\"}", GOOD, secret, SECRET_LEN), true, &c), JWT_ENOKEY);
	CHECK_EQ_INT(verify(make("{\"alg\":\"HS256\",\"kid\":\"k\"}", GOOD, secret, SECRET_LEN), true, &c), JWT_EKID);
	/* crit: an extension we would have to understand */
	CHECK_EQ_INT(verify(make("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", GOOD, secret, SECRET_LEN), true, &c), JWT_EMALFORMED);

	/* expiry: past, exactly now, missing (required or not) */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1700000000}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1800000000}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1800000001}", secret, SECRET_LEN), true, &c), JWT_OK);
	/* a fraction of a second does not count: exp is its whole second */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1800000000.9}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1800000001.5}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_INT(c.exp, 1800000001);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\"}", secret, SECRET_LEN), true, &c), JWT_ENOEXP);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\"}", secret, SECRET_LEN), false, &c), JWT_OK);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":\"soon\"}", secret, SECRET_LEN), true, &c), JWT_EMALFORMED);

	/* exp out of any integer's range: refused or clamped, never undefined */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1e300}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_INT(c.exp, JWT_EXP_MAX);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":-1e300}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":9223372036854775807}", secret, SECRET_LEN), true, &c), JWT_OK);

	/* user id: missing, breaking the id rule, wrong type */
	CHECK_EQ_INT(verify(make(HS, "{\"name\":\"x\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a/b\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"users/+/x\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":[1],\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);

	/* malformed shapes */
	CHECK_EQ_INT(verify("", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("abc", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("a.b", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("a.b.c.d", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("!!!.???.###", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify(make(HS, "[1,2]", secret, SECRET_LEN), true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_EMALFORMED);

	/* mint -> verify round trip */
	char *m = jwt_mint(secret, SECRET_LEN, "carol", "Carol", 1900000000);
	CHECK(m != NULL);
	CHECK_EQ_INT(verify(m, true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "carol");
	CHECK_EQ_STR(c.username, "Carol");
	free(m);
	m = jwt_mint(secret, SECRET_LEN, "dave", NULL, 0);
	CHECK_EQ_INT(verify(m, true, &c), JWT_ENOEXP);
	CHECK_EQ_INT(verify(m, false, &c), JWT_OK);
	free(m);
}

/* Production contract: token_type, nbf, iat, leeway, aud, iss. The default
 * policy (and so jwt_verify, what the bridge calls) already refuses refresh
 * tokens, nbf and iat in the future. */
static void test_policy(void)
{
	struct jwt_claims c;
	struct jwt_keyset *ks = jwt_keyset_new();
	CHECK(ks != NULL);
	CHECK_EQ_INT(jwt_keyset_add_secret(ks, NULL, secret, SECRET_LEN, NULL, 0), 0);
	struct jwt_policy def = JWT_POLICY_DEFAULT;
	CHECK(def.require_exp && def.leeway_s == 0 && !def.audience && !def.issuer);

	/* token_type: only "access", when present */
	const char *refresh = make(HS, "{\"user_id\":42,\"exp\":1900000000,\"token_type\":\"refresh\"}", secret, SECRET_LEN);
	CHECK_EQ_INT(verify(refresh, true, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(refresh, ks, NULL, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"token_type\":\"sliding\"}", secret, SECRET_LEN), ks, NULL, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"token_type\":\"Access\"}", secret, SECRET_LEN), ks, NULL, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"token_type\":null}", secret, SECRET_LEN), ks, NULL, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"token_type\":[\"access\"]}", secret, SECRET_LEN), ks, NULL, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"token_type\":\"access\"}", secret, SECRET_LEN), ks, NULL, &c), JWT_OK);

	/* nbf: honoured; at now it is valid */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000001}", secret, SECRET_LEN), true, &c), JWT_ENOTYET);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000001}", secret, SECRET_LEN), ks, NULL, &c), JWT_ENOTYET);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000000}", secret, SECRET_LEN), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1e300}", secret, SECRET_LEN), ks, NULL, &c), JWT_ENOTYET);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":-1e300}", secret, SECRET_LEN), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":\"now\"}", secret, SECRET_LEN), ks, NULL, &c), JWT_EMALFORMED);

	/* iat: in the future refused; now or before fine; read into claims */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":1800000001}", secret, SECRET_LEN), true, &c), JWT_EIAT);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":1800000001}", secret, SECRET_LEN), ks, NULL, &c), JWT_EIAT);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":1800000000}", secret, SECRET_LEN), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(c.iat, 1800000000);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":1e300}", secret, SECRET_LEN), ks, NULL, &c), JWT_EIAT);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":-5}", secret, SECRET_LEN), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(c.iat, 0);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":true}", secret, SECRET_LEN), ks, NULL, &c), JWT_EMALFORMED);

	/* leeway: widens exp, nbf and iat alike, by exactly that many seconds */
	struct jwt_policy lee = JWT_POLICY_DEFAULT;
	lee.leeway_s = 5;
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1799999996}", secret, SECRET_LEN), ks, &lee, &c), JWT_OK);
	CHECK_EQ_INT(c.exp, 1799999996);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1799999995}", secret, SECRET_LEN), ks, &lee, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1799999995.5}", secret, SECRET_LEN), ks, &lee, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000005.5}", secret, SECRET_LEN), ks, &lee, &c), JWT_ENOTYET);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1799999996}", secret, SECRET_LEN), ks, NULL, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000005}", secret, SECRET_LEN), ks, &lee, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000006}", secret, SECRET_LEN), ks, &lee, &c), JWT_ENOTYET);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":1800000005}", secret, SECRET_LEN), ks, &lee, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"iat\":1800000006}", secret, SECRET_LEN), ks, &lee, &c), JWT_EIAT);
	/* a leeway beyond the bound counts as the bound; a negative one as 0 */
	lee.leeway_s = INT64_MAX;
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1799996401}", secret, SECRET_LEN), ks, &lee, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1799996400}", secret, SECRET_LEN), ks, &lee, &c), JWT_EEXPIRED);
	lee.leeway_s = -100;
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1800000000}", secret, SECRET_LEN), ks, &lee, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1800000001}", secret, SECRET_LEN), ks, &lee, &c), JWT_OK);

	/* aud: ignored unless configured; then a string or an array naming it */
	struct jwt_policy aud = JWT_POLICY_DEFAULT;
	aud.audience = "ringmq";
	const char *aud_tok[][2] = {
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"ringmq\"}", "ok"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":[\"web\",\"ringmq\"]}", "ok"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":[\"ringmq\"]}", "ok"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"other\"}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"RINGMQ\"}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"ringmq \"}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":[\"web\",\"api\"]}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":[]}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":[[\"ringmq\"]]}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":{\"ringmq\":1}}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":5}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"aud\":null}", "aud"},
		{"{\"sub\":\"a\",\"exp\":1900000000}", "aud"},
	};
	for (size_t i = 0; i < sizeof(aud_tok) / sizeof(aud_tok[0]); i++) {
		const char *t = make(HS, aud_tok[i][0], secret, SECRET_LEN);
		CHECK_EQ_INT(check_tok(t, ks, &aud, &c), !strcmp(aud_tok[i][1], "ok") ? JWT_OK : JWT_EAUD);
		CHECK_EQ_INT(check_tok(t, ks, NULL, &c), JWT_OK); /* not configured: ignored */
	}

	/* iss: the same, a string only */
	struct jwt_policy iss = JWT_POLICY_DEFAULT;
	iss.issuer = "https://auth.example";
	const char *iss_tok[][2] = {
		{"{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"https://auth.example\"}", "ok"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"https://auth.example/\"}", "iss"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"https://evil.example\"}", "iss"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"iss\":[\"https://auth.example\"]}", "iss"},
		{"{\"sub\":\"a\",\"exp\":1900000000,\"iss\":null}", "iss"},
		{"{\"sub\":\"a\",\"exp\":1900000000}", "iss"},
	};
	for (size_t i = 0; i < sizeof(iss_tok) / sizeof(iss_tok[0]); i++) {
		const char *t = make(HS, iss_tok[i][0], secret, SECRET_LEN);
		CHECK_EQ_INT(check_tok(t, ks, &iss, &c), !strcmp(iss_tok[i][1], "ok") ? JWT_OK : JWT_EISS);
		CHECK_EQ_INT(check_tok(t, ks, NULL, &c), JWT_OK);
	}
	/* both at once */
	struct jwt_policy both = {.require_exp = true, .audience = "ringmq", .issuer = "i"};
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"ringmq\",\"iss\":\"i\"}", secret, SECRET_LEN), ks, &both, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"ringmq\",\"iss\":\"j\"}", secret, SECRET_LEN), ks, &both, &c), JWT_EISS);
	CHECK_EQ_INT(check_tok(make(HS, "{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"x\",\"iss\":\"i\"}", secret, SECRET_LEN), ks, &both, &c), JWT_EAUD);

	/* no key set at all: nothing verifies */
	CHECK_EQ_INT(check_tok(make(HS, GOOD, secret, SECRET_LEN), NULL, NULL, &c), JWT_ENOKEY);
	jwt_keyset_free(ks);
}

/* Every error code has its own text. */
static void test_strerror(void)
{
	for (int e = JWT_OK; e >= JWT_ERR_LAST; e--) {
		CHECK(strcmp(jwt_strerror(e), "unknown error") != 0);
		for (int f = e - 1; f >= JWT_ERR_LAST; f--)
			CHECK(strcmp(jwt_strerror(e), jwt_strerror(f)) != 0);
	}
	CHECK_EQ_STR(jwt_strerror(JWT_ERR_LAST - 1), "unknown error");
	CHECK_EQ_STR(jwt_strerror(JWT_ESIG), "bad signature");
}

static void test_kid_of_path(void)
{
	char kid[JWT_KID_MAX + 1];
	CHECK(jwt_kid_of_path("keys/2026-12.pem", kid) == 0 && !strcmp(kid, "2026-12"));
	CHECK(jwt_kid_of_path("keys/2026-12", kid) == 0 && !strcmp(kid, "2026-12"));
	CHECK(jwt_kid_of_path("/a/b.c/2026-12", kid) == 0 && !strcmp(kid, "2026-12"));
	CHECK(jwt_kid_of_path("jwt_secret", kid) == 0 && !strcmp(kid, "jwt_secret"));
	CHECK(jwt_kid_of_path("k.tar.gz", kid) == 0 && !strcmp(kid, "k.tar"));
	CHECK(jwt_kid_of_path("run/.hidden", kid) == 0 && !strcmp(kid, ".hidden"));
	CHECK(jwt_kid_of_path("keys/", kid) == -1);
	CHECK(jwt_kid_of_path("", kid) == -1);
	char longname[100];
	memset(longname, 'k', 65);
	longname[65] = '\0';
	CHECK(jwt_kid_of_path(longname, kid) == -1);
	strcpy(longname + 64, ".pem");
	CHECK(jwt_kid_of_path(longname, kid) == 0 && strlen(kid) == 64);
	CHECK_EQ_INT(jwt_alg_parse("RS256"), JWT_ALG_RS256);
	CHECK_EQ_INT(jwt_alg_parse("es256"), JWT_ALG_UNKNOWN);
	CHECK_EQ_INT(jwt_alg_parse(NULL), JWT_ALG_UNKNOWN);
	CHECK_EQ_STR(jwt_alg_name(JWT_ALG_ES256), "ES256");
}

struct keys {
	EVP_PKEY *rsa_a, *rsa_b, *ec_a, *ec_b;
};

static char *rs(const char *hdr, const char *payload, EVP_PKEY *k)
{
	return make_with(hdr, payload, "RS256", NULL, 0, k, false);
}

static char *es(const char *hdr, const char *payload, EVP_PKEY *k)
{
	return make_with(hdr, payload, "ES256", NULL, 0, k, false);
}

/* A key set of two secrets and two public keys: kids, algorithms, rotation. */
static void test_keyset(const struct keys *k)
{
	struct jwt_claims c;
	struct jwt_keyset *ks = NULL;
	char err[JWT_KEYS_ERR_MAX], list_s[600], list_p[600];
	static const unsigned char sec_b[] = "the second secret";

	write_file("hs-a", "secret-a\n", 9);
	write_file("hs-b.key", "the second secret\r\n\n", 20);
	write_pub("rsa-a.pem", k->rsa_a);
	write_pub("ec-a.pem", k->ec_a);
	snprintf(list_s, sizeof(list_s), "%s, %s", path_of("hs-a"), path_of("hs-b.key"));
	snprintf(list_p, sizeof(list_p), "%s ,%s", path_of("rsa-a.pem"), path_of("ec-a.pem"));
	CHECK_EQ_INT(jwt_keyset_load(&ks, list_s, list_p, err, sizeof(err)), 0);
	if (!ks) {
		fprintf(stderr, "load: %s\n", err);
		return;
	}
	CHECK_EQ_INT(jwt_keyset_count(ks, JWT_ALG_UNKNOWN), 4);
	CHECK_EQ_INT(jwt_keyset_count(ks, JWT_ALG_HS256), 2);
	CHECK_EQ_INT(jwt_keyset_count(ks, JWT_ALG_RS256), 1);
	CHECK_EQ_INT(jwt_keyset_count(ks, JWT_ALG_ES256), 1);
	char desc[256];
	jwt_keyset_describe(ks, desc, sizeof(desc));
	CHECK_EQ_STR(desc, "HS256 hs-a, HS256 hs-b, RS256 rsa-a, ES256 ec-a");

	const char *RS = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	const char *ES = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
	/* RS256 and ES256, without kid and with their own */
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_a), ks, NULL, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "alice");
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}", GOOD, k->rsa_a), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(es(ES, GOOD, k->ec_a), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(es("{\"alg\":\"ES256\",\"kid\":\"ec-a\"}", GOOD, k->ec_a), ks, NULL, &c), JWT_OK);
	/* the strict policy holds for every algorithm */
	CHECK_EQ_INT(check_tok(es(ES, "{\"sub\":\"a\",\"exp\":1900000000,\"token_type\":\"refresh\"}", k->ec_a), ks, NULL, &c), JWT_ETYPE);
	CHECK_EQ_INT(check_tok(rs(RS, "{\"sub\":\"a\",\"exp\":1700000000}", k->rsa_a), ks, NULL, &c), JWT_EEXPIRED);
	/* another key of the right algorithm; a signature tampered with */
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_b), ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(es(ES, GOOD, k->ec_b), ks, NULL, &c), JWT_ESIG);
	char *t = rs(RS, GOOD, k->rsa_a);
	t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check_tok(t, ks, NULL, &c), JWT_ESIG);
	t = es(ES, GOOD, k->ec_a);
	t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check_tok(t, ks, NULL, &c), JWT_ESIG);
	/* ES256 wants R||S: OpenSSL's DER, or a truncated signature, is refused */
	CHECK_EQ_INT(check_tok(make_with(ES, GOOD, "ES256", NULL, 0, k->ec_a, true), ks, NULL, &c), JWT_ESIG);
	t = es(ES, GOOD, k->ec_a);
	t[strlen(t) - 4] = '\0';
	CHECK_EQ_INT(check_tok(t, ks, NULL, &c), JWT_ESIG);
	t = rs(RS, GOOD, k->rsa_a);
	t[strlen(t) - 4] = '\0';
	CHECK_EQ_INT(check_tok(t, ks, NULL, &c), JWT_ESIG);

	/* HS256: without kid each secret is tried; with kid only that one */
	CHECK_EQ_INT(check_tok(make(HS, GOOD, (const unsigned char *)"secret-a", 8), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, sec_b, sizeof(sec_b) - 1), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"HS256\",\"kid\":\"hs-b\"}", GOOD, sec_b, sizeof(sec_b) - 1), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"HS256\",\"kid\":\"hs-a\"}", GOOD, sec_b, sizeof(sec_b) - 1), ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_ESIG);
	/* the file's trailing CR/LF is not part of the secret */
	CHECK_EQ_INT(check_tok(make(HS, GOOD, (const unsigned char *)"secret-a\n", 9), ks, NULL, &c), JWT_ESIG);

	/* kid: naming no key, empty, too long, not a string */
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"rsa-z\"}", GOOD, k->rsa_a), ks, NULL, &c), JWT_EKID);
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"rsa-a.pem\"}", GOOD, k->rsa_a), ks, NULL, &c), JWT_EKID);
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"\"}", GOOD, k->rsa_a), ks, NULL, &c), JWT_EKID);
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"rsa-a\\u0000\"}", GOOD, k->rsa_a), ks, NULL, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"HS256\",\"kid\":\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\"}", GOOD, sec_b, sizeof(sec_b) - 1), ks, NULL, &c), JWT_EKID);
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":7}", GOOD, k->rsa_a), ks, NULL, &c), JWT_EMALFORMED);

	/* alg never from the token alone: a key verifies its own algorithm only */
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"ec-a\"}", GOOD, k->rsa_a), ks, NULL, &c), JWT_ENOKEY);
	CHECK_EQ_INT(check_tok(es("{\"alg\":\"ES256\",\"kid\":\"rsa-a\"}", GOOD, k->ec_a), ks, NULL, &c), JWT_ENOKEY);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"HS256\",\"kid\":\"rsa-a\"}", GOOD, sec_b, sizeof(sec_b) - 1), ks, NULL, &c), JWT_ENOKEY);
	/* the classic confusion: HS256 "signed" with the public key's PEM text */
	unsigned char pem[4096];
	size_t pem_len = pub_pem(k->rsa_a, pem, sizeof(pem));
	CHECK_EQ_INT(check_tok(make(HS, GOOD, pem, pem_len), ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"HS256\",\"kid\":\"rsa-a\"}", GOOD, pem, pem_len), ks, NULL, &c), JWT_ENOKEY);
	pem_len = pub_pem(k->ec_a, pem, sizeof(pem));
	CHECK_EQ_INT(check_tok(make(HS, GOOD, pem, pem_len), ks, NULL, &c), JWT_ESIG);
	/* an RS256 signature presented as ES256 and the other way round */
	t = rs(RS, GOOD, k->rsa_a);
	char hdr_es[64];
	b64url((const unsigned char *)ES, strlen(ES), hdr_es);
	char swapped[2048];
	snprintf(swapped, sizeof(swapped), "%s.%s", hdr_es, strchr(t, '.') + 1);
	CHECK_EQ_INT(check_tok(swapped, ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"none\"}", GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_EALG);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"PS256\"}", GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_EALG);
	CHECK_EQ_INT(check_tok(make("{\"alg\":\"ES384\"}", GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_EALG);

	/* an in-memory secret (the environment's) joins the set and stays */
	CHECK_EQ_INT(jwt_keyset_add_secret(ks, NULL, secret, SECRET_LEN, err, sizeof(err)), 0);
	CHECK_EQ_INT(jwt_keyset_add_secret(ks, "hs-a", secret, SECRET_LEN, err, sizeof(err)), -1);
	CHECK(strstr(err, "hs-a") != NULL);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_OK);

	/* rotation: rsa-a.pem now holds key B; hs-a a new secret */
	write_pub("rsa-a.pem", k->rsa_b);
	write_file("hs-a", "secret-a2", 9);
	CHECK_EQ_INT(jwt_keyset_reload(ks, err, sizeof(err)), 0);
	CHECK_EQ_INT(jwt_keyset_count(ks, JWT_ALG_UNKNOWN), 5);
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_a), ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_b), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(rs("{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}", GOOD, k->rsa_b), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, (const unsigned char *)"secret-a", 8), ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, (const unsigned char *)"secret-a2", 9), ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_OK); /* kept */

	/* a reload that fails leaves the whole old set in force, naming the file */
	write_pub("rsa-a.pem", k->rsa_a);
	write_file("ec-a.pem", "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n", 60);
	CHECK_EQ_INT(jwt_keyset_reload(ks, err, sizeof(err)), -1);
	CHECK(strstr(err, "ec-a.pem") != NULL);
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_b), ks, NULL, &c), JWT_OK);  /* not rsa_a: nothing changed */
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_a), ks, NULL, &c), JWT_ESIG);
	CHECK_EQ_INT(check_tok(es(ES, GOOD, k->ec_a), ks, NULL, &c), JWT_OK);
	write_pub("ec-a.pem", k->ec_a);
	unlink(path_of("hs-b.key"));
	CHECK_EQ_INT(jwt_keyset_reload(ks, err, sizeof(err)), -1);
	CHECK(strstr(err, "hs-b.key") != NULL && strstr(err, "No such file") != NULL);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, sec_b, sizeof(sec_b) - 1), ks, NULL, &c), JWT_OK);
	write_file("hs-b.key", "", 0);
	CHECK_EQ_INT(jwt_keyset_reload(ks, err, sizeof(err)), -1);
	CHECK(strstr(err, "hs-b.key") != NULL && strstr(err, "empty") != NULL);
	write_file("hs-b.key", "the second secret", 17);
	CHECK_EQ_INT(jwt_keyset_reload(ks, err, sizeof(err)), 0);
	CHECK_EQ_INT(check_tok(rs(RS, GOOD, k->rsa_a), ks, NULL, &c), JWT_OK);
	jwt_keyset_free(ks);
}

/* Files a key set refuses to load, all or nothing. */
static void test_load_errors(const struct keys *k)
{
	struct jwt_keyset *ks = NULL;
	char err[JWT_KEYS_ERR_MAX], list[800];
	struct jwt_claims c;

	/* empty lists: an empty set, verifying nothing */
	CHECK_EQ_INT(jwt_keyset_load(&ks, NULL, "", err, sizeof(err)), 0);
	CHECK_EQ_INT(jwt_keyset_count(ks, JWT_ALG_UNKNOWN), 0);
	CHECK_EQ_INT(check_tok(make(HS, GOOD, secret, SECRET_LEN), ks, NULL, &c), JWT_ENOKEY);
	char desc[32];
	jwt_keyset_describe(ks, desc, sizeof(desc));
	CHECK_EQ_STR(desc, "none");
	CHECK_EQ_INT(jwt_keyset_reload(ks, err, sizeof(err)), 0);
	jwt_keyset_free(ks);
	jwt_keyset_free(NULL);

	ks = (struct jwt_keyset *)1;
	/* two keys of one kid, across the two lists */
	write_file("dup.pem", "x", 1);
	write_pub("dup.pem", k->rsa_a);
	write_file("dup", "s", 1);
	CHECK_EQ_INT(jwt_keyset_load(&ks, path_of("dup"), path_of("dup.pem"), err, sizeof(err)), -1);
	CHECK(strstr(err, "dup.pem") != NULL && strstr(err, "\"dup\"") != NULL);
	CHECK(ks == (struct jwt_keyset *)1); /* untouched on failure */
	/* a missing file; an empty name in a list */
	CHECK_EQ_INT(jwt_keyset_load(&ks, path_of("nope"), NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "nope") != NULL);
	snprintf(list, sizeof(list), "%s,,%s", path_of("dup"), path_of("hs-a"));
	CHECK_EQ_INT(jwt_keyset_load(&ks, list, NULL, err, sizeof(err)), -1);
	CHECK_EQ_INT(jwt_keyset_load(&ks, " , ", NULL, err, sizeof(err)), -1);
	/* a secret file beyond the bound */
	static char big[JWT_SECRET_FILE_MAX + 1];
	memset(big, 's', sizeof(big));
	write_file("big", big, sizeof(big));
	CHECK_EQ_INT(jwt_keyset_load(&ks, path_of("big"), NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "big") != NULL);
	write_file("big", big, sizeof(big) - 1);
	CHECK_EQ_INT(jwt_keyset_load(&ks, path_of("big"), NULL, err, sizeof(err)), 0);
	jwt_keyset_free(ks);

	/* public keys we do not take: a private key, a secret, small RSA,
	 * another curve, Ed25519 */
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	CHECK(small && p384 && ed);
	write_priv("priv.pem", k->rsa_a);
	write_pub("small.pem", small);
	write_pub("p384.pem", p384);
	write_pub("ed.pem", ed);
	static const char *const bad[][2] = {
		{"priv.pem", "not a PEM public key"},
		{"hs-a", "not a PEM public key"},
		{"small.pem", "1024 bits"},
		{"p384.pem", "secp384r1"},
		{"ed.pem", "ED25519"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(list, sizeof(list), "%s,%s", path_of("ec-a.pem"), path_of(bad[i][0]));
		CHECK_EQ_INT(jwt_keyset_load(&ks, NULL, list, err, sizeof(err)), -1);
		CHECK(strstr(err, bad[i][0]) != NULL);
		if (!strstr(err, bad[i][1]))
			fprintf(stderr, "error for %s: %s\n", bad[i][0], err);
		CHECK(strstr(err, bad[i][1]) != NULL);
	}
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	/* err may be NULL, or tiny */
	CHECK_EQ_INT(jwt_keyset_load(&ks, path_of("nope"), NULL, NULL, 0), -1);
	char tiny[4];
	CHECK_EQ_INT(jwt_keyset_load(&ks, path_of("nope"), NULL, tiny, sizeof(tiny)), -1);
	CHECK(strlen(tiny) == 3);
}

/* ringmq-token's minting: a kid in the header, iat; checked by a set. */
static void test_mint(void)
{
	struct jwt_claims c;
	struct jwt_keyset *ks = jwt_keyset_new();
	CHECK_EQ_INT(jwt_keyset_add_secret(ks, "jwt_secret", secret, SECRET_LEN, NULL, 0), 0);
	char *m = jwt_mint_hs256(secret, SECRET_LEN, "jwt_secret", "erin", "Erin", NOW - 10, NOW + 60);
	CHECK(m != NULL);
	CHECK_EQ_INT(check_tok(m, ks, NULL, &c), JWT_OK);
	CHECK_EQ_INT(c.iat, NOW - 10);
	CHECK_EQ_INT(c.exp, NOW + 60);
	CHECK_EQ_INT(verify(m, true, &c), JWT_EKID); /* jwt_verify's one secret has no kid */
	free(m);
	m = jwt_mint_hs256(secret, SECRET_LEN, "other", "erin", NULL, 0, NOW + 60);
	CHECK_EQ_INT(check_tok(m, ks, NULL, &c), JWT_EKID);
	free(m);
	m = jwt_mint_hs256(secret, SECRET_LEN, NULL, "erin", NULL, NOW, NOW + 60);
	CHECK_EQ_INT(check_tok(m, ks, NULL, &c), JWT_OK); /* no kid: every HS256 key */
	CHECK_EQ_INT(verify(m, true, &c), JWT_OK);
	free(m);
	m = jwt_mint_hs256(secret, SECRET_LEN, NULL, "erin", NULL, NOW + 1, NOW + 60);
	CHECK_EQ_INT(check_tok(m, ks, NULL, &c), JWT_EIAT);
	free(m);
	CHECK(jwt_mint_hs256(secret, SECRET_LEN, "\xff", "erin", NULL, 0, 0) == NULL);
	jwt_keyset_free(ks);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_jwt.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	struct keys k = {
		.rsa_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
		.rsa_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
		.ec_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
		.ec_b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
	};
	CHECK(k.rsa_a && k.rsa_b && k.ec_a && k.ec_b);

	test_hs256_wrapper();
	test_policy();
	test_strerror();
	test_kid_of_path();
	test_keyset(&k);
	test_load_errors(&k);
	test_mint();

	EVP_PKEY_free(k.rsa_a);
	EVP_PKEY_free(k.rsa_b);
	EVP_PKEY_free(k.ec_a);
	EVP_PKEY_free(k.ec_b);
	static const char *const files[] = {"hs-a", "hs-b.key", "rsa-a.pem", "ec-a.pem", "dup.pem", "dup",
					    "big", "priv.pem", "small.pem", "p384.pem", "ed.pem"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(path_of(files[i]));
	rmdir(dir);
	return check_done("test_jwt");
}
