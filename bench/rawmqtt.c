/* ringmq-rawmqtt: the floor of issue 7's comparison. A C publisher and
 * subscriber straight on mosquitto (libmosquitto, MQTT v5, QoS 1, one hop),
 * in the same scenarios as ringmq-loadgen:
 *   latency     publish at --rate to bench/<i>, latency to the subscriber
 *   throughput  keep --window messages in flight, messages/s
 *   idle        --sockets subscribed connections, broker RSS per connection
 *   storm       --sockets connects, time to SUBACK (the broker's "ack")
 * Latency: the publisher puts CLOCK_MONOTONIC into the payload right before
 * mosquitto_publish; the subscriber subtracts it on arrival. The latency and
 * throughput scenarios use libmosquitto's own network threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "benchutil.h"

enum scenario { SC_LATENCY, SC_THROUGHPUT, SC_IDLE, SC_STORM };
static const char *const names[] = {"latency", "throughput", "idle", "storm"};

static struct {
	enum scenario sc;
	const char *host, *out, *prefix;
	int port, payload, window, sockets, concurrency, topics;
	double rate, duration, warmup;
	struct bench_procs procs;
} O;

/* shared between the publisher thread (main) and the subscriber's thread */
static volatile int64_t t_measure, t_stop;
static volatile int64_t n_recv, n_recv_measured, n_sent, n_sent_measured;
static uint64_t *samples;
static size_t n_samples, cap_samples;

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	int64_t now = bench_now_ns();
	int64_t ts = msg->payloadlen > 20 ? strtoll(msg->payload, NULL, 10) : 0;
	__atomic_add_fetch(&n_recv, 1, __ATOMIC_RELAXED);
	if (ts >= t_measure && ts < t_stop) {
		__atomic_add_fetch(&n_recv_measured, 1, __ATOMIC_RELAXED);
		if (n_samples < cap_samples)
			samples[n_samples++] = (uint64_t)(now - ts);
	}
}

static volatile int connected;
static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	if (rc == 0)
		__atomic_add_fetch(&connected, 1, __ATOMIC_RELAXED);
}

static volatile int subscribed;
static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	__atomic_add_fetch(&subscribed, 1, __ATOMIC_RELAXED);
}

static struct mosquitto *client(const char *id, void *obj)
{
	struct mosquitto *m = mosquitto_new(id, true, obj);
	if (!m)
		return NULL;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(m, 0);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_callback_set(m, on_subscribe);
	return m;
}

static void wait_for(volatile int *v, int want, double secs)
{
	int64_t until = bench_now_ns() + (int64_t)(secs * 1e9);
	while (*v < want && bench_now_ns() < until)
		usleep(1000);
}

static void print_cpu(FILE *jf, struct bench_procs *p)
{
	if (jf)
		fprintf(jf, "\"cpu_pct\": {");
	for (int i = 0; i < p->n; i++) {
		printf("  CPU %-20s %11.1f%%\n", p->name[i], p->cpu_pct[i]);
		if (jf)
			fprintf(jf, "%s\"%s\": %.1f", i ? ", " : "", p->name[i], p->cpu_pct[i]);
	}
	if (jf)
		fprintf(jf, "}, ");
}

