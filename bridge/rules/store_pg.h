/* store_pg: the PostgreSQL backend of store.h, private to the store.
 * store.c keeps the contract and the SQLite backend; a store opened on a
 * postgresql:// (or postgres://) conninfo holds a struct store_pg and
 * every public store_* function hands its call to the store_pg_* of the
 * same name and meaning (store.h is the contract of each). What is the
 * same for both backends stays in store.c and is reached through the
 * store__* functions below: the outbox hook and the counters of
 * store_take_changes and store_outbox_count. */
#ifndef RINGMQ_STORE_PG_H
#define RINGMQ_STORE_PG_H

#include "store.h"

struct store_pg;

/* True when path names a PostgreSQL database (postgresql:// or postgres://). */
bool store_pg_is_conninfo(const char *path);
/* Connects to conninfo, applies the migrations (schema_version), creates
 * the session's TEMP presence table and prepares every statement. owner
 * is the store it serves (its hook and counters); it outlives the
 * backend. STORE_OK and *out (store_pg_close), or STORE_EDB (logged). */
int store_pg_open(const char *conninfo, struct store *owner, struct store_pg **out);
/* Closes the connection. NULL-safe. */
void store_pg_close(struct store_pg *pg);
/* True once the connection is gone (the server ended it or the network
 * failed); no statement succeeds from then on. */
bool store_pg_lost(const struct store_pg *pg);
/* store_active_try: 1 when this session holds the advisory lock (now or
 * already), 0 when another one does, STORE_EDB. */
int store_pg_active_try(struct store_pg *pg);
/* The rows of the webhook outbox (store.c keeps the count). */
int store_pg_outbox_count(struct store_pg *pg, size_t *n);
/* store_check: a round trip; STORE_EDB when the connection is gone. */
int store_pg_check(struct store_pg *pg);

int store_pg_conversation_put(struct store_pg *pg, const char *cid, const char *const *members, size_t n,
			      bool *created);
int store_pg_conversation_delete(struct store_pg *pg, const char *cid);
int store_pg_conversation_exists(struct store_pg *pg, const char *cid);
int store_pg_member(struct store_pg *pg, const char *cid, const char *uid);
int store_pg_revoke(struct store_pg *pg, const char *uid, int64_t before, int64_t *now_before);
int store_pg_revocations_each(struct store_pg *pg, void (*fn)(const char *uid, int64_t before, void *arg),
			      void *arg);
/* store_call_insert (inserted) and store_call_update (not). */
int store_pg_call_write(struct store_pg *pg, const struct calls_call *c, bool inserted);
int store_pg_call_get(struct store_pg *pg, const char *id, struct calls_call *out);
int store_pg_call_busy(struct store_pg *pg, const char *uid);
int store_pg_call_ringing_between(struct store_pg *pg, const char *a, const char *b, struct calls_call *out);
int store_pg_calls_list(struct store_pg *pg, const char *uid, int64_t before_ms, const char *before_id,
			struct calls_call *out, size_t cap, size_t *n);
int store_pg_next_deadline(struct store_pg *pg, int64_t *deadline_ms);
int store_pg_call_overdue(struct store_pg *pg, int64_t now_ms, struct calls_call *out);
int store_pg_call_watch_first(struct store_pg *pg, enum store_watch which, struct calls_call *out);
/* *changed: rows changed (never NULL here). */
int store_pg_calls_presence_sync(struct store_pg *pg, const char *uid, int64_t now_ms, int *changed);
int store_pg_presence_set(struct store_pg *pg, const char *source, const char *uid, bool online);
int store_pg_presence_snapshot(struct store_pg *pg, const char *source, const char *const *uids, size_t n);
int store_pg_presence_online(struct store_pg *pg, const char *uid);
int store_pg_outbox_heads(struct store_pg *pg, const int64_t *skip, size_t nskip, struct store_outbox_row *out,
			  size_t cap, size_t *n);
/* *removed: whether seq was there. */
int store_pg_outbox_done(struct store_pg *pg, int64_t seq, const char *call_id, int64_t now_ms, bool *removed);
int store_pg_outbox_retry(struct store_pg *pg, int64_t seq, int64_t first_at, int64_t next_at);
int store_pg_ring_keep(struct store_pg *pg, const char *call_id, enum store_ring kind, const char *payload,
		       size_t len, int ice_max);
int store_pg_ring_each(struct store_pg *pg, const char *uid, int64_t now_ms,
		       bool (*fn)(const char *payload, size_t len, int64_t ring_deadline, void *arg), void *arg);

/* Shared by both backends, in store.c. */
/* Whether owner has an outbox hook (a call write is then a transaction). */
bool store__has_hook(const struct store *owner);
/* The hook's answer for the write of c (store_event_fn); 0 without a hook. */
int store__event(struct store *owner, const struct calls_call *c, bool inserted, struct store_event *out);
/* A call write committed: the outbox grew by queued rows; c's deadline and
 * watch go to store_take_changes. */
void store__call_written(struct store *owner, const struct calls_call *c, bool queued);

#endif
