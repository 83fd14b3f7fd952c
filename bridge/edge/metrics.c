/* metrics: Prometheus text exposition of the bridge's counters. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>

#include "frames.h"

static const double bucket_ms[METRICS_BUCKETS] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000};
static const char *const frame_names[MF_COUNT] = {"ping", "call.offer", "call.answer", "call.ice_candidate", "call.end", "other"};

void metrics_rules_latency(struct metrics *m, double ms)
{
	for (int i = 0; i < METRICS_BUCKETS; i++)
		if (ms <= bucket_ms[i])
			m->rules_latency[i]++;
	m->rules_latency[METRICS_BUCKETS]++;
	m->rules_latency_sum += ms / 1000.0;
}

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->len >= o->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

size_t metrics_render(const struct metrics *m, int link_is_up, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	static const char *const kinds[2] = {"notifications", "chat"};
	put(&o, "# HELP ringmq_sockets_open WebSockets open now, by kind\n# TYPE ringmq_sockets_open gauge\n");
	for (int i = 0; i < 2; i++)
		put(&o, "ringmq_sockets_open{kind=\"%s\"} %llu\n", kinds[i], (unsigned long long)m->sockets_open[i]);
	put(&o, "# HELP ringmq_sockets_total WebSockets accepted (authenticated) since start, by kind\n# TYPE ringmq_sockets_total counter\n");
	for (int i = 0; i < 2; i++)
		put(&o, "ringmq_sockets_total{kind=\"%s\"} %llu\n", kinds[i], (unsigned long long)m->sockets_total[i]);
	put(&o, "# HELP ringmq_frames_in_total Frames received from WebSocket clients, by type\n# TYPE ringmq_frames_in_total counter\n");
	for (int i = 0; i < MF_COUNT; i++)
		put(&o, "ringmq_frames_in_total{type=\"%s\"} %llu\n", frame_names[i], (unsigned long long)m->frames_in[i]);
	put(&o, "# HELP ringmq_frames_out_total Frames queued for WebSocket clients\n# TYPE ringmq_frames_out_total counter\nringmq_frames_out_total %llu\n",
	    (unsigned long long)m->frames_out);
	put(&o, "# HELP ringmq_published_total Messages published to the broker\n# TYPE ringmq_published_total counter\nringmq_published_total %llu\n",
	    (unsigned long long)m->published);
	put(&o, "# HELP ringmq_errors_total error frames sent to clients, by code (the bridge's own and those rules decided)\n# TYPE ringmq_errors_total counter\n");
	for (int i = 1; i < FRAMES_CODE_COUNT; i++)
		put(&o, "ringmq_errors_total{code=\"%s\"} %llu\n", frames_code_name(i), (unsigned long long)m->errors[i]);
	put(&o, "# HELP ringmq_closes_total WebSockets closed by the bridge for a slow reader (1013) or abuse (1008, 1009, 1003)\n# TYPE ringmq_closes_total counter\n");
	put(&o, "ringmq_closes_total{reason=\"slow_reader\"} %llu\n", (unsigned long long)m->closes_slow);
	put(&o, "ringmq_closes_total{reason=\"abuse\"} %llu\n", (unsigned long long)m->closes_abuse);
	put(&o, "# HELP ringmq_http_requests_total HTTP requests answered, by status class\n# TYPE ringmq_http_requests_total counter\n");
	for (int i = 1; i < 6; i++)
		put(&o, "ringmq_http_requests_total{class=\"%dxx\"} %llu\n", i, (unsigned long long)m->http_status[i]);
	put(&o, "# HELP ringmq_rules_request_seconds Time rules took to answer a request of this bridge (a time-out counts as the whole wait)\n# TYPE ringmq_rules_request_seconds histogram\n");
	for (int i = 0; i < METRICS_BUCKETS; i++)
		put(&o, "ringmq_rules_request_seconds_bucket{le=\"%g\"} %llu\n", bucket_ms[i] / 1000.0,
		    (unsigned long long)m->rules_latency[i]);
	put(&o, "ringmq_rules_request_seconds_bucket{le=\"+Inf\"} %llu\n",
	    (unsigned long long)m->rules_latency[METRICS_BUCKETS]);
	put(&o, "ringmq_rules_request_seconds_sum %.6f\n", m->rules_latency_sum);
	put(&o, "ringmq_rules_request_seconds_count %llu\n", (unsigned long long)m->rules_latency[METRICS_BUCKETS]);
	put(&o, "# HELP ringmq_broker_up 1 while the broker link is up\n# TYPE ringmq_broker_up gauge\nringmq_broker_up %d\n", link_is_up);
	put(&o, "# HELP ringmq_broker_reconnects_total Broker connections lost after they were up\n# TYPE ringmq_broker_reconnects_total counter\nringmq_broker_reconnects_total %llu\n",
	    (unsigned long long)m->broker_reconnects);
	return o.len;
}
