/* webhooks: the outbox hook, the bodies and signatures, and the transfers
 * on libcurl's multi interface; see webhooks.h. */
#include "webhooks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "frames.h"
#include "ids.h"
#include "log.h"

#define WEBHOOKS_NEXT_UNKNOWN (-1) /* next_at: ask the store */
#define WEBHOOKS_USER_AGENT "ringmq-rules"

/* One transfer in flight. */
struct slot {
	CURL *easy;           /* NULL: the slot is free */
	struct curl_slist *headers;
	struct store_outbox_row row; /* row.body is the POST body, owned here */
	int64_t started_at;
};

struct webhooks {
	struct webhooks_cfg cfg;
	char *url;
	struct store *st;
	CURLM *multi;
	struct slot slots[WEBHOOKS_MAX_INFLIGHT];
	size_t inflight;
	int64_t next_at; /* the next due event not in flight: ms, 0 = none, WEBHOOKS_NEXT_UNKNOWN */
	struct webhooks_stats stats;
};

const char *webhooks_type_name(enum webhooks_type t)
{
	switch (t) {
	case WEBHOOKS_RINGING: return "call.ringing";
	case WEBHOOKS_ACCEPTED: return "call.accepted";
	case WEBHOOKS_ENDED: return "call.ended";
	default: return NULL;
	}
}

enum webhooks_type webhooks_type_of(const struct calls_call *c, bool inserted)
{
	if (inserted)
		return c->state == CALLS_RINGING ? WEBHOOKS_RINGING : WEBHOOKS_NONE;
	if (c->state == CALLS_ACCEPTED)
		return WEBHOOKS_ACCEPTED;
	return calls_end_reason(c->state) ? WEBHOOKS_ENDED : WEBHOOKS_NONE;
}

char *webhooks_body(const struct calls_call *c, enum webhooks_type t, bool receiver_online, const char *id)
{
	const char *type = webhooks_type_name(t);
	if (!type)
		return NULL;
	json_t *call = calls_to_json(c);
	if (!call)
		return NULL;
	int64_t at = c->created_at;
	if (t == WEBHOOKS_RINGING) {
		json_object_set_new(call, "receiver_online", json_boolean(receiver_online));
	} else if (t == WEBHOOKS_ACCEPTED) {
		at = c->answered_at;
	} else {
		at = c->ended_at;
		json_object_set_new(call, "duration_ms",
				    c->answered_at ? json_integer(c->ended_at - c->answered_at) : json_null());
	}
	char iso[CLOCK_ISO_LEN + 1];
	clock_iso8601(at, iso);
	json_t *ev = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "type", type, "created_at", iso, "call", call);
	char *body = ev ? frames_dump(ev, NULL) : NULL;
	json_decref(ev);
	return body;
}

