/* store: everything rules keeps, in one database: an SQLite file it alone
 * opens (the embedded default), or PostgreSQL (store_open on a
 * postgresql:// conninfo; store_pg.c) that other hosts reach too. The
 * contract below holds for both; where they differ it says so.
 * Tables: conversations and members (written by the server API through the
 * bridge), revocations (user id -> before, revoked.h), calls (the records of calls.h; times in ms since the epoch),
 * ring_frames (the copies a device coming online while a call rings is
 * sent, replay.h), health (one row, written by store_health_write), and
 * a TEMP table presence(source, user_id) that lives as long as the process
 * (bridges resend it on svc/rules/hello). WAL journal, statements prepared
 * once at open and kept, indexes for a user's history (newest first), for
 * ringing deadlines and for the watch of accepted calls (absences, answer
 * times). Single-threaded: one struct store per loop.
 *
 * The webhook outbox (webhooks.h) is a table too: with a hook set
 * (store_outbox_hook), every call write (insert, update) asks the hook for
 * an event and queues it in the same transaction as the call's row, so an
 * event is never lost nor queued for a change that did not commit. Events
 * of one call form a chain in order: only the oldest of a call has a
 * next_at (is due for delivery); the next one gets it when its predecessor
 * is done (store_outbox_done). */
#ifndef RINGMQ_STORE_H
#define RINGMQ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls.h"

enum store_err {
	STORE_OK = 0,
	STORE_EDB = -1,       /* the database failed (logged once, with the statement) */
	STORE_ENOTFOUND = -2, /* no such row */
	STORE_EEXISTS = -3,   /* a row with that key is already there */
};

struct store;

/* Opens (creating when missing) the database at path; ":memory:" works for
 * tests. A path starting postgresql:// or postgres:// is a libpq conninfo
 * of an existing PostgreSQL database instead. Applies the schema
 * migrations not yet applied (table schema_version), sets WAL (SQLite)
 * and prepares the statements. Returns STORE_OK and *out (release with
 * store_close), or STORE_EDB. */
int store_open(const char *path, struct store **out);
/* Finalizes the statements and closes the database. NULL-safe. */
void store_close(struct store *st);

/* Conversations. */
/* Creates conversation cid with members (n ids, duplicates ignored) or
 * replaces its members; *created says which. One transaction. */
int store_conversation_put(struct store *st, const char *cid, const char *const *members, size_t n, bool *created);
/* Removes cid and its members (calls stay in history). STORE_ENOTFOUND if unknown. */
int store_conversation_delete(struct store *st, const char *cid);
/* 1 when cid exists, 0 when not, STORE_EDB. */
int store_conversation_exists(struct store *st, const char *cid);
/* 1 when uid is a member of cid, 0 when not (or no such conversation), STORE_EDB. */
int store_member(struct store *st, const char *cid, const char *uid);

/* Revocations (revoked.h). */
/* Raises uid's rule to before (never lowers it); *now_before is the rule
 * in force after the write. */
int store_revoke(struct store *st, const char *uid, int64_t before, int64_t *now_before);
/* Calls fn for every rule (fn must not use the store). STORE_OK or STORE_EDB. */
int store_revocations_each(struct store *st, void (*fn)(const char *uid, int64_t before, void *arg), void *arg);

/* Calls. */
/* Inserts a new call (its id must be fresh: STORE_EEXISTS otherwise). */
int store_call_insert(struct store *st, const struct calls_call *c);
/* Fills *out with call id. STORE_ENOTFOUND when there is none. */
int store_call_get(struct store *st, const char *id, struct calls_call *out);
/* Writes the mutable part of c (state, times, end reason, ended_by,
 * answered device) over the stored call with c->id. The absences are
 * store_calls_presence_sync()'s. */
int store_call_update(struct store *st, const struct calls_call *c);
/* 1 when uid takes part in an accepted call, 0 when not, STORE_EDB. */
int store_call_busy(struct store *st, const char *uid);
/* 1 and *out when a call between a and b (either direction) is ringing
 * (the oldest, if several), 0 when none, STORE_EDB. */
int store_call_ringing_between(struct store *st, const char *a, const char *b, struct calls_call *out);
/* Calls uid takes part in, newest first (created_at, then id, descending),
 * strictly older than the cursor (before_ms, before_id); before_id NULL
 * means "from the newest". Fills up to cap entries of out; *n says how
 * many. */
