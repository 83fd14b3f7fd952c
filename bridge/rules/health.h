/* health: whether rules can write its store, as the answer to the request
 * op "ping" says it (requests.c; the bridges' GET /healthz and /readyz).
 * The store is "failing" when
 *   - the last probe could not commit its tiny write (store_health_write:
 *     one row of table health, in its own transaction; skipped when another
 *     write committed within HEALTH_PROBE_EVERY_MS, which proves as much,
 *     so a busy rules pays nothing), or
 *   - the database's file system has less than HEALTH_MIN_FREE_BYTES left
 *     (a full disk: in WAL mode a write may still land in room the WAL
 *     already holds, but the next growth of the WAL or of the database,
 *     and the checkpoint, fail), or
 *   - any other store statement failed in the last HEALTH_FAILURE_WINDOW_MS.
 * The probe runs at most once per HEALTH_PROBE_EVERY_MS however many
 * bridges ask; in between the last result is used. health_store_problem()
 * is the pure decision; health_check() is the shell that probes the store,
 * logs each change of state once and sets the metrics' store gauge. */
#ifndef RINGMQ_HEALTH_H
#define RINGMQ_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define HEALTH_PROBE_EVERY_MS 1000          /* at most one probe write a second */
#define HEALTH_FAILURE_WINDOW_MS 5000       /* a failed statement this recent: failing */
#define HEALTH_MIN_FREE_BYTES (256 * 1024)  /* less room than this on the db's file system: failing */

struct health {
	int64_t probed_at;   /* monotonic ms of the last probe, 0 = never */
	bool write_ok;       /* its write committed */
	int64_t free_bytes;  /* room it saw, -1 = unknown */
	bool failing;        /* the last answer (to log changes once) */
};

/* A struct health before the first probe. */
void health_init(struct health *h);
/* True when the last probe is older than HEALTH_PROBE_EVERY_MS (or none ran). */
bool health_probe_due(const struct health *h, int64_t now_ms);
/* Takes in a probe's result at now_ms (monotonic). */
void health_note_probe(struct health *h, int64_t now_ms, bool write_ok, int64_t free_bytes);
/* NULL when the store is healthy at now_ms (monotonic), else a short static
 * reason. failed_at: monotonic ms of the last failed statement outside the
 * probe (store_failed_at; 0 = none). Assumes a probe was noted. */
const char *health_store_problem(const struct health *h, int64_t now_ms, int64_t failed_at);

/* Probes st when due (now_wall_ms is what the probe writes), decides, logs
 * a change of state, sets metrics_rules.store_ok. Returns NULL (healthy)
 * or the reason it is not. */
const char *health_check(struct health *h, struct store *st, int64_t now_wall_ms);

#endif
