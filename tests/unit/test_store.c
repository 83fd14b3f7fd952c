/* test_store: the SQLite store on an in-memory database (and a temp file
 * for what must survive a restart): conversations, calls, history order
 * and cursor, busy / glare look-ups, ring deadlines, presence. With
 * RINGMQ_TEST_PG set to a conninfo (tests/integration/pgserver.py sets
 * one), the same checks again on the PostgreSQL store, whose database is
 * emptied first; without it, a line says they were skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "storefix.h"
#include "store.h"

static struct calls_call make_call(const char *id, const char *caller, const char *receiver, int64_t created,
				   enum calls_state s)
{
	struct calls_call c;
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.caller_id, sizeof(c.caller_id), "%s", caller);
	snprintf(c.caller_username, sizeof(c.caller_username), "%s name", caller);
	snprintf(c.receiver_id, sizeof(c.receiver_id), "%s", receiver);
	strcpy(c.call_type, "voice");
	strcpy(c.conversation_id, "c1");
	c.state = s;
	c.created_at = created;
	c.ring_deadline = created + 45000;
	return c;
}

/* A UUID whose last digits are n. */
static const char *uuid(int n)
{
	static char buf[8][IDS_UUID_LEN + 1];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, IDS_UUID_LEN + 1, "00000000-0000-4000-8000-%012d", n);
	return b;
}

static void test_conversations(struct store *st)
{
	const char *m1[] = {"alice", "bob", "bob"};
	bool created = false;
	CHECK_EQ_INT(store_conversation_exists(st, "c1"), 0);
	CHECK_EQ_INT(store_member(st, "c1", "alice"), 0);
	CHECK_EQ_INT(store_conversation_put(st, "c1", m1, 3, &created), STORE_OK);
	CHECK(created);
	CHECK_EQ_INT(store_conversation_exists(st, "c1"), 1);
	CHECK_EQ_INT(store_member(st, "c1", "alice"), 1);
	CHECK_EQ_INT(store_member(st, "c1", "bob"), 1);
	CHECK_EQ_INT(store_member(st, "c1", "eve"), 0);
	const char *m2[] = {"alice", "eve"};
	CHECK_EQ_INT(store_conversation_put(st, "c1", m2, 2, &created), STORE_OK);
	CHECK(!created);
	CHECK_EQ_INT(store_member(st, "c1", "bob"), 0);
	CHECK_EQ_INT(store_member(st, "c1", "eve"), 1);
	CHECK_EQ_INT(store_conversation_put(st, "c2", NULL, 0, &created), STORE_OK);
	CHECK(created);
	CHECK_EQ_INT(store_conversation_delete(st, "c2"), STORE_OK);
	CHECK_EQ_INT(store_conversation_delete(st, "c2"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_conversation_delete(st, "c1"), STORE_OK);
	CHECK_EQ_INT(store_member(st, "c1", "alice"), 0);
	/* A deleted conversation's members do not come back with a new one. */
	CHECK_EQ_INT(store_conversation_put(st, "c1", NULL, 0, &created), STORE_OK);
	CHECK(created);
	CHECK_EQ_INT(store_member(st, "c1", "alice"), 0);
}

static void test_call_roundtrip(struct store *st)
{
	struct calls_call c = make_call(uuid(1), "alice", "bob", 1000, CALLS_RINGING), got;
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_EEXISTS);
	CHECK_EQ_INT(store_call_get(st, uuid(1), &got), STORE_OK);
	CHECK(!memcmp(&c, &got, sizeof(c)));
	CHECK_EQ_INT(store_call_get(st, uuid(999), &got), STORE_ENOTFOUND);

	c.state = CALLS_ACCEPTED;
	c.answered_at = 2000;
	strcpy(c.answered_device, "d-bob");
	CHECK_EQ_INT(store_call_update(st, &c), STORE_OK);
	CHECK_EQ_INT(store_call_get(st, uuid(1), &got), STORE_OK);
	CHECK_EQ_INT(got.state, CALLS_ACCEPTED);
	CHECK_EQ_INT(got.answered_at, 2000);
	CHECK_EQ_STR(got.answered_device, "d-bob");
	CHECK_EQ_INT(got.ended_at, 0);
	CHECK_EQ_STR(got.ended_by, "");

	CHECK_EQ_INT(store_call_busy(st, "alice"), 1);
	CHECK_EQ_INT(store_call_busy(st, "bob"), 1);
	CHECK_EQ_INT(store_call_busy(st, "eve"), 0);

	c.state = CALLS_ENDED;
	c.ended_at = 3000;
	strcpy(c.end_reason, "hangup");
	strcpy(c.ended_by, "bob");
	CHECK_EQ_INT(store_call_update(st, &c), STORE_OK);
	CHECK_EQ_INT(store_call_get(st, uuid(1), &got), STORE_OK);
	CHECK(!memcmp(&c, &got, sizeof(c)));
	CHECK_EQ_INT(store_call_busy(st, "alice"), 0);

	struct calls_call ghost = make_call(uuid(998), "a", "b", 1, CALLS_ENDED);
	CHECK_EQ_INT(store_call_update(st, &ghost), STORE_ENOTFOUND);
}

