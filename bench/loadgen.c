/* ringmq-loadgen: the load generator of issue 7.
 *
 * Speaks the client side of PROTOCOL.md (WebSocket notification and chat
 * sockets, POST /calls/initiate/, PUT /api/conversations/) so the same
 * binary measures ringmq and the Django Channels app under bench/channels/.
 * The parent sets up conversations and calls over blocking HTTP (httpc.c),
 * then forks workers (one per core by default, more when the sockets would
 * not fit in one process's descriptors). Each worker runs one
 * libwebsockets client loop holding thousands of sockets; a pair's two
 * sockets (A's chat socket, B's notification socket) live in one worker.
 * Workers write counters and latency samples into shared memory; the
 * parent paces the phases, prints a progress line, the table and the JSON.
 *
 * Latency = CLOCK_MONOTONIC when B's socket received the frame minus the
 * bench_ts A's socket put into the offer right before lws_write().
 * Each offer also carries bench_seq, its number within the pair (0, 1, ...):
 * B's arrivals go to seqcheck.c, and at the end every pair's frames are
 * accounted for: delivered, answered with an error frame (by code, counted
 * per pair on A's socket), or silent (neither: gaps and tail), plus the
 * duplicates and the out-of-order arrivals. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <libwebsockets.h>

#include "benchutil.h"
#include "frames.h"
#include "httpc.h"
#include "jwt.h"
#include "secret.h"
#include "seqcheck.h"

#define MAX_WORKERS 16
#define SOCKETS_PER_PROC 9000 /* well under the 20000 descriptors a process may hold */
#define RX_MAX (256 * 1024)
#define TICK_US 1000
#define TICK_IDLE_US 20000
#define TOKEN_TTL_S 7200
#define DRAIN_DEFAULT_S 3.0 /* after sending stops, how long frames may still arrive */

enum scenario { SC_LATENCY, SC_THROUGHPUT, SC_IDLE, SC_STORM, SC_INITIATE };
static const char *const scenario_names[] = {"latency", "throughput", "idle", "storm", "initiate"};

enum phase { PH_CONNECT, PH_RUN, PH_STOP };

struct opts {
	enum scenario sc;
	const char *host;
	int port;
	const char *secret_file, *api_key_file;
	int workers, pairs, window, sockets, concurrency, count, offer_bytes;
	double rate, duration, warmup, connect_timeout, drain;
	const char *label, *out, *prefix;
	bool check;
	bool libev;
	struct bench_procs procs;
};

static struct opts O;
static bool trace; /* $LG_TRACE: print every gap or latency over 5 ms */
static unsigned char *secret;
static size_t secret_len;
static char *api_key;

/* --- shared memory between the parent and the workers -------------------- */

struct wstat {
	volatile int64_t opened, acked, failed, closed_early;
	volatile int64_t sent, sent_measured, recv, recv_measured, echo, errors, incoming, lost_incoming;
	volatile int64_t nsamples, nsamples2;
	volatile int64_t first_start_ns, last_ack_ns, max_lag_ns;
	/* per-pair accounting of numbered offers, summed when the worker stops */
	volatile int64_t seq_delivered, seq_dups, seq_reordered, seq_gaps, seq_tail, seq_silent;
	volatile int64_t err_code[FRAMES_CODE_COUNT + 1]; /* error frames by code; the last: unknown codes */
	volatile int summed;
	volatile int exited;
};

struct shared {
	volatile int phase;
	volatile int64_t t_run, t_measure, t_stop_send;
	struct wstat w[MAX_WORKERS];
};

static struct shared *SH;
static uint64_t *samples;  /* MAX_WORKERS * cap: the scenario's main latency */
static uint64_t *samples2; /* second series: HTTP answer time (initiate) */
static size_t sample_cap;

/* --- per pair and per socket (worker side) -------------------------------- */

struct pair {
	char cid[IDS_MAX + 1];
	char a[IDS_MAX + 1], b[IDS_MAX + 1];
	char call_id[64];
	int a_conn, b_conn; /* indexes into the worker's conns, -1 if none */
	int64_t sent, recv;
	char *offer_head; /* {"type":"call.offer",... "bench_ts": */
	size_t offer_head_len;
	volatile int64_t t_sent, seq_sent, seq_got; /* initiate scenario */
	int64_t errors;       /* error frames on A's socket */
	struct seqcheck seen; /* B's arrivals (worker-private memory) */
};

enum ckind { K_CHAT, K_NOTIFY };
enum cstate { C_IDLE, C_CONNECTING, C_OPEN, C_ACKED, C_DONE };

struct conn {
	struct lws *wsi;
	int pair; /* -1 for sockets without a pair (idle, storm) */
	uint8_t kind, state;
	int pending;
	int64_t t_start;
	char *path;
	char *rx;
	size_t rx_len;
};

struct worker {
	int id;
	struct lws_context *ctx;
	int timer_fd;
	struct ev_loop *loop; /* the libev loop lws runs on (--loop libev), else NULL */
	struct conn *conns;
	int nconns, next_open, inflight;
	int *pairs; /* indexes of this worker's pairs */
	int npairs, rr;
	int64_t scheduled, last_tick;
	double rate; /* frames/s of this worker */
	bool run_started, quit;
	struct wstat *st;
	uint64_t *smp, *smp2;
	int err_logged;
};

static struct pair *PAIRS;
static int NPAIRS;
static struct worker WK;

static char *mint(const char *user)
{
	return jwt_mint(secret, secret_len, user, user, time(NULL) + TOKEN_TTL_S);
}

static void add_sample(uint64_t *s, volatile int64_t *n, uint64_t v)
{
	if ((size_t)*n < sample_cap)
		s[(*n)++] = v;
}

/* --- frames -------------------------------------------------------------- */

static void build_offer_head(struct pair *p)
{
	static const char line[] = "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\\r\\n";
	size_t pad = O.offer_bytes > 200 ? (size_t)O.offer_bytes - 200 : 16;
	size_t cap = pad + 512;
	char *s = malloc(cap);
	if (!s)
		abort();
	int n = snprintf(s, cap,
			 "{\"type\":\"call.offer\",\"call_id\":\"%s\",\"call_type\":\"video\",\"offer\":{\"type\":\"offer\","
			 "\"sdp\":\"v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\n",
			 p->call_id);
	size_t len = (size_t)n;
	while (len + sizeof(line) < (size_t)n + pad) {
		memcpy(s + len, line, sizeof(line) - 1);
		len += sizeof(line) - 1;
	}
	len += (size_t)snprintf(s + len, cap - len, "\",\"bench_seq\":");
	p->offer_head = s;
	p->offer_head_len = len;
}

/* Value of the integer after key (quoted, with its quotes) in buf, or -1. */
static int64_t find_int(const char *buf, size_t len, const char *key)
{
	size_t klen = strlen(key);
	const char *k = memmem(buf, len, key, klen);
	if (!k)
		return -1;
	k += klen;
	while (k < buf + len && (*k == ':' || *k == ' '))
		k++;
	return strtoll(k, NULL, 10);
}