/* latency and throughput: one publisher, one subscriber on bench/#. */
static int run_flow(FILE *jf)
{
	char id[64];
	snprintf(id, sizeof(id), "%s-sub", O.prefix);
	struct mosquitto *sub = client(id, NULL);
	snprintf(id, sizeof(id), "%s-pub", O.prefix);
	struct mosquitto *pub = client(id, NULL);
	if (!sub || !pub)
		return 1;
	mosquitto_message_callback_set(sub, on_message);
	if (mosquitto_connect(sub, O.host, O.port, 60) || mosquitto_connect(pub, O.host, O.port, 60) ||
	    mosquitto_loop_start(sub) || mosquitto_loop_start(pub)) {
		fprintf(stderr, "ringmq-rawmqtt: cannot connect to %s:%d\n", O.host, O.port);
		return 1;
	}
	wait_for(&connected, 2, 10);
	char topic[128];
	snprintf(topic, sizeof(topic), "%s/#", O.prefix);
	mosquitto_subscribe(sub, NULL, topic, 1);
	wait_for(&subscribed, 1, 10);
	if (connected < 2 || subscribed < 1) {
		fprintf(stderr, "ringmq-rawmqtt: broker did not acknowledge\n");
		return 1;
	}
	char *payload = malloc((size_t)O.payload + 1);
	memset(payload, 'x', (size_t)O.payload);
	payload[O.payload] = '\0';
	double rate = O.sc == SC_LATENCY ? O.rate : 0;
	cap_samples = (size_t)((O.sc == SC_LATENCY ? O.rate : 300000.0) * (O.duration + 1) * 1.5) + 1000;
	samples = malloc(cap_samples * sizeof(*samples));
	int64_t t0 = bench_now_ns() + 10000000;
	t_measure = t0 + (int64_t)(O.warmup * 1e9);
	t_stop = t_measure + (int64_t)(O.duration * 1e9);
	struct bench_procs procs = O.procs;
	bool marked = false;
	int64_t k = 0, next_progress = t0;
	for (;;) {
		int64_t now = bench_now_ns();
		if (now >= t_stop)
			break;
		if (!marked && now >= t_measure) {
			bench_procs_mark(&procs);
			marked = true;
		}
		if (now >= next_progress) {
			fprintf(stderr, "\rrun   sent %lld recv %lld   ", (long long)n_sent, (long long)n_recv);
			next_progress = now + 250000000;
		}
		if (rate > 0) {
			int64_t due = t0 + (int64_t)((double)k * 1e9 / rate);
			if (due > now) {
				bench_sleep_until(due < now + 1000000 ? due : now + 1000000);
				continue;
			}
		} else if (n_sent - n_recv >= O.window) {
			usleep(50);
			continue;
		}
		snprintf(topic, sizeof(topic), "%s/%lld", O.prefix, (long long)(k % O.topics));
		int64_t ts = bench_now_ns();
		int n = snprintf(payload, 24, "%020lld", (long long)ts);
		payload[n] = ' ';
		if (mosquitto_publish_v5(pub, NULL, topic, O.payload, payload, 1, false, NULL) != MOSQ_ERR_SUCCESS) {
			usleep(100);
			continue;
		}
		__atomic_add_fetch(&n_sent, 1, __ATOMIC_RELAXED);
		if (ts >= t_measure)
			n_sent_measured++;
		k++;
	}
	if (marked)
		bench_procs_stop(&procs);
	for (int64_t until = bench_now_ns() + 3000000000LL; n_recv < n_sent && bench_now_ns() < until;)
		usleep(10000);
	fprintf(stderr, "\n");
	mosquitto_disconnect(pub);
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(pub, false);
	mosquitto_loop_stop(sub, false);
	struct bench_pct p;
	size_t ns = n_samples;
	bench_pct_of(samples, ns, &p);
	double fps = (double)n_recv_measured / O.duration;
	long long lost = n_sent_measured - n_recv_measured;
	printf("  pairs 1 pub/1 sub, payload %d bytes, %s %.0f\n", O.payload,
	       O.sc == SC_LATENCY ? "target msgs/s" : "window", O.sc == SC_LATENCY ? O.rate : (double)O.window);
	printf("  %-24s %12.0f\n", "routed frames/s", fps);
	printf("  %-24s %12lld\n", "lost", lost);
	printf("  %-24s %12.1f\n", "latency p50 (us)", p.p50_us);
	printf("  %-24s %12.1f\n", "latency p99 (us)", p.p99_us);
	printf("  %-24s %12.1f\n", "latency p99.9 (us)", p.p999_us);
	printf("  %-24s %12.1f\n", "latency max (us)", p.max_us);
	if (jf) {
		fprintf(jf,
			"\"pairs\": 1, \"offer_bytes\": %d, \"target_rate\": %.0f, \"window\": %d, \"duration_s\": %.1f, "
			"\"frames_per_s\": %.1f, \"sent\": %lld, \"received\": %lld, \"lost\": %lld, \"errors\": 0, ",
			O.payload, rate, O.window, O.duration, fps, (long long)n_sent_measured, (long long)n_recv_measured, lost);
		bench_pct_json(jf, "latency", &p);
		fprintf(jf, ", ");
	}
	print_cpu(jf, &procs);
	mosquitto_destroy(pub);
	mosquitto_destroy(sub);
	free(payload);
	free(samples);
	return lost > 0;
}

/* per-connection state of idle and storm (no threads: one poll loop) */
struct conn {
	struct mosquitto *m;
	int64_t t_start;
	int state; /* 0 connecting, 1 subscribing, 2 done, -1 failed */
	int idx;
};

static int64_t storm_first, storm_last;
static int storm_done, storm_failed, storm_inflight;

