/* frames: decoding and checking what a client sends, and building the
 * frames every part answers with. The shapes are the files in schemas/; the order
 * of checks is PROTOCOL.md "Fine print": JSON -> type -> fields -> call id.
 * Pure (jansson only): used by the bridge for the cheap early answer and by
 * rules, which checks again because MQTT devices reach it directly. */
#ifndef RINGMQ_FRAMES_H
#define RINGMQ_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define FRAMES_MAX_DEPTH 32        /* deepest JSON nesting accepted */
#define FRAMES_MAX_SIZE (64 * 1024) /* default frame size limit (a setting at the edge) */
#define FRAMES_DEVICE_MAX 128       /* longest device_id an MQTT client may name itself */

/* Error codes of PROTOCOL.md, in check order. 0 is "no error". */
enum frames_code {
	FRAMES_OK = 0,
	FRAMES_BAD_JSON,
	FRAMES_BAD_FRAME,
	FRAMES_UNKNOWN_TYPE,
	FRAMES_NOT_FOUND,
	FRAMES_FORBIDDEN,
	FRAMES_INVALID_STATE,
	FRAMES_RATE_LIMITED,
	FRAMES_UNAVAILABLE,
	FRAMES_UNAUTHORIZED, /* auth.refresh with a token that is not valid (appended: codes keep their numbers) */
	FRAMES_CODE_COUNT
};

enum frames_type {
	FRAMES_T_OTHER = 0, /* any other type: relayed on chat sockets only */
	FRAMES_T_PING,
	FRAMES_T_CALL_OFFER,
	FRAMES_T_CALL_ANSWER,
	FRAMES_T_CALL_ICE,
	FRAMES_T_CALL_END,
	FRAMES_T_AUTH_REFRESH, /* {"token"}: a bridge socket's new token, answered by the bridge, never published */
};

/* Where a frame came from: a chat socket accepts any non-reserved type and
 * relays it to the room; a notification socket and an MQTT outbox accept
 * only the call frames and ping. FRAMES_FROM_SOCKET, or'ed to either, says
 * a socket of the bridge sent it: only then is auth.refresh a frame
 * (FRAMES_T_AUTH_REFRESH); elsewhere (rules, which hears MQTT devices and
 * what the bridge published) it is a reserved type, so it never reaches a
 * room. */
enum frames_origin { FRAMES_FROM_NOTIFY = 0, FRAMES_FROM_CHAT = 1, FRAMES_FROM_SOCKET = 2 };

struct frames_in {
	json_t *root;          /* owned; the client's object */
	enum frames_type type;
	const char *type_name; /* borrowed from root */
	const char *call_id;   /* borrowed from root; NULL unless a call frame */
	const char *token;     /* borrowed from root; set on FRAMES_T_AUTH_REFRESH */
};

/* Decodes and checks one client frame. Returns FRAMES_OK and fills *out
 * (release with frames_in_clear), or an error code with *why set to a short
 * static English reason; on error *out holds whatever was decoded so far
 * (type_name and call_id, for the error's ref and call_id) and still needs
 * frames_in_clear. */
int frames_decode(const char *buf, size_t len, enum frames_origin origin, struct frames_in *out, const char **why);
void frames_in_clear(struct frames_in *f);

/* True when type names a frame of the call family a client may send. */
bool frames_is_call_type(enum frames_type t);

/* "bad_json", "not_found", ... */
const char *frames_code_name(int code);
/* The code of a name ("not_found" -> FRAMES_NOT_FOUND), or -1. */
int frames_code_parse(const char *name);

/* Builds {"type":"error","code","message","ref"?,"call_id"?}; ref and
 * call_id may be NULL. Returns a new reference. */
json_t *frames_error(int code, const char *message, const char *ref, const char *call_id);

/* Deepest nesting of [ and { in buf, outside strings; stops counting at
 * limit + 1. Used before parsing so a hostile frame cannot make jansson
 * recurse deeply. */
int frames_depth(const char *buf, size_t len, int limit);

/* Compact serialisation; malloc'd, caller frees. NULL on allocation failure. */
char *frames_dump(const json_t *j, size_t *len);

#endif
