/* health: the store's health for "ping"; see health.h. */
#include "health.h"

#include <inttypes.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

void health_init(struct health *h)
{
	h->probed_at = 0;
	h->write_ok = false;
	h->free_bytes = -1;
	h->failing = false;
}

bool health_probe_due(const struct health *h, int64_t now_ms)
{
	return !h->probed_at || now_ms - h->probed_at >= HEALTH_PROBE_EVERY_MS;
}

void health_note_probe(struct health *h, int64_t now_ms, bool write_ok, int64_t free_bytes)
{
	h->probed_at = now_ms ? now_ms : 1;
	h->write_ok = write_ok;
	h->free_bytes = free_bytes;
}

const char *health_store_problem(const struct health *h, int64_t now_ms, int64_t failed_at)
{
	if (!h->write_ok)
		return "the store cannot commit a write";
	if (h->free_bytes >= 0 && h->free_bytes < HEALTH_MIN_FREE_BYTES)
		return "the database's file system is (nearly) full";
	if (failed_at && now_ms - failed_at < HEALTH_FAILURE_WINDOW_MS)
		return "a store statement failed in the last seconds";
	return NULL;
}

const char *health_check(struct health *h, struct store *st, int64_t now_wall_ms)
{
	int64_t now = clock_mono_ms();
	if (health_probe_due(h, now)) {
		int64_t committed_at = store_committed_at(st);
		bool ok = (committed_at && now - committed_at < HEALTH_PROBE_EVERY_MS) ||
			  store_health_write(st, now_wall_ms) == STORE_OK;
		health_note_probe(h, now, ok, store_free_bytes(st));
	}
	const char *why = health_store_problem(h, now, store_failed_at(st));
	if (!why != !h->failing) {
		if (why)
			log_error("store failing: %s (%" PRId64 " bytes free)", why, h->free_bytes);
		else
			log_info("store writable again (%" PRId64 " bytes free)", h->free_bytes);
	}
	h->failing = why != NULL;
	metrics_rules.store_ok = why ? 0 : 1;
	return why;
}