/* idle and storm fork one process per CONNS_PER_PROC connections: a
 * libmosquitto client holds three descriptors (socket + its wake-up pair). */
#define CONNS_PER_PROC 6000
#define MAX_PROCS 8
struct slot {
	volatile int finished, done, failed;
	volatile int64_t first, last;
	volatile size_t nsamples;
};
static struct slot *slots;
static volatile int *stop_flag;

static void c_on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct conn *c = obj;
	char topic[128];
	if (rc) {
		c->state = -1;
		storm_failed++;
		storm_inflight--;
		return;
	}
	snprintf(topic, sizeof(topic), "%s/u%d/notifications", O.prefix, c->idx);
	c->state = 1;
	mosquitto_subscribe(m, NULL, topic, 1);
}

static void c_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	struct conn *c = obj;
	int64_t now = bench_now_ns();
	c->state = 2;
	storm_done++;
	storm_inflight--;
	storm_last = now;
	if (n_samples < cap_samples)
		samples[n_samples++] = (uint64_t)(now - c->t_start);
}

static int start_conn(struct conn *c)
{
	char id[64];
	snprintf(id, sizeof(id), "%s-c%d", O.prefix, c->idx);
	c->m = mosquitto_new(id, true, c);
	if (!c->m)
		return -1;
	mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(c->m, c_on_connect);
	mosquitto_subscribe_callback_set(c->m, c_on_subscribe);
	c->t_start = bench_now_ns();
	if (!storm_first)
		storm_first = c->t_start;
	storm_inflight++;
	if (mosquitto_connect(c->m, O.host, O.port, 600) != MOSQ_ERR_SUCCESS) {
		c->state = -1;
		storm_failed++;
		storm_inflight--;
		return -1;
	}
	return 0;
}

static int report_conns(FILE *jf, struct bench_procs *pp, const long *rss0, const long *rss1);

/* One process's share: connections [lo, hi); stays connected until *stop_flag. */
static void conns_child(int slot, int lo, int hi, uint64_t *smp)
{
	int count = hi - lo;
	struct conn *cs = calloc((size_t)count, sizeof(*cs));
	struct pollfd *pfd = calloc((size_t)count, sizeof(*pfd));
	int *map = calloc((size_t)count, sizeof(*map));
	samples = smp;
	cap_samples = (size_t)count;
	if (!cs || !pfd || !map)
		_exit(1);
	int next = 0;
	int64_t deadline = bench_now_ns() + 120000000000LL;
	while (storm_done + storm_failed < count && bench_now_ns() < deadline && !*stop_flag) {
		while (next < count && storm_inflight < O.concurrency) {
			cs[next].idx = lo + next;
			start_conn(&cs[next]);
			next++;
		}
		int n = 0;
		for (int i = 0; i < next; i++) {
			if (cs[i].state < 0 || cs[i].state == 2 || !cs[i].m)
				continue;
			pfd[n].fd = mosquitto_socket(cs[i].m);
			pfd[n].events = POLLIN | (mosquitto_want_write(cs[i].m) ? POLLOUT : 0);
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, 10) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			struct conn *c = &cs[map[k]];
			if (pfd[k].revents & (POLLIN | POLLERR | POLLHUP))
				mosquitto_loop_read(c->m, 1);
			if (pfd[k].revents & POLLOUT)
				mosquitto_loop_write(c->m, 1);
		}
		slots[slot].done = storm_done;
		slots[slot].failed = storm_failed;
	}
	slots[slot].done = storm_done;
	slots[slot].failed = storm_failed;
	slots[slot].first = storm_first;
	slots[slot].last = storm_last;
	slots[slot].nsamples = n_samples;
	slots[slot].finished = 1;
	while (!*stop_flag) /* idle: hold the connections (keepalive 600 s) */
		usleep(20000);
	for (int i = 0; i < next; i++)
		if (cs[i].m)
			mosquitto_destroy(cs[i].m); /* the broker sees the sockets close */
	_exit(0);
}

