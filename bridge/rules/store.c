/* store: the contract of store.h, over one of two backends chosen at
 * store_open by the name it is given: a postgresql:// (or postgres://)
 * conninfo opens the PostgreSQL backend (store_pg.c, reached through
 * store_pg.h), anything else is an SQLite file (here). Each public function
 * hands a PostgreSQL store's call to its store_pg_* twin in its first line;
 * the rest of the function is SQLite. What both backends share stays here:
 * the outbox hook, the counters of store_take_changes and
 * store_outbox_count (the store__* functions of store_pg.h).
 *
 * SQLite: every statement is prepared once in store_open and reset after
 * each use; multi-row writes run in one transaction and roll back on
 * failure; so does a call write with the outbox hook set (the call's row
 * and its event). The schema is versioned in schema_version (see
 * migrate()). Writes and commits are timed, failures counted (metrics.h);
 * store_health_write() is health.h's. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "store_pg.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_LOCK_SUFFIX "-rules.lock" /* the SQLite file's side file of store_active_try */

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS conversations ("
	" id TEXT PRIMARY KEY, created_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS members ("
	" conversation_id TEXT NOT NULL, user_id TEXT NOT NULL,"
	" PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS calls ("
	" id TEXT PRIMARY KEY, caller_id TEXT NOT NULL, caller_username TEXT NOT NULL,"
	" receiver_id TEXT NOT NULL, call_type TEXT NOT NULL, conversation_id TEXT NOT NULL,"
	" status TEXT NOT NULL, created_at INTEGER NOT NULL, answered_at INTEGER, ended_at INTEGER,"
	" end_reason TEXT, ended_by TEXT, ring_deadline INTEGER, answered_device TEXT,"
	" caller_absent_since INTEGER, receiver_absent_since INTEGER);"
	"CREATE TABLE IF NOT EXISTS revocations ("
	" user_id TEXT PRIMARY KEY, before INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller_id, created_at DESC, id DESC);"
	"CREATE INDEX IF NOT EXISTS calls_by_receiver ON calls (receiver_id, created_at DESC, id DESC);"
	"CREATE INDEX IF NOT EXISTS calls_ringing ON calls (ring_deadline) WHERE status = 'ringing';"
	"CREATE INDEX IF NOT EXISTS calls_accepted ON calls (caller_id, receiver_id) WHERE status = 'accepted';"
	"CREATE INDEX IF NOT EXISTS calls_accepted_by_receiver ON calls (receiver_id) WHERE status = 'accepted';"
	"CREATE TABLE IF NOT EXISTS webhook_outbox ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, event_id TEXT NOT NULL, body TEXT NOT NULL,"
	" created_at INTEGER NOT NULL, first_at INTEGER, next_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS webhook_outbox_by_call ON webhook_outbox (call_id, seq);"
	"CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_at, seq) WHERE next_at IS NOT NULL;"
	"CREATE TEMP TABLE IF NOT EXISTS presence ("
	" source TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (source, user_id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS temp.presence_by_user ON presence (user_id);"
	"CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);";

/* Run after migrate(): a database made before the absence columns gets
 * them first. */
static const char watch_sql[] =
	"CREATE INDEX IF NOT EXISTS calls_caller_absent ON calls (caller_absent_since)"
	" WHERE status = 'accepted' AND caller_absent_since IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS calls_receiver_absent ON calls (receiver_absent_since)"
	" WHERE status = 'accepted' AND receiver_absent_since IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS calls_answered ON calls (answered_at) WHERE status = 'accepted';";

/* What a device that comes online while a call rings is sent (replay.h):
 * per ringing call the copies rules routed to its receiver, exactly as
 * published. seq 0 is the call.incoming, 1 the caller's latest call.offer
 * (replaced by the next), 2 and up the caller's ICE candidates in the
 * order sent. They go when the call stops ringing (the trigger), whoever
 * ends it. The partial index keeps a replay's look-up off the receiver's
 * history. */
static const char ring_sql[] =
	"CREATE TABLE IF NOT EXISTS ring_frames ("
	" call_id TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL,"
	" PRIMARY KEY (call_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS calls_ringing_by_receiver ON calls (receiver_id, created_at, id)"
	" WHERE status = 'ringing';"
	"CREATE TRIGGER IF NOT EXISTS ring_frames_end AFTER UPDATE OF status ON calls"
	" WHEN NEW.status <> 'ringing' BEGIN DELETE FROM ring_frames WHERE call_id = NEW.id; END;";

#define CALL_COLS                                                                                        \
	"id, caller_id, caller_username, receiver_id, call_type, conversation_id, status, created_at,"   \
	" answered_at, ended_at, end_reason, ended_by, ring_deadline, answered_device, caller_absent_since,"  \
	" receiver_absent_since"

enum stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_CONV_GET,
	S_CONV_INSERT,
	S_CONV_DELETE,
	S_MEMBERS_CLEAR,
	S_MEMBER_INSERT,
	S_MEMBER_GET,
	S_CALL_INSERT,
	S_CALL_GET,
	S_CALL_UPDATE,
	S_CALL_BUSY,
	S_CALL_RINGING_BETWEEN,
	S_CALLS_LIST,
	S_NEXT_DEADLINE,
	S_OVERDUE,
	S_PRESENCE_ON,
	S_PRESENCE_OFF,
	S_PRESENCE_CLEAR,
	S_PRESENCE_GET,
	S_PRESENCE_SYNC,
	S_WATCH_CALLER,
	S_WATCH_RECEIVER,
	S_WATCH_ANSWERED,
	S_REVOKE,
	S_REVOKED_GET,
	S_REVOKED_ALL,
	S_OUTBOX_INSERT,
	S_OUTBOX_HEADS,
	S_OUTBOX_DELETE,
	S_OUTBOX_PROMOTE,
	S_OUTBOX_RETRY,
	S_OUTBOX_COUNT,
	S_RING_PUT,
	S_RING_ICE,
	S_RING_EACH,
	S_HEALTH_WRITE,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_CONV_GET] = "SELECT 1 FROM conversations WHERE id = ?1",
	[S_CONV_INSERT] = "INSERT INTO conversations (id, created_at) VALUES (?1, ?2)",
	[S_CONV_DELETE] = "DELETE FROM conversations WHERE id = ?1",
	[S_MEMBERS_CLEAR] = "DELETE FROM members WHERE conversation_id = ?1",
	[S_MEMBER_INSERT] = "INSERT OR IGNORE INTO members (conversation_id, user_id) VALUES (?1, ?2)",
	[S_MEMBER_GET] = "SELECT 1 FROM members WHERE conversation_id = ?1 AND user_id = ?2",
	[S_CALL_INSERT] = "INSERT INTO calls (" CALL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
			  " ?11, ?12, ?13, ?14, ?15, ?16)",
	[S_CALL_GET] = "SELECT " CALL_COLS " FROM calls WHERE id = ?1",
	[S_CALL_UPDATE] = "UPDATE calls SET status = ?2, answered_at = ?3, ended_at = ?4, end_reason = ?5,"
			  " ended_by = ?6, answered_device = ?7 WHERE id = ?1",
	[S_CALL_BUSY] = "SELECT 1 FROM calls WHERE status = 'accepted' AND (caller_id = ?1 OR receiver_id = ?1)"
			" LIMIT 1",
	[S_CALL_RINGING_BETWEEN] = "SELECT " CALL_COLS " FROM calls WHERE status = 'ringing' AND"
				   " ((caller_id = ?1 AND receiver_id = ?2) OR (caller_id = ?2 AND receiver_id = ?1))"
				   " ORDER BY created_at, id LIMIT 1",
	/* Two index range scans, each bounded by the limit, merged. A call
	 * never has caller = receiver, so no row comes twice. */
	[S_CALLS_LIST] = "SELECT * FROM (SELECT " CALL_COLS " FROM calls WHERE caller_id = ?1"
			 " AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT ?4)"
			 " UNION ALL SELECT * FROM (SELECT " CALL_COLS " FROM calls WHERE receiver_id = ?1"
			 " AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT ?4)"
			 " ORDER BY created_at DESC, id DESC LIMIT ?4",
	[S_NEXT_DEADLINE] = "SELECT MIN(ring_deadline) FROM calls WHERE status = 'ringing'",
	[S_OVERDUE] = "SELECT " CALL_COLS " FROM calls WHERE status = 'ringing' AND ring_deadline <= ?1"
		      " ORDER BY ring_deadline LIMIT 1",
	[S_PRESENCE_ON] = "INSERT OR IGNORE INTO presence (source, user_id) VALUES (?1, ?2)",
	[S_PRESENCE_OFF] = "DELETE FROM presence WHERE source = ?1 AND user_id = ?2",
	[S_PRESENCE_CLEAR] = "DELETE FROM presence WHERE source = ?1",
	[S_PRESENCE_GET] = "SELECT 1 FROM presence WHERE user_id = ?1 LIMIT 1",
	/* Accepted calls (all, or those of ?2): a participant without any
	 * presence row is absent since ?1 unless already absent; one with a
	 * row is present. Only rows that change are written. */
	[S_PRESENCE_SYNC] =
		"UPDATE calls SET"
		" caller_absent_since = CASE WHEN EXISTS (SELECT 1 FROM presence WHERE user_id = calls.caller_id)"
		" THEN NULL ELSE coalesce(caller_absent_since, ?1) END,"
		" receiver_absent_since = CASE WHEN EXISTS (SELECT 1 FROM presence WHERE user_id = calls.receiver_id)"
		" THEN NULL ELSE coalesce(receiver_absent_since, ?1) END"
		" WHERE status = 'accepted' AND (?2 IS NULL OR caller_id = ?2 OR receiver_id = ?2) AND"
		" ((caller_absent_since IS NULL) <> EXISTS (SELECT 1 FROM presence WHERE user_id = calls.caller_id) OR"
		" (receiver_absent_since IS NULL) <> EXISTS (SELECT 1 FROM presence WHERE user_id = calls.receiver_id))",
	[S_WATCH_CALLER] = "SELECT " CALL_COLS " FROM calls WHERE status = 'accepted' AND caller_absent_since IS NOT NULL"
			   " ORDER BY caller_absent_since LIMIT 1",
	[S_WATCH_RECEIVER] = "SELECT " CALL_COLS " FROM calls WHERE status = 'accepted' AND"
			     " receiver_absent_since IS NOT NULL ORDER BY receiver_absent_since LIMIT 1",
	[S_WATCH_ANSWERED] = "SELECT " CALL_COLS " FROM calls WHERE status = 'accepted' ORDER BY answered_at LIMIT 1",
	[S_REVOKE] = "INSERT INTO revocations (user_id, before) VALUES (?1, ?2)"
		     " ON CONFLICT (user_id) DO UPDATE SET before = max(before, excluded.before)",
	[S_REVOKED_GET] = "SELECT before FROM revocations WHERE user_id = ?1",
	[S_REVOKED_ALL] = "SELECT user_id, before FROM revocations",
	/* An event is due at once unless an older one of its call waits. */
	[S_OUTBOX_INSERT] = "INSERT INTO webhook_outbox (call_id, event_id, body, created_at, next_at) VALUES (?1, ?2, ?3,"
			    " ?4, CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox WHERE call_id = ?1) THEN NULL ELSE ?4 END)",
	[S_OUTBOX_HEADS] = "SELECT seq, call_id, event_id, body, created_at, first_at, next_at, attempts FROM webhook_outbox"
			   " WHERE next_at IS NOT NULL ORDER BY next_at, seq LIMIT ?1",
	[S_OUTBOX_DELETE] = "DELETE FROM webhook_outbox WHERE seq = ?1",
	[S_OUTBOX_PROMOTE] = "UPDATE webhook_outbox SET next_at = ?2 WHERE seq ="
			     " (SELECT MIN(seq) FROM webhook_outbox WHERE call_id = ?1)",
	[S_OUTBOX_RETRY] = "UPDATE webhook_outbox SET attempts = attempts + 1, first_at = coalesce(first_at, ?2),"
			   " next_at = ?3 WHERE seq = ?1",
	[S_OUTBOX_COUNT] = "SELECT COUNT(*) FROM webhook_outbox",
	[S_RING_PUT] = "INSERT OR REPLACE INTO ring_frames (call_id, seq, payload) VALUES (?1, ?2, ?3)",
	/* The next candidate's seq, unless ?3 are kept already. */
	[S_RING_ICE] = "INSERT INTO ring_frames (call_id, seq, payload) SELECT ?1, 2 + count(*), ?2 FROM ring_frames"
		       " WHERE call_id = ?1 AND seq >= 2 HAVING count(*) < ?3",
	[S_RING_EACH] = "SELECT f.payload, c.ring_deadline FROM calls c JOIN ring_frames f ON f.call_id = c.id"
			" WHERE c.receiver_id = ?1 AND c.status = 'ringing' AND c.ring_deadline > ?2"
			" ORDER BY c.created_at, c.id, f.seq",
	[S_HEALTH_WRITE] = "INSERT INTO health (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	int64_t ring_added; /* store_take_changes() */
	bool watch_changed;
	int wal_pages;      /* store_wal_pages() */
	store_event_fn hook; /* store_outbox_hook() */
	void *hook_ctx;
	size_t outbox_rows;  /* store_outbox_count() */
	int64_t failed_at;  /* store_failed_at() */
	int64_t committed_at; /* store_committed_at() */
	struct store_pg *pg; /* the PostgreSQL backend, NULL for SQLite */
	bool active;         /* store_active_try() said 1 */
	char *lock_path;     /* SQLite: <path>-rules.lock (NULL for :memory:) */
	int lock_fd;         /* ... open once tried, -1 before */
};