static void test_ringing_and_deadlines(struct store *st)
{
	struct calls_call got;
	int64_t deadline = 0;
	CHECK_EQ_INT(store_call_ringing_between(st, "carol", "dave", &got), 0);
	CHECK_EQ_INT(store_next_deadline(st, &deadline), 0);
	CHECK_EQ_INT(store_call_overdue(st, 1000000, &got), 0);

	struct calls_call a = make_call(uuid(10), "carol", "dave", 5000, CALLS_RINGING);
	struct calls_call b = make_call(uuid(11), "erin", "dave", 6000, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &a), STORE_OK);
	CHECK_EQ_INT(store_call_insert(st, &b), STORE_OK);
	/* Either direction finds it; another pair does not. */
	CHECK_EQ_INT(store_call_ringing_between(st, "carol", "dave", &got), 1);
	CHECK_EQ_STR(got.id, uuid(10));
	CHECK_EQ_INT(store_call_ringing_between(st, "dave", "carol", &got), 1);
	CHECK_EQ_STR(got.id, uuid(10));
	CHECK_EQ_INT(store_call_ringing_between(st, "carol", "erin", &got), 0);

	CHECK_EQ_INT(store_next_deadline(st, &deadline), 1);
	CHECK_EQ_INT(deadline, 50000);
	CHECK_EQ_INT(store_call_overdue(st, 49999, &got), 0);
	CHECK_EQ_INT(store_call_overdue(st, 60000, &got), 1);
	CHECK_EQ_STR(got.id, uuid(10));
	/* Once it is no longer ringing it is not overdue again. */
	CHECK_EQ_INT(calls_expire(&got, 60000), 0);
	CHECK_EQ_INT(store_call_update(st, &got), STORE_OK);
	CHECK_EQ_INT(store_call_overdue(st, 60000, &got), 1);
	CHECK_EQ_STR(got.id, uuid(11));
	CHECK_EQ_INT(calls_expire(&got, 60000), 0);
	CHECK_EQ_INT(store_call_update(st, &got), STORE_OK);
	CHECK_EQ_INT(store_call_overdue(st, 60000, &got), 0);
	CHECK_EQ_INT(store_next_deadline(st, &deadline), 0);
	CHECK_EQ_INT(store_call_ringing_between(st, "carol", "dave", &got), 0);
}

static void test_history(struct store *st)
{
	/* frank takes part in 25 calls, both roles; three share a created_at. */
	for (int i = 0; i < 25; i++) {
		int64_t t = 100000 + (i < 3 ? 0 : i) * 10;
		struct calls_call c = i % 2 ? make_call(uuid(100 + i), "frank", "gina", t, CALLS_MISSED)
					    : make_call(uuid(100 + i), "gina", "frank", t, CALLS_MISSED);
		CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	}
	struct calls_call other = make_call(uuid(200), "gina", "hank", 999999, CALLS_MISSED);
	CHECK_EQ_INT(store_call_insert(st, &other), STORE_OK);

	struct calls_call page[11];
	size_t n = 0, total = 0;
	int64_t before_ms = 0;
	char before_id[IDS_UUID_LEN + 1] = "";
	int64_t last_t = INT64_MAX;
	char last_id[IDS_UUID_LEN + 1] = "zzzz";
	bool first = true;
	do {
		CHECK_EQ_INT(store_calls_list(st, "frank", before_ms, first ? NULL : before_id, page, 10, &n), STORE_OK);
		for (size_t i = 0; i < n; i++) {
			/* Strictly newest first, ties broken by id, never repeated. */
			CHECK(page[i].created_at < last_t || (page[i].created_at == last_t && strcmp(page[i].id, last_id) < 0));
			CHECK(!strcmp(page[i].caller_id, "frank") || !strcmp(page[i].receiver_id, "frank"));
			last_t = page[i].created_at;
			strcpy(last_id, page[i].id);
		}
		total += n;
		if (n) {
			before_ms = page[n - 1].created_at;
			strcpy(before_id, page[n - 1].id);
		}
		first = false;
	} while (n == 10);
	CHECK_EQ_INT(total, 25);
	CHECK_EQ_INT(store_calls_list(st, "nobody", 0, NULL, page, 10, &n), STORE_OK);
	CHECK_EQ_INT(n, 0);
	/* The newest of frank's calls comes first. */
	CHECK_EQ_INT(store_calls_list(st, "frank", 0, NULL, page, 1, &n), STORE_OK);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_STR(page[0].id, uuid(124));
}

