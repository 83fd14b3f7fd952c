/* health (bridge/rules/health.c): the decision (probe result, room left,
 * recent failures) and the shell over a real SQLite store (":memory:": the
 * probe writes, the room is unknown). */
#include <string.h>

#include "check.h"
#include "health.h"
#include "metrics.h"

int main(void)
{
	struct health h;
	health_init(&h);
	CHECK(health_probe_due(&h, 1));
	health_note_probe(&h, 1000, true, 10 * HEALTH_MIN_FREE_BYTES);
	CHECK(!health_probe_due(&h, 1000 + HEALTH_PROBE_EVERY_MS - 1));
	CHECK(health_probe_due(&h, 1000 + HEALTH_PROBE_EVERY_MS));
	CHECK(health_store_problem(&h, 1000, 0) == NULL);
	/* a failed statement counts for the window, then no more */
	CHECK(health_store_problem(&h, 1000, 900) != NULL);
	CHECK(health_store_problem(&h, 900 + HEALTH_FAILURE_WINDOW_MS - 1, 900) != NULL);
	CHECK(health_store_problem(&h, 900 + HEALTH_FAILURE_WINDOW_MS, 900) == NULL);
	/* a full file system, a write that did not commit */
	health_note_probe(&h, 2000, true, HEALTH_MIN_FREE_BYTES - 1);
	CHECK(health_store_problem(&h, 2000, 0) != NULL);
	health_note_probe(&h, 3000, true, -1); /* unknown room: not a problem */
	CHECK(health_store_problem(&h, 3000, 0) == NULL);
	health_note_probe(&h, 4000, false, 10 * HEALTH_MIN_FREE_BYTES);
	CHECK(health_store_problem(&h, 4000, 0) != NULL);
	health_note_probe(&h, 5000, true, HEALTH_MIN_FREE_BYTES);
	CHECK(health_store_problem(&h, 5000, 0) == NULL);

	/* the shell: the probe writes its row in a real store */
	struct store *st;
	CHECK_EQ_INT(store_open(":memory:", &st), STORE_OK);
	CHECK_EQ_INT(store_health_write(st, 1234), STORE_OK);
	CHECK_EQ_INT(store_committed_at(st), 0); /* no WAL in memory */
	CHECK_EQ_INT(store_health_write(st, 1235), STORE_OK); /* the one row again */
	CHECK_EQ_INT(store_free_bytes(st), -1);
	CHECK_EQ_INT(store_failed_at(st), 0);
	health_init(&h);
	CHECK(health_check(&h, st, 1236) == NULL);
	CHECK_EQ_INT(metrics_rules.store_ok, 1);
	CHECK(metrics_rules.store_write[METRICS_STORE_BUCKETS] > 0); /* the writes were timed */
	store_close(st);
	return check_done("test_health");
}
