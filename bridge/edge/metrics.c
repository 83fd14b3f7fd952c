/* metrics: Prometheus text exposition of the bridge's counters. */
#include "metrics.h"

#include "frames.h"
#include "promtext.h"

static const double bucket_s[METRICS_BUCKETS] = {0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01,
						 0.025, 0.05, 0.1, 0.25, 1, 5};
static const char *const frame_names[MF_COUNT] = {"ping", "call.offer", "call.answer", "call.ice_candidate", "call.end", "other"};

void metrics_rules_latency(struct metrics *m, double ms)
{
	promtext_observe(m->rules_latency, &m->rules_latency_sum, bucket_s, METRICS_BUCKETS, ms / 1000.0);
}

size_t metrics_render(const struct metrics *m, int link_is_up, char *buf, size_t cap)
{
	struct promtext o;
	promtext_init(&o, buf, cap);
	static const char *const kinds[2] = {"notifications", "chat"};
	promtext_family(&o, "ringmq_sockets_open", "gauge", "WebSockets open now, by kind");
	for (int i = 0; i < 2; i++)
		promtext_put(&o, "ringmq_sockets_open{kind=\"%s\"} %llu\n", kinds[i], (unsigned long long)m->sockets_open[i]);
	promtext_family(&o, "ringmq_sockets_total", "counter", "WebSockets accepted (authenticated) since start, by kind");
	for (int i = 0; i < 2; i++)
		promtext_put(&o, "ringmq_sockets_total{kind=\"%s\"} %llu\n", kinds[i], (unsigned long long)m->sockets_total[i]);
	promtext_family(&o, "ringmq_frames_in_total", "counter", "Frames received from WebSocket clients, by type");
	for (int i = 0; i < MF_COUNT; i++)
		promtext_put(&o, "ringmq_frames_in_total{type=\"%s\"} %llu\n", frame_names[i], (unsigned long long)m->frames_in[i]);
	promtext_family(&o, "ringmq_frames_out_total", "counter", "Frames queued for WebSocket clients");
	promtext_put(&o, "ringmq_frames_out_total %llu\n", (unsigned long long)m->frames_out);
	promtext_family(&o, "ringmq_published_total", "counter", "Messages published to the broker");
	promtext_put(&o, "ringmq_published_total %llu\n", (unsigned long long)m->published);
	promtext_family(&o, "ringmq_errors_total", "counter",
			"error frames sent to clients, by code (the bridge's own and those rules decided)");
	for (int i = 1; i < FRAMES_CODE_COUNT; i++)
		promtext_put(&o, "ringmq_errors_total{code=\"%s\"} %llu\n", frames_code_name(i), (unsigned long long)m->errors[i]);
	promtext_family(&o, "ringmq_closes_total", "counter",
			"WebSockets closed by the bridge for a slow reader (1013) or abuse (1008, 1009, 1003)");
	promtext_put(&o, "ringmq_closes_total{reason=\"slow_reader\"} %llu\n", (unsigned long long)m->closes_slow);
	promtext_put(&o, "ringmq_closes_total{reason=\"abuse\"} %llu\n", (unsigned long long)m->closes_abuse);
	promtext_family(&o, "ringmq_http_requests_total", "counter", "HTTP requests answered, by status class");
	for (int i = 1; i < 6; i++)
		promtext_put(&o, "ringmq_http_requests_total{class=\"%dxx\"} %llu\n", i, (unsigned long long)m->http_status[i]);
	promtext_histogram(&o, "ringmq_rules_request_seconds",
			   "Time rules took to answer a request of this bridge (a time-out counts as the whole wait)",
			   bucket_s, METRICS_BUCKETS, m->rules_latency, m->rules_latency_sum);
	promtext_family(&o, "ringmq_broker_up", "gauge", "1 while the broker link is up");
	promtext_put(&o, "ringmq_broker_up %d\n", link_is_up);
	promtext_family(&o, "ringmq_broker_reconnects_total", "counter", "Broker connections lost after they were up");
	promtext_put(&o, "ringmq_broker_reconnects_total %llu\n", (unsigned long long)m->broker_reconnects);
	return o.len;
}