static int run_conns(FILE *jf)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int nprocs = (O.sockets + CONNS_PER_PROC - 1) / CONNS_PER_PROC;
	if (nprocs > MAX_PROCS) {
		nprocs = MAX_PROCS;
		O.sockets = MAX_PROCS * CONNS_PER_PROC;
	}
	slots = mmap(NULL, sizeof(*slots) * MAX_PROCS + sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *smp = mmap(NULL, sizeof(uint64_t) * (size_t)O.sockets, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED || smp == MAP_FAILED)
		return 1;
	stop_flag = (volatile int *)(slots + MAX_PROCS);
	long rss0[BENCH_MAX_PIDS];
	for (int i = 0; i < O.procs.n; i++)
		rss0[i] = bench_rss_kb(O.procs.pid[i]);
	struct bench_procs procs = O.procs;
	bench_procs_mark(&procs);
	pid_t kids[MAX_PROCS];
	int per = (O.sockets + nprocs - 1) / nprocs;
	fflush(NULL);
	for (int k = 0; k < nprocs; k++) {
		int lo = k * per, hi = lo + per > O.sockets ? O.sockets : lo + per;
		kids[k] = fork();
		if (kids[k] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			conns_child(k, lo, hi, smp + lo);
		}
	}
	int64_t deadline = bench_now_ns() + 130000000000LL;
	int done = 0, failed = 0, finished = 0;
	while (bench_now_ns() < deadline) {
		done = failed = finished = 0;
		for (int k = 0; k < nprocs; k++) {
			done += slots[k].done;
			failed += slots[k].failed;
			finished += slots[k].finished;
		}
		fprintf(stderr, "\r%-6s acked %d failed %d   ", names[O.sc], done, failed);
		if (finished == nprocs)
			break;
		usleep(50000);
	}
	bench_procs_stop(&procs);
	fprintf(stderr, "\n");
	if (O.sc == SC_IDLE)
		sleep(2);
	long rss1[BENCH_MAX_PIDS];
	for (int i = 0; i < O.procs.n; i++)
		rss1[i] = bench_rss_kb(O.procs.pid[i]);
	*stop_flag = 1;
	for (int k = 0; k < nprocs; k++)
		waitpid(kids[k], NULL, 0);
	storm_done = done;
	storm_failed = failed;
	storm_first = storm_last = 0;
	n_samples = 0;
	for (int k = 0; k < nprocs; k++) {
		int lo = k * per;
		if (slots[k].first && (!storm_first || slots[k].first < storm_first))
			storm_first = slots[k].first;
		if (slots[k].last > storm_last)
			storm_last = slots[k].last;
		memmove(smp + n_samples, smp + lo, slots[k].nsamples * sizeof(*smp));
		n_samples += slots[k].nsamples;
	}
	samples = smp;
	return report_conns(jf, &procs, rss0, rss1);
}