bool store__has_hook(const struct store *st)
{
	return st->hook != NULL;
}

int store__event(struct store *st, const struct calls_call *c, bool inserted, struct store_event *out)
{
	return st->hook ? st->hook(st->hook_ctx, st, c, inserted, out) : 0;
}

/* Counts the outbox's rows into outbox_rows (at open, and again when a
 * standby becomes active: the active one wrote meanwhile). */
static int count_outbox(struct store *st)
{
	if (st->pg)
		return store_pg_outbox_count(st->pg, &st->outbox_rows);
	sqlite3_stmt *q = st->st[S_OUTBOX_COUNT];
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		st->outbox_rows = (size_t)sqlite3_column_int64(q, 0);
	else
		log_error("%s: sqlite: %s", __func__, sqlite3_errmsg(st->db));
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? STORE_OK : STORE_EDB;
}

/* Counts a failure for health.h and the metrics. */
static void note_failure(struct store *st)
{
	st->failed_at = clock_mono_ms();
	metrics_rules.store_failures++;
}

/* After each commit in WAL mode: remember how big the WAL is. Registering
 * it also replaces SQLite's automatic checkpoint (off anyway). */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;
	st->wal_pages = pages;
	st->committed_at = clock_mono_ms(); /* the main database's WAL took a commit (not the TEMP presence) */
	return SQLITE_OK;
}