static void test_presence(struct store *st)
{
	CHECK_EQ_INT(store_presence_online(st, "ivy"), 0);
	CHECK_EQ_INT(store_presence_set(st, "b-1", "ivy", true), STORE_OK);
	CHECK_EQ_INT(store_presence_set(st, "b-1", "ivy", true), STORE_OK); /* idempotent */
	CHECK_EQ_INT(store_presence_set(st, "mqtt", "ivy", true), STORE_OK);
	CHECK_EQ_INT(store_presence_online(st, "ivy"), 1);
	CHECK_EQ_INT(store_presence_set(st, "b-1", "ivy", false), STORE_OK);
	CHECK_EQ_INT(store_presence_online(st, "ivy"), 1); /* still on mqtt */
	CHECK_EQ_INT(store_presence_set(st, "mqtt", "ivy", false), STORE_OK);
	CHECK_EQ_INT(store_presence_online(st, "ivy"), 0);

	const char *snap[] = {"ivy", "jack"};
	CHECK_EQ_INT(store_presence_snapshot(st, "b-2", snap, 2), STORE_OK);
	CHECK_EQ_INT(store_presence_set(st, "b-3", "kim", true), STORE_OK);
	CHECK_EQ_INT(store_presence_online(st, "jack"), 1);
	const char *snap2[] = {"jack"};
	CHECK_EQ_INT(store_presence_snapshot(st, "b-2", snap2, 1), STORE_OK);
	CHECK_EQ_INT(store_presence_online(st, "ivy"), 0);
	CHECK_EQ_INT(store_presence_online(st, "jack"), 1);
	/* A dead bridge's will: an empty snapshot clears only that bridge. */
	CHECK_EQ_INT(store_presence_snapshot(st, "b-2", NULL, 0), STORE_OK);
	CHECK_EQ_INT(store_presence_online(st, "jack"), 0);
	CHECK_EQ_INT(store_presence_online(st, "kim"), 1);
}

static int64_t absent(struct store *st, const char *id, bool caller)
{
	struct calls_call c;
	CHECK_EQ_INT(store_call_get(st, id, &c), STORE_OK);
	return caller ? c.caller_absent_since : c.receiver_absent_since;
}

/* Absences of accepted calls follow the presence table; the watch look-ups
 * find the longest absences and the oldest answer. */
static void test_watch(struct store *st)
{
	struct calls_call got;
	struct calls_call c = make_call(uuid(400), "nia", "oto", 9000, CALLS_ACCEPTED);
	c.answered_at = 9500;
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	struct calls_call r = make_call(uuid(401), "nia", "pam", 9100, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &r), STORE_OK);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_CALLER_ABSENT, &got), 0);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_ANSWERED, &got), 1);
	CHECK_EQ_STR(got.id, uuid(400));

	/* oto is online, nia nowhere: only nia is absent, and only on the accepted call. */
	CHECK_EQ_INT(store_presence_set(st, "b-1", "oto", true), STORE_OK);
	int changed = -1;
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 10000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 1);
	CHECK_EQ_INT(absent(st, uuid(400), true), 10000);
	CHECK_EQ_INT(absent(st, uuid(400), false), 0);
	CHECK_EQ_INT(absent(st, uuid(401), true), 0);
	/* Again later: the start of the absence is kept, nothing is written. */
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 12000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(absent(st, uuid(400), true), 10000);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_CALLER_ABSENT, &got), 1);
	CHECK_EQ_STR(got.id, uuid(400));
	CHECK_EQ_INT(got.caller_absent_since, 10000);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_RECEIVER_ABSENT, &got), 0);

	/* nia's phone comes (mqtt), oto's tab goes: per-user syncs. */
	CHECK_EQ_INT(store_presence_set(st, "mqtt", "nia", true), STORE_OK);
	CHECK_EQ_INT(store_presence_set(st, "b-1", "oto", false), STORE_OK);
	CHECK_EQ_INT(store_calls_presence_sync(st, "someone-else", 13000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(store_calls_presence_sync(st, "oto", 13000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 1);
	CHECK_EQ_INT(absent(st, uuid(400), true), 0);
	CHECK_EQ_INT(absent(st, uuid(400), false), 13000);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_RECEIVER_ABSENT, &got), 1);
	CHECK_EQ_STR(got.id, uuid(400));

	/* An ended call leaves the watch, whatever its columns say. */
	CHECK_EQ_INT(store_call_get(st, uuid(400), &c), STORE_OK);
	c.state = CALLS_ENDED;
	c.ended_at = 14000;
	CHECK_EQ_INT(store_call_update(st, &c), STORE_OK);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_RECEIVER_ABSENT, &got), 0);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_ANSWERED, &got), 0);
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 15000, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(store_presence_set(st, "mqtt", "nia", false), STORE_OK);
}