int store_calls_list(struct store *st, const char *uid, int64_t before_ms, const char *before_id,
		     struct calls_call *out, size_t cap, size_t *n);
/* 1 and *deadline_ms: the earliest ring deadline of a ringing call; 0 when
 * nothing rings; STORE_EDB. */
int store_next_deadline(struct store *st, int64_t *deadline_ms);
/* 1 and *out: a ringing call whose deadline is <= now_ms (the earliest);
 * 0 when none is overdue; STORE_EDB. */
int store_call_overdue(struct store *st, int64_t now_ms, struct calls_call *out);

/* The watch of accepted calls (calls.h). */
enum store_watch {
	STORE_WATCH_CALLER_ABSENT = 0, /* the accepted call whose caller is absent the longest */
	STORE_WATCH_RECEIVER_ABSENT,   /* the same for receivers */
	STORE_WATCH_ANSWERED,          /* the accepted call answered first */
};
/* 1 and *out: the accepted call first in the order of which; 0 when there
 * is none; STORE_EDB. */
int store_call_watch_first(struct store *st, enum store_watch which, struct calls_call *out);
/* Brings the absences of accepted calls (all of them when uid is NULL,
 * else those uid takes part in) in line with the presence table: a
 * participant with no presence at any source is absent since now_ms
 * unless already absent (the earlier start is kept); one with presence is
 * not absent. *changed (may be NULL): how many calls changed. The only
 * writer of caller_absent_since / receiver_absent_since besides
 * store_call_insert. */
int store_calls_presence_sync(struct store *st, const char *uid, int64_t now_ms, int *changed);

/* What the writes since the last call changed for the timers (timers.h):
 * *ring_added, the earliest ring deadline of a call inserted ringing (0:
 * none); *watch_changed, whether an accepted call was written (inserted or
 * updated as accepted, or its absences changed). Then forgets both. A write
 * that can only make a deadline later (a call ending, a participant coming
 * back) may go unreported: a timer that fires early finds nothing due. */
void store_take_changes(struct store *st, int64_t *ring_added, bool *watch_changed);

/* The WAL (SQLite; on PostgreSQL pages are 0 and a checkpoint does
 * nothing). SQLite's automatic checkpoint is off (it ran inside a commit,
 * on the only thread: three fdatasyncs of ~10 ms each every ~1000 pages);
 * the loop checkpoints when it is idle, or when the WAL has grown too big,
 * through these two. */
/* Pages in the WAL since the last complete checkpoint, as of the last
 * commit (0 for a database without a WAL, such as ":memory:"). */
int store_wal_pages(const struct store *st);
/* A PASSIVE checkpoint: copies the WAL into the database without waiting
 * for anyone. STORE_OK (the WAL is reused from its start by the next
 * commit) or STORE_EDB (logged). */
int store_checkpoint(struct store *st);

/* Who routes (hot standby: two or more rules on one PostgreSQL store). */
/* 1 when this process may route: on PostgreSQL it holds the store's
 * session advisory lock (taken here when free, held until its connection
 * ends); on SQLite an exclusive flock on <path>-rules.lock (one host; held
 * until the store is closed or the process ends; ":memory:" needs none).
 * 0 when another rules holds it; STORE_EDB. On the first 1 the outbox is
 * counted again (store_outbox_count): a standby's count is stale. */
int store_active_try(struct store *st);
/* STORE_OK while the database answers (PostgreSQL: one round trip);
 * STORE_EDB once its connection is gone, and with it the lock of
 * store_active_try: the caller must stop routing. STORE_OK on SQLite. */
int store_check(struct store *st);

/* Presence (TEMP table: gone when the process ends, or on PostgreSQL its
 * database session). */
/* Marks uid online or offline at source. */
int store_presence_set(struct store *st, const char *source, const char *uid, bool online);
/* Replaces everything known of source with the n ids of uids (n may be 0). */
int store_presence_snapshot(struct store *st, const char *source, const char *const *uids, size_t n);
/* 1 when any source has uid online, 0 when none, STORE_EDB. */
int store_presence_online(struct store *st, const char *uid);

