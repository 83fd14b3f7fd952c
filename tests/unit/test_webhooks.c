/* Unit tests of webhooks.c's pure parts (event type, body, signature,
 * back-off, URL check) and of the store's outbox under the hook (in-memory
 * SQLite): an event per call write in its transaction, in order per call,
 * the next one due only once the previous is done, retries keeping the
 * stored body, and the bound; and the driver's refused attempt (a
 * loopback port nobody listens on, nothing else of the network). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "storefix.h"
#include "clock.h"
#include "store.h"
#include "webhooks.h"

#define T0 1764633600123LL /* 2025-12-02T00:00:00.123Z */

static struct calls_call make_call(int n, enum calls_state s)
{
	struct calls_call c;
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "00000000-0000-4000-8000-%012d", n);
	strcpy(c.caller_id, "alice");
	strcpy(c.caller_username, "Alice");
	strcpy(c.receiver_id, "bob");
	strcpy(c.call_type, "video");
	strcpy(c.conversation_id, "c1");
	c.state = s;
	c.created_at = T0;
	c.ring_deadline = T0 + 45000;
	return c;
}

static json_t *parse(const char *s)
{
	json_error_t err;
	return s ? json_loads(s, 0, &err) : NULL;
}

static void test_types(void)
{
	struct calls_call c = make_call(1, CALLS_RINGING);
	CHECK_EQ_INT(webhooks_type_of(&c, true), WEBHOOKS_RINGING);
	CHECK_EQ_INT(webhooks_type_of(&c, false), WEBHOOKS_NONE);
	c.state = CALLS_ACCEPTED;
	CHECK_EQ_INT(webhooks_type_of(&c, false), WEBHOOKS_ACCEPTED);
	CHECK_EQ_INT(webhooks_type_of(&c, true), WEBHOOKS_NONE);
	for (enum calls_state s = CALLS_ENDED; s <= CALLS_MISSED; s++) {
		c.state = s;
		CHECK_EQ_INT(webhooks_type_of(&c, false), WEBHOOKS_ENDED);
	}
	CHECK_EQ_STR(webhooks_type_name(WEBHOOKS_RINGING), "call.ringing");
	CHECK_EQ_STR(webhooks_type_name(WEBHOOKS_ACCEPTED), "call.accepted");
	CHECK_EQ_STR(webhooks_type_name(WEBHOOKS_ENDED), "call.ended");
	CHECK(!webhooks_type_name(WEBHOOKS_NONE));
}

static void test_bodies(void)
{
	const char *id = "11111111-2222-4333-8444-555555555555";
	struct calls_call c = make_call(2, CALLS_RINGING);
	char *s = webhooks_body(&c, WEBHOOKS_RINGING, true, id);
	json_t *j = parse(s);
	CHECK(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "id")), id);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "type")), "call.ringing");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "created_at")), "2025-12-02T00:00:00.123Z");
	json_t *call = json_object_get(j, "call");
	CHECK_EQ_STR(json_string_value(json_object_get(call, "call_id")), c.id);
	CHECK_EQ_STR(json_string_value(json_object_get(call, "status")), "ringing");
	CHECK_EQ_STR(json_string_value(json_object_get(call, "caller_username")), "Alice");
	CHECK(json_is_true(json_object_get(call, "receiver_online")));
	CHECK(json_is_null(json_object_get(call, "ended_by")));
	CHECK(json_is_null(json_object_get(call, "answered_at")));
	CHECK(!json_object_get(call, "duration_ms"));
	/* Everything calls_to_json says, and only the extras besides. */
	json_t *rec = calls_to_json(&c);
	CHECK_EQ_INT(json_object_size(call), json_object_size(rec) + 1);
	json_decref(rec);
	json_decref(j);
	free(s);

	/* Offline receiver. */
	s = webhooks_body(&c, WEBHOOKS_RINGING, false, id);
	j = parse(s);
	CHECK(json_is_false(json_object_get(json_object_get(j, "call"), "receiver_online")));
	json_decref(j);
	free(s);

	/* Accepted: created_at is the answer's time. */
	c.state = CALLS_ACCEPTED;
	c.answered_at = T0 + 2000;
	strcpy(c.answered_device, "d-1");
	s = webhooks_body(&c, WEBHOOKS_ACCEPTED, false, id);
	j = parse(s);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "type")), "call.accepted");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "created_at")), "2025-12-02T00:00:02.123Z");
	call = json_object_get(j, "call");
	CHECK(!json_object_get(call, "receiver_online") && !json_object_get(call, "duration_ms"));
	json_decref(j);
	free(s);

	/* Hung up: duration from the answer to the end. */
	c.state = CALLS_ENDED;
	c.ended_at = T0 + 9500;
	strcpy(c.end_reason, "hangup");
	strcpy(c.ended_by, "bob");
	s = webhooks_body(&c, WEBHOOKS_ENDED, false, id);
	j = parse(s);
	call = json_object_get(j, "call");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "created_at")), "2025-12-02T00:00:09.623Z");
	CHECK_EQ_INT(json_integer_value(json_object_get(call, "duration_ms")), 7500);
	CHECK_EQ_STR(json_string_value(json_object_get(call, "ended_by")), "bob");
	CHECK_EQ_STR(json_string_value(json_object_get(call, "end_reason")), "hangup");
	json_decref(j);
	free(s);

	/* Missed: never answered, duration null. */
	c = make_call(3, CALLS_MISSED);
	c.ended_at = T0 + 45000;
	strcpy(c.end_reason, "missed");
	s = webhooks_body(&c, WEBHOOKS_ENDED, false, id);
	j = parse(s);
	call = json_object_get(j, "call");
	CHECK(json_is_null(json_object_get(call, "duration_ms")));
	CHECK(json_is_null(json_object_get(call, "ended_by")));
	CHECK_EQ_STR(json_string_value(json_object_get(call, "status")), "missed");
	json_decref(j);
	free(s);
	CHECK(!webhooks_body(&c, WEBHOOKS_NONE, false, id));
}