static bool has(const char *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* The frame's "type" value: the first "type" key at the top level is the
 * first one in every frame the services send (they put it first), except
 * that Channels' json.dumps keeps the handler's order: also type-first. */
static bool type_is(const char *buf, size_t len, const char *type)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "\"type\":\"%s\"", type);
	snprintf(b, sizeof(b), "\"type\": \"%s\"", type);
	return has(buf, len, a) || has(buf, len, b);
}

/* --- the worker's loop --------------------------------------------------- */

static void sum_pairs(struct worker *w);

static void open_conn(struct worker *w, int i)
{
	struct conn *c = &w->conns[i];
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = w->ctx;
	ci.address = O.host;
	ci.port = O.port;
	ci.path = c->path;
	ci.host = O.host;
	ci.origin = NULL;
	ci.protocol = NULL;
	ci.local_protocol_name = "bench";
	ci.ietf_version_or_minus_one = -1;
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	c->state = C_CONNECTING;
	c->t_start = bench_now_ns();
	if (!w->st->first_start_ns)
		w->st->first_start_ns = c->t_start;
	w->inflight++;
	w->st->opened++;
	if (!lws_client_connect_via_info(&ci)) {
		c->state = C_DONE;
		w->inflight--;
		w->st->failed++;
	}
}

static void want_send(struct worker *w, int ci)
{
	struct conn *c = &w->conns[ci];
	c->pending++;
	if (c->state == C_ACKED && c->wsi)
		lws_callback_on_writable(c->wsi);
}

/* Runs every TICK_US from a timerfd adopted into the loop: lws's own
 * timers (lws_sul) make its poll() spin for the last millisecond before
 * each one is due, which would burn a core at a 1 ms period. */