static int report_conns(FILE *jf, struct bench_procs *pp, const long *rss0, const long *rss1)
{
	struct bench_procs procs = *pp;
	struct bench_pct p;
	bench_pct_of(samples, n_samples, &p);
	double secs = storm_last > storm_first ? (double)(storm_last - storm_first) / 1e9 : 0;
	double cps = secs > 0 ? storm_done / secs : 0;
	if (O.sc == SC_IDLE) {
		printf("  %-24s %12d\n", "connections asked", O.sockets);
		printf("  %-24s %12d\n", "subscribed", storm_done);
		if (jf)
			fprintf(jf, "\"sockets\": %d, \"acked\": %d, \"closed_early\": 0, \"rss\": {", O.sockets, storm_done);
		for (int i = 0; i < O.procs.n; i++) {
			double per = storm_done ? (double)(rss1[i] - rss0[i]) * 1024.0 / storm_done : 0;
			printf("  %-10s RSS %8ld -> %8ld KiB   %8.0f bytes/socket\n", O.procs.name[i], rss0[i], rss1[i], per);
			if (jf)
				fprintf(jf, "%s\"%s\": {\"before_kb\": %ld, \"after_kb\": %ld, \"bytes_per_socket\": %.0f}",
					i ? ", " : "", O.procs.name[i], rss0[i], rss1[i], per);
		}
		if (jf)
			fprintf(jf, "}, ");
	} else {
		printf("  %-24s %12d\n", "connections", O.sockets);
		printf("  %-24s %12d\n", "acked (SUBACK)", storm_done);
		printf("  %-24s %12d\n", "failed", storm_failed);
		printf("  %-24s %12.0f\n", "connects/s (to ack)", cps);
		printf("  %-24s %12.1f\n", "connect->ack p50 (ms)", p.p50_us / 1000);
		printf("  %-24s %12.1f\n", "connect->ack p99 (ms)", p.p99_us / 1000);
		if (jf) {
			fprintf(jf, "\"sockets\": %d, \"acked\": %d, \"failed\": %d, \"seconds\": %.3f, \"connects_per_s\": %.1f, ",
				O.sockets, storm_done, storm_failed, secs, cps);
			bench_pct_json(jf, "connect_to_ack", &p);
			fprintf(jf, ", ");
		}
		print_cpu(jf, &procs);
	}
	return storm_done < O.sockets;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ringmq-rawmqtt SCENARIO [options]\n"
		"The floor: a QoS 1 publisher and subscriber straight on mosquitto (one hop).\n\n"
		"Scenarios: latency, throughput, idle, storm (see bench/RESULTS.md)\n\n"
		"  --host H            broker address (default 127.0.0.1)\n"
		"  --port N            broker port (required)\n"
		"  --rate R            messages/s (latency; default 1000)\n"
		"  --duration S        measured seconds (default 10)\n"
		"  --warmup S          unmeasured seconds first (default 2)\n"
		"  --window N          messages in flight (throughput; default 1000)\n"
		"  --topics N          topics the publisher cycles through (default 200)\n"
		"  --payload N         message bytes (default 600)\n"
		"  --sockets N         connections (idle default 19000, storm default 10000)\n"
		"  --concurrency N     connects in flight (storm; default 100)\n"
		"  --pid NAME=PID      a process to report CPU and RSS of (repeatable)\n"
		"  --prefix P          topic and client id prefix (default: random)\n"
		"  --out FILE          write the JSON result here\n"
		"  --help              this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},	    {"port", required_argument, NULL, 'p'},
		{"rate", required_argument, NULL, 'r'},	    {"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'W'},   {"window", required_argument, NULL, 'n'},
		{"topics", required_argument, NULL, 't'},   {"payload", required_argument, NULL, 'b'},
		{"sockets", required_argument, NULL, 's'},  {"concurrency", required_argument, NULL, 'c'},
		{"pid", required_argument, NULL, 'i'},	    {"prefix", required_argument, NULL, 'x'},
		{"out", required_argument, NULL, 'o'},	    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	int sc = -1;
	for (int i = 0; argc >= 2 && i < 4; i++)
		if (!strcmp(argv[1], names[i]))
			sc = i;
	if (sc < 0) {
		usage(stderr);
		return 2;
	}
	O.sc = (enum scenario)sc;
	O.host = "127.0.0.1";
	O.rate = 1000;
	O.duration = 10;
	O.warmup = 2;
	O.window = 1000;
	O.topics = 200;
	O.payload = 600;
	O.sockets = sc == SC_IDLE ? 19000 : 10000;
	O.concurrency = 100;
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': O.host = optarg; break;
		case 'p': O.port = atoi(optarg); break;
		case 'r': O.rate = atof(optarg); break;
		case 'd': O.duration = atof(optarg); break;
		case 'W': O.warmup = atof(optarg); break;
		case 'n': O.window = atoi(optarg); break;
		case 't': O.topics = atoi(optarg); break;
		case 'b': O.payload = atoi(optarg); break;
		case 's': O.sockets = atoi(optarg); break;
		case 'c': O.concurrency = atoi(optarg); break;
		case 'i':
			if (bench_procs_add(&O.procs, optarg)) {
				fprintf(stderr, "ringmq-rawmqtt: bad --pid %s\n", optarg);
				return 2;
			}
			break;
		case 'x': O.prefix = optarg; break;
		case 'o': O.out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (O.port <= 0 || O.rate <= 0 || O.duration <= 0 || O.window < 1 || O.topics < 1 || O.payload < 32 ||
	    O.sockets < 1 || O.concurrency < 1) {
		fprintf(stderr, "ringmq-rawmqtt: --port is required; values must be positive (see --help)\n");
		return 2;
	}
	char prefix[32];
	if (!O.prefix) {
		snprintf(prefix, sizeof(prefix), "raw%05d", (int)(getpid() % 100000));
		O.prefix = prefix;
	}
	mosquitto_lib_init();
	FILE *jf = O.out ? fopen(O.out, "w") : NULL;
	if (jf)
		fprintf(jf, "{\"system\": \"mosquitto\", \"scenario\": \"%s\", ", names[O.sc]);
	printf("\n== mosquitto (raw QoS 1, one hop): %s ==\n", names[O.sc]);
	int rc = O.sc == SC_LATENCY || O.sc == SC_THROUGHPUT ? run_flow(jf) : run_conns(jf);
	if (jf) {
		fprintf(jf, "\"failed_sockets\": 0, \"closed_early\": 0}\n");
		fclose(jf);
	}
	mosquitto_lib_cleanup();
	return rc;
}