/* The webhook outbox. */
struct store_event {
	char id[IDS_UUID_LEN + 1]; /* the event's id */
	char *body;                /* malloc'd JSON; the store frees it */
};
/* Called inside the transaction of a call write, after the call's row:
 * inserted says whether c was inserted (else updated). Returns 1 with *out
 * filled (an event to queue), 0 when the write makes no event, -1 to fail
 * the whole write. */
typedef int (*store_event_fn)(void *ctx, struct store *st, const struct calls_call *c, bool inserted,
			      struct store_event *out);
/* Sets (fn non-NULL) or clears the hook. Without one nothing is queued. */
void store_outbox_hook(struct store *st, store_event_fn fn, void *ctx);
/* Rows in the outbox (kept in memory, counted at open). */
size_t store_outbox_count(const struct store *st);

/* One queued event. */
struct store_outbox_row {
	int64_t seq;                    /* queue order (also across calls) */
	char call_id[IDS_UUID_LEN + 1];
	char event_id[IDS_UUID_LEN + 1];
	char *body;                     /* malloc'd; the caller frees it */
	int64_t created_at;             /* ms: when it was queued */
	int64_t first_at;               /* ms: its first failed attempt, 0 = none yet */
	int64_t next_at;                /* ms: due from then on */
	int attempts;                   /* failed attempts so far */
};
/* The events that are due or next due (the oldest of each call), earliest
 * next_at first, up to cap; *n says how many. Rows whose seq is one of
 * the nskip of skip (in flight) are passed over and not counted. */
int store_outbox_heads(struct store *st, const int64_t *skip, size_t nskip, struct store_outbox_row *out,
		       size_t cap, size_t *n);
/* Removes event seq of call_id (delivered or given up) and makes the next
 * event of that call due at now_ms. One transaction. */
int store_outbox_done(struct store *st, int64_t seq, const char *call_id, int64_t now_ms);
/* Records a failed attempt of seq: attempts + 1, first_at (when not yet
 * set) and the next try at next_at. */
int store_outbox_retry(struct store *st, int64_t seq, int64_t first_at, int64_t next_at);

/* The frames a device that comes online while a call rings is sent
 * (replay.h), as published; dropped by the store itself when the call
 * stops ringing (any status but ringing written by store_call_update). */
enum store_ring {
	STORE_RING_INCOMING = 0, /* the call.incoming: one per call */
	STORE_RING_OFFER,        /* the caller's latest call.offer: replaces the one kept */
	STORE_RING_ICE,          /* a caller's call.ice_candidate: appended, at most ice_max kept */
};
/* Keeps payload (len bytes of JSON text, copied) for call_id. 1 when
 * kept, 0 for a candidate beyond ice_max (not kept: the first ice_max
 * stay), STORE_EDB. */
int store_ring_keep(struct store *st, const char *call_id, enum store_ring kind, const char *payload, size_t len,
		    int ice_max);
/* Calls fn with each kept frame of the calls ringing for receiver uid at
 * now_ms (status ringing, deadline not passed): oldest call first, each
 * call's incoming, offer, then candidates in the order sent; with the
 * call's ring deadline. payload is borrowed for the call. fn returns
 * false to stop; it must not use the store. STORE_OK or STORE_EDB. */
int store_ring_each(struct store *st, const char *uid, int64_t now_ms,
		    bool (*fn)(const char *payload, size_t len, int64_t ring_deadline, void *arg), void *arg);

/* Health (health.h). */
/* A tiny write in its own transaction (the one row of table health, at
 * now_ms): STORE_OK when it committed, else STORE_EDB (logged). Its own
 * failure does not move store_failed_at(). On PostgreSQL a round trip
 * (the server's disk is its own to watch). */
int store_health_write(struct store *st, int64_t now_ms);
/* Bytes an unprivileged writer may still use on the database's file
 * system, -1 when unknown (":memory:", PostgreSQL). */
int64_t store_free_bytes(struct store *st);
/* Monotonic ms of the last statement that failed (0: none yet). */
int64_t store_failed_at(const struct store *st);
/* Monotonic ms of the last commit into the database's WAL (0: none yet,
 * and always 0 without a WAL, as for ":memory:"). */
int64_t store_committed_at(const struct store *st);

#endif