int webhooks_sign(const void *key, size_t key_len, int64_t ts_s, const char *body, size_t body_len,
		  char out[WEBHOOKS_SIG_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	out[0] = '\0';
	char prefix[24];
	int plen = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", ts_s);
	unsigned char *msg = malloc((size_t)plen + body_len);
	if (!msg)
		return -1;
	memcpy(msg, prefix, (size_t)plen);
	memcpy(msg + plen, body, body_len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	bool ok = HMAC(EVP_sha256(), key, (int)key_len, msg, (size_t)plen + body_len, mac, &mac_len) &&
		  mac_len * 2 == WEBHOOKS_SIG_HEX_LEN;
	free(msg);
	if (!ok)
		return -1;
	for (unsigned int i = 0; i < mac_len; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0xf];
	}
	out[WEBHOOKS_SIG_HEX_LEN] = '\0';
	return 0;
}

int64_t webhooks_backoff_ms(int n)
{
	int64_t d = WEBHOOKS_RETRY_MIN_MS;
	for (int i = 1; i < n && d < WEBHOOKS_RETRY_MAX_MS; i++)
		d *= 2;
	return d < WEBHOOKS_RETRY_MAX_MS ? d : WEBHOOKS_RETRY_MAX_MS;
}

bool webhooks_url_ok(const char *url)
{
	if (!url)
		return false;
	size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
	if (!skip || !url[skip] || url[skip] == '/' || strpbrk(url, " \t\r\n"))
		return false;
	CURLU *u = curl_url();
	char *host = NULL;
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0];
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* The store's outbox hook: the event of this call write, if any. */
static int on_call_write(void *ctx, struct store *st, const struct calls_call *c, bool inserted,
			 struct store_event *out)
{
	struct webhooks *w = ctx;
	enum webhooks_type t = webhooks_type_of(c, inserted);
	if (t == WEBHOOKS_NONE)
		return 0;
	if (store_outbox_count(st) >= w->cfg.outbox_max) {
		w->stats.overflow++;
		log_warn("webhook %s of call %s dropped: the outbox holds %zu events (--webhook-outbox-max); "
			 "%" PRIu64 " dropped so far", webhooks_type_name(t), c->id, store_outbox_count(st),
			 w->stats.overflow);
		return 0;
	}
	int online = t == WEBHOOKS_RINGING ? store_presence_online(st, c->receiver_id) : 0;
	if (online < 0)
		return -1;
	ids_uuid4(out->id);
	out->body = webhooks_body(c, t, online == 1, out->id);
	if (!out->body)
		return -1;
	w->stats.queued++;
	w->next_at = WEBHOOKS_NEXT_UNKNOWN;
	log_debug("webhook %s %s of call %s queued", out->id, webhooks_type_name(t), c->id);
	return 1;
}

/* curl's answer body is not kept. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *user)
{
	return size * nmemb;
}

static void slot_clear(struct webhooks *w, struct slot *s)
{
	if (s->easy) {
		curl_multi_remove_handle(w->multi, s->easy);
		curl_easy_cleanup(s->easy);
		w->inflight--;
	}
	curl_slist_free_all(s->headers);
	free(s->row.body);
	memset(s, 0, sizeof(*s));
}

/* Headers of one attempt at now_ms, signed afresh. NULL on failure. */
static struct curl_slist *attempt_headers(const struct webhooks *w, const struct store_outbox_row *row, int64_t now_ms)
{
	int64_t ts = now_ms / 1000;
	char sig[WEBHOOKS_SIG_HEX_LEN + 1];
	if (webhooks_sign(w->cfg.secret, w->cfg.secret_len, ts, row->body, strlen(row->body), sig) < 0)
		return NULL;
	char lines[4][96];
	snprintf(lines[0], sizeof(lines[0]), "X-Ringmq-Event-Id: %s", row->event_id);
	snprintf(lines[1], sizeof(lines[1]), "X-Ringmq-Timestamp: %" PRId64, ts);
	snprintf(lines[2], sizeof(lines[2]), "X-Ringmq-Signature: v1=%s", sig);
	snprintf(lines[3], sizeof(lines[3]), "%s", "Content-Type: application/json");
	struct curl_slist *h = NULL;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *next = curl_slist_append(h, lines[i]);
		if (!next) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = next;
	}
	struct curl_slist *next = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (!next)
		curl_slist_free_all(h);
	return next;
}

/* Starts row in slot s (taking row->body). 0, or -1 (the slot stays free,
 * the body is freed) when curl refused. */
static int start(struct webhooks *w, struct slot *s, struct store_outbox_row *row, int64_t now_ms)
{
	s->row = *row;
	row->body = NULL;
	s->started_at = now_ms;
	s->headers = attempt_headers(w, &s->row, now_ms);
	s->easy = curl_easy_init();
	if (!s->headers || !s->easy) {
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
		slot_clear(w, s);
		return -1;
	}
	CURL *e = s->easy;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, w->url);
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(e, CURLOPT_POST, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->row.body);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->row.body));
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)WEBHOOKS_TIMEOUT_MS);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, WEBHOOKS_USER_AGENT);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	if (bad || curl_multi_add_handle(w->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		s->easy = NULL;
		slot_clear(w, s);
		return -1;
	}
	w->inflight++;
	log_debug("webhook %s of call %s: attempt %d", s->row.event_id, s->row.call_id, s->row.attempts + 1);
	return 0;
}

