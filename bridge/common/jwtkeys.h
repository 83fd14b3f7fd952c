/* jwtkeys: the keys user tokens are checked against (PROTOCOL.md "Tokens,
 * strictly"): HS256 shared secrets and RS256 / ES256 PEM public keys, each
 * bound to its one algorithm and named by a kid, the file's name without
 * directory and extension (keys/2026-12.pem and keys/2026-12 are both
 * "2026-12"). A set remembers the files it was loaded from and re-reads them
 * as a whole (SIGHUP, rotation): all or nothing. Signatures are checked with
 * libcrypto (HMAC, EVP_DigestVerify). Used by jwt_check (jwt.h); the bridge
 * and the broker plugin each hold one set. No logging: errors are returned
 * as text in the caller's buffer, naming the file. No threads: a set is used
 * by one thread at a time. */
#ifndef RINGMQ_JWTKEYS_H
#define RINGMQ_JWTKEYS_H

#include <stdbool.h>
#include <stddef.h>

#define JWT_KID_MAX 64              /* longest kid (header value or file stem) */
#define JWT_KEYS_MAX 32             /* keys in one set */
#define JWT_SECRET_FILE_MAX 4096    /* bytes of a secret file */
#define JWT_PEM_FILE_MAX 16384      /* bytes of a PEM public key file */
#define JWT_RSA_MIN_BITS 2048       /* smaller RSA keys are refused when loading */
#define JWT_KEYS_ERR_MAX 512        /* an error buffer for a log line (longer messages are cut) */

/* The algorithms a key may verify. A key verifies exactly one. */
enum jwt_alg {
	JWT_ALG_UNKNOWN = 0, /* none, HS512, ...: refused */
	JWT_ALG_HS256,
	JWT_ALG_RS256,
	JWT_ALG_ES256,
};

struct jwt_keyset;

/* An empty set (no files): add keys with jwt_keyset_add_secret. NULL when
 * out of memory. */
struct jwt_keyset *jwt_keyset_new(void);

/* NULL-safe. Frees every key (secrets cleansed) and the file lists. */
void jwt_keyset_free(struct jwt_keyset *ks);

/* Loads a new set from secret_files (HS256 secrets: the file's bytes without
 * trailing CR/LF, as secret_load reads them) and public_key_files (PEM
 * SubjectPublicKeyInfo, "-----BEGIN PUBLIC KEY-----" as `openssl pkey
 * -pubout` writes it: an RSA key of at least JWT_RSA_MIN_BITS bits is an
 * RS256 key, a P-256 EC key an ES256 key, anything else is refused). Each is
 * a comma-separated list of paths (spaces around commas ignored); NULL or ""
 * is an empty list. The lists are copied: jwt_keyset_reload re-reads them.
 * Two keys with one kid, an unreadable, empty, oversized or unparsable file
 * fail the whole load. Returns 0 and *out (caller frees with
 * jwt_keyset_free), or -1 with a message naming the file in err (err_len
 * bytes, cut to fit; JWT_KEYS_ERR_MAX suits a log line; err may be NULL)
 * and *out untouched. An empty set loads: it verifies nothing. */
int jwt_keyset_load(struct jwt_keyset **out, const char *secret_files, const char *public_key_files, char *err,
		    size_t err_len);

/* Re-reads every file the set was loaded from. All or nothing: on success
 * the file keys are replaced by what the files hold now; on failure (as
 * jwt_keyset_load) the set is left as it was and err names the file. Keys
 * added with jwt_keyset_add_secret are kept either way. 0 or -1. */
int jwt_keyset_reload(struct jwt_keyset *ks, char *err, size_t err_len);

/* Adds an HS256 secret (len bytes, copied) that is not read from a file:
 * an environment variable's, a test's. kid may be NULL (no kid: only tokens
 * without kid try it). 0, or -1 with err (duplicate kid, full, no memory). */
int jwt_keyset_add_secret(struct jwt_keyset *ks, const char *kid, const unsigned char *secret, size_t len,
			  char *err, size_t err_len);

/* Number of keys verifying alg (JWT_ALG_UNKNOWN: all keys). */
size_t jwt_keyset_count(const struct jwt_keyset *ks, enum jwt_alg alg);

/* Writes "HS256 jwt_secret, RS256 2026-12, ES256 (no kid)" (or "none") into
 * buf for a log line; cut to len - 1 bytes. */
void jwt_keyset_describe(const struct jwt_keyset *ks, char *buf, size_t len);

/* Checks sig (sig_len raw bytes: the decoded third part; for ES256 R||S, 64
 * bytes) over input (the token's "header.payload") for a token whose header
 * says alg and kid (NULL when it has none). A kid is checked against the key
 * of that kid only; without kid every key of alg is tried. Returns JWT_OK,
 * JWT_EKID (kid names no key), JWT_ENOKEY (no key of alg; or the kid's key
 * verifies another algorithm), JWT_EALG (alg unknown) or JWT_ESIG. */
int jwt_keyset_verify(const struct jwt_keyset *ks, enum jwt_alg alg, const char *kid, const void *input,
		      size_t input_len, const unsigned char *sig, size_t sig_len);

/* HS256 over input with secret, compared to sig in constant time:
 * JWT_OK or JWT_ESIG. */
int jwt_hs256_verify(const unsigned char *secret, size_t secret_len, const void *input, size_t input_len,
		     const unsigned char *sig, size_t sig_len);

/* "HS256", "RS256", "ES256" <-> enum jwt_alg (exact, case-sensitive;
 * anything else is JWT_ALG_UNKNOWN, named "unknown"). */
enum jwt_alg jwt_alg_parse(const char *name);
const char *jwt_alg_name(enum jwt_alg alg);

/* The kid of a key file: its name without directories and without its last
 * extension ("keys/2026-12.pem" -> "2026-12"; ".hidden" stays ".hidden").
 * 0, or -1 when that is empty or longer than JWT_KID_MAX. */
int jwt_kid_of_path(const char *path, char kid[JWT_KID_MAX + 1]);

#endif
