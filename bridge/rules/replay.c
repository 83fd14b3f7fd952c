/* replay: the ringing calls' copies kept, and handed out again; see replay.h. */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "topics.h"

static int kind_of(const json_t *frame, enum store_ring *kind)
{
	const char *type = json_string_value(json_object_get(frame, "type"));
	if (!type)
		return -1;
	if (!strcmp(type, "call.incoming"))
		*kind = STORE_RING_INCOMING;
	else if (!strcmp(type, "call.offer"))
		*kind = STORE_RING_OFFER;
	else if (!strcmp(type, "call.ice_candidate"))
		*kind = STORE_RING_ICE;
	else
		return -1;
	return 0;
}

int replay_keep(struct store *st, const struct calls_call *call, const struct router_out *out, size_t from)
{
	char topic[TOPICS_MAX];
	if (call->state != CALLS_RINGING ||
	    topics_build(TOPICS_USER_NOTIFICATIONS, call->receiver_id, topic, sizeof(topic)) != 0)
		return 0;
	int rc = 0;
	for (size_t i = from; i < out->n; i++) {
		const struct router_pub *p = &out->pub[i];
		enum store_ring kind;
		if (strcmp(p->topic, topic) || p->for_device || kind_of(p->payload, &kind) != 0)
			continue;
		size_t len = 0;
		char *text = frames_dump(p->payload, &len);
		int kept = text ? store_ring_keep(st, call->id, kind, text, len, REPLAY_ICE_MAX) : STORE_EDB;
		free(text);
		if (kept < 0) {
			log_warn("%s: call %s: a copy for a late device of %s was not kept", __func__, call->id,
				 call->receiver_id);
			rc = -1;
		} else if (!kept) {
			log_debug("call %s: over %d candidates kept, this one is not replayed", call->id, REPLAY_ICE_MAX);
		}
	}
	return rc;
}

struct walk {
	void (*fn)(json_t *frame, int64_t ring_deadline, void *arg);
	void *arg;
	const char *uid;
	size_t bytes;
	int n;
};

static bool one(const char *payload, size_t len, int64_t ring_deadline, void *arg)
{
	struct walk *w = arg;
	if (w->bytes + len > REPLAY_MAX_BYTES) {
		log_warn("replay for %s: over %d bytes, the rest is left out", w->uid, REPLAY_MAX_BYTES);
		return false;
	}
	json_t *frame = json_loadb(payload, len, 0, NULL);
	if (!frame)
		return true; /* we wrote it: cannot happen */
	w->bytes += len;
	w->n++;
	w->fn(frame, ring_deadline, w->arg);
	return true;
}

int replay_each(struct store *st, const char *uid, int64_t now_ms,
		void (*fn)(json_t *frame, int64_t ring_deadline, void *arg), void *arg)
{
	struct walk w = {.fn = fn, .arg = arg, .uid = uid};
	if (store_ring_each(st, uid, now_ms, one, &w) != STORE_OK)
		return -1;
	return w.n;
}