/* A failed attempt of row at now_ms (why says how): retried later, or
 * dropped once it has failed for WEBHOOKS_RETRY_FOR_MS. */
static int failed(struct webhooks *w, const struct store_outbox_row *row, int64_t started_at, int64_t now_ms,
		  const char *why)
{
	w->stats.failed++;
	int n = row->attempts + 1;
	int64_t first = row->first_at ? row->first_at : started_at;
	if (now_ms - first >= WEBHOOKS_RETRY_FOR_MS) {
		w->stats.expired++;
		log_warn("webhook %s of call %s dropped after %d attempts over %" PRId64 " ms (last: %s); %" PRIu64
			 " dropped so far", row->event_id, row->call_id, n, now_ms - first, why, w->stats.expired);
		return store_outbox_done(w->st, row->seq, row->call_id, now_ms);
	}
	int64_t delay = webhooks_backoff_ms(n);
	log_info("webhook %s of call %s: attempt %d failed (%s); next in %" PRId64 " ms", row->event_id,
		 row->call_id, n, why, delay);
	return store_outbox_retry(w->st, row->seq, first, now_ms + delay);
}

/* The transfers curl has finished. */
static int finish(struct webhooks *w, int64_t now_ms)
{
	int rc = 0, left = 0;
	CURLMsg *m;
	while ((m = curl_multi_info_read(w->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		struct slot *s = (struct slot *)priv;
		if (!s)
			continue;
		long status = 0;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		CURLcode res = m->data.result;
		int done_rc;
		if (res == CURLE_OK && status >= 200 && status < 300) {
			w->stats.delivered++;
			log_info("webhook %s of call %s delivered (HTTP %ld, attempt %d, %" PRId64 " ms)", s->row.event_id,
				 s->row.call_id, status, s->row.attempts + 1, now_ms - s->started_at);
			done_rc = store_outbox_done(w->st, s->row.seq, s->row.call_id, now_ms);
		} else {
			char why[CURL_ERROR_SIZE];
			if (res != CURLE_OK)
				snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
			else
				snprintf(why, sizeof(why), "HTTP %ld", status);
			done_rc = failed(w, &s->row, s->started_at, now_ms, why);
		}
		if (done_rc != STORE_OK)
			rc = -1; /* the row stays as it was: sent again later (at least once) */
		slot_clear(w, s);
		w->next_at = WEBHOOKS_NEXT_UNKNOWN;
	}
	if (rc < 0) /* not at once: the store is in trouble */
		w->next_at = now_ms + WEBHOOKS_STORE_RETRY_MS;
	return rc;
}

/* Starts the due events (the oldest of each call, not in flight) while
 * slots are free, and learns when the next one is due. */
static int start_due(struct webhooks *w, int64_t now_ms)
{
	int64_t skip[WEBHOOKS_MAX_INFLIGHT];
	size_t nskip = 0;
	for (size_t i = 0; i < WEBHOOKS_MAX_INFLIGHT; i++)
		if (w->slots[i].easy)
			skip[nskip++] = w->slots[i].row.seq;
	struct store_outbox_row rows[WEBHOOKS_MAX_INFLIGHT];
	size_t cap = WEBHOOKS_MAX_INFLIGHT - w->inflight, n = 0;
	if (store_outbox_heads(w->st, skip, nskip, rows, cap, &n) != STORE_OK) {
		w->next_at = now_ms + WEBHOOKS_STORE_RETRY_MS;
		return -1;
	}
	/* All heads were read when fewer than asked came: none but these. */
	w->next_at = n < cap ? 0 : WEBHOOKS_NEXT_UNKNOWN;
	int rc = 0;
	size_t i = 0;
	for (; i < n && rows[i].next_at <= now_ms; i++) {
		struct slot *s = w->slots;
		while (s->easy)
			s++; /* a free one exists: inflight + n <= WEBHOOKS_MAX_INFLIGHT */
		if (start(w, s, &rows[i], now_ms) < 0) {
			log_warn("webhook %s of call %s: curl could not start the transfer", rows[i].event_id,
				 rows[i].call_id);
			if (failed(w, &rows[i], now_ms, now_ms, "not started") != STORE_OK)
				rc = -1;
		}
	}
	if (i < n)
		w->next_at = rows[i].next_at;
	if (rc < 0)
		w->next_at = now_ms + WEBHOOKS_STORE_RETRY_MS;
	for (; i < n; i++)
		free(rows[i].body);
	return rc;
}

/* Logs where the events go: scheme, host and port only (a URL may hold
 * credentials). */
static void log_where(const struct webhooks *w)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, w->url, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
		curl_url_get(u, CURLUPART_HOST, &host, 0);
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	}
	log_info("webhooks to %s://%s:%s (%zu events waiting, at most %zu, %d requests at once)", scheme ? scheme : "?",
		 host ? host : "?", port ? port : "?", store_outbox_count(w->st), w->cfg.outbox_max,
		 WEBHOOKS_MAX_INFLIGHT);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

struct webhooks *webhooks_new(const struct webhooks_cfg *cfg, struct store *st)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("%s: curl_global_init failed", __func__);
		return NULL;
	}
	struct webhooks *w = calloc(1, sizeof(*w));
	if (!w || !(w->url = strdup(cfg->url)) || !(w->multi = curl_multi_init())) {
		log_error("%s: out of memory", __func__);
		if (w)
			free(w->url);
		free(w);
		curl_global_cleanup();
		return NULL;
	}
	w->cfg = *cfg;
	w->cfg.url = w->url;
	if (!w->cfg.outbox_max)
		w->cfg.outbox_max = WEBHOOKS_OUTBOX_DEFAULT;
	w->st = st;
	w->next_at = WEBHOOKS_NEXT_UNKNOWN;
	store_outbox_hook(st, on_call_write, w);
	log_where(w);
	return w;
}

