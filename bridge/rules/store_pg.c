/* store_pg: PostgreSQL (libpq) behind the functions of store.h, for
 * store.c (store_pg.h). One blocking connection on the rules loop. At open:
 * the migrations not yet applied (table schema_version; under a
 * transaction-scoped advisory lock, so two rules starting together do not
 * both migrate), the session's TEMP presence table, then every statement
 * prepared once (PQprepare) and run with PQexecPrepared. The SQL mirrors
 * the SQLite statements of store.c one for one; the same rows come back
 * in the same order (ids compare bytewise: COLLATE "C"). Multi-row writes
 * and a call write with the outbox hook set run in one transaction and
 * roll back on failure. The ring frames of a call go when it stops
 * ringing, by trigger, as in SQLite. */
#include "store_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

/* The key of the session-scoped advisory lock the active rules holds, and
 * of the transaction-scoped one migrations take ("ringmq" in ASCII). */
#define STORE_PG_ACTIVE_KEY "114105110103109113"
#define STORE_PG_MIGRATE_KEY "114105110103109114"
#define STORE_PG_PARAMS_MAX 16
#define STORE_PG_INT_LEN 24 /* an int64 in decimal, sign and NUL */

/* Migration n (from 1) brings schema_version from n - 1 to n. Never edit
 * one that has shipped: add the next. */
static const char *const migrations[] = {
	/* 1: the schema of store.c's SQLite, in PostgreSQL's words. */
	"CREATE TABLE conversations (id text COLLATE \"C\" PRIMARY KEY, created_at bigint NOT NULL);"
	"CREATE TABLE members (conversation_id text COLLATE \"C\" NOT NULL, user_id text COLLATE \"C\" NOT NULL,"
	" PRIMARY KEY (conversation_id, user_id));"
	"CREATE TABLE calls ("
	" id text COLLATE \"C\" PRIMARY KEY, caller_id text COLLATE \"C\" NOT NULL, caller_username text NOT NULL,"
	" receiver_id text COLLATE \"C\" NOT NULL, call_type text NOT NULL, conversation_id text NOT NULL,"
	" status text NOT NULL, created_at bigint NOT NULL, answered_at bigint, ended_at bigint,"
	" end_reason text, ended_by text, ring_deadline bigint, answered_device text,"
	" caller_absent_since bigint, receiver_absent_since bigint);"
	"CREATE TABLE revocations (user_id text COLLATE \"C\" PRIMARY KEY, before bigint NOT NULL);"
	"CREATE INDEX calls_by_caller ON calls (caller_id, created_at DESC, id DESC);"
	"CREATE INDEX calls_by_receiver ON calls (receiver_id, created_at DESC, id DESC);"
	"CREATE INDEX calls_ringing ON calls (ring_deadline) WHERE status = 'ringing';"
	"CREATE INDEX calls_accepted ON calls (caller_id, receiver_id) WHERE status = 'accepted';"
	"CREATE INDEX calls_accepted_by_receiver ON calls (receiver_id) WHERE status = 'accepted';"
	"CREATE INDEX calls_caller_absent ON calls (caller_absent_since)"
	" WHERE status = 'accepted' AND caller_absent_since IS NOT NULL;"
	"CREATE INDEX calls_receiver_absent ON calls (receiver_absent_since)"
	" WHERE status = 'accepted' AND receiver_absent_since IS NOT NULL;"
	"CREATE INDEX calls_answered ON calls (answered_at) WHERE status = 'accepted';"
	"CREATE INDEX calls_ringing_by_receiver ON calls (receiver_id, created_at, id) WHERE status = 'ringing';"
	"CREATE TABLE webhook_outbox ("
	" seq bigserial PRIMARY KEY, call_id text COLLATE \"C\" NOT NULL, event_id text NOT NULL, body text NOT NULL,"
	" created_at bigint NOT NULL, first_at bigint, next_at bigint, attempts integer NOT NULL DEFAULT 0);"
	"CREATE INDEX webhook_outbox_by_call ON webhook_outbox (call_id, seq);"
	"CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at, seq) WHERE next_at IS NOT NULL;"
	"CREATE TABLE ring_frames (call_id text COLLATE \"C\" NOT NULL, seq integer NOT NULL, payload text NOT NULL,"
	" PRIMARY KEY (call_id, seq));"
	"CREATE FUNCTION ring_frames_end() RETURNS trigger LANGUAGE plpgsql AS"
	" $$BEGIN DELETE FROM ring_frames WHERE call_id = NEW.id; RETURN NULL; END$$;"
	"CREATE TRIGGER ring_frames_end AFTER UPDATE OF status ON calls FOR EACH ROW"
	" WHEN (NEW.status <> 'ringing') EXECUTE FUNCTION ring_frames_end();",
};
#define MIGRATIONS_N ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Per session, gone when the connection ends (bridges resend presence). */
static const char presence_sql[] =
	"CREATE TEMP TABLE presence (source text NOT NULL, user_id text NOT NULL, PRIMARY KEY (source, user_id));"
	"CREATE INDEX presence_by_user ON presence (user_id);";

