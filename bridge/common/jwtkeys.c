/* jwtkeys: key files in, signature checks out, over libcrypto's EVP API. */
#include "jwtkeys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jwt.h"

#define PATH_LIST_MAX 8192 /* a comma-separated list of files */
#define ES256_PART 32      /* bytes of R, and of S */

struct key {
	char kid[JWT_KID_MAX + 1];
	bool has_kid;
	bool from_file;        /* re-read on reload; else kept */
	enum jwt_alg alg;
	unsigned char *secret; /* HS256: malloc'd, cleansed on free */
	size_t secret_len;
	EVP_PKEY *pkey;        /* RS256, ES256 */
	size_t sig_len;        /* RS256: the modulus' bytes */
};

struct jwt_keyset {
	struct key keys[JWT_KEYS_MAX];
	size_t n;
	char *secret_files;     /* the lists as given, NULL when none */
	char *public_key_files;
};

static void set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static void key_clear(struct key *k)
{
	if (k->secret) {
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

static void keys_clear(struct jwt_keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		key_clear(&ks->keys[i]);
	ks->n = 0;
}

struct jwt_keyset *jwt_keyset_new(void)
{
	return calloc(1, sizeof(struct jwt_keyset));
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
	if (!ks)
		return;
	keys_clear(ks);
	free(ks->secret_files);
	free(ks->public_key_files);
	free(ks);
}

enum jwt_alg jwt_alg_parse(const char *name)
{
	if (!name)
		return JWT_ALG_UNKNOWN;
	if (!strcmp(name, "HS256"))
		return JWT_ALG_HS256;
	if (!strcmp(name, "RS256"))
		return JWT_ALG_RS256;
	if (!strcmp(name, "ES256"))
		return JWT_ALG_ES256;
	return JWT_ALG_UNKNOWN;
}

const char *jwt_alg_name(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_ALG_HS256: return "HS256";
	case JWT_ALG_RS256: return "RS256";
	case JWT_ALG_ES256: return "ES256";
	default: return "unknown";
	}
}

int jwt_kid_of_path(const char *path, char kid[JWT_KID_MAX + 1])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	if (n == 0 || n > JWT_KID_MAX)
		return -1;
	memcpy(kid, base, n);
	kid[n] = '\0';
	return 0;
}

static const struct key *find_kid(const struct jwt_keyset *ks, const char *kid)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->keys[i].has_kid && !strcmp(ks->keys[i].kid, kid))
			return &ks->keys[i];
	return NULL;
}

/* A free slot for a key of kid (NULL: none), or NULL with err. */
static struct key *slot_for(struct jwt_keyset *ks, const char *kid, const char *what, char *err, size_t err_len)
{
	if (kid && find_kid(ks, kid)) {
		set_err(err, err_len, "%s: kid \"%s\" is already taken by another key", what, kid);
		return NULL;
	}
	if (ks->n >= JWT_KEYS_MAX) {
		set_err(err, err_len, "%s: more than %d keys", what, JWT_KEYS_MAX);
		return NULL;
	}
	struct key *k = &ks->keys[ks->n];
	memset(k, 0, sizeof(*k));
	if (kid) {
		k->has_kid = true;
		memcpy(k->kid, kid, strlen(kid) + 1);
	}
	return k;
}

/* Reads path whole into a malloc'd buffer (NUL-terminated, *len bytes).
 * NULL with err when it cannot be read, or holds more than max bytes. */
static unsigned char *read_file(const char *path, size_t max, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	unsigned char *buf = malloc(max + 2);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	int failed = buf ? ferror(f) : 1;
	int saved = errno;
	fclose(f);
	if (failed) {
		set_err(err, err_len, "%s: %s", path, buf ? strerror(saved) : "out of memory");
		free(buf);
		return NULL;
	}
	if (n > max) {
		set_err(err, err_len, "%s: larger than %zu bytes", path, max);
		OPENSSL_cleanse(buf, n);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The free slot for the key in path, named by its kid; NULL with err when
 * the name is no kid or the kid is taken. */
static struct key *slot_of_path(struct jwt_keyset *ks, const char *path, char *err, size_t err_len)
{
	char kid[JWT_KID_MAX + 1];
	if (jwt_kid_of_path(path, kid)) {
		set_err(err, err_len, "%s: its name is no kid (1-%d characters without the extension)", path,
			JWT_KID_MAX);
		return NULL;
	}
	return slot_for(ks, kid, path, err, err_len);
}

static int add_secret_file(struct jwt_keyset *ks, const char *path, char *err, size_t err_len)
{
	struct key *k = slot_of_path(ks, path, err, err_len);
	if (!k)
		return -1;
	size_t n = 0;
	unsigned char *s = read_file(path, JWT_SECRET_FILE_MAX, &n, err, err_len);
	if (!s)
		return -1;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	if (n == 0) {
		set_err(err, err_len, "%s: empty secret", path);
		free(s);
		return -1;
	}
	k->alg = JWT_ALG_HS256;
	k->secret = s;
	k->secret_len = n;
	k->from_file = true;
	ks->n++;
	return 0;
}

/* The algorithm a public key verifies, and its signature length; or -1 with
 * err for keys we do not take. */
static int pkey_alg(EVP_PKEY *pkey, const char *path, enum jwt_alg *alg, size_t *sig_len, char *err,
		    size_t err_len)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);
		if (bits < JWT_RSA_MIN_BITS) {
			set_err(err, err_len, "%s: RSA key of %d bits (at least %d)", path, bits, JWT_RSA_MIN_BITS);
			return -1;
		}
		*alg = JWT_ALG_RS256;
		*sig_len = (size_t)EVP_PKEY_get_size(pkey);
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64] = "";
		size_t glen = 0;
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			set_err(err, err_len, "%s: EC key on curve \"%s\" (ES256 needs P-256)", path,
				group[0] ? group : "?");
			return -1;
		}
		*alg = JWT_ALG_ES256;
		*sig_len = 2 * ES256_PART;
		return 0;
	}
	set_err(err, err_len, "%s: a %s key (RSA for RS256, P-256 EC for ES256)", path,
		EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown");
	return -1;
}