int store_wal_pages(const struct store *st)
{
	return st->wal_pages;
}

int store_checkpoint(struct store *st)
{
	if (st->pg)
		return STORE_OK; /* PostgreSQL checkpoints by itself */
	int log_pages = 0, done_pages = 0;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &done_pages) != SQLITE_OK) {
		log_error("%s: sqlite: %s", __func__, sqlite3_errmsg(st->db));
		note_failure(st);
		return STORE_EDB;
	}
	if (done_pages >= log_pages)
		st->wal_pages = 0;
	return STORE_OK;
}

static void note_call(struct store *st, const struct calls_call *c)
{
	if (c->state == CALLS_RINGING && c->ring_deadline && (!st->ring_added || c->ring_deadline < st->ring_added))
		st->ring_added = c->ring_deadline;
	if (c->state == CALLS_ACCEPTED)
		st->watch_changed = true;
}

void store__call_written(struct store *st, const struct calls_call *c, bool queued)
{
	if (queued)
		st->outbox_rows++;
	note_call(st, c);
}

void store_take_changes(struct store *st, int64_t *ring_added, bool *watch_changed)
{
	*ring_added = st->ring_added;
	*watch_changed = st->watch_changed;
	st->ring_added = 0;
	st->watch_changed = false;
}

/* Logs a failure of statement s once; always returns STORE_EDB. */
static int fail(struct store *st, const char *where, enum stmt s)
{
	log_error("%s: sqlite: %s (statement %d)", where, sqlite3_errmsg(st->db), (int)s);
	note_failure(st);
	return STORE_EDB;
}

/* One sqlite3_step of q; the writes and the commit (timed) are timed
 * (metrics.h). */
static int step_timed(sqlite3_stmt *q, bool timed)
{
	if (!timed)
		return sqlite3_step(q);
	int64_t t0 = clock_mono_us();
	int rc = sqlite3_step(q);
	metrics_store_write(&metrics_rules, clock_mono_us() - t0);
	return rc;
}

/* Steps statement s (already bound). Returns SQLITE_ROW, SQLITE_DONE or
 * STORE_EDB (logged). The caller resets via done(). */
static int step(struct store *st, enum stmt s, const char *where)
{
	int rc = step_timed(st->st[s], s == S_COMMIT || !sqlite3_stmt_readonly(st->st[s]));
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	fail(st, where, s);
	sqlite3_reset(st->st[s]);
	return STORE_EDB;
}

static void done(struct store *st, enum stmt s)
{
	sqlite3_reset(st->st[s]);
	sqlite3_clear_bindings(st->st[s]);
}

static sqlite3_stmt *bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
	return q;
}