#define CALL_COLS                                                                                        \
	"id, caller_id, caller_username, receiver_id, call_type, conversation_id, status, created_at,"   \
	" answered_at, ended_at, end_reason, ended_by, ring_deadline, answered_device, caller_absent_since," \
	" receiver_absent_since"

enum pstmt {
	P_BEGIN,
	P_COMMIT,
	P_ROLLBACK,
	P_CONV_GET,
	P_CONV_INSERT,
	P_CONV_DELETE,
	P_MEMBERS_CLEAR,
	P_MEMBER_INSERT,
	P_MEMBER_GET,
	P_CALL_INSERT,
	P_CALL_GET,
	P_CALL_UPDATE,
	P_CALL_BUSY,
	P_CALL_RINGING_BETWEEN,
	P_CALLS_LIST,
	P_NEXT_DEADLINE,
	P_OVERDUE,
	P_PRESENCE_ON,
	P_PRESENCE_OFF,
	P_PRESENCE_CLEAR,
	P_PRESENCE_GET,
	P_PRESENCE_SYNC,
	P_WATCH_CALLER,
	P_WATCH_RECEIVER,
	P_WATCH_ANSWERED,
	P_REVOKE,
	P_REVOKED_ALL,
	P_OUTBOX_INSERT,
	P_OUTBOX_HEADS,
	P_OUTBOX_DELETE,
	P_OUTBOX_PROMOTE,
	P_OUTBOX_RETRY,
	P_OUTBOX_COUNT,
	P_RING_PUT,
	P_RING_ICE,
	P_RING_EACH,
	P_ACTIVE_TRY,
	P_PING,
	P_COUNT
};

