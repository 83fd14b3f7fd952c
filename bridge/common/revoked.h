/* revoked: the "tokens issued before" rules of revoked users (PROTOCOL.md
 * "Revocation"). POST /api/users/<id>/disconnect/ makes rules store
 * `before`, the request's time in whole unix seconds, for the user; from
 * then on a token of that user is refused when its iat is not later than
 * `before`, or when it has no iat. rules owns the rules (its store) and
 * publishes each one retained on svc/revocations/<uid>; every process that
 * checks tokens (each bridge, the broker plugin) keeps them in a struct
 * revoked and asks it after jwt_check. A later request only ever raises a
 * user's `before`. The one message shape and the plugin's state file are
 * read here too. Data structure and pure functions; the file
 * functions are the only I/O. */
#ifndef RINGMQ_REVOKED_H
#define RINGMQ_REVOKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "jwt.h"

#define REVOKED_PAYLOAD_MAX 256 /* longest message read: {"user_id": <id>, "before": <int>} */

struct revoked;

/* NULL when out of memory. */
struct revoked *revoked_new(void);
/* NULL-safe. */
void revoked_free(struct revoked *r);
size_t revoked_count(const struct revoked *r);

/* Raises user_id's rule to before (a lower or equal before changes
 * nothing). Returns 1 when the rule changed, 0 when not, -1 when out of
 * memory or user_id breaks the id rule. */
int revoked_set(struct revoked *r, const char *user_id, int64_t before);
/* The user's `before`, or 0 when the user has no rule. */
int64_t revoked_before(const struct revoked *r, const char *user_id);
/* True when a token of user_id issued at iat (0: the token has no iat) is
 * refused by the user's rule. No leeway. */
bool revoked_refuses(const struct revoked *r, const char *user_id, int64_t iat);
/* The check every token-taking path makes after jwt_check said JWT_OK:
 * JWT_OK, or JWT_EREVOKED. */
int revoked_check(const struct revoked *r, const struct jwt_claims *claims);
/* Calls fn for every rule; fn must not change r. */
void revoked_each(const struct revoked *r, void (*fn)(const char *user_id, int64_t before, void *arg), void *arg);

/* Reads a message (rules writes it: router_revocation): 0 with user_id and *before set, or -1 when it is not
 * one (before must be a positive integer). */
int revoked_parse(const void *payload, size_t len, char user_id[IDS_MAX + 1], int64_t *before);

/* Loads the rules of path into r (raising, as revoked_set). A missing file
 * is no rule: 0. -1 when it cannot be read or parsed (r may hold part of
 * it). The file is a JSON object {"<user id>": before, ...}. */
int revoked_load(struct revoked *r, const char *path);
/* Writes every rule of r to path (a temporary file renamed over it, so a
 * crash leaves the old file or the new one). 0, or -1 (errno set). */
int revoked_save(const struct revoked *r, const char *path);

#endif
