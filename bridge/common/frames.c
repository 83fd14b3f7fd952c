/* frames: what a client may send and how every error looks. */
#include "frames.h"

#include <stdlib.h>
#include <string.h>

#include "ids.h"

static const char *const code_names[FRAMES_CODE_COUNT] = {
	"ok", "bad_json", "bad_frame", "unknown_type", "not_found",
	"forbidden", "invalid_state", "rate_limited", "unavailable", "unauthorized",
};

/* Types only the service sends, and auth.refresh (a bridge socket's own,
 * decoded only from FRAMES_FROM_SOCKET): a client that sends one is refused. */
static const char *const reserved_types[] = {
	"connection.ack", "call.incoming", "call.accepted", "notification.created", "error", "pong",
	"auth.refresh", "auth.refreshed",
};

const char *frames_code_name(int code)
{
	if (code < 0 || code >= FRAMES_CODE_COUNT)
		return "internal";
	return code_names[code];
}

int frames_code_parse(const char *name)
{
	for (int i = 1; name && i < FRAMES_CODE_COUNT; i++)
		if (!strcmp(name, code_names[i]))
			return i;
	return -1;
}

bool frames_is_call_type(enum frames_type t)
{
	return t >= FRAMES_T_CALL_OFFER && t <= FRAMES_T_CALL_END;
}

int frames_depth(const char *buf, size_t len, int limit)
{
	int depth = 0, max = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max) {
				max = depth;
				if (max > limit)
					return max;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

static enum frames_type type_of(const char *name)
{
	if (!strcmp(name, "ping"))
		return FRAMES_T_PING;
	if (!strcmp(name, "call.offer"))
		return FRAMES_T_CALL_OFFER;
	if (!strcmp(name, "call.answer"))
		return FRAMES_T_CALL_ANSWER;
	if (!strcmp(name, "call.ice_candidate"))
		return FRAMES_T_CALL_ICE;
	if (!strcmp(name, "call.end"))
		return FRAMES_T_CALL_END;
	if (!strcmp(name, "auth.refresh"))
		return FRAMES_T_AUTH_REFRESH;
	return FRAMES_T_OTHER;
}

static bool is_sdp(const json_t *v)
{
	return json_is_object(v) || json_is_string(v);
}

/* Checks the fields of a call frame; returns a reason or NULL when fine. */
static const char *check_call_fields(const json_t *root, enum frames_type t)
{
	const json_t *cid = json_object_get(root, "call_id");
	if (!json_is_string(cid))
		return "call_id must be a string";
	switch (t) {
	case FRAMES_T_CALL_OFFER: {
		const json_t *ct = json_object_get(root, "call_type");
		if (!is_sdp(json_object_get(root, "offer")))
			return "offer must be an object or a string";
		if (ct && !json_is_null(ct) && !ids_is_call_type(json_string_value(ct)))
			return IDS_CALL_TYPE_RULE;
		break;
	}
	case FRAMES_T_CALL_ANSWER:
		if (!is_sdp(json_object_get(root, "answer")))
			return "answer must be an object or a string";
		break;
	case FRAMES_T_CALL_ICE: {
		const json_t *c = json_object_get(root, "candidate");
		if (!c || !(json_is_object(c) || json_is_string(c) || json_is_null(c)))
			return "candidate must be an object, a string or null";
		break;
	}
	case FRAMES_T_CALL_END: {
		const json_t *r = json_object_get(root, "reason");
		if (r && !json_is_null(r) && !json_is_string(r))
			return "reason must be a string";
		break;
	}
	default:
		break;
	}
	const json_t *dev = json_object_get(root, "device_id");
	if (dev && !json_is_null(dev) && !json_is_string(dev))
		return "device_id must be a string";
	if (json_is_string(dev) && (json_string_length(dev) == 0 || json_string_length(dev) > FRAMES_DEVICE_MAX ||
				    strlen(json_string_value(dev)) != json_string_length(dev)))
		return "device_id must be 1 to 128 bytes";
	return NULL;
}

int frames_decode(const char *buf, size_t len, enum frames_origin origin, struct frames_in *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (frames_depth(buf, len, FRAMES_MAX_DEPTH) > FRAMES_MAX_DEPTH) {
		*why = "JSON nested too deeply";
		return FRAMES_BAD_JSON;
	}
	/* JSON_DECODE_ANY: a scalar is valid JSON, so it must reach the object
	 * check below and be bad_frame, not bad_json. */
	json_error_t jerr;
	out->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!out->root) {
		*why = "not valid JSON";
		return FRAMES_BAD_JSON;
	}
	if (!json_is_object(out->root)) {
		*why = "a frame is a JSON object";
		return FRAMES_BAD_FRAME;
	}
	const json_t *type = json_object_get(out->root, "type");
	if (!json_is_string(type) || json_string_length(type) == 0 || strlen(json_string_value(type)) != json_string_length(type)) {
		*why = "type must be a non-empty string";
		return FRAMES_BAD_FRAME;
	}
	out->type_name = json_string_value(type);
	out->type = type_of(out->type_name);
	bool chat = origin & FRAMES_FROM_CHAT;
	if (out->type == FRAMES_T_AUTH_REFRESH && !(origin & FRAMES_FROM_SOCKET))
		out->type = FRAMES_T_OTHER; /* reserved below */

	if (out->type == FRAMES_T_OTHER) {
		bool reserved = !strncmp(out->type_name, "call.", 5);
		for (size_t i = 0; !reserved && i < sizeof(reserved_types) / sizeof(reserved_types[0]); i++)
			reserved = !strcmp(out->type_name, reserved_types[i]);
		if (reserved || !chat) {
			*why = chat ? "this type is not one a client may send" : "this socket takes call frames and ping only";
			return FRAMES_UNKNOWN_TYPE;
		}
		return FRAMES_OK;
	}
	if (out->type == FRAMES_T_PING)
		return FRAMES_OK;
	if (out->type == FRAMES_T_AUTH_REFRESH) {
		const json_t *tok = json_object_get(out->root, "token");
		if (!json_is_string(tok) || json_string_length(tok) == 0 ||
		    strlen(json_string_value(tok)) != json_string_length(tok)) {
			*why = "token must be a non-empty string";
			return FRAMES_BAD_FRAME;
		}
		out->token = json_string_value(tok);
		return FRAMES_OK;
	}

	const char *bad = check_call_fields(out->root, out->type);
	if (bad) {
		const json_t *cid = json_object_get(out->root, "call_id");
		out->call_id = json_string_value(cid);
		*why = bad;
		return FRAMES_BAD_FRAME;
	}
	out->call_id = json_string_value(json_object_get(out->root, "call_id"));
	if (!ids_is_uuid(out->call_id)) {
		*why = "no such call";
		return FRAMES_NOT_FOUND;
	}
	return FRAMES_OK;
}

void frames_in_clear(struct frames_in *f)
{
	json_decref(f->root);
	memset(f, 0, sizeof(*f));
}

json_t *frames_error(int code, const char *message, const char *ref, const char *call_id)
{
	json_t *e = json_pack("{s:s, s:s, s:s}", "type", "error", "code", frames_code_name(code), "message",
			      message ? message : frames_code_name(code));
	if (!e)
		return NULL;
	if (ref)
		json_object_set_new(e, "ref", json_string(ref));
	if (call_id)
		json_object_set_new(e, "call_id", json_string(call_id));
	return e;
}

char *frames_dump(const json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (s && len)
		*len = strlen(s);
	return s;
}