static const char *const pstmt_sql[P_COUNT] = {
	[P_BEGIN] = "BEGIN",
	[P_COMMIT] = "COMMIT",
	[P_ROLLBACK] = "ROLLBACK",
	[P_CONV_GET] = "SELECT 1 FROM conversations WHERE id = $1",
	[P_CONV_INSERT] = "INSERT INTO conversations (id, created_at) VALUES ($1, $2)",
	[P_CONV_DELETE] = "DELETE FROM conversations WHERE id = $1",
	[P_MEMBERS_CLEAR] = "DELETE FROM members WHERE conversation_id = $1",
	[P_MEMBER_INSERT] = "INSERT INTO members (conversation_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
	[P_MEMBER_GET] = "SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2",
	[P_CALL_INSERT] = "INSERT INTO calls (" CALL_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
			  " $11, $12, $13, $14, $15, $16)",
	[P_CALL_GET] = "SELECT " CALL_COLS " FROM calls WHERE id = $1",
	[P_CALL_UPDATE] = "UPDATE calls SET status = $2, answered_at = $3, ended_at = $4, end_reason = $5,"
			  " ended_by = $6, answered_device = $7 WHERE id = $1",
	[P_CALL_BUSY] = "SELECT 1 FROM calls WHERE status = 'accepted' AND (caller_id = $1 OR receiver_id = $1)"
			" LIMIT 1",
	[P_CALL_RINGING_BETWEEN] = "SELECT " CALL_COLS " FROM calls WHERE status = 'ringing' AND"
				   " ((caller_id = $1 AND receiver_id = $2) OR (caller_id = $2 AND receiver_id = $1))"
				   " ORDER BY created_at, id LIMIT 1",
	[P_CALLS_LIST] = "SELECT * FROM (SELECT " CALL_COLS " FROM calls WHERE caller_id = $1"
			 " AND (created_at, id) < ($2::bigint, $3::text) ORDER BY created_at DESC, id DESC LIMIT $4) a"
			 " UNION ALL SELECT * FROM (SELECT " CALL_COLS " FROM calls WHERE receiver_id = $1"
			 " AND (created_at, id) < ($2::bigint, $3::text) ORDER BY created_at DESC, id DESC LIMIT $4) b"
			 " ORDER BY created_at DESC, id DESC LIMIT $4",
	[P_NEXT_DEADLINE] = "SELECT MIN(ring_deadline) FROM calls WHERE status = 'ringing'",
	[P_OVERDUE] = "SELECT " CALL_COLS " FROM calls WHERE status = 'ringing' AND ring_deadline <= $1"
		      " ORDER BY ring_deadline LIMIT 1",
	[P_PRESENCE_ON] = "INSERT INTO presence (source, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
	[P_PRESENCE_OFF] = "DELETE FROM presence WHERE source = $1 AND user_id = $2",
	[P_PRESENCE_CLEAR] = "DELETE FROM presence WHERE source = $1",
	[P_PRESENCE_GET] = "SELECT 1 FROM presence WHERE user_id = $1 LIMIT 1",
	[P_PRESENCE_SYNC] =
		"UPDATE calls SET"
		" caller_absent_since = CASE WHEN EXISTS (SELECT 1 FROM presence WHERE user_id = calls.caller_id)"
		" THEN NULL ELSE coalesce(caller_absent_since, $1::bigint) END,"
		" receiver_absent_since = CASE WHEN EXISTS (SELECT 1 FROM presence WHERE user_id = calls.receiver_id)"
		" THEN NULL ELSE coalesce(receiver_absent_since, $1::bigint) END"
		" WHERE status = 'accepted' AND ($2::text IS NULL OR caller_id = $2 OR receiver_id = $2) AND"
		" ((caller_absent_since IS NULL) <> EXISTS (SELECT 1 FROM presence WHERE user_id = calls.caller_id) OR"
		" (receiver_absent_since IS NULL) <> EXISTS (SELECT 1 FROM presence WHERE user_id = calls.receiver_id))",
	[P_WATCH_CALLER] = "SELECT " CALL_COLS " FROM calls WHERE status = 'accepted' AND caller_absent_since IS NOT NULL"
			   " ORDER BY caller_absent_since LIMIT 1",
	[P_WATCH_RECEIVER] = "SELECT " CALL_COLS " FROM calls WHERE status = 'accepted' AND"
			     " receiver_absent_since IS NOT NULL ORDER BY receiver_absent_since LIMIT 1",
	[P_WATCH_ANSWERED] = "SELECT " CALL_COLS " FROM calls WHERE status = 'accepted' ORDER BY answered_at LIMIT 1",
	[P_REVOKE] = "INSERT INTO revocations (user_id, before) VALUES ($1, $2) ON CONFLICT (user_id)"
		     " DO UPDATE SET before = greatest(revocations.before, excluded.before) RETURNING before",
	[P_REVOKED_ALL] = "SELECT user_id, before FROM revocations",
	[P_OUTBOX_INSERT] = "INSERT INTO webhook_outbox (call_id, event_id, body, created_at, next_at) VALUES ($1, $2, $3,"
			    " $4, CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox WHERE call_id = $1) THEN NULL"
			    " ELSE $4::bigint END)",
	[P_OUTBOX_HEADS] = "SELECT seq, call_id, event_id, body, created_at, first_at, next_at, attempts FROM webhook_outbox"
			   " WHERE next_at IS NOT NULL ORDER BY next_at, seq LIMIT $1",
	[P_OUTBOX_DELETE] = "DELETE FROM webhook_outbox WHERE seq = $1",
	[P_OUTBOX_PROMOTE] = "UPDATE webhook_outbox SET next_at = $2 WHERE seq ="
			     " (SELECT MIN(seq) FROM webhook_outbox WHERE call_id = $1)",
	[P_OUTBOX_RETRY] = "UPDATE webhook_outbox SET attempts = attempts + 1, first_at = coalesce(first_at, $2),"
			   " next_at = $3 WHERE seq = $1",
	[P_OUTBOX_COUNT] = "SELECT COUNT(*) FROM webhook_outbox",
	[P_RING_PUT] = "INSERT INTO ring_frames (call_id, seq, payload) VALUES ($1, $2, $3)"
		       " ON CONFLICT (call_id, seq) DO UPDATE SET payload = excluded.payload",
	[P_RING_ICE] = "INSERT INTO ring_frames (call_id, seq, payload) SELECT $1, (2 + count(*))::integer, $2"
		       " FROM ring_frames WHERE call_id = $1 AND seq >= 2 HAVING count(*) < $3",
	[P_RING_EACH] = "SELECT f.payload, c.ring_deadline FROM calls c JOIN ring_frames f ON f.call_id = c.id"
			" WHERE c.receiver_id = $1 AND c.status = 'ringing' AND c.ring_deadline > $2"
			" ORDER BY c.created_at, c.id, f.seq",
	[P_ACTIVE_TRY] = "SELECT pg_try_advisory_lock(" STORE_PG_ACTIVE_KEY ")",
	[P_PING] = "SELECT 1",
};

struct store_pg {
	PGconn *conn;
	struct store *owner;
	bool active; /* holds the advisory lock (store_pg_active_try) */
};

/* The parameters of one statement, as text (NULL is SQL NULL). */
struct params {
	const char *v[STORE_PG_PARAMS_MAX];
	char num[STORE_PG_PARAMS_MAX][STORE_PG_INT_LEN];
	int n;
};

static void p_text(struct params *p, const char *v)
{
	p->v[p->n++] = v;
}

/* Empty text is NULL, as bind_text in store.c. */
static void p_opt(struct params *p, const char *v)
{
	p->v[p->n++] = v && v[0] ? v : NULL;
}

