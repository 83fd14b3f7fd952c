/* jwt: user tokens as PROTOCOL.md "Identity" and "Tokens, strictly" define
 * them: the one check the bridge and the broker plugin share. jwt_check takes
 * a token, a key set (jwtkeys.h: HS256 secrets, RS256 / ES256 public keys,
 * each verifying its own algorithm only) and a policy, and accepts the token
 * only when its signature is good (constant-time for HS256), it is not a
 * refresh token (token_type, when present, is "access"), exp / nbf / iat
 * hold with the policy's leeway, and aud / iss match when the policy names
 * them; it reads the user id from `sub` or else SimpleJWT's `user_id`. JSON
 * from jansson, crypto from libcrypto. Pure apart from that: no I/O, no
 * clock (the caller passes "now"). */
#ifndef RINGMQ_JWT_H
#define RINGMQ_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "jwtkeys.h"

#define JWT_MAX_LEN 4096        /* longest token we look at */
#define JWT_USERNAME_MAX 128    /* longer names are cut (at a UTF-8 boundary) */
#define JWT_EXP_MAX 253402300799LL /* 9999-12-31T23:59:59Z: a later exp (or iat) is taken as this */
#define JWT_SIG_MAX 1024        /* longest decoded signature (RSA up to 8192 bits) */
#define JWT_LEEWAY_MAX_S 3600   /* the largest leeway a policy may set */

/* Every refusal has its code; jwt_strerror says it in English. */
enum jwt_err {
	JWT_OK = 0,
	JWT_EMALFORMED = -1, /* not three base64url parts of JSON, too long, a claim of the wrong type, crit */
	JWT_EALG = -2,       /* alg is none, missing or not one of HS256, RS256, ES256 */
	JWT_ESIG = -3,       /* signature does not match (no key of the token's alg verifies it) */
	JWT_EEXPIRED = -4,   /* exp (plus the leeway) not in the future */
	JWT_ENOUSER = -5,    /* no sub / user_id, or one breaking the id rule */
	JWT_ENOEXP = -6,     /* exp missing while required */
	JWT_ETYPE = -7,      /* token_type present and not "access" (a SimpleJWT refresh token) */
	JWT_ENOTYET = -8,    /* nbf later than now plus the leeway */
	JWT_EIAT = -9,       /* iat later than now plus the leeway */
	JWT_EAUD = -10,      /* audience configured, and aud missing or not naming it */
	JWT_EISS = -11,      /* issuer configured, and iss missing or another */
	JWT_EKID = -12,      /* kid names no configured key */
	JWT_ENOKEY = -13,    /* no key for the token's alg (or its kid's key verifies another alg) */
	JWT_EREVOKED = -14,  /* issued before its user's revocation (revoked.h; never jwt_check's) */
};
#define JWT_ERR_LAST JWT_EREVOKED /* every code is in [JWT_ERR_LAST, JWT_OK] */

/* What a token must satisfy besides its signature. The strings are
 * borrowed: they must outlive the checks that use the policy. */
struct jwt_policy {
	bool require_exp;     /* refuse tokens without exp */
	int64_t leeway_s;     /* 0..JWT_LEEWAY_MAX_S (clamped), applies to exp, nbf and iat */
	const char *audience; /* NULL: aud ignored; else aud (a string, or an array) must contain it */
	const char *issuer;   /* NULL: iss ignored; else iss must equal it */
};
/* PROTOCOL.md's defaults: exp required, no leeway, aud and iss ignored. */
#define JWT_POLICY_DEFAULT ((struct jwt_policy){.require_exp = true})

struct jwt_claims {
	char user_id[IDS_MAX + 1];
	char username[JWT_USERNAME_MAX + 1]; /* name/username/preferred_username, else the id */
	int64_t exp;                         /* seconds since the epoch; 0 when absent */
	int64_t iat;                         /* seconds since the epoch; 0 when absent */
};

/* True when a token whose exp is exp is over at now_s (seconds since the
 * epoch): exp + leeway <= now, leeway clamped to 0..JWT_LEEWAY_MAX_S. The
 * one rule of jwt_check, and of whoever ends a connection at its token's
 * end (exp 0 here is a real exp of 1970: callers with "no exp" test it). */
bool jwt_expired(int64_t exp, int64_t leeway_s, int64_t now_s);

/* The check. Verifies token (len bytes, not necessarily NUL-terminated)
 * with keys (its alg and kid pick the keys: jwt_keyset_verify) and then its
 * claims under policy (NULL: JWT_POLICY_DEFAULT) at now_s (seconds since
 * the epoch). Returns JWT_OK and fills *out, or a negative enum jwt_err
 * (*out then undefined). keys and policy are only read. */
int jwt_check(const char *token, size_t len, const struct jwt_keyset *keys, const struct jwt_policy *policy,
	      int64_t now_s, struct jwt_claims *out);

/* jwt_check with one HS256 secret without kid and the default policy but
 * for require_exp: what the bridge has called since issue 1. A token with a
 * kid is refused (JWT_EKID), as is every other rule of jwt_check. */
int jwt_verify(const char *token, size_t len, const unsigned char *secret, size_t secret_len, int64_t now_s,
	       bool require_exp, struct jwt_claims *out);

/* Signs an HS256 token for user_id (and username, may be NULL) that expires
 * at exp (seconds; 0 = no exp claim). Returns a malloc'd NUL-terminated
 * string the caller frees, or NULL on failure. For demos and tests. */
char *jwt_mint(const unsigned char *secret, size_t secret_len, const char *user_id, const char *username, int64_t exp);

/* jwt_mint with a kid in the header (NULL: none) and an iat claim (0: none). */
char *jwt_mint_hs256(const unsigned char *secret, size_t secret_len, const char *kid, const char *user_id,
		     const char *username, int64_t iat, int64_t exp);

/* A short English description of an enum jwt_err value. */
const char *jwt_strerror(int err);

#endif
