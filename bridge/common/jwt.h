/* jwt: HS256 JSON Web Tokens as PROTOCOL.md "Identity" defines them.
 * Verification only accepts alg HS256, compares the signature in constant
 * time (OpenSSL CRYPTO_memcmp), enforces exp, and reads the user id from
 * `sub` or else SimpleJWT's `user_id`. HMAC from libcrypto, JSON from jansson.
 * Pure apart from libcrypto: no I/O, no clock (the caller passes "now"). */
#ifndef RINGMQ_JWT_H
#define RINGMQ_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"

#define JWT_MAX_LEN 4096        /* longest token we look at */
#define JWT_USERNAME_MAX 128    /* longer names are cut (at a UTF-8 boundary) */
#define JWT_EXP_MAX 253402300799LL /* 9999-12-31T23:59:59Z: a later exp is taken as this */

enum jwt_err {
	JWT_OK = 0,
	JWT_EMALFORMED = -1, /* not three base64url parts of JSON, or too long */
	JWT_EALG = -2,       /* alg is not HS256 (none included) */
	JWT_ESIG = -3,       /* signature does not match */
	JWT_EEXPIRED = -4,   /* exp in the past */
	JWT_ENOUSER = -5,    /* no sub / user_id, or one breaking the id rule */
	JWT_ENOEXP = -6,     /* exp missing while required */
};

struct jwt_claims {
	char user_id[IDS_MAX + 1];
	char username[JWT_USERNAME_MAX + 1]; /* name/username/preferred_username, else the id */
	int64_t exp;                         /* seconds since the epoch; 0 when absent */
};

/* Verifies token (len bytes, not necessarily NUL-terminated) against secret.
 * now_s is the current time in seconds; leeway of 0. require_exp refuses
 * tokens without exp. On JWT_OK fills *out. */
int jwt_verify(const char *token, size_t len, const unsigned char *secret, size_t secret_len, int64_t now_s,
	       bool require_exp, struct jwt_claims *out);

/* Signs an HS256 token for user_id (and username, may be NULL) that expires
 * at exp (seconds; 0 = no exp claim). Returns a malloc'd NUL-terminated
 * string the caller frees, or NULL on failure. For demos and tests. */
char *jwt_mint(const unsigned char *secret, size_t secret_len, const char *user_id, const char *username, int64_t exp);

/* A short English description of an enum jwt_err value. */
const char *jwt_strerror(int err);

#endif