static void tick(struct worker *w)
{
	int64_t now = bench_now_ns();
	int phase = SH->phase;
	if (phase == PH_STOP) {
		if (!w->quit)
			sum_pairs(w);
		w->quit = true;
		if (w->loop)
			ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	bool may_connect = O.sc == SC_STORM ? phase == PH_RUN : true;
	while (may_connect && w->inflight < O.concurrency && w->next_open < w->nconns)
		open_conn(w, w->next_open++);

	if (phase == PH_RUN && now >= SH->t_run) {
		if (O.sc == SC_LATENCY && w->npairs) {
			int64_t until = now < SH->t_stop_send ? now : SH->t_stop_send;
			int64_t due = (int64_t)((double)(until - SH->t_run) * w->rate / 1e9);
			if (w->last_tick && now - w->last_tick > w->st->max_lag_ns && now < SH->t_stop_send)
				w->st->max_lag_ns = now - w->last_tick;
			if (trace && w->last_tick && now - w->last_tick > 5000000)
				fprintf(stderr, "gap: at %.3f s %.1f ms\n", (double)(now - SH->t_run) / 1e9, (double)(now - w->last_tick) / 1e6);
			w->last_tick = now;
			while (w->scheduled < due) {
				struct pair *p = &PAIRS[w->pairs[w->rr++ % w->npairs]];
				want_send(w, p->a_conn);
				w->scheduled++;
			}
		} else if (O.sc == SC_THROUGHPUT && !w->run_started) {
			for (int i = 0; i < w->npairs; i++)
				for (int k = 0; k < O.window; k++)
					want_send(w, PAIRS[w->pairs[i]].a_conn);
		}
		w->run_started = true;
	}
}

static void log_err(struct worker *w, const char *what, const char *buf, size_t len)
{
	if (w->err_logged++ < 5)
		fprintf(stderr, "loadgen[w%d]: %s: %.*s\n", w->id, what, (int)(len > 300 ? 300 : len), buf ? buf : "");
}

/* An error frame's code, tallied by name. */
static void count_error(struct worker *w, const char *buf, size_t len)
{
	char code[32] = "";
	const char *k = memmem(buf, len, "\"code\":\"", 8);
	if (k) {
		k += 8;
		size_t n = 0;
		while (k + n < buf + len && k[n] != '"' && n < sizeof(code) - 1)
			n++;
		memcpy(code, k, n);
		code[n] = '\0';
	}
	int i = frames_code_parse(code);
	w->st->err_code[i > 0 ? i : FRAMES_CODE_COUNT]++;
}

/* At the stop: every pair of this worker accounted for, into its wstat.
 * Silent = sent, not delivered, and not answered with an error frame. */
static void sum_pairs(struct worker *w)
{
	for (int i = 0; i < w->npairs; i++) {
		struct pair *p = &PAIRS[w->pairs[i]];
		struct seqcheck_sum s;
		seqcheck_sum(&p->seen, p->sent, &s);
		int64_t missing = p->sent - s.delivered - p->errors;
		w->st->seq_delivered += s.delivered;
		w->st->seq_dups += s.duplicates;
		w->st->seq_reordered += s.reordered;
		w->st->seq_gaps += s.gaps;
		w->st->seq_tail += s.tail;
		w->st->seq_silent += missing > 0 ? missing : 0;
		if (trace && missing > 0)
			fprintf(stderr, "silent: pair %d sent %lld delivered %lld errors %lld highest %lld\n", w->pairs[i],
				(long long)p->sent, (long long)s.delivered, (long long)p->errors, (long long)p->seen.max_seen);
		seqcheck_free(&p->seen);
	}
	__atomic_store_n(&w->st->summed, 1, __ATOMIC_RELEASE);
}

static void on_frame(struct worker *w, struct conn *c, const char *buf, size_t len)
{
	int64_t now = bench_now_ns();
	if (c->state != C_ACKED && type_is(buf, len, "connection.ack")) {
		c->state = C_ACKED;
		w->inflight--;
		w->st->acked++;
		w->st->last_ack_ns = now;
		if (O.sc == SC_STORM)
			add_sample(w->smp, &w->st->nsamples, (uint64_t)(now - c->t_start));
		if (w->next_open < w->nconns && (O.sc != SC_STORM || SH->phase == PH_RUN))
			open_conn(w, w->next_open++); /* keep --concurrency connects in flight */
		if (c->pending)
			lws_callback_on_writable(c->wsi);
		return;
	}
	/* before the offer: an error frame names the type it refuses ("ref") */
	if (type_is(buf, len, "error")) {
		w->st->errors++;
		count_error(w, buf, len);
		log_err(w, "error frame", buf, len);
		struct pair *p = c->pair >= 0 ? &PAIRS[c->pair] : NULL;
		if (p && c->kind == K_CHAT) {
			p->errors++;
			/* an answered frame leaves the window too */
			if (O.sc == SC_THROUGHPUT && now < SH->t_stop_send)
				want_send(w, p->a_conn);
		}
		return;
	}
	if (has(buf, len, "\"call.offer\"")) {
		if (c->kind == K_CHAT) {
			w->st->echo++;
			return;
		}
		int64_t ts = find_int(buf, len, "\"bench_ts\"");
		struct pair *p = c->pair >= 0 ? &PAIRS[c->pair] : NULL;
		w->st->recv++;
		if (p) {
			p->recv++;
			enum seqcheck_arrival a = seqcheck_arrive(&p->seen, find_int(buf, len, "\"bench_seq\""));
			if (a == SEQ_BAD)
				log_err(w, "offer without a usable bench_seq", buf, len);
			if (trace && a == SEQ_REORDERED)
				fprintf(stderr, "reordered: pair %d\n", c->pair);
		}
		if (ts > 0 && ts >= SH->t_measure && ts < SH->t_stop_send) {
			w->st->recv_measured++;
			add_sample(w->smp, &w->st->nsamples, (uint64_t)(now - ts));
			if (trace && now - ts > 5000000)
				fprintf(stderr, "slow: at %.3f s latency %.1f ms\n", (double)(ts - SH->t_run) / 1e9, (double)(now - ts) / 1e6);
		}
		if (O.sc == SC_THROUGHPUT && p && now < SH->t_stop_send)
			want_send(w, p->a_conn);
		return;
	}
	if (type_is(buf, len, "call.incoming")) {
		w->st->incoming++;
		struct pair *p = c->pair >= 0 ? &PAIRS[c->pair] : NULL;
		if (O.sc == SC_INITIATE && p) {
			int64_t sent = __atomic_load_n(&p->seq_sent, __ATOMIC_ACQUIRE);
			if (p->seq_got < sent) {
				int64_t t = __atomic_load_n(&p->t_sent, __ATOMIC_ACQUIRE);
				add_sample(w->smp, &w->st->nsamples, (uint64_t)(now - t));
				p->seq_got = sent;
			}
		}
		return;
	}
}

static int send_offer(struct worker *w, struct conn *c)
{
	struct pair *p = &PAIRS[c->pair];
	size_t cap = LWS_PRE + p->offer_head_len + 64;
	unsigned char stackbuf[LWS_PRE + 8192], *buf = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, p->offer_head, p->offer_head_len);
	int64_t ts = bench_now_ns();
	size_t len = p->offer_head_len + (size_t)snprintf((char *)buf + LWS_PRE + p->offer_head_len, 64,
							  "%lld,\"bench_ts\":%lld}}", (long long)p->sent, (long long)ts);
	int n = lws_write(c->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
	if (buf != stackbuf)
		free(buf);
	if (n < (int)len)
		return -1;
	c->pending--;
	p->sent++;
	w->st->sent++;
	if (ts >= SH->t_measure && ts < SH->t_stop_send)
		w->st->sent_measured++;
	return 0;
}

static int timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	if (reason == LWS_CALLBACK_RAW_RX_FILE) {
		uint64_t expirations;
		if (read(WK.timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
			return -1;
		tick(&WK);
	}
	return 0;
}

static int bench_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct worker *w = &WK;
	struct conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED: {
		int one = 1;
		setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (c)
			c->state = C_OPEN;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		if (!c)
			return 0;
		bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		if (whole && !c->rx_len) {
			on_frame(w, c, in, len);
			return 0;
		}
		if (c->rx_len + len > RX_MAX)
			return -1;
		char *rx = realloc(c->rx, c->rx_len + len);
		if (!rx)
			return -1;
		c->rx = rx;
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
		if (whole) {
			on_frame(w, c, c->rx, c->rx_len);
			c->rx_len = 0;
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!c || c->state != C_ACKED || !c->pending)
			return 0;
		if (send_offer(w, c))
			return -1;
		if (c->pending)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c) {
			if (c->state == C_CONNECTING || c->state == C_OPEN)
				w->inflight--;
			c->state = C_DONE;
			c->wsi = NULL;
		}
		w->st->failed++;
		log_err(w, "connection error", in, in ? strlen(in) : 0);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c) {
			if (c->state == C_CONNECTING || c->state == C_OPEN) {
				w->inflight--;
				w->st->failed++;
			} else if (c->state == C_ACKED && !w->quit) {
				w->st->closed_early++;
				log_err(w, "socket closed by the server", c->path, 40);
			}
			c->state = C_DONE;
			c->wsi = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The initiate scenario's HTTP thread: POST /calls/initiate/ for this
 * worker's pairs in turn, paced at the worker's rate. */
static void *initiate_thread(void *arg)
{
	struct worker *w = arg;
	struct httpc h;
	httpc_init(&h, O.host, O.port, 10000);
	int per = O.count / (int)O.workers + (w->id < O.count % O.workers ? 1 : 0);
	while (SH->phase == PH_CONNECT)
		usleep(1000);
	char **tokens = calloc((size_t)w->npairs, sizeof(*tokens));
	for (int i = 0; i < w->npairs && tokens; i++)
		tokens[i] = mint(PAIRS[w->pairs[i]].a);
	int64_t t0 = SH->t_run;
	for (int k = 0; k < per && SH->phase == PH_RUN && tokens; k++) {
		bench_sleep_until(t0 + (int64_t)((double)k * 1e9 / w->rate));
		struct pair *p = &PAIRS[w->pairs[k % w->npairs]];
		if (p->seq_got < p->seq_sent)
			w->st->lost_incoming++; /* the previous one never arrived */
		char hdr[JWT_MAX_LEN + 64], body[512];
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tokens[k % w->npairs]);
		int bl = snprintf(body, sizeof(body), "{\"receiver_id\":\"%s\",\"call_type\":\"video\",\"conversation_id\":\"%s\"}",
				  p->b, p->cid);
		int64_t t = bench_now_ns();
		__atomic_store_n(&p->t_sent, t, __ATOMIC_RELEASE);
		__atomic_store_n(&p->seq_sent, p->seq_sent + 1, __ATOMIC_RELEASE);
		char *resp = NULL;
		int status = httpc_request(&h, "POST", "/calls/initiate/", hdr, body, (size_t)bl, &resp);
		add_sample(w->smp2, &w->st->nsamples2, (uint64_t)(bench_now_ns() - t));
		w->st->sent++;
		if (status != 201) {
			w->st->errors++;
			if (w->err_logged++ < 5)
				fprintf(stderr, "loadgen[w%d]: initiate answered %d: %.200s\n", w->id, status, resp ? resp : "");
		}
		free(resp);
	}
	for (int i = 0; i < w->npairs && tokens; i++)
		free(tokens[i]);
	free(tokens);
	httpc_close(&h);
	return NULL;
}

static int worker_main(int id, struct conn *conns, int nconns, int *pairs, int npairs)
{
	struct worker *w = &WK;
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->conns = conns;
	w->nconns = nconns;
	w->pairs = pairs;
	w->npairs = npairs;
	w->st = &SH->w[id];
	w->smp = samples + (size_t)id * sample_cap;
	w->smp2 = samples2 + (size_t)id * sample_cap;
	w->rate = O.rate / O.workers;
	raise_nofile();
	lws_set_log_level(LLL_ERR, NULL);

	static const struct lws_protocols protocols[] = {
		{"bench", bench_callback, 0, 65536, 0, NULL, 0},
		{"bench-timer", timer_callback, 0, 0, 0, NULL, 0},
		{NULL, NULL, 0, 0, 0, NULL, 0},
	};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	void *foreign[1];
	if (O.libev) {
		/* epoll through libev: lws's default poll() walks every descriptor
		 * on every wake-up, which costs more than the traffic itself once a
		 * worker holds thousands of sockets. */
		w->loop = ev_loop_new(EVFLAG_AUTO);
		if (!w->loop) {
			fprintf(stderr, "loadgen[w%d]: ev_loop_new failed\n", id);
			return 1;
		}
		foreign[0] = w->loop;
		info.foreign_loops = foreign;
		info.options |= LWS_SERVER_OPTION_LIBEV;
	}
	info.timeout_secs = (unsigned int)O.connect_timeout;
	w->ctx = lws_create_context(&info);
	if (!w->ctx) {
		fprintf(stderr, "loadgen[w%d]: lws_create_context failed\n", id);
		return 1;
	}
	pthread_t th;
	bool thread = false;
	if (O.sc == SC_INITIATE)
		thread = pthread_create(&th, NULL, initiate_thread, w) == 0;
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	/* Pacing needs 1 ms; the other scenarios only top up connects (poll()
	 * over thousands of descriptors is not free). */
	long tick_ns = (O.sc == SC_LATENCY || O.sc == SC_THROUGHPUT ? TICK_US : TICK_IDLE_US) * 1000L;
	struct itimerspec its = {.it_interval = {0, tick_ns}, .it_value = {0, tick_ns}};
	lws_sock_file_fd_type fd = {.filefd = w->timer_fd};
	if (w->timer_fd < 0 || timerfd_settime(w->timer_fd, 0, &its, NULL) != 0 ||
	    !lws_adopt_descriptor_vhost(lws_get_vhost_by_name(w->ctx, "default"), LWS_ADOPT_RAW_FILE_DESC, fd,
					"bench-timer", NULL)) {
		fprintf(stderr, "loadgen[w%d]: cannot set up the tick timer\n", id);
		return 1;
	}
	if (w->loop) {
		ev_run(w->loop, 0); /* until tick() breaks it */
	} else {
		while (!w->quit)
			if (lws_service(w->ctx, 0) < 0)
				break;
	}
	if (thread)
		pthread_join(th, NULL);
	if (!w->loop)
		lws_context_destroy(w->ctx); /* with libev the process just exits: the kernel closes the sockets */
	w->st->exited = 1;
	return 0;
}

/* --- the parent ---------------------------------------------------------- */

static int http_api(struct httpc *h, const char *method, const char *path, const char *auth_hdr, const char *body,
		    char **resp)
{
	return httpc_request(h, method, path, auth_hdr, body, body ? strlen(body) : 0, resp);
}

/* Registers the pairs' conversations; with calls, initiates one call per
 * pair (A calls B) and keeps its id. */
static int setup_pairs(bool calls)
{
	struct httpc h;
	httpc_init(&h, O.host, O.port, 10000);
	char keyhdr[512];
	snprintf(keyhdr, sizeof(keyhdr), "X-Api-Key: %s\r\n", api_key ? api_key : "");
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < NPAIRS; i++) {
		struct pair *p = &PAIRS[i];
		char path[160], body[400];
		snprintf(path, sizeof(path), "/api/conversations/%s/", p->cid);
		snprintf(body, sizeof(body), "{\"members\":[\"%s\",\"%s\"]}", p->a, p->b);
		int st = http_api(&h, "PUT", path, keyhdr, body, NULL);
		if (st != 200 && st != 201) {
			fprintf(stderr, "loadgen: PUT %s answered %d\n", path, st);
			return -1;
		}
		if (calls) {
			char *tok = mint(p->a), *resp = NULL, hdr[JWT_MAX_LEN + 64];
			snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
			snprintf(body, sizeof(body), "{\"receiver_id\":\"%s\",\"call_type\":\"video\",\"conversation_id\":\"%s\"}",
				 p->b, p->cid);
			st = http_api(&h, "POST", "/calls/initiate/", hdr, body, &resp);
			free(tok);
			json_t *j = st == 201 && resp ? json_loads(resp, 0, NULL) : NULL;
			const char *id = json_string_value(json_object_get(j, "call_id"));
			if (!id) {
				fprintf(stderr, "loadgen: initiate for pair %d answered %d: %s\n", i, st, resp ? resp : "");
				free(resp);
				json_decref(j);
				return -1;
			}
			snprintf(p->call_id, sizeof(p->call_id), "%s", id);
			json_decref(j);
			free(resp);
			build_offer_head(p);
		}
		if ((i + 1) % 500 == 0)
			fprintf(stderr, "\rset-up: %d/%d pairs", i + 1, NPAIRS);
	}
	httpc_close(&h);
	fprintf(stderr, "\rset-up: %d pairs in %.2f s\n", NPAIRS, (double)(bench_now_ns() - t0) / 1e9);
	return 0;
}