static void p_int(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], STORE_PG_INT_LEN, "%" PRId64, v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* 0 is NULL, as bind_time in store.c. */
static void p_time(struct params *p, int64_t v)
{
	if (v)
		p_int(p, v);
	else
		p->v[p->n++] = NULL;
}

static void quiet_notice(void *arg, const char *msg)
{
	log_debug("postgresql: %s", msg);
}

static void stmt_name(enum pstmt s, char name[8])
{
	snprintf(name, 8, "s%d", (int)s);
}

/* Runs statement s with p (may be NULL). Returns the result (PQclear it)
 * when it succeeded, else NULL (logged once with where). *sqlstate (may be
 * NULL) gets the error's SQLSTATE, "" when none. */
static PGresult *run(struct store_pg *pg, enum pstmt s, const struct params *p, const char *where, char sqlstate[6])
{
	char name[8];
	stmt_name(s, name);
	if (sqlstate)
		sqlstate[0] = '\0';
	PGresult *r = PQexecPrepared(pg->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
	ExecStatusType t = PQresultStatus(r);
	if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK)
		return r;
	const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (sqlstate && code)
		snprintf(sqlstate, 6, "%s", code);
	if (!sqlstate || !code || strcmp(code, "23505"))
		log_error("%s: postgresql: %s (statement %d)", where,
			  r ? PQresultErrorMessage(r) : PQerrorMessage(pg->conn), (int)s);
	PQclear(r);
	return NULL;
}

/* A statement without rows: STORE_OK or STORE_EDB. *changed (may be NULL):
 * rows it changed. */
static int cmd(struct store_pg *pg, enum pstmt s, const struct params *p, const char *where, int *changed)
{
	int64_t t0 = clock_mono_us(); /* statements without rows are the writes (and BEGIN/COMMIT): timed */
	PGresult *r = run(pg, s, p, where, NULL);
	metrics_store_write(&metrics_rules, clock_mono_us() - t0);
	if (!r)
		return STORE_EDB;
	if (changed)
		*changed = atoi(PQcmdTuples(r));
	PQclear(r);
	return STORE_OK;
}

/* A statement with up to two text parameters and no rows. */
static int cmd2(struct store_pg *pg, enum pstmt s, const char *a, const char *b, const char *where)
{
	struct params p = {.n = 0};
	if (a)
		p_text(&p, a);
	if (b)
		p_text(&p, b);
	return cmd(pg, s, &p, where, NULL);
}

/* "A row exists" with up to two text parameters: 1, 0 or STORE_EDB. */
static int exists2(struct store_pg *pg, enum pstmt s, const char *a, const char *b, const char *where)
{
	struct params p = {.n = 0};
	p_text(&p, a);
	if (b)
		p_text(&p, b);
	PGresult *r = run(pg, s, &p, where, NULL);
	if (!r)
		return STORE_EDB;
	int found = PQntuples(r) > 0;
	PQclear(r);
	return found;
}

static int begin(struct store_pg *pg)
{
	return cmd(pg, P_BEGIN, NULL, __func__, NULL);
}

static int commit(struct store_pg *pg)
{
	return cmd(pg, P_COMMIT, NULL, __func__, NULL);
}

static void rollback(struct store_pg *pg)
{
	if (!store_pg_lost(pg))
		cmd(pg, P_ROLLBACK, NULL, __func__, NULL);
}

static int64_t col_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
	snprintf(dst, cap, "%s", PQgetvalue(r, row, col));
}

static void read_call(const PGresult *r, int row, struct calls_call *c)
{
	memset(c, 0, sizeof(*c));
	col_text(r, row, 0, c->id, sizeof(c->id));
	col_text(r, row, 1, c->caller_id, sizeof(c->caller_id));
	col_text(r, row, 2, c->caller_username, sizeof(c->caller_username));
	col_text(r, row, 3, c->receiver_id, sizeof(c->receiver_id));
	col_text(r, row, 4, c->call_type, sizeof(c->call_type));
	col_text(r, row, 5, c->conversation_id, sizeof(c->conversation_id));
	int state = calls_state_parse(PQgetvalue(r, row, 6));
	c->state = state < 0 ? CALLS_ENDED : (enum calls_state)state;
	c->created_at = col_int(r, row, 7);
	c->answered_at = col_int(r, row, 8);
	c->ended_at = col_int(r, row, 9);
	col_text(r, row, 10, c->end_reason, sizeof(c->end_reason));
	col_text(r, row, 11, c->ended_by, sizeof(c->ended_by));
	c->ring_deadline = col_int(r, row, 12);
	col_text(r, row, 13, c->answered_device, sizeof(c->answered_device));
	c->caller_absent_since = col_int(r, row, 14);
	c->receiver_absent_since = col_int(r, row, 15);
}

