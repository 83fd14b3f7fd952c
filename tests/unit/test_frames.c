/* test_frames: decoding and checking client frames in the order of
 * PROTOCOL.md "Fine print", and the error frame's shape. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frames.h"

#define CID "0b6f3c1e-8a51-4c5e-9d1c-2f0e6f1a7b2c"

static int dec(const char *s, enum frames_origin o, struct frames_in *f)
{
	const char *why;
	int rc = frames_decode(s, strlen(s), o, f, &why);
	CHECK(rc == FRAMES_OK || why != NULL);
	return rc;
}

static int code_of(const char *s, enum frames_origin o)
{
	struct frames_in f;
	int rc = dec(s, o, &f);
	frames_in_clear(&f);
	return rc;
}

int main(void)
{
	struct frames_in f;
	const enum frames_origin N = FRAMES_FROM_NOTIFY, C = FRAMES_FROM_CHAT;

	/* good frames of every call type */
	CHECK_EQ_INT(dec("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"},\"call_type\":\"video\"}", N, &f), FRAMES_OK);
	CHECK_EQ_INT(f.type, FRAMES_T_CALL_OFFER);
	CHECK_EQ_STR(f.call_id, CID);
	CHECK_EQ_STR(f.type_name, "call.offer");
	frames_in_clear(&f);
	CHECK_EQ_INT(code_of("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":\"v=0\"}", N), FRAMES_OK);
	CHECK_EQ_INT(code_of("{\"type\":\"call.answer\",\"call_id\":\"" CID "\",\"answer\":{\"sdp\":\"x\"}}", N), FRAMES_OK);
	CHECK_EQ_INT(code_of("{\"type\":\"call.ice_candidate\",\"call_id\":\"" CID "\",\"candidate\":{\"candidate\":\"c\"}}", N), FRAMES_OK);
	CHECK_EQ_INT(code_of("{\"type\":\"call.ice_candidate\",\"call_id\":\"" CID "\",\"candidate\":null}", N), FRAMES_OK);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":\"" CID "\"}", N), FRAMES_OK);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"reason\":\"hangup\"}", N), FRAMES_OK);
	CHECK_EQ_INT(dec("{\"type\":\"ping\"}", N, &f), FRAMES_OK);
	CHECK_EQ_INT(f.type, FRAMES_T_PING);
	frames_in_clear(&f);

	/* JSON first */
	CHECK_EQ_INT(code_of("nope", N), FRAMES_BAD_JSON);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",", N), FRAMES_BAD_JSON);
	CHECK_EQ_INT(code_of("", N), FRAMES_BAD_JSON);
	/* then type */
	CHECK_EQ_INT(code_of("[1,2]", N), FRAMES_BAD_FRAME);
	/* a top-level scalar is JSON, just not an object */
	CHECK_EQ_INT(code_of("\"call.offer\"", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("17", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("null", C), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of(" true ", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("17 18", N), FRAMES_BAD_JSON);
	CHECK_EQ_INT(code_of("{}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":7}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"chat.message\",\"text\":\"hi\"}", N), FRAMES_UNKNOWN_TYPE);
	CHECK_EQ_INT(code_of("{\"type\":\"call.incoming\",\"call_id\":\"" CID "\"}", C), FRAMES_UNKNOWN_TYPE);
	CHECK_EQ_INT(code_of("{\"type\":\"call.bogus\"}", C), FRAMES_UNKNOWN_TYPE);
	CHECK_EQ_INT(code_of("{\"type\":\"connection.ack\"}", C), FRAMES_UNKNOWN_TYPE);
	CHECK_EQ_INT(code_of("{\"type\":\"error\"}", C), FRAMES_UNKNOWN_TYPE);
	/* any other type is relayed on a chat socket */
	CHECK_EQ_INT(dec("{\"type\":\"chat.message\",\"text\":\"hi\"}", C, &f), FRAMES_OK);
	CHECK_EQ_INT(f.type, FRAMES_T_OTHER);
	CHECK(f.call_id == NULL);
	frames_in_clear(&f);
	/* then fields: missing and mistyped, before the call id's shape */
	CHECK_EQ_INT(code_of("{\"type\":\"call.offer\",\"call_id\":\"" CID "\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.offer\",\"call_id\":\"x\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":5}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.offer\",\"call_id\":\"" CID "\",\"offer\":{},\"call_type\":\"fax\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.answer\",\"call_id\":\"" CID "\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.ice_candidate\",\"call_id\":\"" CID "\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"reason\":5}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\"}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":42}", N), FRAMES_BAD_FRAME);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"device_id\":[]}", N), FRAMES_BAD_FRAME);
	/* an MQTT client's device_id: 1..128 bytes */
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"device_id\":\"phone\"}", N), FRAMES_OK);
	CHECK_EQ_INT(code_of("{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"device_id\":\"\"}", N), FRAMES_BAD_FRAME);
	char longdev[300];
	snprintf(longdev, sizeof(longdev), "{\"type\":\"call.end\",\"call_id\":\"" CID "\",\"device_id\":\"%0129d\"}", 0);
	CHECK_EQ_INT(code_of(longdev, N), FRAMES_BAD_FRAME);

	/* then a call id that is not a UUID is not_found, with the call id kept */
	CHECK_EQ_INT(dec("{\"type\":\"call.end\",\"call_id\":\"not-a-uuid\"}", N, &f), FRAMES_NOT_FOUND);
	CHECK_EQ_STR(f.call_id, "not-a-uuid");
	CHECK_EQ_STR(f.type_name, "call.end");
	frames_in_clear(&f);

	/* depth is checked before parsing; brackets inside strings do not count */
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	CHECK_EQ_INT(frames_decode(deep, sizeof(deep), C, &f, &(const char *){NULL}), FRAMES_BAD_JSON);
	frames_in_clear(&f);
	CHECK_EQ_INT(frames_depth("{\"a\":\"[[[[[[\"}", 13, 32), 1);
	CHECK_EQ_INT(frames_depth("{\"a\":\"\\\"[[[[\"}", 14, 32), 1);
	CHECK_EQ_INT(frames_depth("[[[]]]", 6, 32), 3);
	CHECK_EQ_INT(code_of("{\"type\":\"chat.x\",\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", C), FRAMES_BAD_JSON);
	CHECK_EQ_INT(code_of("{\"type\":\"chat.x\",\"a\":[[[[[[[[[[1]]]]]]]]]]}", C), FRAMES_OK);

	/* duplicate keys are refused (no ambiguity about which "type" counts) */
	CHECK_EQ_INT(code_of("{\"type\":\"ping\",\"type\":\"call.end\"}", N), FRAMES_BAD_JSON);

	/* the error frame: code, message, ref, call_id */
	json_t *e = frames_error(FRAMES_INVALID_STATE, "second answer", "call.answer", CID);
	size_t len = 0;
	char *s = frames_dump(e, &len);
	CHECK_EQ_STR(s, "{\"type\":\"error\",\"code\":\"invalid_state\",\"message\":\"second answer\",\"ref\":\"call.answer\",\"call_id\":\"" CID "\"}");
	CHECK_EQ_INT(len, strlen(s));
	free(s);
	json_decref(e);
	e = frames_error(FRAMES_BAD_JSON, NULL, NULL, NULL);
	s = frames_dump(e, NULL);
	CHECK_EQ_STR(s, "{\"type\":\"error\",\"code\":\"bad_json\",\"message\":\"bad_json\"}");
	free(s);
	json_decref(e);
	CHECK_EQ_STR(frames_code_name(FRAMES_RATE_LIMITED), "rate_limited");
	CHECK_EQ_STR(frames_code_name(FRAMES_UNAVAILABLE), "unavailable");
	CHECK_EQ_STR(frames_code_name(99), "internal");

	return check_done("test_frames");
}