static void test_sign(void)
{
	/* Python: hmac.new(b"whsec-test", b'1764633600.{"id":"x"}', sha256).hexdigest() */
	char sig[WEBHOOKS_SIG_HEX_LEN + 1];
	const char *body = "{\"id\":\"x\"}";
	CHECK_EQ_INT(webhooks_sign("whsec-test", 10, 1764633600, body, strlen(body), sig), 0);
	CHECK_EQ_STR(sig, "0cdf57dbe3ac5894eeee37aba7b90f8a977c793c71d9713d9b730f49668e70be");
	char other[WEBHOOKS_SIG_HEX_LEN + 1];
	webhooks_sign("whsec-test", 10, 1764633601, body, strlen(body), other);
	CHECK(strcmp(sig, other) != 0); /* the time is signed */
	webhooks_sign("whsec-tesT", 10, 1764633600, body, strlen(body), other);
	CHECK(strcmp(sig, other) != 0);
}

static void test_backoff_and_urls(void)
{
	CHECK_EQ_INT(webhooks_backoff_ms(1), 1000);
	CHECK_EQ_INT(webhooks_backoff_ms(2), 2000);
	CHECK_EQ_INT(webhooks_backoff_ms(3), 4000);
	CHECK_EQ_INT(webhooks_backoff_ms(9), 256000);
	CHECK_EQ_INT(webhooks_backoff_ms(10), WEBHOOKS_RETRY_MAX_MS);
	CHECK_EQ_INT(webhooks_backoff_ms(1000000), WEBHOOKS_RETRY_MAX_MS);
	/* A day of tries at the longest wait is many tries, not a handful. */
	int64_t sum = 0;
	int n = 0;
	while (sum < WEBHOOKS_RETRY_FOR_MS)
		sum += webhooks_backoff_ms(++n);
	CHECK(n > 250);

	CHECK(webhooks_url_ok("http://127.0.0.1:8000/hooks"));
	CHECK(webhooks_url_ok("HTTPS://backend.example/ringmq"));
	CHECK(!webhooks_url_ok("ftp://backend.example/"));
	CHECK(!webhooks_url_ok("http://"));
	CHECK(!webhooks_url_ok("http:///path"));
	CHECK(!webhooks_url_ok("backend.example/hooks"));
	CHECK(!webhooks_url_ok("http://a b/"));
	CHECK(!webhooks_url_ok(NULL));
}

/* A hook that queues "<type>" events, and can be told to fail. */
static int hook_fail;
static int hook(void *ctx, struct store *st, const struct calls_call *c, bool inserted, struct store_event *out)
{
	enum webhooks_type t = webhooks_type_of(c, inserted);
	if (t == WEBHOOKS_NONE)
		return 0;
	if (hook_fail)
		return -1;
	int *n = ctx;
	snprintf(out->id, sizeof(out->id), "00000000-0000-4000-9000-%012d", ++*n);
	out->body = strdup(webhooks_type_name(t));
	return 1;
}