static void bind_time(sqlite3_stmt *q, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(q, i, v);
	else
		sqlite3_bind_null(q, i);
}

/* Runs a statement that returns no rows and takes no more than two text
 * parameters. */
static int exec2(struct store *st, enum stmt s, const char *a, const char *b, const char *where)
{
	sqlite3_stmt *q = st->st[s];
	if (a)
		sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	int rc = step(st, s, where);
	done(st, s);
	return rc == SQLITE_DONE ? STORE_OK : STORE_EDB;
}

/* Runs a query that yields "a row exists" with up to two text parameters:
 * 1, 0 or STORE_EDB. */
static int exists2(struct store *st, enum stmt s, const char *a, const char *b, const char *where)
{
	sqlite3_stmt *q = st->st[s];
	sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	int rc = step(st, s, where);
	done(st, s);
	if (rc == STORE_EDB)
		return STORE_EDB;
	return rc == SQLITE_ROW;
}

static int begin(struct store *st)
{
	return exec2(st, S_BEGIN, NULL, NULL, __func__);
}

static int commit(struct store *st)
{
	return exec2(st, S_COMMIT, NULL, NULL, __func__);
}

/* A failed COMMIT (a full disk) may have rolled back already. */
static void rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		exec2(st, S_ROLLBACK, NULL, NULL, __func__);
}

static void col_text(sqlite3_stmt *q, int i, char *dst, size_t cap)
{
	const unsigned char *v = sqlite3_column_text(q, i);
	snprintf(dst, cap, "%s", v ? (const char *)v : "");
}

static void read_call(sqlite3_stmt *q, struct calls_call *c)
{
	memset(c, 0, sizeof(*c));
	col_text(q, 0, c->id, sizeof(c->id));
	col_text(q, 1, c->caller_id, sizeof(c->caller_id));
	col_text(q, 2, c->caller_username, sizeof(c->caller_username));
	col_text(q, 3, c->receiver_id, sizeof(c->receiver_id));
	col_text(q, 4, c->call_type, sizeof(c->call_type));
	col_text(q, 5, c->conversation_id, sizeof(c->conversation_id));
	int state = calls_state_parse((const char *)sqlite3_column_text(q, 6));
	c->state = state < 0 ? CALLS_ENDED : (enum calls_state)state;
	c->created_at = sqlite3_column_int64(q, 7);
	c->answered_at = sqlite3_column_int64(q, 8);
	c->ended_at = sqlite3_column_int64(q, 9);
	col_text(q, 10, c->end_reason, sizeof(c->end_reason));
	col_text(q, 11, c->ended_by, sizeof(c->ended_by));
	c->ring_deadline = sqlite3_column_int64(q, 12);
	col_text(q, 13, c->answered_device, sizeof(c->answered_device));
	c->caller_absent_since = sqlite3_column_int64(q, 14);
	c->receiver_absent_since = sqlite3_column_int64(q, 15);
}

/* Runs a query of CALL_COLS already bound and reads its first row:
 * 1 (row in *out), 0 (none) or STORE_EDB. */
static int one_call(struct store *st, enum stmt s, struct calls_call *out, const char *where)
{
	int rc = step(st, s, where);
	if (rc == SQLITE_ROW)
		read_call(st->st[s], out);
	done(st, s);
	if (rc == STORE_EDB)
		return STORE_EDB;
	return rc == SQLITE_ROW;
}

/* Adds the columns a database made by an older ringmq-rules lacks. */
static int migrate(sqlite3 *db)
{
	static const char *const cols[] = {"caller_absent_since", "receiver_absent_since"};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		sqlite3_stmt *q = NULL;
		int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('calls') WHERE name = ?1", -1, &q, NULL);
		if (rc != SQLITE_OK)
			return rc;
		sqlite3_bind_text(q, 1, cols[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc == SQLITE_ROW)
			continue;
		if (rc != SQLITE_DONE)
			return rc;
		char sql[96];
		snprintf(sql, sizeof(sql), "ALTER TABLE calls ADD COLUMN %s INTEGER", cols[i]);
		if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
			return rc;
		log_info("%s: calls table gained column %s", __func__, cols[i]);
	}
	return SQLITE_OK;
}

/* The schema's version, in schema_version as on PostgreSQL (store_pg.c).
 * Version 1 is what schema_sql, migrate(), watch_sql and ring_sql make,
 * each idempotent, so a database from before schema_version reaches it
 * too; a later change of the schema is version 2, applied here when the
 * stored version is lower. A database newer than this program is refused. */
#define STORE_SQLITE_VERSION 1
static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL, NULL,
			      NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(q);
	int have = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return SQLITE_ERROR;
	if (have > STORE_SQLITE_VERSION) {
		log_error("%s: the database's schema is version %d, newer than this ringmq-rules (%d)", __func__, have,
			  STORE_SQLITE_VERSION);
		return SQLITE_ERROR;
	}
	if (have == STORE_SQLITE_VERSION)
		return SQLITE_OK;
	return sqlite3_exec(db, "INSERT INTO schema_version (version) VALUES (1)", NULL, NULL, NULL);
}