static void sum_stats(struct wstat *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < O.workers; i++) {
		struct wstat *s = &SH->w[i];
		t->opened += s->opened;
		t->acked += s->acked;
		t->failed += s->failed;
		t->closed_early += s->closed_early;
		t->sent += s->sent;
		t->sent_measured += s->sent_measured;
		t->recv += s->recv;
		t->recv_measured += s->recv_measured;
		t->echo += s->echo;
		t->errors += s->errors;
		t->incoming += s->incoming;
		t->lost_incoming += s->lost_incoming;
		t->nsamples += s->nsamples;
		t->nsamples2 += s->nsamples2;
		t->seq_delivered += s->seq_delivered;
		t->seq_dups += s->seq_dups;
		t->seq_reordered += s->seq_reordered;
		t->seq_gaps += s->seq_gaps;
		t->seq_tail += s->seq_tail;
		t->seq_silent += s->seq_silent;
		t->summed += s->summed;
		for (int k = 0; k <= FRAMES_CODE_COUNT; k++)
			t->err_code[k] += s->err_code[k];
		if (s->max_lag_ns > t->max_lag_ns)
			t->max_lag_ns = s->max_lag_ns;
		if (s->first_start_ns && (!t->first_start_ns || s->first_start_ns < t->first_start_ns))
			t->first_start_ns = s->first_start_ns;
		if (s->last_ack_ns > t->last_ack_ns)
			t->last_ack_ns = s->last_ack_ns;
	}
}

static void progress(const char *what)
{
	struct wstat t;
	sum_stats(&t);
	fprintf(stderr, "\r%-10s open %lld acked %lld failed %lld | sent %lld recv %lld errors %lld   ", what,
		(long long)t.opened, (long long)t.acked, (long long)t.failed, (long long)t.sent, (long long)t.recv,
		(long long)t.errors);
}