static void test_outbox(void)
{
	struct store *st;
	CHECK_EQ_INT(storefix_open(&st), STORE_OK);
	int n = 0;
	int64_t now = clock_now_ms(); /* the store stamps queued events with the wall clock */
	struct store_outbox_row rows[8];
	size_t got = 0;

	/* Without a hook nothing is queued. */
	struct calls_call a = make_call(10, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &a), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(st), 0);

	store_outbox_hook(st, hook, &n);
	struct calls_call b = make_call(11, CALLS_RINGING), c = make_call(12, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &b), STORE_OK);
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	b.state = CALLS_ACCEPTED;
	b.answered_at = T0 + 1;
	CHECK_EQ_INT(store_call_update(st, &b), STORE_OK);
	b.state = CALLS_ENDED;
	b.ended_at = T0 + 2;
	strcpy(b.end_reason, "hangup");
	CHECK_EQ_INT(store_call_update(st, &b), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(st), 4);

	/* Only the oldest event of each call is a head. */
	CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 8, &got), STORE_OK);
	CHECK_EQ_INT(got, 2);
	CHECK_EQ_STR(rows[0].call_id, b.id);
	CHECK_EQ_STR(rows[0].body, "call.ringing");
	CHECK_EQ_STR(rows[1].call_id, c.id);
	/* Due times below are set after c's, whatever the store's speed. */
	int64_t after_c = rows[1].next_at > now ? rows[1].next_at : now;
	int64_t b_seq = rows[0].seq;
	char b_event[IDS_UUID_LEN + 1];
	strcpy(b_event, rows[0].event_id);
	for (size_t i = 0; i < got; i++)
		free(rows[i].body);

	/* In flight: passed over. */
	CHECK_EQ_INT(store_outbox_heads(st, &b_seq, 1, rows, 8, &got), STORE_OK);
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_STR(rows[0].call_id, c.id);
	free(rows[0].body);

	/* A failure: later, same id and body, attempts counted. */
	CHECK_EQ_INT(store_outbox_retry(st, b_seq, now, now + 5000), STORE_OK);
	CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 8, &got), STORE_OK);
	CHECK_EQ_INT(got, 2);
	CHECK_EQ_STR(rows[1].call_id, b.id); /* now due last */
	CHECK_EQ_STR(rows[1].event_id, b_event);
	CHECK_EQ_STR(rows[1].body, "call.ringing");
	CHECK_EQ_INT(rows[1].attempts, 1);
	CHECK_EQ_INT(rows[1].first_at, now);
	CHECK_EQ_INT(rows[1].next_at, now + 5000);
	for (size_t i = 0; i < got; i++)
		free(rows[i].body);
	CHECK_EQ_INT(store_outbox_retry(st, b_seq, now + 999, now + 7000), STORE_OK);
	CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 8, &got), STORE_OK);
	CHECK_EQ_INT(rows[1].first_at, now); /* the first failure stays */
	CHECK_EQ_INT(rows[1].attempts, 2);
	for (size_t i = 0; i < got; i++)
		free(rows[i].body);

	/* Delivered: the next of that call becomes due, in order. */
	const char *want[] = {"call.accepted", "call.ended"};
	for (int k = 0; k < 2; k++) {
		CHECK_EQ_INT(store_outbox_done(st, b_seq, b.id, after_c + 10 + k), STORE_OK);
		CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 8, &got), STORE_OK);
		CHECK_EQ_INT(got, 2);
		CHECK_EQ_STR(rows[1].call_id, b.id);
		CHECK_EQ_STR(rows[1].body, want[k]);
		CHECK_EQ_INT(rows[1].next_at, after_c + 10 + k);
		CHECK_EQ_INT(rows[1].attempts, 0);
		b_seq = rows[1].seq;
		for (size_t i = 0; i < got; i++)
			free(rows[i].body);
	}
	CHECK_EQ_INT(store_outbox_done(st, b_seq, b.id, now + 20), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(st), 1);

	/* A failing hook fails the write, and the call's row with it. */
	hook_fail = 1;
	c.state = CALLS_DECLINED;
	c.ended_at = T0 + 3;
	strcpy(c.end_reason, "declined");
	strcpy(c.ended_by, "bob");
	CHECK_EQ_INT(store_call_update(st, &c), STORE_EDB);
	struct calls_call back;
	CHECK_EQ_INT(store_call_get(st, c.id, &back), STORE_OK);
	CHECK_EQ_INT(back.state, CALLS_RINGING);
	struct calls_call d = make_call(13, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &d), STORE_EDB);
	CHECK_EQ_INT(store_call_get(st, d.id, &back), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_outbox_count(st), 1);
	hook_fail = 0;
	CHECK_EQ_INT(store_call_update(st, &c), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(st), 2);
	store_close(st);
}

/* The outbox survives a reopen (a restart of rules), ids and order kept. */
static void test_outbox_durable(void)
{
	char path[] = "/tmp/ringmq-test-webhooks-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	struct store *st;
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	int n = 0;
	store_outbox_hook(st, hook, &n);
	struct calls_call a = make_call(20, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &a), STORE_OK);
	a.state = CALLS_CANCELLED;
	a.ended_at = T0 + 1;
	strcpy(a.end_reason, "cancelled");
	CHECK_EQ_INT(store_call_update(st, &a), STORE_OK);
	store_close(st);
	CHECK_EQ_INT(store_open(path, &st), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(st), 2);
	struct store_outbox_row rows[4];
	size_t got = 0;
	CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 4, &got), STORE_OK);
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_STR(rows[0].event_id, "00000000-0000-4000-9000-000000000001");
	CHECK_EQ_STR(rows[0].body, "call.ringing");
	for (size_t i = 0; i < got; i++)
		free(rows[i].body);
	store_close(st);
	unlink(path);
	char aux[sizeof(path) + 8];
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
}

