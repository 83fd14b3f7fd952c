/* requests: asking rules over MQTT v5 request/response, with a bounded wait.
 * A request goes to svc/rules/requests with this bridge's reply topic, a
 * correlation key "r:<n>" and a message expiry equal to the wait, so a rules
 * that was down never acts on a request already answered 503 here. */
#ifndef RINGMQ_REQUESTS_H
#define RINGMQ_REQUESTS_H

#include <jansson.h>

#include "edge.h"

#define REQUESTS_KEY_MAX 24

/* status is rules' HTTP status, or 503 when rules did not answer in time;
 * body is borrowed (may be NULL). */
typedef void (*requests_done_fn)(struct edge *e, void *arg, int status, json_t *body);

int requests_init(struct edge *e);
void requests_free(struct edge *e);
/* Sends req (stolen) and calls done exactly once, later (never from inside
 * this call). key (REQUESTS_KEY_MAX bytes, may be NULL) receives the key for
 * requests_cancel. Returns 0, or -1 when the broker is unreachable (done is
 * then never called). */
int requests_send(struct edge *e, json_t *req, requests_done_fn done, void *arg, char *key);
/* Forgets a pending request: done will not be called. */
void requests_cancel(struct edge *e, const char *key);
/* A reply arrived for key. */
void requests_complete(struct edge *e, const char *key, const void *payload, size_t len);

#endif