int store_open(const char *path, struct store **out)
{
	*out = NULL;
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return STORE_EDB;
	st->lock_fd = -1;
	if (store_pg_is_conninfo(path)) {
		if (store_pg_open(path, st, &st->pg) != STORE_OK || count_outbox(st) != STORE_OK)
			goto fail;
		*out = st;
		return STORE_OK;
	}
	if (strcmp(path, ":memory:") && path[0]) {
		size_t len = strlen(path) + sizeof(STORE_LOCK_SUFFIX);
		if (!(st->lock_path = malloc(len)))
			goto fail;
		snprintf(st->lock_path, len, "%s" STORE_LOCK_SUFFIX, path);
	}
	int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("%s: cannot open %s: %s", __func__, path, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	char *err = NULL;
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;",
			 NULL, NULL, &err) !=
		    SQLITE_OK ||
	    sqlite3_exec(st->db, schema_sql, NULL, NULL, &err) != SQLITE_OK || migrate(st->db) != SQLITE_OK ||
	    sqlite3_exec(st->db, watch_sql, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(st->db, ring_sql, NULL, NULL, &err) != SQLITE_OK || schema_version(st->db) != SQLITE_OK) {
		log_error("%s: %s: %s", __func__, path, err ? err : sqlite3_errmsg(st->db));
		sqlite3_free(err);
		goto fail;
	}
	sqlite3_wal_hook(st->db, on_wal_commit, st);
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i], NULL) !=
		    SQLITE_OK) {
			log_error("%s: cannot prepare statement %d: %s", __func__, i, sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	if (count_outbox(st) != STORE_OK)
		goto fail;
	*out = st;
	return STORE_OK;
fail:
	store_close(st);
	return STORE_EDB;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store_pg_close(st->pg);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->lock_path);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->st[i]);
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		log_error("%s: %s", __func__, sqlite3_errmsg(st->db));
	free(st);
}

/* SQLite's fence between rules on one host: an exclusive flock on
 * <path>-rules.lock, held while the process lives. An in-memory database
 * has no other process to fence. */
