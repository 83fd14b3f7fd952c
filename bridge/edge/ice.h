/* ice: the body of GET /calls/ice-servers/ (docs/protocol.md "ICE
 * servers"): the TURN and STUN URIs a browser hands to
 * new RTCPeerConnection({iceServers}), with a TURN credential made for one
 * user the way coturn's "TURN REST API" (use-auth-secret,
 * static-auth-secret) checks it: username "<unix expiry>:<user id>",
 * credential base64(HMAC-SHA1(secret, username)). The TURN server holds
 * the same secret and checks the HMAC and the expiry itself, so the bridge
 * stores nothing. Pure: the caller passes the wall clock; no I/O. */
#ifndef RINGMQ_ICE_H
#define RINGMQ_ICE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ids.h"

#define ICE_URIS_MAX 8                 /* --turn-uri and --stun-uri, each */
#define ICE_URI_MAX 256                /* the longest URI taken */
#define ICE_TTL_DEFAULT_S 86400        /* default --turn-ttl-s */
#define ICE_TTL_MAX_S (30L * 86400)    /* the longest --turn-ttl-s */
#define ICE_EXPIRY_MAX_DIGITS 20       /* an int64 in decimal */
#define ICE_USERNAME_MAX (ICE_EXPIRY_MAX_DIGITS + 1 + IDS_MAX) /* "<expiry>:<user id>" */
#define ICE_CREDENTIAL_LEN 28          /* base64 of a 20-byte HMAC-SHA1 */
#define ICE_ERR_MAX 512                /* a message of ice_cfg_check */
#define ICE_DESCRIBE_MAX 512           /* the line of ice_describe */

/* What the bridge was told (main.c fills it; the strings stay its). */
struct ice_cfg {
	const char *turn[ICE_URIS_MAX]; /* "turn:" / "turns:" URIs */
	int nturn;
	const char *stun[ICE_URIS_MAX]; /* "stun:" / "stuns:" URIs */
	int nstun;
	char *secret;                   /* the TURN server's static-auth-secret, or NULL
					 * (malloc'd by main.c, which frees it) */
	size_t secret_len;
	long ttl_s;                     /* a credential is good for this long */
};

/* Whether cfg makes sense: each URI has its kind's scheme (lower case),
 * at most ICE_URI_MAX bytes, no space or control character; TURN URIs come with a
 * non-empty secret and a secret with TURN URIs (a TURN entry without a
 * credential would only fail in the browser); 1 <= ttl_s <= ICE_TTL_MAX_S.
 * 0, or -1 with a message for the operator in err (cap bytes). */
int ice_cfg_check(const struct ice_cfg *cfg, char *err, size_t cap);

/* "<expiry_s>:<user_id>" into out. 0, or -1 when user_id breaks the id
 * rule or expiry_s is negative. */
int ice_username(int64_t expiry_s, const char *user_id, char out[ICE_USERNAME_MAX + 1]);

/* base64(HMAC-SHA1(secret, username)) into out, NUL-terminated. 0, or -1
 * when OpenSSL fails. */
int ice_credential(const char *secret, size_t secret_len, const char *username, char out[ICE_CREDENTIAL_LEN + 1]);

/* The 200 body for user_id at now_s (seconds since the epoch):
 * {"ice_servers": [{"urls": [TURN...], "username", "credential"},
 * {"urls": [STUN...]}], "ttl": ttl_s}, each entry only when it has URIs
 * (so "ice_servers": [] when none is configured); the credential expires
 * at now_s + ttl_s. cfg must have passed ice_cfg_check. A new reference
 * (the caller owns it), or NULL when out of memory or user_id breaks the
 * id rule. */
json_t *ice_servers(const struct ice_cfg *cfg, const char *user_id, int64_t now_s);

/* One line for the log: what GET /calls/ice-servers/ answers, into buf
 * (cap bytes, ICE_DESCRIBE_MAX is enough; longer URIs are cut). */
void ice_describe(const struct ice_cfg *cfg, char *buf, size_t cap);

#endif
