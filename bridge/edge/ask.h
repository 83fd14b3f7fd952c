/* ask: questions to rules over MQTT v5 request/response, each with a
 * bounded wait. A question goes to svc/rules/requests with this bridge's
 * reply topic, a correlation key "r:<n>" and a message expiry equal to the
 * wait (rounded up to whole seconds), so a rules that was down never acts on
 * a question already answered 503 here. The answer comes back through
 * ask_complete (the inbox hands it over). */
#ifndef RINGMQ_ASK_H
#define RINGMQ_ASK_H

#include <jansson.h>
#include <libwebsockets.h>

#include "broker.h"
#include "metrics.h"

#define ASK_KEY_MAX 24

struct ask;

/* status is rules' HTTP status, or 503 when rules did not answer in time
 * (or answered something malformed); body is borrowed (may be NULL). */
typedef void (*ask_done_fn)(void *arg, int status, json_t *body);

/* Questions through broker, answers expected on replies_topic (copied)
 * within timeout_ms (libev timers on the default loop); rules' latency into
 * metrics. */
struct ask *ask_new(struct broker *broker, struct metrics *metrics,
		    const char *replies_topic, int timeout_ms);
/* NULL-safe. Pending questions are dropped (done is not called). */
void ask_free(struct ask *a);
/* Sends req (stolen) and calls done exactly once, later (never from inside
 * this call). key (ASK_KEY_MAX bytes, may be NULL) receives the key for
 * ask_cancel. 0, or -1 when the broker is unreachable (done is then never
 * called). */
int ask_send(struct ask *a, json_t *req, ask_done_fn done, void *arg, char *key);
/* Forgets a pending question (key may be NULL or ""): done will not be called. */
void ask_cancel(struct ask *a, const char *key);
/* An answer arrived for key; unknown keys (answered too late) are dropped. */
void ask_complete(struct ask *a, const char *key, const void *payload, size_t len);

#endif