static int file_lock_try(struct store *st)
{
	if (!st->lock_path)
		return 1;
	if (st->lock_fd < 0 && (st->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_error("%s: cannot open %s: %s", __func__, st->lock_path, strerror(errno));
		return STORE_EDB;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	if (errno == EWOULDBLOCK)
		return 0;
	log_error("%s: cannot lock %s: %s", __func__, st->lock_path, strerror(errno));
	return STORE_EDB;
}

int store_active_try(struct store *st)
{
	if (st->active)
		return 1;
	int rc = st->pg ? store_pg_active_try(st->pg) : file_lock_try(st);
	if (rc != 1)
		return rc;
	if (count_outbox(st) != STORE_OK)
		return STORE_EDB;
	st->active = true;
	return 1;
}

int store_check(struct store *st)
{
	return st->pg ? store_pg_check(st->pg) : STORE_OK;
}

int store_conversation_exists(struct store *st, const char *cid)
{
	if (st->pg)
		return store_pg_conversation_exists(st->pg, cid);
	return exists2(st, S_CONV_GET, cid, NULL, __func__);
}

int store_member(struct store *st, const char *cid, const char *uid)
{
	if (st->pg)
		return store_pg_member(st->pg, cid, uid);
	return exists2(st, S_MEMBER_GET, cid, uid, __func__);
}

/* Inside the caller's transaction: removes key's rows (clear), then adds
 * (key, vals[i]) for each value (insert). */
static int replace_set(struct store *st, enum stmt clear, enum stmt insert, const char *key,
		       const char *const *vals, size_t n)
{
	if (exec2(st, clear, key, NULL, __func__) != STORE_OK)
		return STORE_EDB;
	for (size_t i = 0; i < n; i++)
		if (exec2(st, insert, key, vals[i], __func__) != STORE_OK)
			return STORE_EDB;
	return STORE_OK;
}

int store_conversation_put(struct store *st, const char *cid, const char *const *members, size_t n, bool *created)
{
	if (st->pg)
		return store_pg_conversation_put(st->pg, cid, members, n, created);
	if (begin(st) != STORE_OK)
		return STORE_EDB;
	int had = store_conversation_exists(st, cid);
	if (had < 0)
		goto fail;
	if (!had) {
		sqlite3_stmt *q = st->st[S_CONV_INSERT];
		sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, clock_now_ms());
		int rc = step(st, S_CONV_INSERT, __func__);
		done(st, S_CONV_INSERT);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (replace_set(st, S_MEMBERS_CLEAR, S_MEMBER_INSERT, cid, members, n) != STORE_OK || commit(st) != STORE_OK)
		goto fail;
	*created = !had;
	return STORE_OK;
fail:
	rollback(st);
	return STORE_EDB;
}

int store_conversation_delete(struct store *st, const char *cid)
{
	if (st->pg)
		return store_pg_conversation_delete(st->pg, cid);
	if (begin(st) != STORE_OK)
		return STORE_EDB;
	int had = store_conversation_exists(st, cid);
	if (had <= 0) {
		rollback(st);
		return had < 0 ? STORE_EDB : STORE_ENOTFOUND;
	}
	if (exec2(st, S_MEMBERS_CLEAR, cid, NULL, __func__) != STORE_OK ||
	    exec2(st, S_CONV_DELETE, cid, NULL, __func__) != STORE_OK || commit(st) != STORE_OK) {
		rollback(st);
		return STORE_EDB;
	}
	return STORE_OK;
}

/* The call's row alone (store_call_insert). */
static int insert_row(struct store *st, const struct calls_call *c)
{
	sqlite3_stmt *q = st->st[S_CALL_INSERT];
	bind_text(q, 1, c->id);
	bind_text(q, 2, c->caller_id);
	sqlite3_bind_text(q, 3, c->caller_username, -1, SQLITE_STATIC);
	bind_text(q, 4, c->receiver_id);
	bind_text(q, 5, c->call_type);
	bind_text(q, 6, c->conversation_id);
	sqlite3_bind_text(q, 7, calls_state_name(c->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, c->created_at);
	bind_time(q, 9, c->answered_at);
	bind_time(q, 10, c->ended_at);
	bind_text(q, 11, c->end_reason);
	bind_text(q, 12, c->ended_by);
	bind_time(q, 13, c->ring_deadline);
	bind_text(q, 14, c->answered_device);
	bind_time(q, 15, c->caller_absent_since);
	bind_time(q, 16, c->receiver_absent_since);
	int rc = step_timed(q, true);
	int ext = sqlite3_extended_errcode(st->db);
	if (rc != SQLITE_DONE && ext != SQLITE_CONSTRAINT_PRIMARYKEY)
		fail(st, __func__, S_CALL_INSERT);
	done(st, S_CALL_INSERT);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	return ext == SQLITE_CONSTRAINT_PRIMARYKEY ? STORE_EEXISTS : STORE_EDB;
}

/* The call's row alone (store_call_update). */
static int update_row(struct store *st, const struct calls_call *c)
{
	sqlite3_stmt *q = st->st[S_CALL_UPDATE];
	sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, calls_state_name(c->state), -1, SQLITE_STATIC);
	bind_time(q, 3, c->answered_at);
	bind_time(q, 4, c->ended_at);
	bind_text(q, 5, c->end_reason);
	bind_text(q, 6, c->ended_by);
	bind_text(q, 7, c->answered_device);
	int rc = step(st, S_CALL_UPDATE, __func__);
	done(st, S_CALL_UPDATE);
	if (rc != SQLITE_DONE)
		return STORE_EDB;
	if (!sqlite3_changes(st->db))
		return STORE_ENOTFOUND;
	return STORE_OK;
}

/* Inside the transaction of a call write: the hook's event for c, queued.
 * STORE_OK (*queued says whether a row was added) or STORE_EDB. */
static int queue_event(struct store *st, const struct calls_call *c, bool inserted, bool *queued)
{
	struct store_event ev = {.body = NULL};
	*queued = false;
	int rc = st->hook(st->hook_ctx, st, c, inserted, &ev);
	if (rc <= 0) {
		free(ev.body);
		return rc < 0 ? STORE_EDB : STORE_OK;
	}
	sqlite3_stmt *q = st->st[S_OUTBOX_INSERT];
	sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ev.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ev.body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, clock_now_ms());
	rc = step(st, S_OUTBOX_INSERT, __func__);
	done(st, S_OUTBOX_INSERT);
	free(ev.body);
	*queued = rc == SQLITE_DONE;
	return rc == SQLITE_DONE ? STORE_OK : STORE_EDB;
}

/* A call write: row (insert_row or update_row) and, with the hook set, its
 * event, in one transaction (the caller's, when it has one open). */
static int write_call(struct store *st, const struct calls_call *c, bool inserted)
{
	bool own = st->hook && sqlite3_get_autocommit(st->db);
	if (own && begin(st) != STORE_OK)
		return STORE_EDB;
	bool queued = false;
	int rc = inserted ? insert_row(st, c) : update_row(st, c);
	if (rc == STORE_OK && st->hook)
		rc = queue_event(st, c, inserted, &queued);
	if (rc == STORE_OK && own && commit(st) != STORE_OK)
		rc = STORE_EDB;
	if (rc != STORE_OK) {
		if (own)
			rollback(st);
		return rc;
	}
	if (queued)
		st->outbox_rows++;
	note_call(st, c);
	return STORE_OK;
}

int store_call_insert(struct store *st, const struct calls_call *c)
{
	if (st->pg)
		return store_pg_call_write(st->pg, c, true);
	return write_call(st, c, true);
}

int store_call_get(struct store *st, const char *id, struct calls_call *out)
{
	if (st->pg)
		return store_pg_call_get(st->pg, id, out);
	sqlite3_bind_text(st->st[S_CALL_GET], 1, id, -1, SQLITE_STATIC);
	int rc = one_call(st, S_CALL_GET, out, __func__);
	if (rc < 0)
		return STORE_EDB;
	return rc ? STORE_OK : STORE_ENOTFOUND;
}

int store_call_update(struct store *st, const struct calls_call *c)
{
	if (st->pg)
		return store_pg_call_write(st->pg, c, false);
	return write_call(st, c, false);
}

int store_call_busy(struct store *st, const char *uid)
{
	if (st->pg)
		return store_pg_call_busy(st->pg, uid);
	return exists2(st, S_CALL_BUSY, uid, NULL, __func__);
}

int store_call_ringing_between(struct store *st, const char *a, const char *b, struct calls_call *out)
{
	if (st->pg)
		return store_pg_call_ringing_between(st->pg, a, b, out);
	sqlite3_stmt *q = st->st[S_CALL_RINGING_BETWEEN];
	sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	return one_call(st, S_CALL_RINGING_BETWEEN, out, __func__);
}

int store_calls_list(struct store *st, const char *uid, int64_t before_ms, const char *before_id,
		     struct calls_call *out, size_t cap, size_t *n)
{
	if (st->pg)
		return store_pg_calls_list(st->pg, uid, before_ms, before_id, out, cap, n);
	sqlite3_stmt *q = st->st[S_CALLS_LIST];
	*n = 0;
	sqlite3_bind_text(q, 1, uid, -1, SQLITE_STATIC);
	if (before_id) {
		sqlite3_bind_int64(q, 2, before_ms);
		sqlite3_bind_text(q, 3, before_id, -1, SQLITE_STATIC);
	} else {
		/* No call is created at INT64_MAX: (MAX, '') is past every row. */
		sqlite3_bind_int64(q, 2, INT64_MAX);
		sqlite3_bind_text(q, 3, "", -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(q, 4, (sqlite3_int64)cap);
	int rc;
	while ((rc = step(st, S_CALLS_LIST, __func__)) == SQLITE_ROW && *n < cap)
		read_call(q, &out[(*n)++]);
	done(st, S_CALLS_LIST);
	return rc == STORE_EDB ? STORE_EDB : STORE_OK;
}

int store_next_deadline(struct store *st, int64_t *deadline_ms)
{
	if (st->pg)
		return store_pg_next_deadline(st->pg, deadline_ms);
	sqlite3_stmt *q = st->st[S_NEXT_DEADLINE];
	int rc = step(st, S_NEXT_DEADLINE, __func__);
	int found = rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL;
	if (found)
		*deadline_ms = sqlite3_column_int64(q, 0);
	done(st, S_NEXT_DEADLINE);
	return rc == STORE_EDB ? STORE_EDB : found;
}

int store_call_overdue(struct store *st, int64_t now_ms, struct calls_call *out)
{
	if (st->pg)
		return store_pg_call_overdue(st->pg, now_ms, out);
	sqlite3_bind_int64(st->st[S_OVERDUE], 1, now_ms);
	return one_call(st, S_OVERDUE, out, __func__);
}

int store_presence_set(struct store *st, const char *source, const char *uid, bool online)
{
	if (st->pg)
		return store_pg_presence_set(st->pg, source, uid, online);
	return exec2(st, online ? S_PRESENCE_ON : S_PRESENCE_OFF, source, uid, __func__);
}

int store_presence_snapshot(struct store *st, const char *source, const char *const *uids, size_t n)
{
	if (st->pg)
		return store_pg_presence_snapshot(st->pg, source, uids, n);
	if (begin(st) != STORE_OK)
		return STORE_EDB;
	if (replace_set(st, S_PRESENCE_CLEAR, S_PRESENCE_ON, source, uids, n) != STORE_OK || commit(st) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	rollback(st);
	return STORE_EDB;
}

int store_presence_online(struct store *st, const char *uid)
{
	if (st->pg)
		return store_pg_presence_online(st->pg, uid);
	return exists2(st, S_PRESENCE_GET, uid, NULL, __func__);
}

/* store_calls_presence_sync on PostgreSQL, with the counters kept here. */
static int presence_sync_pg(struct store *st, const char *uid, int64_t now_ms, int *changed)
{
	int n = 0;
	if (store_pg_calls_presence_sync(st->pg, uid, now_ms, &n) != STORE_OK)
		return STORE_EDB;
	if (n)
		st->watch_changed = true;
	if (changed)
		*changed = n;
	return STORE_OK;
}

int store_calls_presence_sync(struct store *st, const char *uid, int64_t now_ms, int *changed)
{
	if (st->pg)
		return presence_sync_pg(st, uid, now_ms, changed);
	sqlite3_stmt *q = st->st[S_PRESENCE_SYNC];
	sqlite3_bind_int64(q, 1, now_ms);
	if (uid)
		sqlite3_bind_text(q, 2, uid, -1, SQLITE_STATIC);
	int rc = step(st, S_PRESENCE_SYNC, __func__);
	done(st, S_PRESENCE_SYNC);
	if (rc != SQLITE_DONE)
		return STORE_EDB;
	int n = sqlite3_changes(st->db);
	if (n)
		st->watch_changed = true;
	if (changed)
		*changed = n;
	return STORE_OK;
}

int store_call_watch_first(struct store *st, enum store_watch which, struct calls_call *out)
{
	if (st->pg)
		return store_pg_call_watch_first(st->pg, which, out);
	static const enum stmt by[] = {
		[STORE_WATCH_CALLER_ABSENT] = S_WATCH_CALLER,
		[STORE_WATCH_RECEIVER_ABSENT] = S_WATCH_RECEIVER,
		[STORE_WATCH_ANSWERED] = S_WATCH_ANSWERED,
	};
	if ((int)which < 0 || which > STORE_WATCH_ANSWERED)
		return STORE_EDB;
	return one_call(st, by[which], out, __func__);
}

int store_revoke(struct store *st, const char *uid, int64_t before, int64_t *now_before)
{
	if (st->pg)
		return store_pg_revoke(st->pg, uid, before, now_before);
	sqlite3_stmt *q = st->st[S_REVOKE];
	sqlite3_bind_text(q, 1, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, before);
	int rc = step(st, S_REVOKE, __func__);
	done(st, S_REVOKE);
	if (rc != SQLITE_DONE)
		return STORE_EDB;
	q = bind_text(st->st[S_REVOKED_GET], 1, uid);
	rc = step(st, S_REVOKED_GET, __func__);
	if (rc == SQLITE_ROW)
		*now_before = sqlite3_column_int64(q, 0);
	done(st, S_REVOKED_GET);
	return rc == SQLITE_ROW ? STORE_OK : STORE_EDB;
}

int store_revocations_each(struct store *st, void (*fn)(const char *uid, int64_t before, void *arg), void *arg)
{
	if (st->pg)
		return store_pg_revocations_each(st->pg, fn, arg);
	sqlite3_stmt *q = st->st[S_REVOKED_ALL];
	int rc;
	while ((rc = step(st, S_REVOKED_ALL, __func__)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(q, 0), sqlite3_column_int64(q, 1), arg);
	done(st, S_REVOKED_ALL);
	return rc == SQLITE_DONE ? STORE_OK : STORE_EDB;
}

void store_outbox_hook(struct store *st, store_event_fn fn, void *ctx)
{
	st->hook = fn;
	st->hook_ctx = ctx;
}

size_t store_outbox_count(const struct store *st)
{
	return st->outbox_rows;
}

static bool skipped(int64_t seq, const int64_t *skip, size_t nskip)
{
	for (size_t i = 0; i < nskip; i++)
		if (skip[i] == seq)
			return true;
	return false;
}

int store_outbox_heads(struct store *st, const int64_t *skip, size_t nskip, struct store_outbox_row *out,
		       size_t cap, size_t *n)
{
	if (st->pg)
		return store_pg_outbox_heads(st->pg, skip, nskip, out, cap, n);
	sqlite3_stmt *q = st->st[S_OUTBOX_HEADS];
	*n = 0;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)(cap + nskip));
	int rc = SQLITE_DONE;
	while (*n < cap && (rc = step(st, S_OUTBOX_HEADS, __func__)) == SQLITE_ROW) {
		struct store_outbox_row *r = &out[*n];
		r->seq = sqlite3_column_int64(q, 0);
		if (skipped(r->seq, skip, nskip))
			continue;
		col_text(q, 1, r->call_id, sizeof(r->call_id));
		col_text(q, 2, r->event_id, sizeof(r->event_id));
		const unsigned char *body = sqlite3_column_text(q, 3);
		r->body = strdup(body ? (const char *)body : "");
		r->created_at = sqlite3_column_int64(q, 4);
		r->first_at = sqlite3_column_int64(q, 5);
		r->next_at = sqlite3_column_int64(q, 6);
		r->attempts = sqlite3_column_int(q, 7);
		if (!r->body) {
			rc = STORE_EDB;
			break;
		}
		(*n)++;
	}
	done(st, S_OUTBOX_HEADS);
	if (rc == STORE_EDB) {
		for (size_t i = 0; i < *n; i++)
			free(out[i].body);
		*n = 0;
		return STORE_EDB;
	}
	return STORE_OK;
}

/* store_outbox_done on PostgreSQL, with the row count kept here. */
static int outbox_done_pg(struct store *st, int64_t seq, const char *call_id, int64_t now_ms)
{
	bool removed = false;
	if (store_pg_outbox_done(st->pg, seq, call_id, now_ms, &removed) != STORE_OK)
		return STORE_EDB;
	if (removed && st->outbox_rows)
		st->outbox_rows--;
	return STORE_OK;
}

int store_outbox_done(struct store *st, int64_t seq, const char *call_id, int64_t now_ms)
{
	if (st->pg)
		return outbox_done_pg(st, seq, call_id, now_ms);
	if (begin(st) != STORE_OK)
		return STORE_EDB;
	sqlite3_stmt *del = st->st[S_OUTBOX_DELETE];
	sqlite3_bind_int64(del, 1, seq);
	int rc = step(st, S_OUTBOX_DELETE, __func__);
	done(st, S_OUTBOX_DELETE);
	bool removed = rc == SQLITE_DONE && sqlite3_changes(st->db) > 0;
	if (rc == SQLITE_DONE) {
		sqlite3_stmt *up = st->st[S_OUTBOX_PROMOTE];
		sqlite3_bind_text(up, 1, call_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 2, now_ms);
		rc = step(st, S_OUTBOX_PROMOTE, __func__);
		done(st, S_OUTBOX_PROMOTE);
	}
	if (rc != SQLITE_DONE || commit(st) != STORE_OK) {
		rollback(st);
		return STORE_EDB;
	}
	if (removed && st->outbox_rows)
		st->outbox_rows--;
	return STORE_OK;
}

int store_outbox_retry(struct store *st, int64_t seq, int64_t first_at, int64_t next_at)
{
	if (st->pg)
		return store_pg_outbox_retry(st->pg, seq, first_at, next_at);
	sqlite3_stmt *q = st->st[S_OUTBOX_RETRY];
	sqlite3_bind_int64(q, 1, seq);
	sqlite3_bind_int64(q, 2, first_at);
	sqlite3_bind_int64(q, 3, next_at);
	int rc = step(st, S_OUTBOX_RETRY, __func__);
	done(st, S_OUTBOX_RETRY);
	return rc == SQLITE_DONE ? STORE_OK : STORE_EDB;
}

int store_ring_keep(struct store *st, const char *call_id, enum store_ring kind, const char *payload, size_t len,
		    int ice_max)
{
	if (st->pg)
		return store_pg_ring_keep(st->pg, call_id, kind, payload, len, ice_max);
	enum stmt s = kind == STORE_RING_ICE ? S_RING_ICE : S_RING_PUT;
	sqlite3_stmt *q = st->st[s];
	sqlite3_bind_text(q, 1, call_id, -1, SQLITE_STATIC);
	if (kind == STORE_RING_ICE) {
		sqlite3_bind_text(q, 2, payload, (int)len, SQLITE_STATIC);
		sqlite3_bind_int(q, 3, ice_max);
	} else {
		sqlite3_bind_int(q, 2, kind == STORE_RING_INCOMING ? 0 : 1);
		sqlite3_bind_text(q, 3, payload, (int)len, SQLITE_STATIC);
	}
	int rc = step(st, s, __func__);
	done(st, s);
	if (rc != SQLITE_DONE)
		return STORE_EDB;
	return sqlite3_changes(st->db) > 0;
}

int store_ring_each(struct store *st, const char *uid, int64_t now_ms,
		    bool (*fn)(const char *payload, size_t len, int64_t ring_deadline, void *arg), void *arg)
{
	if (st->pg)
		return store_pg_ring_each(st->pg, uid, now_ms, fn, arg);
	sqlite3_stmt *q = st->st[S_RING_EACH];
	sqlite3_bind_text(q, 1, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now_ms);
	int rc;
	while ((rc = step(st, S_RING_EACH, __func__)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(q, 0);
		size_t len = (size_t)sqlite3_column_bytes(q, 0);
		if (!fn(text ? text : "", text ? len : 0, sqlite3_column_int64(q, 1), arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	done(st, S_RING_EACH);
	return rc == SQLITE_DONE ? STORE_OK : STORE_EDB;
}

int64_t store_failed_at(const struct store *st)
{
	return st->failed_at;
}

int64_t store_committed_at(const struct store *st)
{
	return st->committed_at;
}

int store_health_write(struct store *st, int64_t now_ms)
{
	if (st->pg) /* a round trip: the server takes writes while it answers (its disk is its own watch) */
		return store_pg_check(st->pg);
	int64_t failed_at = st->failed_at; /* the probe's own failure is its answer, not "a failure met" */
	int rc = begin(st);
	if (rc == STORE_OK) {
		sqlite3_bind_int64(st->st[S_HEALTH_WRITE], 1, now_ms);
		if (step(st, S_HEALTH_WRITE, __func__) != SQLITE_DONE || commit(st) != STORE_OK)
			rc = STORE_EDB;
		done(st, S_HEALTH_WRITE);
		if (rc != STORE_OK)
			rollback(st);
	}
	st->failed_at = failed_at;
	return rc;
}

int64_t store_free_bytes(struct store *st)
{
	if (st->pg)
		return -1; /* the database's disk is on the server: unknown here */
	const char *path = sqlite3_db_filename(st->db, "main");
	struct statvfs vfs;
	if (!path || !path[0] || statvfs(path, &vfs) != 0)
		return -1;
	return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}
