/* presence: svc/presence/<source> events into the store. */
#include "presence.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ids.h"
#include "log.h"
#include "topics.h"

static int snapshot(struct store *st, const char *source, const json_t *list)
{
	size_t n = json_array_size(list);
	if (n > PRESENCE_MAX_SNAPSHOT) {
		log_warn("%s: snapshot of %s names %zu users, over %d", __func__, source, n, PRESENCE_MAX_SNAPSHOT);
		return -1;
	}
	char(*ids)[IDS_MAX + 1] = calloc(n ? n : 1, sizeof(*ids));
	const char **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	int rc = -1;
	if (!ids || !ptrs)
		goto out;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (ids_from_json(json_array_get(list, i), ids[k]) == 0) {
			ptrs[k] = ids[k];
			k++;
		}
	rc = store_presence_snapshot(st, source, ptrs, k) == STORE_OK ? 0 : -1;
	log_debug("presence snapshot of %s: %zu online", source, k);
out:
	free(ids);
	free(ptrs);
	return rc;
}

/* The absences of accepted calls after a presence change of uid (NULL: anyone). */
static int sync(struct store *st, const char *uid, int64_t now_ms)
{
	int changed = 0;
	if (store_calls_presence_sync(st, uid, now_ms, &changed) != STORE_OK)
		return -1;
	if (changed)
		log_debug("presence of %s: %d accepted call(s) changed absences", uid ? uid : "everyone", changed);
	return 0;
}

int presence_handle(struct store *st, const char *source, const char *payload, size_t len, int64_t now_ms,
		    char *replay_uid)
{
	json_error_t err;
	json_t *j = json_loadb(payload, len, 0, &err);
	int rc = -1;
	char uid[IDS_MAX + 1];
	const json_t *list = json_object_get(j, "snapshot");
	const json_t *online = json_object_get(j, "online");
	const json_t *subscribed = json_object_get(j, "subscribed");
	if (replay_uid)
		replay_uid[0] = '\0';
	if (json_is_true(subscribed) && !strcmp(source, TOPICS_PRESENCE_MQTT) &&
	    ids_from_json(json_object_get(j, "user_id"), uid) == 0) {
		/* Only the plugin sees MQTT subscriptions; a bridge asks for its sockets' replay itself. */
		const char *device = json_string_value(json_object_get(j, "device"));
		log_debug("presence %s: %s subscribed (device %s)", source, uid, device ? device : "unknown");
		if (replay_uid)
			memcpy(replay_uid, uid, sizeof(uid));
		rc = 0;
	} else if (json_is_array(list)) {
		rc = snapshot(st, source, list);
		if (rc == 0)
			rc = sync(st, NULL, now_ms);
	} else if (json_is_boolean(online) && ids_from_json(json_object_get(j, "user_id"), uid) == 0) {
		rc = store_presence_set(st, source, uid, json_is_true(online)) == STORE_OK ? 0 : -1;
		if (rc == 0)
			rc = sync(st, uid, now_ms);
		log_debug("presence %s: %s %s", source, uid, json_is_true(online) ? "online" : "offline");
	} else {
		log_warn("%s: ignoring a presence message of %s that is neither an event nor a snapshot", __func__,
			 source);
	}
	json_decref(j);
	return rc;
}
