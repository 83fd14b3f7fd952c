/* rules' metrics (bridge/rules/metrics.c) and the text writer under it
 * (bridge/common/promtext.c): the counters land under their labels, every
 * family has # HELP and # TYPE, the histogram is cumulative, and a small
 * buffer cuts the text instead of overrunning it. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "promtext.h"

/* Every "# TYPE name" line has a "# HELP name" line just before it, and
 * every sample's name belongs to a family seen before it. */
static int families_complete(const char *text)
{
	char family[128] = "";
	const char *line = text;
	while (*line) {
		const char *end = strchr(line, '\n');
		if (!end)
			return 0;
		size_t n = (size_t)(end - line);
		if (!strncmp(line, "# HELP ", 7)) {
			size_t k = strcspn(line + 7, " ");
			if (k >= sizeof(family))
				return 0;
			memcpy(family, line + 7, k);
			family[k] = '\0';
		} else if (!strncmp(line, "# TYPE ", 7)) {
			if (strncmp(line + 7, family, strlen(family)) || line[7 + strlen(family)] != ' ')
				return 0;
		} else if (!family[0] || strncmp(line, family, strlen(family)) || n == 0) {
			return 0;
		}
		line = end + 1;
	}
	return family[0] != '\0';
}

int main(void)
{
	struct rules_metrics m;
	memset(&m, 0, sizeof(m));
	m.store_ok = -1;
	metrics_call(&m, CALLS_RINGING);
	metrics_call(&m, CALLS_RINGING);
	metrics_call(&m, CALLS_ACCEPTED);
	metrics_call(&m, CALLS_ENDED);
	metrics_call(&m, CALLS_MISSED);
	metrics_call(&m, CALLS_STATE_COUNT); /* out of range: ignored */
	metrics_routed(&m, FRAMES_T_CALL_OFFER);
	metrics_routed(&m, FRAMES_T_PING);
	metrics_refused(&m, FRAMES_NOT_FOUND);
	metrics_refused(&m, FRAMES_OK);      /* not a refusal: ignored */
	metrics_refused(&m, FRAMES_CODE_COUNT);
	metrics_store_write(&m, 30);         /* 30 us: in every bucket */
	metrics_store_write(&m, 2000);       /* 2 ms: only from 5 ms up */
	metrics_store_write(&m, 10000000);   /* 10 s: +Inf only */

	char *text = malloc(METRICS_RULES_TEXT_MAX);
	size_t n = metrics_rules_render(&m, text, METRICS_RULES_TEXT_MAX);
	CHECK(n > 0 && n < METRICS_RULES_TEXT_MAX && text[n] == '\0');
	CHECK(families_complete(text));
	CHECK(strstr(text, "ringmq_rules_calls_total{event=\"created\"} 2\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_calls_total{event=\"accepted\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_calls_total{event=\"ended\"} 2\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_calls_ended_total{reason=\"hangup\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_calls_ended_total{reason=\"missed\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_calls_ended_total{reason=\"declined\"} 0\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_frames_routed_total{type=\"call.offer\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_frames_routed_total{type=\"ping\"} 1\n") != NULL);
	CHECK(strstr(text, "auth.refresh") == NULL);
	CHECK(strstr(text, "ringmq_rules_frames_refused_total{code=\"not_found\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_frames_refused_total{code=\"bad_json\"} 0\n") != NULL);
	CHECK(strstr(text, "# TYPE ringmq_rules_store_write_seconds histogram\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_bucket{le=\"5e-05\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_bucket{le=\"0.001\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_bucket{le=\"0.005\"} 2\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_bucket{le=\"0.1\"} 2\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_count 3\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_write_seconds_sum 10.002030\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_store_healthy -1\n") != NULL);
	CHECK(strstr(text, "webhook") == NULL); /* webhooks off: no families */
	metrics_webhooks(&m, 7, 5, 3, 1, 2, 4);
	metrics_rules_render(&m, text, METRICS_RULES_TEXT_MAX);
	CHECK(strstr(text, "ringmq_rules_webhook_events_total{result=\"queued\"} 7\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_webhook_events_total{result=\"delivered\"} 5\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_webhook_events_total{result=\"expired\"} 1\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_webhook_events_total{result=\"overflow\"} 2\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_webhook_attempts_failed_total 3\n") != NULL);
	CHECK(strstr(text, "# TYPE ringmq_rules_webhook_queue_depth gauge\n") != NULL);
	CHECK(strstr(text, "ringmq_rules_webhook_queue_depth 4\n") != NULL);

	/* a buffer too small: cut, NUL-terminated, said so */
	char small[64];
	struct promtext p;
	promtext_init(&p, small, sizeof(small));
	for (int i = 0; i < 10; i++)
		promtext_family(&p, "ringmq_x_total", "counter", "a family that will not fit ten times");
	CHECK(p.truncated);
	CHECK_EQ_INT(p.len, sizeof(small) - 1);
	CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
	CHECK_EQ_INT(metrics_rules_render(&m, small, sizeof(small)), sizeof(small) - 1);
	free(text);
	return check_done("test_rules_metrics");
}
