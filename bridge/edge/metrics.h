/* metrics: counters and one latency histogram, printed as Prometheus text
 * at GET /metrics. Plain integers: the bridge has one thread. */
#ifndef RINGMQ_METRICS_H
#define RINGMQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_BUCKETS 12

enum metrics_frame { MF_PING, MF_OFFER, MF_ANSWER, MF_ICE, MF_END, MF_OTHER, MF_COUNT };

struct metrics {
	uint64_t sockets_open[2];      /* notification, chat (gauge) */
	uint64_t sockets_total[2];
	uint64_t frames_in[MF_COUNT];
	uint64_t frames_out;
	uint64_t published;
	uint64_t errors[16];           /* by frames_code */
	uint64_t closes_slow;          /* 1013 */
	uint64_t closes_abuse;         /* 1008, 1009, 1003 */
	uint64_t http_requests;
	uint64_t http_status[6];       /* 1xx..5xx */
	uint64_t rules_latency[METRICS_BUCKETS + 1]; /* cumulative buckets + count */
	double rules_latency_sum;
	uint64_t broker_reconnects;
};

void metrics_rules_latency(struct metrics *m, double ms);
/* Writes the Prometheus text into buf (at most cap); returns the length. */
size_t metrics_render(const struct metrics *m, int link_is_up, char *buf, size_t cap);

#endif