/* No automatic checkpoint: the WAL grows with commits until the loop
 * checkpoints it; after a checkpoint the next commit reuses it from the
 * start, and the data is all there. */
static void test_checkpoint(void)
{
	char path[] = "/tmp/ringmq-test-store-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	if (!st)
		return;
	int before = store_wal_pages(st);
	for (int i = 0; i < 300; i++) {
		struct calls_call c = make_call(uuid(1000 + i), "pia", "quin", 20000 + i, CALLS_RINGING);
		CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	}
	int grown = store_wal_pages(st);
	CHECK(grown > before);
	CHECK(grown > 100); /* past where nothing but autocheckpoint=0 lets it get (a commit a page or more) */
	CHECK_EQ_INT(store_checkpoint(st), STORE_OK);
	CHECK_EQ_INT(store_wal_pages(st), 0);
	struct calls_call c = make_call(uuid(1300), "pia", "quin", 30000, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	CHECK(store_wal_pages(st) > 0 && store_wal_pages(st) < grown);
	struct calls_call got;
	CHECK_EQ_INT(store_call_get(st, uuid(1000), &got), STORE_OK);
	store_close(st);
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	CHECK_EQ_INT(store_call_get(st, uuid(1299), &got), STORE_OK);
	CHECK_EQ_INT(store_call_get(st, uuid(1300), &got), STORE_OK);
	store_close(st);
	unlink(path);
	char side[sizeof(path) + 8];
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

/* A database made before the absence columns opens and gains them. */
static void test_migration(void)
{
	char path[] = "/tmp/ringmq-test-store-old-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	sqlite3 *db = NULL;
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db,
				  "CREATE TABLE calls (id TEXT PRIMARY KEY, caller_id TEXT NOT NULL, caller_username TEXT"
				  " NOT NULL, receiver_id TEXT NOT NULL, call_type TEXT NOT NULL, conversation_id TEXT NOT"
				  " NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, answered_at INTEGER, ended_at"
				  " INTEGER, end_reason TEXT, ended_by TEXT, ring_deadline INTEGER, answered_device TEXT);"
				  "INSERT INTO calls VALUES ('00000000-0000-4000-8000-000000000500', 'qi', 'Qi', 'ro',"
				  " 'voice', 'c1', 'accepted', 1, 2, NULL, NULL, NULL, 45001, 'd');",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	struct calls_call got;
	CHECK_EQ_INT(store_call_get(st, uuid(500), &got), STORE_OK);
	CHECK_EQ_INT(got.state, CALLS_ACCEPTED);
	CHECK_EQ_INT(got.caller_absent_since, 0);
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 3000, NULL), STORE_OK);
	CHECK_EQ_INT(store_call_watch_first(st, STORE_WATCH_CALLER_ABSENT, &got), 1);
	CHECK_EQ_INT(got.caller_absent_since, 3000);
	store_close(st);
	/* And opens again (the columns are there now). */
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	CHECK_EQ_INT(store_call_get(st, uuid(500), &got), STORE_OK);
	CHECK_EQ_INT(got.receiver_absent_since, 3000);
	store_close(st);
	/* It is at schema version 1, recorded once. */
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q = NULL;
	CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT group_concat(version) FROM schema_version", -1, &q, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(q), SQLITE_ROW);
	CHECK_EQ_STR((const char *)sqlite3_column_text(q, 0), "1");
	sqlite3_finalize(q);
	sqlite3_close(db);
	char side[sizeof(path) + 8];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

/* Calls, deadlines and absences survive a close and open of path; presence
 * does not. */
static void test_restart(const char *path)
{
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	struct calls_call c = make_call(uuid(300), "lee", "mia", 7000, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	CHECK_EQ_INT(store_presence_set(st, "b-1", "mia", true), STORE_OK);
	struct calls_call acc = make_call(uuid(301), "ned", "ola", 7100, CALLS_ACCEPTED);
	acc.answered_at = 7200;
	CHECK_EQ_INT(store_call_insert(st, &acc), STORE_OK);
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 8000, NULL), STORE_OK);
	store_close(st);

	/* Calls and their deadlines survive; presence (TEMP) does not. */
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	int64_t deadline = 0;
	struct calls_call got;
	CHECK_EQ_INT(store_next_deadline(st, &deadline), 1);
	CHECK_EQ_INT(deadline, 52000);
	CHECK_EQ_INT(store_call_overdue(st, 52000, &got), 1);
	CHECK_EQ_STR(got.id, uuid(300));
	CHECK_EQ_INT(store_presence_online(st, "mia"), 0);
	/* Absences survive too, their start unchanged by the next sync. */
	CHECK_EQ_INT(store_calls_presence_sync(st, NULL, 9000, NULL), STORE_OK);
	CHECK_EQ_INT(absent(st, uuid(301), true), 8000);
	CHECK_EQ_INT(absent(st, uuid(301), false), 8000);
	store_close(st);
	store_close(NULL);
}