void webhooks_free(struct webhooks *w)
{
	if (!w)
		return;
	store_outbox_hook(w->st, NULL, NULL);
	for (size_t i = 0; i < WEBHOOKS_MAX_INFLIGHT; i++)
		slot_clear(w, &w->slots[i]);
	curl_multi_cleanup(w->multi);
	log_info("webhooks: %" PRIu64 " queued, %" PRIu64 " delivered, %" PRIu64 " failed attempts, %" PRIu64
		 " dropped after retrying, %" PRIu64 " dropped over the outbox bound, %zu waiting in the outbox",
		 w->stats.queued, w->stats.delivered, w->stats.failed, w->stats.expired, w->stats.overflow,
		 store_outbox_count(w->st));
	free(w->url);
	free(w);
	curl_global_cleanup();
}

int webhooks_run(struct webhooks *w, int64_t now_ms, int *wait_ms)
{
	int still = 0;
	curl_multi_perform(w->multi, &still);
	int rc = finish(w, now_ms);
	bool due = w->next_at == WEBHOOKS_NEXT_UNKNOWN || (w->next_at && w->next_at <= now_ms);
	if (w->inflight < WEBHOOKS_MAX_INFLIGHT && due && start_due(w, now_ms) < 0)
		rc = -1;
	if (w->inflight < WEBHOOKS_MAX_INFLIGHT && w->next_at) {
		int64_t d = w->next_at == WEBHOOKS_NEXT_UNKNOWN ? 0 : w->next_at - now_ms;
		if (d < 0)
			d = 0;
		if (d < *wait_ms)
			*wait_ms = (int)d;
	}
	return rc;
}

int webhooks_wait(struct webhooks *w, int fd, bool want_write, int timeout_ms)
{
	struct curl_waitfd extra = {.fd = fd, .events = CURL_WAIT_POLLIN | (want_write ? CURL_WAIT_POLLOUT : 0)};
	int numfds = 0;
	CURLMcode mc = curl_multi_poll(w->multi, fd >= 0 ? &extra : NULL, fd >= 0 ? 1 : 0, timeout_ms, &numfds);
	if (mc != CURLM_OK) {
		log_error("%s: curl_multi_poll: %s", __func__, curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

const struct webhooks_stats *webhooks_stats(const struct webhooks *w)
{
	return &w->stats;
}
