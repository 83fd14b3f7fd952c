/* fuzz_frames: the client frame decoder (bridge/common/frames.h).
 *
 * Input: one byte of choices (the frames_depth limit), then the frame.
 * Each input is decoded as a chat frame and as a notification frame, and
 * the results are held to the contract of frames.h and PROTOCOL.md
 * "Fine print":
 *   - the code is one the decoder may answer, and both origins agree except
 *     that a non-call, non-ping type is OK only on a chat socket;
 *   - an accepted frame is an object with a non-empty string type, a call
 *     frame has a UUID call_id, and nothing deeper than FRAMES_MAX_DEPTH
 *     gets through;
 *   - frames_depth never reports more than limit + 1, and on JSON that
 *     jansson parses it equals the real nesting of the tree;
 *   - the error frame built from a refusal serialises. */
#include <jansson.h>

#include "frames.h"
#include "fuzz_input.h"
#include "ids.h"

#define FUZZ_MAX_INPUT (FRAMES_MAX_SIZE + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nesting of j: 0 for a scalar, 1 + the deepest child for a container.
 * jansson caps its own parse depth, so the recursion is bounded. */
static int tree_depth(const json_t *j)
{
	int max = 0;
	if (json_is_object(j)) {
		const char *k;
		const json_t *v;
		json_object_foreach ((json_t *)j, k, v) {
			int d = tree_depth(v);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(j)) {
		size_t i;
		const json_t *v;
		json_array_foreach (j, i, v) {
			int d = tree_depth(v);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

static bool code_possible(int code)
{
	return code == FRAMES_OK || code == FRAMES_BAD_JSON || code == FRAMES_BAD_FRAME ||
	       code == FRAMES_UNKNOWN_TYPE || code == FRAMES_NOT_FOUND;
}

/* Holds one decode result to the contract; returns its code. */
static int check_decode(const char *buf, size_t len, enum frames_origin origin, enum frames_type *type)
{
	struct frames_in f;
	const char *why = "unset";
	int code = frames_decode(buf, len, origin, &f, &why);
	FUZZ_ASSERT(code_possible(code));
	FUZZ_ASSERT((code == FRAMES_OK) == (why == NULL));
	*type = f.type;
	if (code == FRAMES_OK) {
		FUZZ_ASSERT(json_is_object(f.root));
		FUZZ_ASSERT(f.type_name && f.type_name[0]);
		FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(f.root, "type")), f.type_name));
		FUZZ_ASSERT(tree_depth(f.root) <= FRAMES_MAX_DEPTH);
		if (frames_is_call_type(f.type)) {
			FUZZ_ASSERT(ids_is_uuid(f.call_id));
		} else {
			FUZZ_ASSERT(f.call_id == NULL);
			if (f.type == FRAMES_T_OTHER) {
				FUZZ_ASSERT(origin == FRAMES_FROM_CHAT);
				FUZZ_ASSERT(strncmp(f.type_name, "call.", 5) != 0);
			}
		}
	} else {
		/* What the bridge and rules answer with: it must always build. */
		json_t *e = frames_error(code, why, f.type_name, f.call_id);
		FUZZ_ASSERT(e != NULL);
		size_t n = 0;
		char *s = frames_dump(e, &n);
		FUZZ_ASSERT(s != NULL && n > 0);
		free(s);
		json_decref(e);
	}
	frames_in_clear(&f);
	FUZZ_ASSERT(f.root == NULL);
	return code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	struct fuzz_input in = {data, size};
	int limit = fuzz_byte(&in) % (FRAMES_MAX_DEPTH * 2);
	const char *buf = (const char *)in.p;
	size_t len = in.n;

	int d = frames_depth(buf, len, limit);
	FUZZ_ASSERT(d >= 0 && d <= limit + 1);

	/* Duplicate keys would let the tree hide a nested value the text has. */
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (j) {
		FUZZ_ASSERT(frames_depth(buf, len, 1 << 20) == tree_depth(j));
		json_decref(j);
	}

	enum frames_type tc, tn;
	int chat = check_decode(buf, len, FRAMES_FROM_CHAT, &tc);
	int notify = check_decode(buf, len, FRAMES_FROM_NOTIFY, &tn);
	if (chat != notify)
		FUZZ_ASSERT(tc == FRAMES_T_OTHER && chat == FRAMES_OK && notify == FRAMES_UNKNOWN_TYPE);
	return 0;
}
