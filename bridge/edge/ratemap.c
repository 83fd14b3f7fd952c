/* ratemap: key -> bucket in an hmap, with a recency list for eviction. */
#include "ratemap.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "hmap.h"

struct entry {
	lws_dll2_t lru;   /* most recently used at the tail */
	int64_t tokens_ms; /* tokens, in ms of refill: burst is burst * ms_per_token */
	int64_t at_ms;
	char key[];
};

struct ratemap {
	int burst;
	int64_t ms_per_token;
	size_t max_keys;
	struct hmap *keys;
	lws_dll2_owner_t lru;
};

struct ratemap *ratemap_new(int burst, int64_t ms_per_token, size_t max_keys)
{
	struct ratemap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->burst = burst < 1 ? 1 : burst;
	m->ms_per_token = ms_per_token < 1 ? 1 : ms_per_token;
	m->max_keys = max_keys < 1 ? 1 : max_keys;
	m->keys = hmap_new();
	if (!m->keys) {
		free(m);
		return NULL;
	}
	return m;
}

static void forget(struct ratemap *m, struct entry *e)
{
	lws_dll2_remove(&e->lru);
	hmap_del(m->keys, e->key);
	free(e);
}

void ratemap_free(struct ratemap *m)
{
	if (!m)
		return;
	while (m->lru.head)
		forget(m, lws_container_of(m->lru.head, struct entry, lru));
	hmap_free(m->keys);
	free(m);
}

size_t ratemap_count(const struct ratemap *m)
{
	return hmap_count(m->keys);
}

bool ratemap_take(struct ratemap *m, const char *key, int64_t now_ms, int *retry_after_s)
{
	int64_t full = (int64_t)m->burst * m->ms_per_token;
	struct entry *e = hmap_get(m->keys, key);
	if (e) {
		if (now_ms > e->at_ms)
			e->tokens_ms += now_ms - e->at_ms;
		if (e->tokens_ms > full)
			e->tokens_ms = full;
		e->at_ms = now_ms;
		lws_dll2_remove(&e->lru);
	} else {
		size_t n = strlen(key);
		if (hmap_count(m->keys) >= m->max_keys && m->lru.head)
			forget(m, lws_container_of(m->lru.head, struct entry, lru));
		e = calloc(1, sizeof(*e) + n + 1);
		if (!e)
			return true; /* out of memory: do not refuse for it */
		memcpy(e->key, key, n + 1);
		e->tokens_ms = full;
		e->at_ms = now_ms;
		if (hmap_put(m->keys, e->key, e) != 0) {
			free(e);
			return true;
		}
	}
	lws_dll2_add_tail(&e->lru, &m->lru);
	if (e->tokens_ms < m->ms_per_token) {
		if (retry_after_s) {
			int64_t wait = m->ms_per_token - e->tokens_ms;
			*retry_after_s = (int)((wait + 999) / 1000);
		}
		return false;
	}
	e->tokens_ms -= m->ms_per_token;
	return true;
}