/* The real hook: the events it queues, and the bound on the outbox. */
static void test_hook_and_bound(void)
{
	struct store *st;
	CHECK_EQ_INT(storefix_open(&st), STORE_OK);
	struct webhooks_cfg cfg = {.url = "http://127.0.0.1:9/", .secret = "k", .secret_len = 1, .outbox_max = 2};
	struct webhooks *w = webhooks_new(&cfg, st);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(store_presence_set(st, "b-1", "bob", true), STORE_OK);
	struct calls_call calls[3];
	for (int i = 0; i < 3; i++) {
		calls[i] = make_call(30 + i, CALLS_RINGING);
		CHECK_EQ_INT(store_call_insert(st, &calls[i]), STORE_OK); /* the call is made even past the bound */
	}
	CHECK_EQ_INT(store_outbox_count(st), 2);
	CHECK_EQ_INT(webhooks_stats(w)->queued, 2);
	CHECK_EQ_INT(webhooks_stats(w)->overflow, 1);
	struct store_outbox_row rows[4];
	size_t got = 0;
	CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 4, &got), STORE_OK);
	CHECK_EQ_INT(got, 2);
	json_t *j = parse(rows[0].body);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "id")), rows[0].event_id);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "type")), "call.ringing");
	CHECK(json_is_true(json_object_get(json_object_get(j, "call"), "receiver_online")));
	json_decref(j);
	for (size_t i = 0; i < got; i++)
		free(rows[i].body);
	webhooks_free(w);
	/* Without the sender the store queues nothing. */
	calls[0].state = CALLS_CANCELLED;
	calls[0].ended_at = T0 + 1;
	strcpy(calls[0].end_reason, "cancelled");
	CHECK_EQ_INT(store_call_update(st, &calls[0]), STORE_OK);
	CHECK_EQ_INT(store_outbox_count(st), 2);
	store_close(st);
}

/* The driver against a loopback port nobody listens on: the refused
 * attempt is recorded (attempts, first failure, the next try one back-off
 * later) and nothing is retried before then. */
static void test_refused_attempt(void)
{
	struct store *st;
	CHECK_EQ_INT(storefix_open(&st), STORE_OK);
	struct webhooks_cfg cfg = {.url = "http://127.0.0.1:1/hooks", .secret = "k", .secret_len = 1};
	struct webhooks *w = webhooks_new(&cfg, st);
	CHECK(w != NULL);
	if (!w)
		return;
	struct calls_call c = make_call(40, CALLS_RINGING);
	CHECK_EQ_INT(store_call_insert(st, &c), STORE_OK);
	int64_t t0 = clock_now_ms();
	for (int i = 0; i < 200 && webhooks_stats(w)->failed == 0; i++) {
		int wait = 10;
		webhooks_run(w, clock_now_ms(), &wait);
		webhooks_wait(w, -1, false, wait);
	}
	CHECK_EQ_INT(webhooks_stats(w)->failed, 1);
	CHECK_EQ_INT(webhooks_stats(w)->delivered, 0);
	struct store_outbox_row rows[2];
	size_t got = 0;
	CHECK_EQ_INT(store_outbox_heads(st, NULL, 0, rows, 2, &got), STORE_OK);
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_INT(rows[0].attempts, 1);
	CHECK(rows[0].first_at >= t0);
	CHECK_EQ_INT(rows[0].next_at - rows[0].first_at >= WEBHOOKS_RETRY_MIN_MS, 1);
	/* Before the back-off has passed, the loop may sleep until then (the
	 * back-off counts from the attempt's end, first_at is its start). */
	int wait = 60000;
	webhooks_run(w, rows[0].first_at + 1, &wait);
	CHECK(wait > 0 && wait <= rows[0].next_at - rows[0].first_at - 1);
	CHECK_EQ_INT(webhooks_stats(w)->failed, 1);
	for (size_t i = 0; i < got; i++)
		free(rows[i].body);
	webhooks_free(w);
	store_close(st);
}

int main(void)
{
	storefix_say("test_webhooks");
	test_types();
	test_bodies();
	test_sign();
	test_backoff_and_urls();
	test_outbox();
	test_outbox_durable();
	test_hook_and_bound();
	test_refused_attempt();
	return check_done("test_webhooks");
}
