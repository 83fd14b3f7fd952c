/* ids: the id rule of PROTOCOL.md (users, conversations), call ids (UUIDs),
 * random tokens. Pure functions apart from the random source (OpenSSL's
 * RAND_bytes); the clocks are clock.h's. */
#ifndef RINGMQ_IDS_H
#define RINGMQ_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IDS_MAX 64          /* longest user or conversation id */
#define IDS_UUID_LEN 36     /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
#define IDS_BRIDGE_ID_LEN 18 /* "b-" + 16 hex digits */

/* True when s is 1..64 characters of [A-Za-z0-9_-]. */
bool ids_valid(const char *s);
bool ids_valid_n(const char *s, size_t len);

/* Reads an id from JSON: a string that passes ids_valid, or a non-negative
 * integer (7 -> "7"). Writes it into out (IDS_MAX + 1 bytes). Returns 0, or
 * -1 when v is missing, of another type or breaks the rule. */
int ids_from_json(const json_t *v, char out[IDS_MAX + 1]);

/* True for a canonical lower- or upper-case UUID string. */
bool ids_is_uuid(const char *s);

/* A random (version 4) UUID, lower case, NUL-terminated. */
void ids_uuid4(char out[IDS_UUID_LEN + 1]);

/* True for a call type: "voice" or "video". s may be NULL. */
bool ids_is_call_type(const char *s);
#define IDS_CALL_TYPE_RULE "call_type must be \"voice\" or \"video\"" /* the refusal's words */

/* A new random bridge id ("b-" + 16 lower-case hex digits), NUL-terminated. */
void ids_bridge_id(char out[IDS_BRIDGE_ID_LEN + 1]);
/* True when the len bytes at s are a bridge id (hex digits of either case). */
bool ids_is_bridge_id(const char *s, size_t len);

/* nhex random lower-case hex digits, NUL-terminated (out holds nhex + 1). */
void ids_random_hex(char *out, size_t nhex);

#endif