/* A query of CALL_COLS: 1 (its first row in *out), 0 (none) or STORE_EDB. */
static int one_call(struct store_pg *pg, enum pstmt s, const struct params *p, struct calls_call *out,
		    const char *where)
{
	PGresult *r = run(pg, s, p, where, NULL);
	if (!r)
		return STORE_EDB;
	int found = PQntuples(r) > 0;
	if (found)
		read_call(r, 0, out);
	PQclear(r);
	return found;
}

/* Runs sql (no parameters, may hold several statements): STORE_OK or
 * STORE_EDB (logged). */
static int simple(struct store_pg *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg->conn, sql);
	ExecStatusType t = PQresultStatus(r);
	bool ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
	if (!ok)
		log_error("%s: postgresql: %s: %s", __func__, what, r ? PQresultErrorMessage(r) : PQerrorMessage(pg->conn));
	PQclear(r);
	return ok ? STORE_OK : STORE_EDB;
}

/* Applies the migrations past the stored schema_version, in one
 * transaction under the migration lock. */
static int migrate(struct store_pg *pg)
{
	if (simple(pg, "BEGIN; SELECT pg_advisory_xact_lock(" STORE_PG_MIGRATE_KEY ");"
		       "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);", "schema_version") != STORE_OK)
		goto fail;
	PGresult *r = PQexec(pg->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("%s: postgresql: %s", __func__, PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	int have = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (have > MIGRATIONS_N) {
		log_error("%s: the database's schema is version %d, newer than this ringmq-rules (%d)", __func__, have,
			  MIGRATIONS_N);
		goto fail;
	}
	for (int v = have + 1; v <= MIGRATIONS_N; v++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version) VALUES (%d)", v);
		if (simple(pg, migrations[v - 1], "migration") != STORE_OK || simple(pg, sql, "schema_version") != STORE_OK)
			goto fail;
		log_info("%s: schema version %d applied", __func__, v);
	}
	return simple(pg, "COMMIT", "commit");
fail:
	simple(pg, "ROLLBACK", "rollback");
	return STORE_EDB;
}

bool store_pg_is_conninfo(const char *path)
{
	return !strncmp(path, "postgresql://", 13) || !strncmp(path, "postgres://", 11);
}

int store_pg_open(const char *conninfo, struct store *owner, struct store_pg **out)
{
	*out = NULL;
	struct store_pg *pg = calloc(1, sizeof(*pg));
	if (!pg)
		return STORE_EDB;
	pg->owner = owner;
	pg->conn = PQconnectdb(conninfo);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		log_error("%s: cannot connect to PostgreSQL: %s", __func__, PQerrorMessage(pg->conn));
		goto fail;
	}
	PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
	if (migrate(pg) != STORE_OK || simple(pg, presence_sql, "presence") != STORE_OK)
		goto fail;
	for (int i = 0; i < P_COUNT; i++) {
		char name[8];
		stmt_name(i, name);
		PGresult *r = PQprepare(pg->conn, name, pstmt_sql[i], 0, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("%s: cannot prepare statement %d: %s", __func__, i, PQresultErrorMessage(r));
		PQclear(r);
		if (!ok)
			goto fail;
	}
	*out = pg;
	return STORE_OK;
fail:
	store_pg_close(pg);
	return STORE_EDB;
}

void store_pg_close(struct store_pg *pg)
{
	if (!pg)
		return;
	PQfinish(pg->conn);
	free(pg);
}

bool store_pg_lost(const struct store_pg *pg)
{
	return PQstatus(pg->conn) != CONNECTION_OK;
}

int store_pg_active_try(struct store_pg *pg)
{
	if (pg->active)
		return 1;
	PGresult *r = run(pg, P_ACTIVE_TRY, NULL, __func__, NULL);
	if (!r)
		return STORE_EDB;
	pg->active = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return pg->active;
}

int store_pg_outbox_count(struct store_pg *pg, size_t *n)
{
	PGresult *r = run(pg, P_OUTBOX_COUNT, NULL, __func__, NULL);
	if (!r)
		return STORE_EDB;
	*n = (size_t)col_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

int store_pg_check(struct store_pg *pg)
{
	if (store_pg_lost(pg) || cmd(pg, P_PING, NULL, __func__, NULL) != STORE_OK || store_pg_lost(pg)) {
		log_error("%s: the PostgreSQL connection is gone%s", __func__, pg->active ? ", and the active lock with it" : "");
		return STORE_EDB;
	}
	return STORE_OK;
}

int store_pg_conversation_exists(struct store_pg *pg, const char *cid)
{
	return exists2(pg, P_CONV_GET, cid, NULL, __func__);
}

int store_pg_member(struct store_pg *pg, const char *cid, const char *uid)
{
	return exists2(pg, P_MEMBER_GET, cid, uid, __func__);
}

/* Inside the caller's transaction: removes key's rows (clear), then adds
 * (key, vals[i]) for each value (insert). */
static int replace_set(struct store_pg *pg, enum pstmt clear, enum pstmt insert, const char *key,
		       const char *const *vals, size_t n)
{
	if (cmd2(pg, clear, key, NULL, __func__) != STORE_OK)
		return STORE_EDB;
	for (size_t i = 0; i < n; i++)
		if (cmd2(pg, insert, key, vals[i], __func__) != STORE_OK)
			return STORE_EDB;
	return STORE_OK;
}

int store_pg_conversation_put(struct store_pg *pg, const char *cid, const char *const *members, size_t n,
			      bool *created)
{
	if (begin(pg) != STORE_OK)
		return STORE_EDB;
	int had = store_pg_conversation_exists(pg, cid);
	if (had < 0)
		goto fail;
	if (!had) {
		struct params p = {.n = 0};
		p_text(&p, cid);
		p_int(&p, clock_now_ms());
		if (cmd(pg, P_CONV_INSERT, &p, __func__, NULL) != STORE_OK)
			goto fail;
	}
	if (replace_set(pg, P_MEMBERS_CLEAR, P_MEMBER_INSERT, cid, members, n) != STORE_OK || commit(pg) != STORE_OK)
		goto fail;
	*created = !had;
	return STORE_OK;
fail:
	rollback(pg);
	return STORE_EDB;
}

int store_pg_conversation_delete(struct store_pg *pg, const char *cid)
{
	if (begin(pg) != STORE_OK)
		return STORE_EDB;
	int had = store_pg_conversation_exists(pg, cid);
	if (had <= 0) {
		rollback(pg);
		return had < 0 ? STORE_EDB : STORE_ENOTFOUND;
	}
	if (cmd2(pg, P_MEMBERS_CLEAR, cid, NULL, __func__) != STORE_OK ||
	    cmd2(pg, P_CONV_DELETE, cid, NULL, __func__) != STORE_OK || commit(pg) != STORE_OK) {
		rollback(pg);
		return STORE_EDB;
	}
	return STORE_OK;
}

static int insert_row(struct store_pg *pg, const struct calls_call *c)
{
	struct params p = {.n = 0};
	p_opt(&p, c->id);
	p_opt(&p, c->caller_id);
	p_text(&p, c->caller_username);
	p_opt(&p, c->receiver_id);
	p_opt(&p, c->call_type);
	p_opt(&p, c->conversation_id);
	p_text(&p, calls_state_name(c->state));
	p_int(&p, c->created_at);
	p_time(&p, c->answered_at);
	p_time(&p, c->ended_at);
	p_opt(&p, c->end_reason);
	p_opt(&p, c->ended_by);
	p_time(&p, c->ring_deadline);
	p_opt(&p, c->answered_device);
	p_time(&p, c->caller_absent_since);
	p_time(&p, c->receiver_absent_since);
	char state[6];
	PGresult *r = run(pg, P_CALL_INSERT, &p, __func__, state);
	if (r) {
		PQclear(r);
		return STORE_OK;
	}
	return !strcmp(state, "23505") ? STORE_EEXISTS : STORE_EDB;
}

static int update_row(struct store_pg *pg, const struct calls_call *c)
{
	struct params p = {.n = 0};
	p_text(&p, c->id);
	p_text(&p, calls_state_name(c->state));
	p_time(&p, c->answered_at);
	p_time(&p, c->ended_at);
	p_opt(&p, c->end_reason);
	p_opt(&p, c->ended_by);
	p_opt(&p, c->answered_device);
	int changed = 0;
	if (cmd(pg, P_CALL_UPDATE, &p, __func__, &changed) != STORE_OK)
		return STORE_EDB;
	return changed ? STORE_OK : STORE_ENOTFOUND;
}

/* Inside the transaction of a call write: the hook's event for c, queued. */
static int queue_event(struct store_pg *pg, const struct calls_call *c, bool inserted, bool *queued)
{
	struct store_event ev = {.body = NULL};
	*queued = false;
	int rc = store__event(pg->owner, c, inserted, &ev);
	if (rc <= 0) {
		free(ev.body);
		return rc < 0 ? STORE_EDB : STORE_OK;
	}
	struct params p = {.n = 0};
	p_text(&p, c->id);
	p_text(&p, ev.id);
	p_text(&p, ev.body);
	p_int(&p, clock_now_ms());
	rc = cmd(pg, P_OUTBOX_INSERT, &p, __func__, NULL);
	free(ev.body);
	*queued = rc == STORE_OK;
	return rc;
}

int store_pg_call_write(struct store_pg *pg, const struct calls_call *c, bool inserted)
{
	bool tx = store__has_hook(pg->owner);
	if (tx && begin(pg) != STORE_OK)
		return STORE_EDB;
	bool queued = false;
	int rc = inserted ? insert_row(pg, c) : update_row(pg, c);
	if (rc == STORE_OK && tx)
		rc = queue_event(pg, c, inserted, &queued);
	if (rc == STORE_OK && tx && commit(pg) != STORE_OK)
		rc = STORE_EDB;
	if (rc != STORE_OK) {
		if (tx)
			rollback(pg);
		return rc;
	}
	store__call_written(pg->owner, c, queued);
	return STORE_OK;
}

int store_pg_call_get(struct store_pg *pg, const char *id, struct calls_call *out)
{
	struct params p = {.n = 0};
	p_text(&p, id);
	int rc = one_call(pg, P_CALL_GET, &p, out, __func__);
	if (rc < 0)
		return STORE_EDB;
	return rc ? STORE_OK : STORE_ENOTFOUND;
}

int store_pg_call_busy(struct store_pg *pg, const char *uid)
{
	return exists2(pg, P_CALL_BUSY, uid, NULL, __func__);
}

int store_pg_call_ringing_between(struct store_pg *pg, const char *a, const char *b, struct calls_call *out)
{
	struct params p = {.n = 0};
	p_text(&p, a);
	p_text(&p, b);
	return one_call(pg, P_CALL_RINGING_BETWEEN, &p, out, __func__);
}

int store_pg_calls_list(struct store_pg *pg, const char *uid, int64_t before_ms, const char *before_id,
			struct calls_call *out, size_t cap, size_t *n)
{
	struct params p = {.n = 0};
	*n = 0;
	p_text(&p, uid);
	/* No call is created at INT64_MAX: (MAX, '') is past every row. */
	p_int(&p, before_id ? before_ms : INT64_MAX);
	p_text(&p, before_id ? before_id : "");
	p_int(&p, (int64_t)cap);
	PGresult *r = run(pg, P_CALLS_LIST, &p, __func__, NULL);
	if (!r)
		return STORE_EDB;
	for (int i = 0; i < PQntuples(r) && *n < cap; i++)
		read_call(r, i, &out[(*n)++]);
	PQclear(r);
	return STORE_OK;
}

int store_pg_next_deadline(struct store_pg *pg, int64_t *deadline_ms)
{
	PGresult *r = run(pg, P_NEXT_DEADLINE, NULL, __func__, NULL);
	if (!r)
		return STORE_EDB;
	int found = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
	if (found)
		*deadline_ms = col_int(r, 0, 0);
	PQclear(r);
	return found;
}

int store_pg_call_overdue(struct store_pg *pg, int64_t now_ms, struct calls_call *out)
{
	struct params p = {.n = 0};
	p_int(&p, now_ms);
	return one_call(pg, P_OVERDUE, &p, out, __func__);
}

int store_pg_presence_set(struct store_pg *pg, const char *source, const char *uid, bool online)
{
	return cmd2(pg, online ? P_PRESENCE_ON : P_PRESENCE_OFF, source, uid, __func__);
}

int store_pg_presence_snapshot(struct store_pg *pg, const char *source, const char *const *uids, size_t n)
{
	if (begin(pg) != STORE_OK)
		return STORE_EDB;
	if (replace_set(pg, P_PRESENCE_CLEAR, P_PRESENCE_ON, source, uids, n) != STORE_OK || commit(pg) != STORE_OK) {
		rollback(pg);
		return STORE_EDB;
	}
	return STORE_OK;
}

int store_pg_presence_online(struct store_pg *pg, const char *uid)
{
	return exists2(pg, P_PRESENCE_GET, uid, NULL, __func__);
}

int store_pg_calls_presence_sync(struct store_pg *pg, const char *uid, int64_t now_ms, int *changed)
{
	struct params p = {.n = 0};
	p_int(&p, now_ms);
	p_text(&p, uid);
	return cmd(pg, P_PRESENCE_SYNC, &p, __func__, changed);
}

int store_pg_call_watch_first(struct store_pg *pg, enum store_watch which, struct calls_call *out)
{
	static const enum pstmt by[] = {
		[STORE_WATCH_CALLER_ABSENT] = P_WATCH_CALLER,
		[STORE_WATCH_RECEIVER_ABSENT] = P_WATCH_RECEIVER,
		[STORE_WATCH_ANSWERED] = P_WATCH_ANSWERED,
	};
	if ((int)which < 0 || which > STORE_WATCH_ANSWERED)
		return STORE_EDB;
	return one_call(pg, by[which], NULL, out, __func__);
}

int store_pg_revoke(struct store_pg *pg, const char *uid, int64_t before, int64_t *now_before)
{
	struct params p = {.n = 0};
	p_text(&p, uid);
	p_int(&p, before);
	PGresult *r = run(pg, P_REVOKE, &p, __func__, NULL);
	if (!r)
		return STORE_EDB;
	int ok = PQntuples(r) == 1;
	if (ok)
		*now_before = col_int(r, 0, 0);
	PQclear(r);
	return ok ? STORE_OK : STORE_EDB;
}

int store_pg_revocations_each(struct store_pg *pg, void (*fn)(const char *uid, int64_t before, void *arg),
			      void *arg)
{
	PGresult *r = run(pg, P_REVOKED_ALL, NULL, __func__, NULL);
	if (!r)
		return STORE_EDB;
	for (int i = 0; i < PQntuples(r); i++)
		fn(PQgetvalue(r, i, 0), col_int(r, i, 1), arg);
	PQclear(r);
	return STORE_OK;
}

static bool skipped(int64_t seq, const int64_t *skip, size_t nskip)
{
	for (size_t i = 0; i < nskip; i++)
		if (skip[i] == seq)
			return true;
	return false;
}

int store_pg_outbox_heads(struct store_pg *pg, const int64_t *skip, size_t nskip, struct store_outbox_row *out,
			  size_t cap, size_t *n)
{
	struct params p = {.n = 0};
	*n = 0;
	p_int(&p, (int64_t)(cap + nskip));
	PGresult *r = run(pg, P_OUTBOX_HEADS, &p, __func__, NULL);
	if (!r)
		return STORE_EDB;
	for (int i = 0; i < PQntuples(r) && *n < cap; i++) {
		struct store_outbox_row *o = &out[*n];
		o->seq = col_int(r, i, 0);
		if (skipped(o->seq, skip, nskip))
			continue;
		col_text(r, i, 1, o->call_id, sizeof(o->call_id));
		col_text(r, i, 2, o->event_id, sizeof(o->event_id));
		o->body = strdup(PQgetvalue(r, i, 3));
		o->created_at = col_int(r, i, 4);
		o->first_at = col_int(r, i, 5);
		o->next_at = col_int(r, i, 6);
		o->attempts = (int)col_int(r, i, 7);
		if (!o->body) {
			for (size_t k = 0; k < *n; k++)
				free(out[k].body);
			*n = 0;
			PQclear(r);
			return STORE_EDB;
		}
		(*n)++;
	}
	PQclear(r);
	return STORE_OK;
}

int store_pg_outbox_done(struct store_pg *pg, int64_t seq, const char *call_id, int64_t now_ms, bool *removed)
{
	*removed = false;
	if (begin(pg) != STORE_OK)
		return STORE_EDB;
	struct params del = {.n = 0}, up = {.n = 0};
	p_int(&del, seq);
	p_text(&up, call_id);
	p_int(&up, now_ms);
	int gone = 0;
	if (cmd(pg, P_OUTBOX_DELETE, &del, __func__, &gone) != STORE_OK ||
	    cmd(pg, P_OUTBOX_PROMOTE, &up, __func__, NULL) != STORE_OK || commit(pg) != STORE_OK) {
		rollback(pg);
		return STORE_EDB;
	}
	*removed = gone > 0;
	return STORE_OK;
}

int store_pg_outbox_retry(struct store_pg *pg, int64_t seq, int64_t first_at, int64_t next_at)
{
	struct params p = {.n = 0};
	p_int(&p, seq);
	p_int(&p, first_at);
	p_int(&p, next_at);
	return cmd(pg, P_OUTBOX_RETRY, &p, __func__, NULL);
}

int store_pg_ring_keep(struct store_pg *pg, const char *call_id, enum store_ring kind, const char *payload,
		       size_t len, int ice_max)
{
	char *text = strndup(payload, len); /* libpq's text parameters end at a NUL */
	if (!text)
		return STORE_EDB;
	struct params p = {.n = 0};
	p_text(&p, call_id);
	if (kind == STORE_RING_ICE) {
		p_text(&p, text);
		p_int(&p, ice_max);
	} else {
		p_int(&p, kind == STORE_RING_INCOMING ? 0 : 1);
		p_text(&p, text);
	}
	int changed = 0;
	int rc = cmd(pg, kind == STORE_RING_ICE ? P_RING_ICE : P_RING_PUT, &p, __func__, &changed);
	free(text);
	if (rc != STORE_OK)
		return STORE_EDB;
	return changed > 0;
}

int store_pg_ring_each(struct store_pg *pg, const char *uid, int64_t now_ms,
		       bool (*fn)(const char *payload, size_t len, int64_t ring_deadline, void *arg), void *arg)
{
	struct params p = {.n = 0};
	p_text(&p, uid);
	p_int(&p, now_ms);
	PGresult *r = run(pg, P_RING_EACH, &p, __func__, NULL);
	if (!r)
		return STORE_EDB;
	for (int i = 0; i < PQntuples(r); i++)
		if (!fn(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), col_int(r, i, 1), arg))
			break;
	PQclear(r);
	return STORE_OK;
}