/* Every numbered offer of the run (warm-up included) accounted for. */
static void print_accounting(const struct wstat *t, FILE *jf)
{
	printf("  every offer (warm-up and drain included), by bench_seq, %d of %d workers summed:\n", t->summed,
	       O.workers);
	printf("  %-24s %12lld\n", "sent", (long long)t->sent);
	printf("  %-24s %12lld\n", "delivered", (long long)t->seq_delivered);
	printf("  %-24s %12lld\n", "error frames", (long long)t->errors);
	for (int k = 1; k <= FRAMES_CODE_COUNT; k++)
		if (t->err_code[k])
			printf("    %-22s %12lld\n", k < FRAMES_CODE_COUNT ? frames_code_name(k) : "(other)",
			       (long long)t->err_code[k]);
	printf("  %-24s %12lld  (%.3f%%)\n", "silent (no frame, no error)", (long long)t->seq_silent,
	       t->sent ? 100.0 * (double)t->seq_silent / (double)t->sent : 0.0);
	printf("  %-24s %12lld\n", "  gaps (refused incl.)", (long long)t->seq_gaps);
	printf("  %-24s %12lld\n", "  tail (none after)", (long long)t->seq_tail);
	printf("  %-24s %12lld\n", "out of order", (long long)t->seq_reordered);
	printf("  %-24s %12lld\n", "duplicates", (long long)t->seq_dups);
	if (!jf)
		return;
	fprintf(jf, "\"accounting\": {\"sent\": %lld, \"delivered\": %lld, \"errors\": %lld, \"silent\": %lld, "
		    "\"gaps\": %lld, \"tail\": %lld, \"reordered\": %lld, \"duplicates\": %lld, \"error_codes\": {",
		(long long)t->sent, (long long)t->seq_delivered, (long long)t->errors, (long long)t->seq_silent,
		(long long)t->seq_gaps, (long long)t->seq_tail, (long long)t->seq_reordered, (long long)t->seq_dups);
	const char *sep = "";
	for (int k = 1; k <= FRAMES_CODE_COUNT; k++) {
		if (!t->err_code[k])
			continue;
		fprintf(jf, "%s\"%s\": %lld", sep, k < FRAMES_CODE_COUNT ? frames_code_name(k) : "other",
			(long long)t->err_code[k]);
		sep = ", ";
	}
	fprintf(jf, "}}, ");
}