static int add_pem_file(struct jwt_keyset *ks, const char *path, char *err, size_t err_len)
{
	struct key *k = slot_of_path(ks, path, err, err_len);
	if (!k)
		return -1;
	size_t n = 0;
	unsigned char *pem = read_file(path, JWT_PEM_FILE_MAX, &n, err, err_len);
	if (!pem)
		return -1;
	BIO *bio = BIO_new_mem_buf(pem, (int)n);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(pem);
	ERR_clear_error(); /* PEM's complaints about what it skipped */
	if (!pkey) {
		set_err(err, err_len, "%s: not a PEM public key (-----BEGIN PUBLIC KEY-----)", path);
		return -1;
	}
	if (pkey_alg(pkey, path, &k->alg, &k->sig_len, err, err_len)) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	k->pkey = pkey;
	k->from_file = true;
	ks->n++;
	return 0;
}

/* Calls add(ks, path) for each path of the comma-separated list. */
static int add_list(struct jwt_keyset *ks, const char *list,
		    int (*add)(struct jwt_keyset *, const char *, char *, size_t), char *err, size_t err_len)
{
	if (!list || !*list)
		return 0;
	size_t len = strlen(list);
	if (len >= PATH_LIST_MAX) {
		set_err(err, err_len, "a list of key files longer than %d bytes", PATH_LIST_MAX);
		return -1;
	}
	char buf[PATH_LIST_MAX];
	memcpy(buf, list, len + 1);
	char *p = buf;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			p[--n] = '\0';
		if (n == 0) {
			set_err(err, err_len, "an empty file name in the list \"%s\"", list);
			return -1;
		}
		if (add(ks, p, err, err_len))
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int copy_key(struct key *dst, const struct key *src)
{
	*dst = *src;
	dst->secret = NULL;
	dst->pkey = NULL;
	if (src->secret) {
		dst->secret = malloc(src->secret_len);
		if (!dst->secret)
			return -1;
		memcpy(dst->secret, src->secret, src->secret_len);
	}
	if (src->pkey) {
		if (EVP_PKEY_up_ref(src->pkey) != 1) {
			key_clear(dst);
			return -1;
		}
		dst->pkey = src->pkey;
	}
	return 0;
}

int jwt_keyset_reload(struct jwt_keyset *ks, char *err, size_t err_len)
{
	struct jwt_keyset *fresh = jwt_keyset_new();
	int rc = -1;
	if (!fresh) {
		set_err(err, err_len, "out of memory");
		return -1;
	}
	/* The keys that are not from files first, so a file cannot take their kid. */
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->keys[i].from_file)
			continue;
		if (copy_key(&fresh->keys[fresh->n], &ks->keys[i])) {
			set_err(err, err_len, "out of memory");
			goto out;
		}
		fresh->n++;
	}
	if (add_list(fresh, ks->secret_files, add_secret_file, err, err_len) ||
	    add_list(fresh, ks->public_key_files, add_pem_file, err, err_len))
		goto out;
	/* Swap the keys: fresh takes the old ones away to be freed. */
	struct key old[JWT_KEYS_MAX];
	size_t old_n = ks->n;
	memcpy(old, ks->keys, sizeof(old));
	memcpy(ks->keys, fresh->keys, sizeof(ks->keys));
	ks->n = fresh->n;
	memcpy(fresh->keys, old, sizeof(fresh->keys));
	fresh->n = old_n;
	rc = 0;
out:
	jwt_keyset_free(fresh);
	return rc;
}

int jwt_keyset_load(struct jwt_keyset **out, const char *secret_files, const char *public_key_files, char *err,
		    size_t err_len)
{
	struct jwt_keyset *ks = jwt_keyset_new();
	if (!ks || (secret_files && *secret_files && !(ks->secret_files = strdup(secret_files))) ||
	    (public_key_files && *public_key_files && !(ks->public_key_files = strdup(public_key_files)))) {
		set_err(err, err_len, "out of memory");
		jwt_keyset_free(ks);
		return -1;
	}
	if (jwt_keyset_reload(ks, err, err_len)) {
		jwt_keyset_free(ks);
		return -1;
	}
	*out = ks;
	return 0;
}