/* An event for every call write. */
static int every_write(void *ctx, struct store *st, const struct calls_call *c, bool inserted,
		       struct store_event *out)
{
	int *n = ctx;
	snprintf(out->id, sizeof(out->id), "00000000-0000-4000-9000-%012d", ++*n);
	out->body = strdup("event");
	return out->body ? 1 : -1;
}

/* Two stores on path: the first to ask is active, the other waits until
 * the first is closed; then it is active, its outbox count brought up to
 * date with what the first one queued meanwhile. */
static void test_active(const char *path)
{
	struct store *a = NULL, *b = NULL;
	CHECK_EQ_INT(store_open(path, &a), STORE_OK);
	CHECK_EQ_INT(store_open(path, &b), STORE_OK);
	if (!a || !b)
		return;
	size_t before = store_outbox_count(b);
	CHECK_EQ_INT(store_active_try(a), 1);
	CHECK_EQ_INT(store_active_try(a), 1);
	CHECK_EQ_INT(store_active_try(b), 0);
	CHECK_EQ_INT(store_check(a), STORE_OK);
	int n = 0;
	store_outbox_hook(a, every_write, &n);
	struct calls_call c = make_call(uuid(600), "rae", "sol", 40000, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(a, &c), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(b), before);
	store_close(a);
	/* PostgreSQL ends the closed session's lock as its backend exits:
	 * asked again within a bound (the standby's poll). */
	int got = 0;
	for (int i = 0; i < 100 && (got = store_active_try(b)) == 0; i++)
		usleep(20000);
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_INT(store_outbox_count(b), before + 1);
	store_close(b);
}

static void test_restart_file(void)
{
	char path[] = "/tmp/ringmq-test-store-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	test_restart(path);
	test_active(path);
	char side[sizeof(path) + 16];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-rules.lock", path);
	unlink(side);
}

/* The checks that hold for any store on a store opened on path. */
static void test_all(const char *path)
{
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	if (!st)
		return;
	test_conversations(st);
	test_call_roundtrip(st);
	test_ringing_and_deadlines(st);
	test_history(st);
	test_presence(st);
	test_watch(st);
	store_close(st);
}

/* The PostgreSQL store: the same checks, a restart, and a second open
 * that finds the schema at its version. */
static void test_pg(const char *conninfo)
{
	CHECK(storefix_pg_reset(conninfo));
	test_all(conninfo);
	test_restart(conninfo);
	test_active(conninfo);
	struct store *st = NULL;
	CHECK_EQ_INT(store_open(conninfo, &st), STORE_OK);
	struct calls_call got;
	CHECK_EQ_INT(store_call_get(st, uuid(300), &got), STORE_OK);
	store_close(st);
	CHECK_EQ_INT(store_open("postgresql://127.0.0.1:1/nothing-listens-here", &st), STORE_EDB);
	CHECK(st == NULL);
}

int main(void)
{
	struct store *st = NULL;
	test_all(":memory:");
	CHECK_EQ_INT(store_open(":memory:", &st), STORE_OK);
	CHECK_EQ_INT(store_active_try(st), 1); /* nobody else can open it */
	store_close(st);
	test_restart_file();
	test_checkpoint();
	test_migration();
	CHECK_EQ_INT(store_open("/nonexistent-dir/x/y.db", &st), STORE_EDB);
	CHECK(st == NULL);
	const char *pg = storefix_pg();
	if (pg)
		test_pg(pg);
	else
		printf("test_store: PostgreSQL checks skipped: RINGMQ_TEST_PG is not set"
		       " (tests/integration/pgserver.py build/tests/unit/test_store runs them)\n");
	return check_done("test_store");
}