static uint64_t *merge(uint64_t *base, bool second, size_t *n)
{
	size_t total = 0;
	for (int i = 0; i < O.workers; i++)
		total += (size_t)(second ? SH->w[i].nsamples2 : SH->w[i].nsamples);
	uint64_t *all = malloc((total + 1) * sizeof(*all));
	size_t k = 0;
	for (int i = 0; all && i < O.workers; i++) {
		size_t m = (size_t)(second ? SH->w[i].nsamples2 : SH->w[i].nsamples);
		memcpy(all + k, base + (size_t)i * sample_cap, m * sizeof(*all));
		k += m;
	}
	*n = k;
	return all;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ringmq-loadgen SCENARIO [options]\n"
		"Load generator for ringmq's WebSocket/HTTP protocol (also drives bench/channels).\n\n"
		"Scenarios:\n"
		"  latency      A's chat socket sends call.offer at --rate; latency to B's notification socket\n"
		"  throughput   each pair keeps --window offers in flight; routed frames/s and CPU (--pid)\n"
		"  idle         --sockets idle notification sockets; RSS per socket of each --pid\n"
		"  storm        --sockets connects, --concurrency in flight per worker; connects/s, time to ack\n"
		"  initiate     POST /calls/initiate/ at --rate, --count calls; latency to call.incoming\n\n"
		"Options:\n"
		"  --host H               service address (default 127.0.0.1)\n"
		"  --port N               service HTTP/WebSocket port (required)\n"
		"  --jwt-secret-file F    HS256 key to mint user tokens (required)\n"
		"  --api-key-file F       key for PUT /api/conversations/ (required for pairs)\n"
		"  --workers N            worker processes (default: cores; more for many sockets)\n"
		"  --pairs N              caller/receiver pairs (default 200)\n"
		"  --rate R               frames/s (latency) or initiates/s (default 1000 / 200)\n"
		"  --duration S           measured seconds (default 10)\n"
		"  --warmup S             unmeasured seconds first (default 2)\n"
		"  --window N             offers in flight per pair (throughput; default 8)\n"
		"  --sockets N            sockets (idle default 19000, storm default 10000)\n"
		"  --concurrency N        connects in flight per worker (default 500)\n"
		"  --count N              initiates, one fresh pair each (default 2000)\n"
		"  --offer-bytes N        size of an offer frame (default 600)\n"
		"  --connect-timeout S    per socket (default 30)\n"
		"  --drain S              after sending stops, wait up to S for the last frames (default 3)\n"
		"  --pid NAME=PID         a process to report CPU and RSS of (repeatable)\n"
		"  --label L              name of the system under test in the JSON (default ringmq)\n"
		"  --prefix P             prefix of user and conversation ids (default: random)\n"
		"  --out FILE             write the JSON result here\n"
		"  --check                exit 1 unless every socket opened and every frame arrived\n"
		"  --loop libev|poll      the workers' event loop (default libev: epoll)\n"
		"  --help                 this text\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},	     {"port", required_argument, NULL, 'p'},
		{"jwt-secret-file", required_argument, NULL, 'j'}, {"api-key-file", required_argument, NULL, 'k'},
		{"workers", required_argument, NULL, 'w'},   {"pairs", required_argument, NULL, 'P'},
		{"rate", required_argument, NULL, 'r'},	     {"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'W'},    {"window", required_argument, NULL, 'n'},
		{"sockets", required_argument, NULL, 's'},   {"concurrency", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'C'},     {"offer-bytes", required_argument, NULL, 'b'},
		{"connect-timeout", required_argument, NULL, 'T'}, {"pid", required_argument, NULL, 'i'},
		{"label", required_argument, NULL, 'l'},     {"prefix", required_argument, NULL, 'x'},
		{"out", required_argument, NULL, 'o'},	     {"check", no_argument, NULL, 'K'},
		{"loop", required_argument, NULL, 'L'},      {"drain", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		exit(0);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	int sc = -1;
	for (int i = 0; i < (int)(sizeof(scenario_names) / sizeof(*scenario_names)); i++)
		if (!strcmp(argv[1], scenario_names[i]))
			sc = i;
	if (sc < 0) {
		fprintf(stderr, "ringmq-loadgen: unknown scenario %s (see --help)\n", argv[1]);
		return 2;
	}
	O.sc = (enum scenario)sc;
	O.host = "127.0.0.1";
	O.workers = 0;
	O.pairs = 200;
	O.rate = -1;
	O.duration = 10;
	O.warmup = 2;
	O.window = 8;
	O.sockets = -1;
	O.concurrency = 500;
	O.count = 2000;
	O.offer_bytes = 600;
	O.connect_timeout = 30;
	O.drain = DRAIN_DEFAULT_S;
	O.label = "ringmq";
	O.libev = true;
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': O.host = optarg; break;
		case 'p': O.port = atoi(optarg); break;
		case 'j': O.secret_file = optarg; break;
		case 'k': O.api_key_file = optarg; break;
		case 'w': O.workers = atoi(optarg); break;
		case 'P': O.pairs = atoi(optarg); break;
		case 'r': O.rate = atof(optarg); break;
		case 'd': O.duration = atof(optarg); break;
		case 'W': O.warmup = atof(optarg); break;
		case 'n': O.window = atoi(optarg); break;
		case 's': O.sockets = atoi(optarg); break;
		case 'c': O.concurrency = atoi(optarg); break;
		case 'C': O.count = atoi(optarg); break;
		case 'b': O.offer_bytes = atoi(optarg); break;
		case 'T': O.connect_timeout = atof(optarg); break;
		case 'D': O.drain = atof(optarg); break;
		case 'i':
			if (bench_procs_add(&O.procs, optarg)) {
				fprintf(stderr, "ringmq-loadgen: bad --pid %s (NAME=PID, at most %d)\n", optarg, BENCH_MAX_PIDS);
				return 2;
			}
			break;
		case 'l': O.label = optarg; break;
		case 'x': O.prefix = optarg; break;
		case 'o': O.out = optarg; break;
		case 'K': O.check = true; break;
		case 'L':
			if (strcmp(optarg, "libev") && strcmp(optarg, "poll")) {
				fprintf(stderr, "ringmq-loadgen: --loop takes libev or poll\n");
				return 2;
			}
			O.libev = !strcmp(optarg, "libev");
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (O.port <= 0 || O.port > 65535 || !O.secret_file) {
		fprintf(stderr, "ringmq-loadgen: --port and --jwt-secret-file are required (see --help)\n");
		return 2;
	}
	if (O.sc == SC_INITIATE)
		O.pairs = O.count; /* one pair per call: a pair may have one ringing call */
	if (O.rate < 0)
		O.rate = O.sc == SC_INITIATE ? 200 : 1000;
	if (O.sockets < 0)
		O.sockets = O.sc == SC_IDLE ? 19000 : 10000;
	if (O.pairs < 1 || O.rate <= 0 || O.duration <= 0 || O.window < 1 || O.sockets < 1 || O.concurrency < 1 ||
	    O.count < 1 || O.offer_bytes < 100 || O.offer_bytes > 60000 || O.drain < 0 || O.drain > 600) {
		fprintf(stderr, "ringmq-loadgen: a value is out of range (see --help)\n");
		return 2;
	}
	if (O.workers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		O.workers = n > 0 ? (int)n : 2;
	}
	if (O.sc == SC_IDLE || O.sc == SC_STORM) {
		int need = (O.sockets + SOCKETS_PER_PROC - 1) / SOCKETS_PER_PROC;
		if (O.workers < need)
			O.workers = need;
	}
	if (O.workers > MAX_WORKERS)
		O.workers = MAX_WORKERS;
	return 0;
}

/* Sockets and pairs for worker wi. */
static int plan_worker(int wi, const char *prefix, struct conn **conns_out, int **pairs_out, int *npairs_out)
{
	int n = 0, np = 0;
	struct conn *conns = NULL;
	int *pairs = NULL;
	if (O.sc == SC_IDLE || O.sc == SC_STORM) {
		int cnt = O.sockets / O.workers + (wi < O.sockets % O.workers ? 1 : 0);
		conns = calloc((size_t)cnt + 1, sizeof(*conns));
		for (int k = 0; conns && k < cnt; k++) {
			char user[64];
			snprintf(user, sizeof(user), "%su%dx%d", prefix, wi, k);
			char *tok = mint(user);
			size_t plen = strlen(tok) + 64;
			conns[n].path = malloc(plen);
			snprintf(conns[n].path, plen, "/ws/notifications/?token=%s", tok);
			free(tok);
			conns[n].pair = -1;
			conns[n].kind = K_NOTIFY;
			n++;
		}
	} else {
		pairs = calloc((size_t)NPAIRS + 1, sizeof(*pairs));
		conns = calloc(2 * (size_t)NPAIRS + 1, sizeof(*conns));
		for (int i = wi; conns && pairs && i < NPAIRS; i += O.workers) {
			struct pair *p = &PAIRS[i];
			pairs[np++] = i;
			p->a_conn = p->b_conn = -1;
			if (O.sc != SC_INITIATE) {
				char *tok = mint(p->a);
				size_t plen = strlen(tok) + 160;
				conns[n].path = malloc(plen);
				snprintf(conns[n].path, plen, "/ws/chat/%s/?token=%s", p->cid, tok);
				free(tok);
				conns[n].pair = i;
				conns[n].kind = K_CHAT;
				p->a_conn = n++;
			}
			char *tok = mint(p->b);
			size_t plen = strlen(tok) + 64;
			conns[n].path = malloc(plen);
			snprintf(conns[n].path, plen, "/ws/notifications/?token=%s", tok);
			free(tok);
			conns[n].pair = i;
			conns[n].kind = K_NOTIFY;
			p->b_conn = n++;
		}
	}
	*conns_out = conns;
	*pairs_out = pairs;
	*npairs_out = np;
	return n;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	interrupted = 1;
}

int main(int argc, char **argv)
{
	int rc = parse_args(argc, argv);
	if (rc)
		return rc;
	trace = getenv("LG_TRACE") != NULL;
	secret = (unsigned char *)secret_load(O.secret_file, "RINGMQ_JWT_SECRET", &secret_len);
	if (!secret) {
		fprintf(stderr, "ringmq-loadgen: cannot read %s\n", O.secret_file);
		return 2;
	}
	if (O.api_key_file)
		api_key = secret_load(O.api_key_file, "RINGMQ_API_KEY", NULL);
	char prefix[32];
	if (O.prefix)
		snprintf(prefix, sizeof(prefix), "%s", O.prefix);
	else {
		srand((unsigned)(bench_now_ns() ^ getpid()));
		snprintf(prefix, sizeof(prefix), "lg%04x", rand() & 0xffff);
	}
	bool with_pairs = O.sc == SC_LATENCY || O.sc == SC_THROUGHPUT || O.sc == SC_INITIATE;
	if (with_pairs) {
		NPAIRS = O.pairs;
		PAIRS = mmap(NULL, sizeof(*PAIRS) * (size_t)NPAIRS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (PAIRS == MAP_FAILED)
			return 1;
		memset(PAIRS, 0, sizeof(*PAIRS) * (size_t)NPAIRS);
		for (int i = 0; i < NPAIRS; i++)
			seqcheck_init(&PAIRS[i].seen);
		for (int i = 0; i < NPAIRS; i++) {
			snprintf(PAIRS[i].cid, sizeof(PAIRS[i].cid), "%sc%d", prefix, i);
			snprintf(PAIRS[i].a, sizeof(PAIRS[i].a), "%sa%d", prefix, i);
			snprintf(PAIRS[i].b, sizeof(PAIRS[i].b), "%sb%d", prefix, i);
		}
		if (!api_key) {
			fprintf(stderr, "ringmq-loadgen: --api-key-file is required for %s\n", scenario_names[O.sc]);
			return 2;
		}
		if (setup_pairs(O.sc != SC_INITIATE))
			return 1;
	}
	switch (O.sc) {
	case SC_LATENCY:
	case SC_THROUGHPUT:
		sample_cap = (size_t)((O.sc == SC_LATENCY ? O.rate : 200000.0) * (O.duration + 1) / O.workers * 1.5) + 1000;
		break;
	case SC_IDLE:
	case SC_STORM: sample_cap = (size_t)O.sockets + 16; break;
	case SC_INITIATE: sample_cap = (size_t)O.count + 16; break;
	}
	if (O.sc == SC_THROUGHPUT && sample_cap > 4000000)
		sample_cap = 4000000;
	SH = mmap(NULL, sizeof(*SH), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	samples = mmap(NULL, sample_cap * MAX_WORKERS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	samples2 = mmap(NULL, sample_cap * MAX_WORKERS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (SH == MAP_FAILED || samples == MAP_FAILED || samples2 == MAP_FAILED) {
		fprintf(stderr, "ringmq-loadgen: mmap failed\n");
		return 1;
	}
	memset(SH, 0, sizeof(*SH));
	SH->t_measure = SH->t_stop_send = INT64_MAX;

	long rss0[BENCH_MAX_PIDS];
	for (int i = 0; i < O.procs.n; i++)
		rss0[i] = bench_rss_kb(O.procs.pid[i]);

	fflush(NULL);
	pid_t kids[MAX_WORKERS];
	int nsock_total = 0;
	for (int wi = 0; wi < O.workers; wi++) {
		struct conn *conns;
		int *pairs, np;
		int n = plan_worker(wi, prefix, &conns, &pairs, &np);
		nsock_total += n;
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
			if (getppid() == 1)
				_exit(1);
			_exit(worker_main(wi, conns, n, pairs, np));
		}
		kids[wi] = pid;
		char spec[48];
		snprintf(spec, sizeof(spec), "loadgen-w%d=%d", wi, (int)pid);
		if (O.sc != SC_IDLE)
			bench_procs_add(&O.procs, spec); /* CPU only; ignored once the set is full */
		for (int k = 0; k < n; k++)
			free(conns[k].path);
		free(conns);
		free(pairs);
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);

	/* Phase 1: sockets up (storm opens them in the run phase). */
	int64_t deadline = bench_now_ns() + (int64_t)(O.connect_timeout * 1e9) + 5000000000LL;
	struct wstat t;
	int failed = 0;
	if (O.sc != SC_STORM) {
		for (;;) {
			sum_stats(&t);
			progress("connect");
			if (t.acked + t.failed >= nsock_total || interrupted || bench_now_ns() > deadline)
				break;
			usleep(200000);
		}
		fprintf(stderr, "\n");
		if (t.acked < nsock_total) {
			fprintf(stderr, "ringmq-loadgen: only %lld of %d sockets got connection.ack\n", (long long)t.acked,
				nsock_total);
			failed = 1;
		}
	}
	if (O.sc == SC_IDLE)
		sleep(2); /* let the services settle before reading RSS */

	/* Phase 2: run. */
	int64_t now = bench_now_ns();
	SH->t_run = now + 20000000;
	bool timed = O.sc == SC_LATENCY || O.sc == SC_THROUGHPUT;
	if (timed) {
		SH->t_measure = SH->t_run + (int64_t)(O.warmup * 1e9);
		SH->t_stop_send = SH->t_measure + (int64_t)(O.duration * 1e9);
	}
	__atomic_store_n(&SH->phase, failed && O.sc != SC_IDLE ? PH_STOP : PH_RUN, __ATOMIC_RELEASE);
	struct bench_procs procs = O.procs;
	double elapsed = 0;
	if (!failed && timed) {
		bench_sleep_until(SH->t_measure);
		bench_procs_mark(&procs);
		while (bench_now_ns() < SH->t_stop_send && !interrupted) {
			usleep(250000);
			progress("run");
		}
		bench_procs_stop(&procs);
		elapsed = O.duration;
		/* drain: frames still in flight */
		int64_t drain_until = bench_now_ns() + (int64_t)(O.drain * 1e9);
		while (bench_now_ns() < drain_until && !interrupted) {
			sum_stats(&t);
			if (t.recv + t.errors >= t.sent)
				break;
			usleep(50000);
		}
		fprintf(stderr, "\n");
	} else if (!failed && O.sc == SC_STORM) {
		bench_procs_mark(&procs);
		for (;;) {
			sum_stats(&t);
			progress("storm");
			if (t.acked + t.failed >= nsock_total || interrupted || bench_now_ns() > deadline)
				break;
			usleep(100000);
		}
		bench_procs_stop(&procs);
		fprintf(stderr, "\n");
	} else if (!failed && O.sc == SC_INITIATE) {
		bench_procs_mark(&procs);
		int64_t t0 = bench_now_ns(), limit = t0 + (int64_t)((O.count / O.rate + 30) * 1e9);
		for (;;) {
			sum_stats(&t);
			progress("initiate");
			if (t.sent >= O.count || interrupted || bench_now_ns() > limit)
				break;
			usleep(200000);
		}
		usleep(500000); /* the last call.incoming frames */
		bench_procs_stop(&procs);
		elapsed = (double)(bench_now_ns() - t0) / 1e9;
		fprintf(stderr, "\n");
	}
	long rss1[BENCH_MAX_PIDS];
	for (int i = 0; i < O.procs.n; i++)
		rss1[i] = bench_rss_kb(O.procs.pid[i]);

	__atomic_store_n(&SH->phase, PH_STOP, __ATOMIC_RELEASE);
	int64_t kill_at = bench_now_ns() + 15000000000LL;
	for (int wi = 0; wi < O.workers; wi++) {
		int status;
		while (waitpid(kids[wi], &status, WNOHANG) == 0) {
			if (bench_now_ns() > kill_at) {
				kill(kids[wi], SIGKILL);
				waitpid(kids[wi], &status, 0);
				break;
			}
			usleep(20000);
		}
	}
	sum_stats(&t);

	/* --- report --- */
	size_t n1, n2;
	uint64_t *all1 = merge(samples, false, &n1), *all2 = merge(samples2, true, &n2);
	struct bench_pct p1, p2;
	bench_pct_of(all1, n1, &p1);
	bench_pct_of(all2, n2, &p2);
	FILE *jf = O.out ? fopen(O.out, "w") : NULL;
	if (O.out && !jf)
		fprintf(stderr, "ringmq-loadgen: cannot write %s\n", O.out);
	if (jf)
		fprintf(jf, "{\"system\": \"%s\", \"scenario\": \"%s\", \"workers\": %d, ", O.label, scenario_names[O.sc],
			O.workers);
	printf("\n== %s: %s ==\n", O.label, scenario_names[O.sc]);
	long long lost = 0;
	switch (O.sc) {
	case SC_LATENCY:
	case SC_THROUGHPUT: {
		lost = t.sent_measured - t.recv_measured;
		double rate = (double)t.recv_measured / (elapsed > 0 ? elapsed : 1);
		printf("  pairs %d, offer %d bytes, %s %.0f\n", O.pairs, O.offer_bytes,
		       O.sc == SC_LATENCY ? "target frames/s" : "window/pair", O.sc == SC_LATENCY ? O.rate : (double)O.window);
		printf("  %-24s %12.0f\n", "routed frames/s", rate);
		printf("  %-24s %12lld\n", "sent (measured)", (long long)t.sent_measured);
		printf("  %-24s %12lld\n", "received (measured)", (long long)t.recv_measured);
		printf("  %-24s %12lld\n", "lost", lost);
		printf("  %-24s %12lld\n", "error frames", (long long)t.errors);
		printf("  %-24s %12.1f\n", "latency p50 (us)", p1.p50_us);
		printf("  %-24s %12.1f\n", "latency p99 (us)", p1.p99_us);
		printf("  %-24s %12.1f\n", "latency p99.9 (us)", p1.p999_us);
		printf("  %-24s %12.1f\n", "latency max (us)", p1.max_us);
		if (O.sc == SC_LATENCY)
			printf("  %-24s %12.1f\n", "generator max tick gap (us)", (double)t.max_lag_ns / 1000.0);
		print_accounting(&t, jf);
		if (jf) {
			fprintf(jf,
				"\"pairs\": %d, \"offer_bytes\": %d, \"target_rate\": %.0f, \"window\": %d, \"duration_s\": %.1f, "
				"\"frames_per_s\": %.1f, \"sent\": %lld, \"received\": %lld, \"lost\": %lld, \"errors\": %lld, "
				"\"generator_max_lag_us\": %.1f, ",
				O.pairs, O.offer_bytes, O.sc == SC_LATENCY ? O.rate : 0, O.window, elapsed, rate,
				(long long)t.sent_measured, (long long)t.recv_measured, lost, (long long)t.errors,
				(double)t.max_lag_ns / 1000.0);
			bench_pct_json(jf, "latency", &p1);
			fprintf(jf, ", ");
		}
		break;
	}
	case SC_IDLE:
		printf("  %-24s %12d\n", "sockets asked", O.sockets);
		printf("  %-24s %12lld\n", "sockets acked", (long long)t.acked);
		printf("  %-24s %12lld\n", "closed early", (long long)t.closed_early);
		if (jf)
			fprintf(jf, "\"sockets\": %d, \"acked\": %lld, \"closed_early\": %lld, \"rss\": {", O.sockets,
				(long long)t.acked, (long long)t.closed_early);
		for (int i = 0; i < O.procs.n; i++) {
			double per = t.acked ? (double)(rss1[i] - rss0[i]) * 1024.0 / (double)t.acked : 0;
			printf("  %-10s RSS %8ld -> %8ld KiB   %8.0f bytes/socket\n", O.procs.name[i], rss0[i], rss1[i], per);
			if (jf)
				fprintf(jf, "%s\"%s\": {\"before_kb\": %ld, \"after_kb\": %ld, \"bytes_per_socket\": %.0f}",
					i ? ", " : "", O.procs.name[i], rss0[i], rss1[i], per);
		}
		if (jf)
			fprintf(jf, "}, ");
		lost = O.sockets - t.acked;
		break;
	case SC_STORM: {
		double secs = t.last_ack_ns > t.first_start_ns ? (double)(t.last_ack_ns - t.first_start_ns) / 1e9 : 0;
		double cps = secs > 0 ? (double)t.acked / secs : 0;
		printf("  %-24s %12d\n", "sockets", O.sockets);
		printf("  %-24s %12lld\n", "acked", (long long)t.acked);
		printf("  %-24s %12lld\n", "failed", (long long)t.failed);
		printf("  %-24s %12.0f\n", "connects/s (to ack)", cps);
		printf("  %-24s %12.1f\n", "connect->ack p50 (ms)", p1.p50_us / 1000);
		printf("  %-24s %12.1f\n", "connect->ack p99 (ms)", p1.p99_us / 1000);
		printf("  %-24s %12.1f\n", "connect->ack max (ms)", p1.max_us / 1000);
		if (jf) {
			fprintf(jf, "\"sockets\": %d, \"acked\": %lld, \"failed\": %lld, \"seconds\": %.3f, \"connects_per_s\": %.1f, ",
				O.sockets, (long long)t.acked, (long long)t.failed, secs, cps);
			bench_pct_json(jf, "connect_to_ack", &p1);
			fprintf(jf, ", ");
		}
		lost = O.sockets - t.acked;
		break;
	}
	case SC_INITIATE:
		lost = t.sent - (long long)n1;
		printf("  %-24s %12lld\n", "initiates", (long long)t.sent);
		printf("  %-24s %12.0f\n", "initiates/s", elapsed > 0 ? (double)t.sent / elapsed : 0);
		printf("  %-24s %12lld\n", "non-201 answers", (long long)t.errors);
		printf("  %-24s %12zu\n", "call.incoming matched", n1);
		printf("  %-24s %12.1f\n", "->incoming p50 (us)", p1.p50_us);
		printf("  %-24s %12.1f\n", "->incoming p99 (us)", p1.p99_us);
		printf("  %-24s %12.1f\n", "->incoming max (us)", p1.max_us);
		printf("  %-24s %12.1f\n", "HTTP 201 p50 (us)", p2.p50_us);
		printf("  %-24s %12.1f\n", "HTTP 201 p99 (us)", p2.p99_us);
		if (jf) {
			fprintf(jf, "\"initiates\": %lld, \"rate\": %.1f, \"errors\": %lld, \"matched\": %zu, ", (long long)t.sent,
				O.rate, (long long)t.errors, n1);
			bench_pct_json(jf, "initiate_to_incoming", &p1);
			fprintf(jf, ", ");
			bench_pct_json(jf, "http_answer", &p2);
			fprintf(jf, ", ");
		}
		break;
	}
	if (O.sc != SC_IDLE) {
		if (jf)
			fprintf(jf, "\"cpu_pct\": {");
		for (int i = 0; i < procs.n; i++) {
			printf("  CPU %-20s %11.1f%%\n", procs.name[i], procs.cpu_pct[i]);
			if (jf)
				fprintf(jf, "%s\"%s\": %.1f", i ? ", " : "", procs.name[i], procs.cpu_pct[i]);
		}
		if (jf)
			fprintf(jf, "}, ");
	}
	if (jf) {
		fprintf(jf, "\"sockets_acked\": %lld, \"failed_sockets\": %lld, \"closed_early\": %lld}\n",
			(long long)t.acked, (long long)(nsock_total - t.acked), (long long)t.closed_early);
		fclose(jf);
	}
	free(all1);
	free(all2);
	bool bad = failed || t.failed || t.closed_early || lost > 0 || t.errors > 0 ||
		   (O.sc != SC_IDLE && n1 == 0) || t.seq_silent || t.seq_reordered || t.seq_dups;
	if (O.check && bad) {
		fprintf(stderr,
			"ringmq-loadgen: check failed (failed %lld, closed %lld, lost %lld, errors %lld, samples %zu, "
			"silent %lld, reordered %lld, duplicates %lld)\n",
			(long long)t.failed, (long long)t.closed_early, lost, (long long)t.errors, n1,
			(long long)t.seq_silent, (long long)t.seq_reordered, (long long)t.seq_dups);
		return 1;
	}
	return failed ? 1 : 0;
}