int jwt_keyset_add_secret(struct jwt_keyset *ks, const char *kid, const unsigned char *secret, size_t len,
			  char *err, size_t err_len)
{
	if (kid && (!*kid || strlen(kid) > JWT_KID_MAX)) {
		set_err(err, err_len, "a kid of 1-%d characters", JWT_KID_MAX);
		return -1;
	}
	if (len == 0) {
		set_err(err, err_len, "an empty secret");
		return -1;
	}
	struct key *k = slot_for(ks, kid, "secret", err, err_len);
	if (!k)
		return -1;
	k->secret = malloc(len);
	if (!k->secret) {
		set_err(err, err_len, "out of memory");
		return -1;
	}
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	k->alg = JWT_ALG_HS256;
	ks->n++;
	return 0;
}

size_t jwt_keyset_count(const struct jwt_keyset *ks, enum jwt_alg alg)
{
	size_t n = 0;
	for (size_t i = 0; ks && i < ks->n; i++)
		n += alg == JWT_ALG_UNKNOWN || ks->keys[i].alg == alg;
	return n;
}

void jwt_keyset_describe(const struct jwt_keyset *ks, char *buf, size_t len)
{
	size_t used = 0;
	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; ks && i < ks->n && used < len; i++) {
		const struct key *k = &ks->keys[i];
		int w = snprintf(buf + used, len - used, "%s%s %s", i ? ", " : "", jwt_alg_name(k->alg),
				 k->has_kid ? k->kid : "(no kid)");
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (!ks || ks->n == 0)
		snprintf(buf, len, "none");
}

int jwt_hs256_verify(const unsigned char *secret, size_t secret_len, const void *input, size_t input_len,
		     const unsigned char *sig, size_t sig_len)
{
	unsigned char want[EVP_MAX_MD_SIZE];
	unsigned int want_len = 0;
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, input, input_len, want, &want_len))
		return JWT_ESIG;
	int rc = sig_len == want_len && CRYPTO_memcmp(sig, want, want_len) == 0 ? JWT_OK : JWT_ESIG;
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

/* EVP_DigestVerify with SHA-256 over a DER (ES256) or PKCS#1 v1.5 (RS256)
 * signature. */
static int evp_verify(EVP_PKEY *pkey, const void *input, size_t input_len, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		 EVP_DigestVerify(ctx, sig, sig_len, input, input_len) == 1;
	EVP_MD_CTX_free(ctx);
	/* A refused signature leaves errors on the thread's queue; inside the
	 * broker they would confuse its TLS calls (SSL_get_error reads it). */
	ERR_clear_error();
	return ok ? JWT_OK : JWT_ESIG;
}

/* JWS carries an ES256 signature as R||S (32 bytes each); OpenSSL wants
 * the DER of ECDSA_SIG. */
static int es256_verify(EVP_PKEY *pkey, const void *input, size_t input_len, const unsigned char *sig)
{
	int rc = JWT_ESIG;
	unsigned char *der = NULL;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, ES256_PART, NULL);
	BIGNUM *s = BN_bin2bn(sig + ES256_PART, ES256_PART, NULL);
	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	/* es owns r and s now */
	int der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len > 0)
		rc = evp_verify(pkey, input, input_len, der, (size_t)der_len);
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return rc;
}

static int key_verify(const struct key *k, const void *input, size_t input_len, const unsigned char *sig,
		      size_t sig_len)
{
	switch (k->alg) {
	case JWT_ALG_HS256:
		return jwt_hs256_verify(k->secret, k->secret_len, input, input_len, sig, sig_len);
	case JWT_ALG_RS256:
		return sig_len == k->sig_len ? evp_verify(k->pkey, input, input_len, sig, sig_len) : JWT_ESIG;
	case JWT_ALG_ES256:
		return sig_len == k->sig_len ? es256_verify(k->pkey, input, input_len, sig) : JWT_ESIG;
	default:
		return JWT_EALG;
	}
}

int jwt_keyset_verify(const struct jwt_keyset *ks, enum jwt_alg alg, const char *kid, const void *input,
		      size_t input_len, const unsigned char *sig, size_t sig_len)
{
	if (alg == JWT_ALG_UNKNOWN)
		return JWT_EALG;
	if (kid) {
		const struct key *k = ks ? find_kid(ks, kid) : NULL;
		if (!k)
			return JWT_EKID;
		if (k->alg != alg)
			return JWT_ENOKEY; /* a key only verifies its own algorithm */
		return key_verify(k, input, input_len, sig, sig_len);
	}
	size_t tried = 0;
	for (size_t i = 0; ks && i < ks->n; i++) {
		if (ks->keys[i].alg != alg)
			continue;
		tried++;
		if (key_verify(&ks->keys[i], input, input_len, sig, sig_len) == JWT_OK)
			return JWT_OK;
	}
	return tried ? JWT_ESIG : JWT_ENOKEY;
}
